"""The loop end to end: a regression is rejected with the library untouched, a fix becomes version N+1."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agentfactory.cli.app import app
from agentfactory.evolve import EvolveOptions, Evolver, FailingCase
from agentfactory.llm import ScriptedProvider

from .conftest import FIX_EMPTY, FIX_EMPTY_BUT_ROUND, FIX_STRINGS, NAME, make_env, revision

EMPTY = FailingCase(
    inputs={"numbers": []}, expected={"mean": None}, error="ZeroDivisionError: division by zero"
)


def evolve(env, script, rounds=3, failing=None, **options):
    provider = ScriptedProvider(script)
    evolver = Evolver(
        env.settings, provider=provider, library=env.library, backend=env.backend,
        options=EvolveOptions(rounds=rounds, **options),
    )  # fmt: skip
    plan = evolver.plan_for(NAME, failing if failing is not None else [EMPTY])
    report = evolver.run(plans=[plan])
    return report, provider


def test_regression_rejected_library_untouched_then_fix_committed(env):
    head = env.library.head()
    report, _ = evolve(env, [revision("round the mean", edits=FIX_EMPTY_BUT_ROUND)], rounds=1)
    outcome = report.outcomes[0]
    assert outcome.verdict == "rejected"
    assert outcome.reason.startswith("regression: 1 of 2 cases fail: stored case 1")  # the gate's own text
    assert outcome.passing_before == (2, 3) and outcome.rounds[0].failing == (1, 1)
    assert env.library.head() == head and len(env.library.history(NAME)) == 1
    rejected = [e for e in env.events(report.run_id) if e["type"] == "library_change"]
    assert [e["action"] for e in rejected] == ["rejected"]
    assert rejected[0]["source"] == "evolve" and rejected[0]["cases"] == {"stored": [1, 2], "new": [1, 1]}
    assert "got 2, expected 2.5" in rejected[0]["broken"][0]["failures"][0]
    assert "result:" in rejected[0]["broken"][0]["trace"]

    report, provider = evolve(
        env,
        [
            revision("round the mean", edits=FIX_EMPTY_BUT_ROUND),
            revision("an empty list has no mean", edits=FIX_EMPTY),
        ],
    )
    outcome = report.outcomes[0]
    assert (outcome.verdict, outcome.version_before, outcome.version_after) == ("accepted", 1, 2)
    assert [r.verdict for r in outcome.rounds] == ["rejected", "accepted"]
    assert outcome.passing_before == (2, 3) and outcome.passing_after == (3, 3)
    assert outcome.tokens > 0 and report.tokens == outcome.tokens
    # The rejection reached the model in round 2, with the broken case's trace.
    feedback = provider.requests[1][1][-1].tool_results[0].content
    assert "Rejected, the library is unchanged: regression" in feedback and "expected 2.5" in feedback

    v2 = env.library.get(NAME)
    assert v2.version == 2 and "if not numbers" in v2.code
    assert "- v2: an empty list has no mean" in v2.skill_md
    assert [c.inputs for c in v2.cases] == [{"numbers": [1, 2, 3, 4]}, {"numbers": [2, 2]}, {"numbers": []}]
    assert v2.cases[2].expected == {"mean": None}
    actions = [e["action"] for e in env.events(report.run_id) if e["type"] == "library_change"]
    assert actions == ["rejected", "accepted", "save"]

    runner = CliRunner()
    log = runner.invoke(app, ["library", "log", NAME, "--library", str(env.settings.paths.library), "--json"])
    assert log.exit_code == 0, log.output
    versions = json.loads(log.output)
    assert [v["version"] for v in versions] == [1, 2]
    assert versions[1]["run_id"] == report.run_id

    back = runner.invoke(
        app, ["library", "rollback", NAME, "--to", "1", "--library", str(env.settings.paths.library)]
    )
    assert back.exit_code == 0, back.output
    v3 = env.library.get(NAME)
    assert v3.version == 3 and v3.code == env.library.get(NAME, 1).code
    assert len(v3.cases) == 3  # cases only accumulate: v2's regression case outlives the rollback


def test_accept_more_takes_partial_progress(env):
    strings = FailingCase(inputs={"numbers": ["1", "2"]}, error="TypeError")
    report, _ = evolve(
        env, [revision("empty list", edits=FIX_EMPTY)], failing=[EMPTY, strings], accept="more"
    )
    outcome = report.outcomes[0]
    assert outcome.verdict == "accepted" and outcome.passing_after == (3, 4)
    skill = env.library.get(NAME).skill_md
    assert "Still fails on inputs like" in skill and '["1", "2"]' in skill


@pytest.mark.docker
def test_same_gate_in_docker(tmp_path):
    env = make_env(tmp_path, "docker")
    try:
        report, _ = evolve(
            env, [revision("round", edits=FIX_EMPTY_BUT_ROUND), revision("empty list", edits=FIX_EMPTY)]
        )
    finally:
        env.backend.close()
    outcome = report.outcomes[0]
    assert [r.verdict for r in outcome.rounds] == ["rejected", "accepted"]
    assert env.library.get(NAME).version == 2


def test_a_fixed_case_pins_the_files_the_revision_writes(env):
    # The case an accepted revision records is pinned by content like a case recorded from a run: a
    # later revision writing an empty file of the same name cannot pass it.
    writes_file = [
        {
            "old": "    total = sum(numbers)",
            "new": '    if not numbers:\n        with open("outputs/mean.txt", "w") as f:\n'
            '            f.write("no numbers\\n")\n        return {"mean": None}\n    total = sum(numbers)',
        }
    ]
    report, _ = evolve(env, [revision("an empty list has no mean", edits=writes_file)])
    assert report.outcomes[0].verdict == "accepted"
    fixed = env.library.get(NAME).cases[2]
    pin = fixed.checks["file_pins"]["mean.txt"]
    assert pin["size"] == len("no numbers\n") and len(pin["sha256"]) == 64


def test_a_case_pinning_a_file_passes_every_time_it_is_run(env):
    # Evolve runs the stored cases more than once (the current version, then each revision): each run
    # writes into an outputs folder of its own, so a file equal to an earlier run's still counts.
    writes_file = [
        {
            "old": "    total = sum(numbers)",
            "new": '    if not numbers:\n        with open("outputs/mean.txt", "w") as f:\n'
            '            f.write("no numbers\\n")\n        return {"mean": None}\n    total = sum(numbers)',
        }
    ]
    report, _ = evolve(env, [revision("an empty list has no mean", edits=writes_file)])
    assert report.outcomes[0].verdict == "accepted"
    strings = FailingCase(inputs={"numbers": ["1", "2"]}, error="TypeError")
    report, _ = evolve(env, [revision("numbers given as strings", edits=FIX_STRINGS)], failing=[strings])
    outcome = report.outcomes[0]
    assert outcome.verdict == "accepted", outcome.reason
    assert env.library.get(NAME).version == 3
