"""Evolve from recorded runs: candidates from the experience store, the dry run, held-out siblings, and
the same gate and records when the Meta-Agent revises a library subagent during a run."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from agentfactory.cli.app import app
from agentfactory.evolve import EvolveOptions, Evolver
from agentfactory.llm import ScriptedProvider
from agentfactory.meta.agent import MetaAgent

from .conftest import FIX_EMPTY, FIX_EMPTY_BUT_ROUND, FIX_STRINGS, HARDCODE_STRINGS, NAME, call, revision

# Two failures of one kind (TypeError on a list of strings): one is shown, the newer one is held out.
STRING_INPUTS = [{"numbers": ["1", "2"]}, {"numbers": ["3", "4", "5"]}]


def test_dry_run_lists_candidates_without_model_calls(env, tmp_path):
    run_id = env.fail_in_run(STRING_INPUTS)
    provider = ScriptedProvider([])  # any model call would raise: it has no response to give
    plans = Evolver(env.settings, provider=provider, library=env.library).plan()
    assert provider.requests == []
    [plan] = plans
    assert (plan.name, plan.version, plan.failures, plan.stored_cases) == (NAME, 1, 2, 2)
    assert [c.inputs for c in plan.failing] == STRING_INPUTS
    assert [c.held_out for c in plan.failing] == [False, True]
    assert plan.failing[0].run_id == run_id and plan.failing[0].kind.startswith("TypeError|")
    assert "2 failed execution(s) of v1" in plan.why and "TypeError×2" in plan.why

    empty = tmp_path / "no-responses.json"
    empty.write_text("[]")
    args = ["evolve", "--dry-run", "--library", str(env.settings.paths.library),
            "--workspaces", str(env.settings.paths.workspaces), "--sandbox", "local", "--model", f"scripted:{empty}"]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["dry_run"] is True and [c["name"] for c in data["candidates"]] == [NAME]
    assert len(data["candidates"][0]["failing_cases"]) == 2
    table = CliRunner().invoke(app, args)
    assert table.exit_code == 0 and NAME in table.output and "1 + 1 held out" in table.output
    assert env.library.head() and len(env.library.history(NAME)) == 1


def test_evolve_from_store_checks_held_out_sibling(env):
    env.fail_in_run(STRING_INPUTS)
    # A revision that special-cases the shown input is accepted on the default policy but the held-out
    # sibling exposes it; with require_held_out it is rejected and the general fix goes in.
    options = EvolveOptions(rounds=2, require_held_out=True)
    provider = ScriptedProvider(
        [
            revision("handle [1, 2]", edits=HARDCODE_STRINGS),
            revision("accept numbers as strings", edits=FIX_STRINGS),
        ]
    )
    evolver = Evolver(
        env.settings, provider=provider, library=env.library, backend=env.backend, options=options
    )
    report = evolver.run()
    outcome = report.outcomes[0]
    assert [r.verdict for r in outcome.rounds] == ["rejected", "accepted"]
    assert "held-out" in outcome.rounds[0].reason and outcome.rounds[0].held_out == (0, 1)
    assert outcome.held_out == (1, 1) and outcome.version_after == 2
    # The held-out input never reached the model, not even in the rejection.
    seen = " ".join(m.text + " ".join(r.content for r in m.tool_results) for m in provider.requests[1][1])
    assert '["3", "4", "5"]' not in seen and '"3", "4", "5"' not in seen
    assert [c.inputs for c in env.library.get(NAME).cases][2:] == STRING_INPUTS


def test_cli_evolve_runs_and_prints_table(env, tmp_path):
    env.fail_in_run(STRING_INPUTS)
    script = tmp_path / "revisions.json"
    script.write_text(json.dumps([revision("accept numbers as strings", edits=FIX_STRINGS)]))
    args = ["evolve", NAME, "--rounds", "1", "--library", str(env.settings.paths.library),
            "--workspaces", str(env.settings.paths.workspaces), "--sandbox", "local", "--model", f"scripted:{script}"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "round 1: accepted" in result.output
    assert "v1 → v2" in result.output and "2/4 → 4/4" in result.output and "accepted" in result.output
    # Nothing left to fix on v2: the next evolve has no candidate.
    again = CliRunner().invoke(app, [*args[:1], *args[4:], "--json"])
    assert again.exit_code == 0 and json.loads(again.output)["outcomes"] == []


def test_revision_during_a_run_goes_through_the_same_gate_and_records(env):
    def run(script):
        return MetaAgent(
            env.settings, provider=ScriptedProvider(script), library=env.library, backend=env.backend
        ).run("mean of an empty list")

    bad = run(
        [
            call("run_subagent", name=NAME, inputs={"numbers": []}),
            call("modify_subagent", name=NAME, reason="round the mean", edits=FIX_EMPTY_BUT_ROUND),
            call("run_subagent", name=NAME, inputs={"numbers": []}),
            call("finish", answer="none", save=[NAME]),
        ]
    )
    assert bad.saved == [] and "stored case 1" in bad.rejected[NAME]
    assert len(env.library.history(NAME)) == 1
    good = run(
        [
            call("run_subagent", name=NAME, inputs={"numbers": []}),
            call("modify_subagent", name=NAME, reason="an empty list has no mean", edits=FIX_EMPTY),
            call("run_subagent", name=NAME, inputs={"numbers": []}),
            call("finish", answer="none", save=[NAME]),
        ]
    )
    assert good.saved == [(NAME, 2)]
    records = [
        e for rid in (bad.run_id, good.run_id) for e in env.events(rid)
        if e["type"] == "library_change" and e["action"] in ("accepted", "rejected")
    ]  # fmt: skip
    assert [(e["action"], e["source"]) for e in records] == [("rejected", "run"), ("accepted", "run")]
    # The same fields as evolve's records (see test_gate_loop).
    assert set(records[0]) >= {"subagent", "base_version", "reason", "cases", "broken"}
    assert records[0]["cases"] == {"stored": [1, 2], "new": [1, 1]}
    assert "expected 2.5" in records[0]["broken"][0]["failures"][0]
    assert records[1]["version"] == 2 and records[1]["broken"] == []


def test_failure_with_inputs_longer_than_the_event_preview_is_replayed(env):
    # 200 numbers as strings: the run_subagent event keeps a few hundred characters of the arguments,
    # the trace file keeps the inputs whole, so evolve can still replay this failure.
    long_inputs = {"numbers": [str(i) for i in range(200)]}
    assert len(json.dumps(long_inputs)) > 1000
    env.fail_in_run([long_inputs])
    [plan] = Evolver(env.settings, provider=ScriptedProvider([]), library=env.library).plan()
    assert [c.inputs for c in plan.failing] == [long_inputs]
    assert plan.failing[0].trace is not None and plan.failing[0].trace.status == "error"


def test_old_workspaces_and_store_rows_with_the_short_digest_are_still_replayed(env):
    """Before one digest, event logs held 16 hex (ASCII JSON, default separators) and trace files did
    not keep the inputs. A workspace of that form, and a store row holding the short digest, still give
    the failing case with its trace: both forms are read."""
    import sqlite3

    from agentfactory.experience import default_store_path
    from agentfactory.library.cases import inputs_digest, legacy_inputs_digest

    inputs = {"numbers": ["1", "2"]}
    run_id = env.fail_in_run([inputs])
    run_dir = env.settings.paths.workspaces / run_id
    events_path = run_dir / "events.jsonl"
    old_form = []
    for event in map(json.loads, events_path.read_text().splitlines()):
        if event["type"] == "subagent_execution":
            event["inputs_digest"] = legacy_inputs_digest(inputs)
            trace_path = run_dir / event["trace"]
            trace = json.loads(trace_path.read_text())
            trace.pop("inputs")
            trace_path.write_text(json.dumps(trace))
        old_form.append(json.dumps(event))
    events_path.write_text("\n".join(old_form) + "\n")
    conn = sqlite3.connect(default_store_path(env.settings.paths))
    with conn:
        changed = conn.execute(
            "UPDATE executions SET inputs_digest = ? WHERE inputs_digest = ?",
            (legacy_inputs_digest(inputs), inputs_digest(inputs)),
        ).rowcount
    conn.close()
    assert changed == 1

    [plan] = Evolver(env.settings, provider=ScriptedProvider([]), library=env.library).plan()
    assert [c.inputs for c in plan.failing] == [inputs] and plan.skipped == []
    assert plan.failing[0].trace is not None and plan.failing[0].trace.status == "error"
