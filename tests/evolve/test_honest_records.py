"""Evolve is honest in the experience store and the event log.

Its validation executions are validation, never usage (stats, ranking, evolve's own candidates, deploy's
maturity gate); a rejected evolve is a failed run whose gate decisions are not library changes; a crash
ends with one `run_finished: error`; `feedback latest` rates the newest task run, not an evolve run.
Real local sandbox, real git library, real SQLite store, scripted model.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentfactory.cli.app import app
from agentfactory.errors import EXIT_TASK_FAILED, EXIT_USAGE
from agentfactory.events import RUN_FINISHED, summarize_run
from agentfactory.evolve import Evolver
from agentfactory.experience import ExperienceStore
from agentfactory.experience.records import USE, VALIDATION, ExecutionRecord, RunRecord
from agentfactory.experience.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION
from agentfactory.llm import ScriptedProvider

from .conftest import FIX_STRINGS, NAME, revision
from .test_feedback_and_exit import COMMENT_ONLY, GOOD_INPUTS, cli, evolve_cli, reuse_in_run


@pytest.fixture
def clean_cli_env(env, monkeypatch):
    """The CLI reads settings from the environment and the current folder: neither may leak in."""
    monkeypatch.chdir(env.root)
    for var in ("AGENTFACTORY_DEPLOY_MIN_RUNS", "AGENTFACTORY_SANDBOX", "AGENTFACTORY_LIBRARY",
                "AGENTFACTORY_CONFIG", "AGENTFACTORY_WORKSPACES", "AGENTFACTORY_EXPERIENCE_DB"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    return env


def evolve_run_ids(env, before: set[str]) -> list[str]:
    return sorted(p.name for p in env.settings.paths.workspaces.iterdir() if p.name not in before)


def run_finished(env, run_id: str) -> list[dict]:
    return [e for e in env.events(run_id) if e["type"] == RUN_FINISHED]


def test_rejected_evolve_after_bad_feedback_is_not_usage_and_does_not_mature(clean_cli_env, tmp_path):
    """The newcomer's walk: one run rated bad, one rejected evolve. stats shows one execution of quality
    0, the maturity gate counts no successful run, and deploy refuses."""
    env = clean_cli_env
    run_id = reuse_in_run(env, GOOD_INPUTS)
    assert cli(env, "feedback", run_id, "--bad").exit_code == 0
    before = {p.name for p in env.settings.paths.workspaces.iterdir()}
    result = evolve_cli(env, tmp_path, [revision("tidy", edits=COMMENT_ONLY)])
    assert result.exit_code == EXIT_TASK_FAILED, result.output
    [evolve_id] = evolve_run_ids(env, before)

    with env.experience() as store:
        checks = store.executions(run_id=evolve_id)
        # The current version on 2 stored + 1 failing case, then the revision on the same 3.
        assert len(checks) == 6 and {r.kind for r in checks} == {VALIDATION}
        assert [r.kind for r in store.executions(run_id=run_id)] == [USE]
        assert store.successful_runs(NAME) == 0  # the only user run was rated bad
        assert store.success_rates([NAME]) == {NAME: (1, 1)}  # search ranking: the user's one run
        stats = store.stats()
    [row] = [s for s in stats["subagents"] if s["name"] == NAME]
    assert (row["version"], row["runs"], row["avg_quality"]) == (1, 1, 0.0)
    assert stats["team"]["executions"] == 1

    shown = CliRunner().invoke(app, ["stats", "--json", "--library", str(env.settings.paths.library)])
    assert shown.exit_code == 0, shown.output
    [row] = [s for s in json.loads(shown.stdout)["subagents"] if s["name"] == NAME]
    assert (row["runs"], row["avg_quality"]) == (1, 0.0)

    deployed = CliRunner().invoke(
        app, ["deploy", NAME, "--out", str(tmp_path / "out"), "--library", str(env.settings.paths.library),
              "--sandbox", "local"],
    )  # fmt: skip
    text = " ".join(deployed.output.split())
    assert deployed.exit_code == EXIT_TASK_FAILED, deployed.output
    assert "it has 0 successful recorded runs, fewer than the required 3" in text
    assert not (tmp_path / "out").exists()
    with env.experience() as store:  # deploy's own case runs are not recorded as usage either
        assert len(store.executions(kind=USE)) == 1


def test_three_rejected_evolves_do_not_pass_the_maturity_gate_or_add_failures(env, tmp_path):
    """Each attempt used to add a failure of the current version and a success per stored case: three
    rejected evolves passed deploy's "3 successful runs" and tripled evolve's evidence."""
    env.fail_in_run([{"numbers": ["1", "2"]}])
    with env.experience() as store:
        assert [(c.name, c.failures) for c in store.evolve_candidates()] == [(NAME, 1)]
    for _ in range(3):
        assert evolve_cli(env, tmp_path, [revision("tidy", edits=COMMENT_ONLY)]).exit_code == 1
    with env.experience() as store:
        assert store.successful_runs(NAME) == 0
        assert [(c.name, c.failures) for c in store.evolve_candidates()] == [(NAME, 1)]
        assert len(store.failures_since(NAME, 1)) == 1
        assert store.success_rates([NAME]) == {NAME: (1, 0)}
        assert len(store.executions(kind=VALIDATION)) == 3 * 6
        [lesson] = store.lessons(NAME)  # validation replays teach nothing new
        assert lesson.failures == 1
    [plan] = Evolver(env.settings, library=env.library).plan()
    assert plan.failures == 1


def test_rejected_evolve_run_is_task_failed_and_rejections_are_not_library_changes(env, tmp_path):
    env.fail_in_run([{"numbers": ["1", "2"]}])
    before = {p.name for p in env.settings.paths.workspaces.iterdir()}
    result = evolve_cli(env, tmp_path, [revision("tidy", edits=COMMENT_ONLY)])
    assert result.exit_code == EXIT_TASK_FAILED, result.output
    [evolve_id] = evolve_run_ids(env, before)
    [finished] = run_finished(env, evolve_id)
    assert finished["status"] == "task_failed"
    assert NAME in finished["reason"] and "rejected" in finished["reason"]
    summary = summarize_run(env.settings.paths.workspaces / evolve_id)
    assert (summary.status, summary.library_changes, summary.gate_decisions) == ("task_failed", 0, 1)
    shown = CliRunner().invoke(
        app, ["runs", "show", evolve_id, "--workspaces", str(env.settings.paths.workspaces)]
    )
    assert "library changes 0" in " ".join(shown.output.split())


def test_accepted_evolve_run_is_success_with_one_library_change(env, tmp_path):
    env.fail_in_run([{"numbers": ["1", "2"]}])
    before = {p.name for p in env.settings.paths.workspaces.iterdir()}
    result = evolve_cli(env, tmp_path, [revision("accept numbers as strings", edits=FIX_STRINGS)])
    assert result.exit_code == 0, result.output
    [evolve_id] = evolve_run_ids(env, before)
    [finished] = run_finished(env, evolve_id)
    assert (finished["status"], finished["reason"]) == ("success", "")
    summary = summarize_run(env.settings.paths.workspaces / evolve_id)
    assert (summary.library_changes, summary.gate_decisions) == (1, 1)


class _CrashingBackend:
    """A backend whose sandbox breaks with an unexpected exception (not an AgentFactoryError)."""

    def __init__(self, inner):
        self.inner = inner

    def execute(self, request):
        raise RuntimeError("sandbox exploded")

    def close(self):
        self.inner.close()


def test_crashed_evolve_ends_with_one_run_finished_error(env):
    env.fail_in_run([{"numbers": ["1", "2"]}])
    before = {p.name for p in env.settings.paths.workspaces.iterdir()}
    evolver = Evolver(
        env.settings, provider=ScriptedProvider([revision("tidy", edits=COMMENT_ONLY)]),
        library=env.library, backend=_CrashingBackend(env.backend),
    )  # fmt: skip
    with pytest.raises(RuntimeError, match="sandbox exploded"):
        evolver.run()
    [evolve_id] = evolve_run_ids(env, before)
    events = env.events(evolve_id)
    [finished] = [e for e in events if e["type"] == RUN_FINISHED]
    assert events[-1] is finished and finished["status"] == "error"
    assert "sandbox exploded" in finished["reason"]


def test_feedback_latest_rates_the_newest_task_run_not_the_evolve_run(env, tmp_path):
    run_id = reuse_in_run(env, GOOD_INPUTS)
    assert cli(env, "feedback", run_id, "--bad").exit_code == 0
    before = {p.name for p in env.settings.paths.workspaces.iterdir()}
    assert evolve_cli(env, tmp_path, [revision("tidy", edits=COMMENT_ONLY)]).exit_code == 1
    [evolve_id] = evolve_run_ids(env, before)
    ws = ["--workspaces", str(env.settings.paths.workspaces)]

    latest = cli(env, "feedback", "latest", "--note", "still wrong", "--json", *ws)
    assert latest.exit_code == 0, latest.output
    assert json.loads(latest.stdout)["run_id"] == run_id

    refused = cli(env, "feedback", evolve_id, "--score", "1", *ws)
    text = " ".join(refused.output.split())
    assert refused.exit_code == EXIT_USAGE, refused.output
    assert f"Run {evolve_id} is an evolve run, not a task run: feedback rates task runs" in text
    with env.experience() as store:
        assert store.get_run(evolve_id) is None
        assert [f["note"] for f in store.feedback(run_id)] == [None, "still wrong"]


def test_feedback_latest_with_no_task_run_is_one_sentence(env, tmp_path):
    ws = ["--workspaces", str(env.settings.paths.workspaces)]
    result = cli(env, "feedback", "latest", "--bad", *ws)
    assert result.exit_code == EXIT_USAGE
    assert "No task run in the experience store" in " ".join(result.output.split())


def test_migration_marks_old_evolve_executions_as_validation(tmp_path: Path):
    """A store written before executions had a kind: the rows of evolve workspaces (task "evolve ...",
    no run row) become validation; a task run's rows, even one whose task starts with "evolve", stay."""
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    for migration in MIGRATIONS[:3]:
        for statement in migration:
            conn.execute(statement)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 3")
    columns = "run_id, agent_id, task, subagent, version, success, quality, ts"
    rows = [
        ("r-user", "a", "evolve my essay", NAME, 1, 1, 1.0, 1.0),
        ("r-evolve", "a", f"evolve {NAME}", NAME, 1, 0, 0.0, 2.0),
        ("r-evolve", "a", f"evolve {NAME}", NAME, 1, 1, 1.0, 3.0),
    ]
    conn.executemany(f"INSERT INTO executions ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute(
        "INSERT INTO runs (run_id, agent_id, task, status, success, started) "
        "VALUES ('r-user', 'a', 'evolve my essay', 'success', 1, 1.0)"
    )
    conn.commit()
    conn.close()

    with ExperienceStore(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        kinds = {(r.run_id, r.ts): r.kind for r in store.executions()}
        assert kinds == {("r-user", 1.0): USE, ("r-evolve", 2.0): VALIDATION, ("r-evolve", 3.0): VALIDATION}
        assert store.successful_runs(NAME) == 1
        assert store.evolve_candidates() == []
        assert store.success_rates() == {NAME: (1, 1)}


def test_failed_and_bad_rated_runs_are_not_successful_runs_for_the_gate(tmp_path: Path):
    """The maturity gate counts task runs that succeeded and were not rated bad."""
    with ExperienceStore(tmp_path / "s.sqlite") as store:
        for run_id, status in (("ok", "success"), ("failed", "task_failed"), ("rated", "success")):
            store.record_run(RunRecord(run_id, "a", "t", status, status == "success"))
            store.record_execution(ExecutionRecord(run_id, "a", NAME, 1, success=True, quality=1.0))
        store.add_feedback("rated", score=0.2)
        store.record_execution(ExecutionRecord("check", "a", NAME, 1, success=True, kind=VALIDATION))
        assert store.successful_runs(NAME) == 1
        [row] = store.stats()["subagents"]
        assert (row["runs"], row["successes"], row["avg_quality"]) == (3, 3, round((1 + 1 + 0.2) / 3, 4))


def test_save_gate_case_runs_in_a_task_run_are_validation(env):
    """`finish` saving a revision runs the stored and new cases: those are checks, not usage. The run's
    own executions stay usage."""
    from agentfactory.meta.agent import MetaAgent

    from .conftest import FIX_EMPTY, call

    script = [
        call("run_subagent", name=NAME, inputs={"numbers": []}),
        call("modify_subagent", name=NAME, reason="an empty list has no mean", edits=FIX_EMPTY),
        call("run_subagent", name=NAME, inputs={"numbers": []}),
        call("finish", answer="none", save=[NAME]),
    ]
    with env.experience() as store:
        result = MetaAgent(
            env.settings, provider=ScriptedProvider(script), library=env.library, backend=env.backend,
            experience=store,
        ).run("mean of an empty list")  # fmt: skip
        assert result.saved == [(NAME, 2)]
        rows = store.executions(run_id=result.run_id)
    usage = [(r.version, r.success) for r in rows if r.kind == USE]
    checks = [(r.version, r.success) for r in rows if r.kind == VALIDATION]
    assert usage == [(1, False), (None, True)]  # the library version failed, the candidate worked
    assert checks == [(None, True)] * 3  # 2 stored cases + the new one, on the candidate


class _CrashingOnRevisions(_CrashingBackend):
    """The current version runs; a revision's validation breaks inside the shared tool loop."""

    def execute(self, request):
        if "/r1/" in str(request.code_dir):
            raise RuntimeError("sandbox exploded mid-round")
        return self.inner.execute(request)


def test_crash_inside_a_round_ends_with_one_run_finished_error(env):
    env.fail_in_run([{"numbers": ["1", "2"]}])
    before = {p.name for p in env.settings.paths.workspaces.iterdir()}
    evolver = Evolver(
        env.settings, provider=ScriptedProvider([revision("tidy", edits=COMMENT_ONLY)]),
        library=env.library, backend=_CrashingOnRevisions(env.backend),
    )  # fmt: skip
    with pytest.raises(RuntimeError, match="mid-round"):
        evolver.run()
    [evolve_id] = evolve_run_ids(env, before)
    events = env.events(evolve_id)
    assert [e["type"] for e in events].count(RUN_FINISHED) == 1
    assert events[-1]["type"] == RUN_FINISHED and events[-1]["status"] == "error"
