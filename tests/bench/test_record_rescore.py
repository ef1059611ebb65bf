"""Real models, one command: `--dry-run` estimates before anything is spent (no provider, no key),
`--record DIR` keeps every request and response as JSON lines, `--rescore DIR` checks a recorded run
again without a model. Runs use the scripted provider or the real Anthropic SDK against the local wire
server."""

from __future__ import annotations

import json
from pathlib import Path

import agentfactory_bench.harness as harness
import pytest
import yaml
from agentfactory_bench import load_suite
from agentfactory_bench.harness import run_bench, write_outputs
from agentfactory_bench.recording import CALLS_DIR, read_calls
from typer.testing import CliRunner

from agentfactory.cli import app
from agentfactory.config import load_settings
from agentfactory.llm import ScriptedProvider
from agentfactory.llm.tokens import count_request_tokens
from tests.fakes.wire_server import anthropic_message, wire_server  # noqa: F401 (fixture)


def tiny_suite(root: Path, count: int = 3) -> Path:
    folder = root / "suite"
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "rows.csv").write_text("a,b\n1,2\n3,4\n5,6\n")
    check = [{"answer_number": {"label": "count", "value": count, "tolerance": 0}}]
    tasks = [
        {"id": "rows-1", "batch": 1, "family": "csv", "text": "Count the data rows of rows.csv.",
         "fixtures": {"files": ["data/rows.csv"]}, "check": check},
        {"id": "rows-2", "batch": 2, "pair": "rows-1", "family": "csv",
         "text": "How many data rows does rows.csv hold?", "fixtures": {"files": ["data/rows.csv"]},
         "check": check},
    ]  # fmt: skip
    (folder / "suite.yaml").write_text(yaml.safe_dump({"name": "tiny", "tasks": tasks}, sort_keys=False))
    return folder


FINISH = {"tool_calls": [{"name": "finish", "arguments": {"answer": "count: 3"}}]}


def test_record_keeps_every_call_and_rescore_checks_again_without_a_model(tmp_path, monkeypatch):
    monkeypatch.setattr(harness, "_provider_for", lambda settings, task: ScriptedProvider([FINISH]))
    settings = load_settings({"model": "scripted", "sandbox": "local"}, env={}, cwd=tmp_path)
    out = tmp_path / "rec"
    result = run_bench(
        load_suite(tiny_suite(tmp_path)), settings, methods=("agentfactory", "react"), finals=("on", "off"),
        root=out / "runs", record=out,
    )  # fmt: skip
    write_outputs(result, out)
    assert [r.label for r in result.rows] == ["agentfactory"] * 2 + ["agentfactory final-off"] * 2 + [
        "react"
    ] * 2
    assert all(r.success for r in result.rows)
    calls = read_calls(out / CALLS_DIR / "agentfactory" / "rows-1.jsonl")
    assert len(calls) == 1 and calls[0]["seq"] == 1
    request, response = calls[0]["request"], calls[0]["response"]
    assert (
        request["system"].startswith("You are the Meta-Agent")
        and "rows.csv" in request["messages"][0]["text"]
    )
    assert {t["name"] for t in request["tools"]} >= {"run_subagent", "finish"}
    assert response["tool_calls"][0]["arguments"] == {"answer": "count: 3"}
    react = read_calls(out / CALLS_DIR / "react" / "rows-2.jsonl")
    assert react[0]["request"]["system"].startswith("You are a ReAct agent")

    # The prefix is written by the method's first call and read by the next task's.
    first, second = result.rows[0], result.rows[1]
    prefix = count_request_tokens(request["system"], [], [_spec(t) for t in request["tools"]])
    assert (first.priced_cache_write, first.priced_cache_read) == (prefix, 0)
    assert (second.priced_cache_write, second.priced_cache_read) == (0, prefix)
    assert all(r.cost_usd > 0 for r in result.rows)

    # Offline: no provider may be built; the logged answers pass the suite, and fail a stricter one.
    def no_model(*_a, **_k):
        raise AssertionError("rescoring asked for a model")

    monkeypatch.setattr(harness, "_provider_for", no_model)
    runner = CliRunner()
    same = runner.invoke(app, ["bench", "--rescore", str(out), "--sandbox", "local", "--json"])
    assert same.exit_code == 0, same.output
    assert all(t["success"] for t in json.loads(same.output)["tasks"])
    stricter = tiny_suite(tmp_path / "other", count=4)
    again = runner.invoke(
        app, ["bench", "--rescore", str(out), "--suite", str(stricter), "--sandbox", "local", "--json"]
    )
    assert again.exit_code == 0, again.output
    data = json.loads(again.output)
    assert not any(t["success"] for t in data["tasks"])
    assert data["summary"][0]["total_tokens"] == result.summary()[0]["total_tokens"]  # tokens as recorded
    assert (out / "rescored" / "bench.json").is_file()


