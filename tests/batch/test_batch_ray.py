"""`agentfactory batch --ray`: the same stream on a local Ray cluster gives the same results as local
worker processes (needs the `ray` extra: scripts/test.sh installs it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from agentfactory.library import Library
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


@pytest.mark.slow
def test_sandbox_check_ray_reports_every_node(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTFACTORY_")}
    out = subprocess.run(
        [sys.executable, "-m", "agentfactory", "sandbox", "check", "--ray", "auto", "--json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**env, "AGENTFACTORY_SANDBOX": "local"},
    )
    assert out.returncode == 0, out.stderr[-2000:]
    nodes = json.loads(out.stdout)["ray_nodes"]
    assert len(nodes) >= 1 and all(node["ready"] and node["host"] for node in nodes)


@pytest.mark.slow
def test_a_cluster_without_a_ready_node_takes_no_task(tmp_path, monkeypatch):
    from agentfactory.batch import on_ray
    from agentfactory.errors import ConfigError

    not_ready = {"host": "node-a", "ready": False, "problem": "no Docker daemon"}
    monkeypatch.setattr(on_ray, "node_readiness", lambda ray, sandbox, cwd: {"n1": not_ready})
    with pytest.raises(ConfigError, match=r"No Ray node has a working docker sandbox \(node-a: no Docker"):
        on_ray.RayExecutor("auto", tmp_path, "docker", tmp_path)


@pytest.mark.slow
def test_two_nodes_on_clones_of_one_remote_lose_nothing_and_match_the_local_run(tmp_path):
    """`--remote`: each worker slot works on a clone of its own (two "nodes": two clone folders) of one
    bare remote, pulling before each task and pushing after it with pull-rebase-retry."""
    from agentfactory.library import experience_files

    remote = tmp_path / "team.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    results = {}
    for mode in ("local", "ray"):
        (tmp_path / mode).mkdir()
        root = project(tmp_path / mode)
        tasks_file(root, 6)
        extra = ["--ray", "auto", "--remote", str(remote), "--clones", str(tmp_path / "clones")]
        out = batch(root, "--workers", "2", *(extra if mode == "ray" else []), timeout=900)
        summary = json.loads(out.stdout)
        failed = [(r["id"], r["status"], r.get("reason")) for r in rows(root, summary["batch_id"]) if r["status"] != "success"]  # fmt: skip
        assert out.returncode == 0, (mode, failed, out.stderr[-3000:])
        assert summary["counts"] == {"success": 6} and "unpushed" not in summary
        results[mode] = {
            r["id"]: (r["status"], r["answer"], r["tokens"]) for r in rows(root, summary["batch_id"])
        }
        if mode == "ray":
            written = rows(root, summary["batch_id"])
            agents = {r["sync"]["agent_id"] for r in written}
            clones = {r["sync"]["clone"] for r in written}
            assert len(agents) == 2 and len(clones) == 2  # two "nodes", one clone and one agent each
            assert all(r["sync"]["pushed"] for r in written)
    assert results["ray"] == results["local"]

    team = Library(tmp_path / "team")
    team.pull(str(remote))
    latest = team.get("upper")
    assert summary["subagents"] == {"upper": latest.version}
    log = subprocess.run(
        ["git", "-C", str(remote), "log", "--format=%s", "main"], capture_output=True, text=True
    )
    saves = [line for line in log.stdout.splitlines() if line.startswith("save upper")]
    assert saves == [f"save upper v{v}" for v in range(latest.version, 0, -1)]  # no version lost
    every_case = {
        json.dumps(c.inputs, sort_keys=True)
        for v in range(1, latest.version + 1)
        for c in team.get("upper", v).cases
    }
    assert {json.dumps(c.inputs, sort_keys=True) for c in latest.cases} == every_case
    # Each node's experience travelled: one file per agent, holding the records of its tasks' runs.
    files = {p.stem: p.read_text() for p in experience_files.local_files(team.path)}
    assert set(files) == agents
    for r in written:
        assert r["run_id"] in files[r["sync"]["agent_id"]]


@pytest.mark.slow
def test_on_clones_a_push_the_remote_keeps_refusing_is_bounded_and_reported(tmp_path):
    remote = tmp_path / "team.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    seed = Library(tmp_path / "seed")
    seed.ensure()
    seed.push(str(remote))  # the team library exists; from now on its remote refuses every push
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'frozen for the audit' >&2\nexit 1\n")
    hook.chmod(0o755)
    root = project(tmp_path / "p") if (tmp_path / "p").mkdir() is None else None
    tasks_file(root, 2)
    out = batch(root, "--workers", "1", "--ray", "auto", "--remote", str(remote), "--clones",
                str(tmp_path / "clones"), timeout=900)  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]  # the tasks succeeded; their saves stayed local
    summary = json.loads(out.stdout)
    assert summary["counts"] == {"success": 2}
    written = rows(root, summary["batch_id"])
    for row in written:
        sync = row["sync"]
        assert sync["pushed"] is False and sync["push_attempts"] == 4  # 1 + 3 retries, then it stopped
        assert "refused the push (pre-receive hook declined)" in sync["push_problem"]
    (agent,) = {r["sync"]["agent_id"] for r in written}
    clone = Library(written[0]["sync"]["clone"])
    assert summary["unpushed"] == {agent: {"upper": clone.get("upper").version}}
    head = subprocess.run(["git", "-C", str(remote), "rev-parse", "main"], capture_output=True, text=True)
    assert head.stdout.strip() == seed.head()  # the remote never moved
    # The CLI's plain summary says it in one line per agent.
    again = subprocess.run(
        [sys.executable, "-m", "agentfactory", "batch", "tasks.jsonl", "--workers", "1", "--ray", "auto",
         "--remote", str(remote), "--clones", str(tmp_path / "clones")],
        cwd=root, capture_output=True, text=True, timeout=900,
        env={k: v for k, v in os.environ.items() if not k.startswith("AGENTFACTORY_")},
    )  # fmt: skip
    assert again.returncode == 0 and f"not pushed from {agent} (kept in its clone): upper v" in again.stdout
    assert "Traceback" not in again.stderr


@pytest.mark.slow
def test_a_node_lost_mid_task_has_its_task_retried_on_a_node_that_is_left(tmp_path):
    # Two real raylets on this machine (Ray's own test cluster); the one running a task is removed
    # while the task sleeps in its sandbox.
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    try:
        doomed = cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        root = project(tmp_path, pause=8.0)
        tasks_file(root, 4)
        proc = subprocess.Popen(
            [sys.executable, "-m", "agentfactory", "batch", "tasks.jsonl", "--json", "--workers", "2"]
            + ["--ray", cluster.address],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("AGENTFACTORY_")},
        )
        try:
            deadline = time.monotonic() + 300
            while not list(root.glob("ws/*/events.jsonl")) or len(list(root.glob("ws/*"))) < 2:
                assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
                time.sleep(0.5)
            time.sleep(2.0)  # both first tasks are in their sandboxes, sleeping
            cluster.remove_node(doomed, allow_graceful=False)
            out, err = proc.communicate(timeout=600)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert out.strip(), err[-3000:]
        summary = json.loads(out)
        failed = [r for r in rows(root, summary["batch_id"]) if r["status"] != "success"]
        assert summary["counts"] == {"success": 4}, failed
        assert proc.returncode == 0, err[-3000:]
        retried = [r for r in rows(root, summary["batch_id"]) if r["attempts"] == 2]
        assert retried, "no task ran on the lost node"
    finally:
        cluster.shutdown()
