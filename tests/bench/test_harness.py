"""The harness end to end on a small suite: figures come from the event logs, sim is deterministic."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from agentfactory_bench import CORE_SUITE, load_suite
from agentfactory_bench.harness import run_bench
from typer.testing import CliRunner

from agentfactory.cli import app
from agentfactory.config import load_settings
from agentfactory.events import read_events

PAIR = ("price-vol-acme", "price-vol-globex")


@pytest.fixture(scope="module")
def small_suite(tmp_path_factory) -> Path:
    """A two-task suite (one batch-1 task and its batch-2 variant) copied out of the core suite."""
    folder = tmp_path_factory.mktemp("suite") / "small"
    shutil.copytree(CORE_SUITE, folder)
    data = yaml.safe_load((folder / "suite.yaml").read_text())
    data["name"] = "small"
    data["tasks"] = [t for t in data["tasks"] if t["id"] in PAIR]
    (folder / "suite.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def _bench(suite: Path, root: Path):
    settings = load_settings({"model": "sim", "sandbox": "local"}, env={}, cwd=root)
    return run_bench(load_suite(suite), settings, methods=("agentfactory", "react"), root=root / "runs")


def test_two_task_suite_end_to_end_and_totals_equal_the_event_logs(small_suite, tmp_path):
    result = _bench(small_suite, tmp_path)
    assert result.simulated and len(result.rows) == 4
    assert all(r.success for r in result.rows), [(r.method, r.task_id, r.check) for r in result.rows]
    for row in result.rows:
        ws = next((tmp_path / "runs" / row.method / "workspaces").glob(row.run_id))
        calls = [e for e in read_events(ws / "events.jsonl") if e["type"] == "model_call"]
        summed = {k: sum(e["usage"][k] for e in calls) for k in ("input_tokens", "output_tokens")}
        assert row.model_calls == len(calls)
        assert row.output_tokens == summed["output_tokens"]
        assert row.input_tokens == summed["input_tokens"]  # the sim counts no cache tokens
    by = {(s["method"], s["batch"]): s for s in result.summary()}
    assert by[("agentfactory", 2)]["total_tokens"] < by[("agentfactory", 1)]["total_tokens"]
    # No comparison with ReAct here: on two tasks it is a figure, not a property (token_savings.py).
    reuse = [r for r in result.rows if r.method == "agentfactory" and r.batch == 2][0]
    assert reuse.reused == ["price-volatility"]
    # Viewed first, then run with final: true; with one earlier run it is not mature (final_min_runs 3),
    # so the result went back to the model for one more turn, which finished with the answer.
    assert reuse.final_refused == 1 and reuse.final_used == 0 and reuse.model_calls == 3
    ws = next((tmp_path / "runs" / "agentfactory" / "workspaces").glob(reuse.run_id))
    finished = [e for e in read_events(ws / "events.jsonl") if e["type"] == "run_finished"][0]
    assert finished["answer"].startswith("Annualised volatility: ")


def test_sim_is_deterministic(small_suite, tmp_path):
    first = _bench(small_suite, tmp_path / "a").summary()
    second = _bench(small_suite, tmp_path / "b").summary()
    # The simulator's outputs are identical; what it reads may differ by a few tokens: the code view of a
    # library subagent shows its SKILL.md, which names the (time-stamped) run that saved it, and every
    # execution's result names its measured duration and peak memory (a sandbox started ahead, warm or
    # not yet, changes both), each re-read on every later call of the conversation.
    varying = {"wall_s", "input_tokens", "total_tokens", "mean_tokens_per_task", "median_tokens_per_task",
               "cost_usd", "priced_cache_read", "priced_cache_write"}  # fmt: skip
    strip = [{k: v for k, v in s.items() if k not in varying} for s in first]
    assert strip == [{k: v for k, v in s.items() if k not in varying} for s in second]
    for a, b in zip(first, second, strict=True):
        assert abs(a["input_tokens"] - b["input_tokens"]) <= max(10, a["input_tokens"] // 400)


def test_bench_cli_json(small_suite, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "--suite",
            str(small_suite),
            "--methods",
            "agentfactory,react",
            "--sandbox",
            "local",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["model"] == "sim"
    for entry in data["summary"]:
        for key in ("method", "batch", "tasks", "successes", "input_tokens", "output_tokens", "total_tokens"):
            assert key in entry
    assert {p.name for p in out.iterdir()} >= {"bench.json", "bench.md", "bench.svg"}


def test_bench_cli_rejects_unknown_method_and_bad_suite(tmp_path):
    runner = CliRunner()
    bad = runner.invoke(
        app, ["bench", "--methods", "agentfactory,magic", "--sandbox", "local", "--out", str(tmp_path / "o")]
    )
    assert bad.exit_code == 2 and "magic" in bad.output
    (tmp_path / "empty").mkdir()
    missing = runner.invoke(app, ["bench", "--suite", str(tmp_path / "empty"), "--sandbox", "local"])
    assert missing.exit_code == 2 and "Traceback" not in missing.output


def test_out_of_family_task_fails_honestly(tmp_path):
    from agentfactory_bench.sim import SimProvider

    from agentfactory.meta.agent import MetaAgent

    settings = load_settings({"model": "sim", "sandbox": "local"}, env={}, cwd=tmp_path)
    result = MetaAgent(settings, provider=SimProvider()).run("Compose a sonnet about autumn leaves in Latin.")
    assert result.status == "task_failed" and "could not" in (result.answer or "").lower()
    assert result.saved == [] and result.created == []


def test_bench_cli_no_view_before_reuse_skips_the_view(small_suite, tmp_path):
    def batch2_calls(*flags: str) -> int:
        result = CliRunner().invoke(
            app,
            ["bench", "--suite", str(small_suite), "--methods", "agentfactory", "--final", "on"]
            + ["--sandbox", "local", "--out", str(tmp_path / "-".join(flags or ("view",))), "--json", *flags],
        )
        assert result.exit_code == 0, result.output
        [b2] = [s for s in json.loads(result.output)["summary"] if s["batch"] == 2]
        return b2["model_calls"]

    assert batch2_calls("--no-view-before-reuse") == batch2_calls() - 1  # one view_subagent call fewer
