"""`feedback RUN --bad` makes a run's subagents evolve candidates with its inputs as failing cases, and
`evolve` tells scripts what happened by its exit code: 0 accepted (or nothing to do), 1 rejected."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from agentfactory.cli.app import app
from agentfactory.evolve import Evolver
from agentfactory.llm import ScriptedProvider
from agentfactory.meta.agent import MetaAgent

from .conftest import FIX_STRINGS, NAME, call, revision

GOOD_INPUTS = {"numbers": [1, 2, 3]}  # runs fine (mean 2.0): only the user can say it was wrong
# Keeps every stored case (they check `mean` only) and changes the result on GOOD_INPUTS.
ADD_COUNT = [{"old": '    return {"mean": total / len(numbers)}',
              "new": '    return {"mean": total / len(numbers), "count": len(numbers)}'}]  # fmt: skip
# Changes the code but not the result: the rated-bad output stays.
COMMENT_ONLY = [{"old": "    total = sum(numbers)", "new": "    total = sum(numbers)  # same result"}]


def reuse_in_run(env, inputs: dict) -> str:
    """A real Meta-Agent run that reuses the library subagent on `inputs` (it succeeds) and finishes."""
    script = [call("run_subagent", name=NAME, inputs=inputs), call("finish", answer="the mean is 2.0")]
    with env.experience() as store:
        result = MetaAgent(
            env.settings, provider=ScriptedProvider(script), library=env.library, backend=env.backend,
            experience=store,
        ).run("mean of 1, 2 and 3")  # fmt: skip
    assert result.status == "success"
    return result.run_id


def cli(env, *args: str):
    lib = ["--library", str(env.settings.paths.library)]
    return CliRunner().invoke(app, [*args, *lib])


def evolve_cli(env, tmp_path, responses: list) -> object:
    script = tmp_path / "revisions.json"
    script.write_text(json.dumps(responses))
    return CliRunner().invoke(
        app,
        ["evolve", "--rounds", "1", "--library", str(env.settings.paths.library),
         "--workspaces", str(env.settings.paths.workspaces), "--sandbox", "local", "--model", f"scripted:{script}"],
    )  # fmt: skip


def test_bad_feedback_makes_the_run_inputs_a_failing_case(env, tmp_path):
    run_id = reuse_in_run(env, GOOD_INPUTS)
    assert Evolver(env.settings, library=env.library).plan() == []  # a success is not a failure

    rated = cli(env, "feedback", run_id, "--bad", "--note", "I wanted the count too")
    assert rated.exit_code == 0, rated.output
    assert f"evolve candidates from it: {NAME}" in rated.output

    [plan] = Evolver(env.settings, library=env.library).plan()
    assert (plan.name, plan.version, plan.failures, plan.rated_bad) == (NAME, 1, 1, 1)
    [case] = plan.failing
    assert case.inputs == GOOD_INPUTS and case.rated_bad and case.run_id == run_id
    assert case.rejected_result == {"mean": 2.0}
    assert "I wanted the count too" in case.error
    assert "(1 rated bad)" in plan.why

    dry = CliRunner().invoke(app, ["evolve", "--dry-run", "--json", "--library", str(env.settings.paths.library),
                                   "--workspaces", str(env.settings.paths.workspaces)])  # fmt: skip
    assert dry.exit_code == 0, dry.output
    [candidate] = json.loads(dry.stdout)["candidates"]
    assert candidate["failing_cases"][0]["inputs"] == GOOD_INPUTS and candidate["rated_bad"] == 1


def test_score_zero_is_bad_and_a_high_score_is_not(env):
    run_id = reuse_in_run(env, GOOD_INPUTS)
    assert cli(env, "feedback", run_id, "--score", "0.9").exit_code == 0
    assert Evolver(env.settings, library=env.library).plan() == []
    assert cli(env, "feedback", run_id, "--bad", "--score", "0.9").exit_code == 2  # contradictory
    assert cli(env, "feedback", run_id, "--score", "0").exit_code == 0
    assert [p.name for p in Evolver(env.settings, library=env.library).plan()] == [NAME]


def test_accepted_evolve_exits_0_and_pins_the_new_result(env, tmp_path):
    run_id = reuse_in_run(env, GOOD_INPUTS)
    assert cli(env, "feedback", run_id, "--bad").exit_code == 0
    result = evolve_cli(env, tmp_path, [revision("report the count too", edits=ADD_COUNT)])
    assert result.exit_code == 0, result.output
    assert "accepted" in result.output
    sub = env.library.get(NAME)
    assert sub.version == 2
    assert sub.cases[-1].inputs == GOOD_INPUTS and sub.cases[-1].expected == {"mean": 2.0, "count": 3}
    # The rated-bad run now belongs to v1: nothing left to evolve, which is exit 0 too.
    again = evolve_cli(env, tmp_path, [])
    assert again.exit_code == 0 and "Nothing to evolve" in again.output


def test_rejected_evolve_exits_1_and_keeps_the_library(env, tmp_path):
    run_id = reuse_in_run(env, GOOD_INPUTS)
    assert cli(env, "feedback", run_id, "--bad").exit_code == 0
    result = evolve_cli(env, tmp_path, [revision("tidy", edits=COMMENT_ONLY)])
    assert result.exit_code == 1, result.output
    assert "rejected" in result.output and "still the one the user rated bad" in " ".join(
        result.output.split()
    )
    assert env.library.get(NAME).version == 1


def test_failed_execution_accepted_fix_exits_0(env, tmp_path):
    env.fail_in_run([{"numbers": ["1", "2"]}])
    result = evolve_cli(env, tmp_path, [revision("accept numbers as strings", edits=FIX_STRINGS)])
    assert result.exit_code == 0, result.output
    assert env.library.get(NAME).version == 2


def test_bad_rating_of_the_run_that_wrote_the_subagent(env, tmp_path):
    """A subagent written and saved in a run ran there as a candidate: a bad rating of that run is
    evidence against the version it saved."""
    code = env.library.get(NAME).code.replace("def run(", "def run_old(") + (
        "\n\ndef run(numbers: list) -> dict:\n    return {'total': sum(numbers)}\n"
    )
    script = [
        call("create_subagent", name="sum-of", description="Sum of numbers.", code=code, tools=[]),
        call("run_subagent", name="sum-of", inputs={"numbers": [4, 5]}),
        call("finish", answer="9", save=["sum-of"]),
    ]
    with env.experience() as store:
        run = MetaAgent(
            env.settings, provider=ScriptedProvider(script), library=env.library, backend=env.backend,
            experience=store,
        ).run("sum of 4 and 5")  # fmt: skip
    assert run.saved == [("sum-of", 1)]
    assert cli(env, "feedback", run.run_id, "--bad").exit_code == 0
    [plan] = Evolver(env.settings, library=env.library).plan(["sum-of"])
    assert plan.rated_bad == 1 and plan.failing[0].inputs == {"numbers": [4, 5]}
    assert plan.failing[0].rejected_result == {"total": 9}


def test_evolve_view_prints_hostile_reasons_literally(env, tmp_path):
    """A revision whose error message is markup and escape sequences: the rejection reason is shown as
    text, the command ends with its exit code, not a MarkupError."""
    env.fail_in_run([{"numbers": ["1", "2"]}])
    hostile = "[/bold] [link=file:///etc]x[/link] \\x1b[2J"
    raise_it = [{"old": "    total = sum(numbers)", "new": f"    raise ValueError('{hostile}')"}]
    result = evolve_cli(env, tmp_path, [revision("[/INST] try", edits=raise_it)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # the exit code, not an exception that escaped
    assert "\x1b" not in result.output and "MarkupError" not in result.output
    flat = " ".join(result.output.split())
    assert "[/bold] [link=file:///etc]x[/link] \\x1b[2J" in flat
    assert env.library.get(NAME).version == 1
