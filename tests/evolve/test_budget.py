"""The run's budget bounds evolve: its revision requests go through the shared tool loop and the metered
provider that holds the budget, so `--max-tokens` / `--max-cost` stop it with `budget_exhausted`, exit 4,
before a request that would pass the bound is sent. Real local sandbox, real git library, scripted model.
"""

from __future__ import annotations

import json

from typer.testing import CliRunner

from agentfactory.cli.app import app
from agentfactory.config import Prices
from agentfactory.errors import EXIT_BUDGET
from agentfactory.events import MODEL_CALL, RUN_FINISHED
from agentfactory.evolve import EvolveOptions, Evolver, FailingCase
from agentfactory.llm import ScriptedProvider

from .conftest import FIX_EMPTY, FIX_EMPTY_BUT_ROUND, NAME, make_env, revision

EMPTY = FailingCase(inputs={"numbers": []}, expected={"mean": None}, error="ZeroDivisionError")
SCRIPT = [revision("round the mean", edits=FIX_EMPTY_BUT_ROUND), revision("no mean", edits=FIX_EMPTY)]


def evolve(env, settings=None):
    provider = ScriptedProvider(list(SCRIPT))
    evolver = Evolver(
        settings or env.settings, provider=provider, library=env.library, backend=env.backend,
        options=EvolveOptions(rounds=3),
    )  # fmt: skip
    report = evolver.run(plans=[evolver.plan_for(NAME, [EMPTY])])
    return report, provider


def model_calls(env, run_id):
    path = env.settings.paths.workspaces / run_id / "events.jsonl"
    events = [json.loads(line) for line in path.read_text().splitlines()]
    return [e for e in events if e["type"] == MODEL_CALL], events


def test_token_limit_stops_evolve_between_rounds_without_passing_the_bound(tmp_path):
    unbounded = make_env(tmp_path / "a", "local")
    try:
        report, _ = evolve(unbounded)
        calls, _ = model_calls(unbounded, report.run_id)
    finally:
        unbounded.backend.close()
    assert report.outcomes[0].verdict == "accepted" and len(calls) == 2  # rejected, then accepted
    first = calls[0]["usage"]["input_tokens"] + calls[0]["usage"]["output_tokens"]

    env = make_env(tmp_path / "b", "local")
    try:
        limit = first + 50  # room for round 1, not for round 2 (its request carries the rejection)
        head = env.library.head()
        report, provider = evolve(env, env.settings.with_keys(max_tokens=limit))
        calls, events = model_calls(env, report.run_id)
    finally:
        env.backend.close()
    [outcome] = report.outcomes
    assert (outcome.verdict, len(outcome.rounds), outcome.version_after) == ("budget_exhausted", 1, None)
    assert "token limit" in outcome.reason
    assert len(calls) == 1 and provider.remaining == 1  # the second request was never sent
    spent = sum(c["usage"]["input_tokens"] + c["usage"]["output_tokens"] for c in calls)
    assert spent <= limit and report.tokens <= limit
    assert report.status == "budget_exhausted" and env.library.head() == head
    [finished] = [e for e in events if e["type"] == RUN_FINISHED]
    assert events[-1] is finished and finished["status"] == "budget_exhausted"


def test_cli_evolve_with_a_tiny_max_tokens_exits_4_and_sends_nothing(tmp_path):
    env = make_env(tmp_path, "local")
    try:
        env.fail_in_run([{"numbers": ["1", "2"]}])
    finally:
        env.backend.close()
    script = tmp_path / "revisions.json"
    script.write_text(json.dumps(SCRIPT))
    before = {p.name for p in env.settings.paths.workspaces.iterdir()}
    head = env.library.head()
    result = CliRunner().invoke(
        app,
        ["evolve", "--library", str(env.settings.paths.library), "--workspaces", str(env.settings.paths.workspaces),
         "--sandbox", "local", "--model", f"scripted:{script}", "--max-tokens", "50"],
    )  # fmt: skip
    assert result.exit_code == EXIT_BUDGET, result.output
    assert "Evolve stopped:" in result.output and "token limit" in " ".join(result.output.split())
    [run_id] = [p.name for p in env.settings.paths.workspaces.iterdir() if p.name not in before]
    calls, events = model_calls(env, run_id)
    assert calls == []  # refused before it was sent: nothing spent past 50 tokens
    assert events[-1]["type"] == RUN_FINISHED and events[-1]["status"] == "budget_exhausted"
    assert [e["type"] for e in events].count(RUN_FINISHED) == 1
    assert env.library.head() == head


def test_cost_limit_stops_evolve_before_a_request_it_cannot_pay(tmp_path):
    env = make_env(tmp_path, "local")
    priced = env.settings.with_keys(
        prices={"scripted": Prices(input=1000.0, output=1000.0)}, max_cost=0.01
    )  # $0.01 pays for 10 tokens: the first request does not fit
    try:
        head = env.library.head()
        report, provider = evolve(env, priced)
        calls, events = model_calls(env, report.run_id)
    finally:
        env.backend.close()
    [outcome] = report.outcomes
    assert outcome.verdict == "budget_exhausted" and "cost limit" in outcome.reason
    assert calls == [] and provider.remaining == 2 and env.library.head() == head
    assert events[-1]["type"] == RUN_FINISHED and events[-1]["status"] == "budget_exhausted"