def _spec(tool: dict):
    from agentfactory.llm.types import ToolSpec

    return ToolSpec(tool["name"], tool["description"], tool["input_schema"])


def test_rescore_of_a_folder_without_a_bench_run_is_bad_usage(tmp_path):
    bad = CliRunner().invoke(app, ["bench", "--rescore", str(tmp_path), "--sandbox", "local"])
    assert bad.exit_code == 2 and "bench.json is missing or not JSON" in bad.output
    assert "Traceback" not in bad.output


def test_dry_run_estimates_without_a_provider_or_a_key(tmp_path, monkeypatch):
    import agentfactory.llm.registry as registry

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)

    def no_provider(*_a, **_k):
        raise AssertionError("a dry run built a provider")

    monkeypatch.setattr(registry, "get_provider", no_provider)
    monkeypatch.setattr(harness, "_provider_for", no_provider)
    args = ["bench", "--dry-run", "--model", "anthropic:claude-sonnet-4-6", "--repeat", "3"]
    args += ["--suite", str(tiny_suite(tmp_path)), "--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    # 2 tasks x (agentfactory final on, final off, react, text-lessons) x 3 repeats
    assert data["runs"] == 24 and data["model"] == "anthropic:claude-sonnet-4-6"
    assert data["price_model"] == "anthropic:claude-sonnet-4-6"
    assert data["calls"] == 3 * (6 + 3 + 6 + 3 + 6 + 6 + 7 + 7)
    assert 0 < data["cost_usd"] < data["ceiling_usd"]
    assert not (tmp_path / "runs").exists()
    text = CliRunner().invoke(app, args[:-1])
    assert text.exit_code == 0 and "nothing is spent" in text.output


def test_record_through_the_anthropic_sdk_keeps_reported_cache_tokens(tmp_path, monkeypatch, wire_server):  # noqa: F811
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    wire_server.fallback = lambda request: anthropic_message(
        None, [("toolu_1", "finish", {"answer": "count: 3"})], input_tokens=100, output_tokens=20,
        cache_read=900,
    )  # fmt: skip
    settings = load_settings(
        {"model": "anthropic:claude-sonnet-4-6", "anthropic_base_url": wire_server.url, "sandbox": "local"},
        env={"ANTHROPIC_API_KEY": "test-key"},
        cwd=tmp_path,
    )
    out = tmp_path / "rec"
    result = run_bench(
        load_suite(tiny_suite(tmp_path)), settings, methods=("agentfactory",), root=out / "runs", record=out
    )
    assert [r.success for r in result.rows] == [True, True] and not result.simulated
    calls = read_calls(out / CALLS_DIR / "agentfactory" / "rows-2.jsonl")
    assert calls[0]["response"]["usage"] == {
        "input_tokens": 100, "output_tokens": 20, "cache_read_tokens": 900, "cache_write_tokens": 0,
    }  # fmt: skip
    # Sonnet 4.6: $3 in, $15 out, cache reads 0.1x, as reported by the provider.
    assert result.rows[1].cost_usd == pytest.approx((100 * 3 + 900 * 0.3 + 20 * 15) / 1e6)
    assert len(wire_server.requests) == 2
