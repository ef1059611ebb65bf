"""`agentfactory batch --ray`: the same stream on a local Ray cluster gives the same results as local
worker processes (needs the `ray` extra: scripts/test.sh installs it)."""

from __future__ import annotations

import json

import pytest

from tests.batch.test_batch import batch, project, rows, tasks_file

pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'agentfactory[ray]')")


@pytest.mark.slow
def test_a_stream_on_a_local_ray_cluster_matches_local_workers(tmp_path):
    results = {}
    for mode, extra in (("local", []), ("ray", ["--ray", "auto"])):
        (tmp_path / mode).mkdir()
        root = project(tmp_path / mode)
        tasks_file(root, 6)
        out = batch(root, "--workers", "2", *extra, timeout=900)
        assert out.returncode == 0, out.stderr[-3000:]
        summary = json.loads(out.stdout)
        assert summary["counts"] == {"success": 6}
        if mode == "ray":
            assert summary["nodes"] and all(node["ready"] for node in summary["nodes"])
        results[mode] = {
            r["id"]: (r["status"], r["answer"], r["tokens"]) for r in rows(root, summary["batch_id"])
        }
    assert results["ray"] == results["local"]
