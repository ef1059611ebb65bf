"""The experience store on real SQLite files: records, queries, feedback, schema and fault handling."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agentfactory.config import Paths, Settings, load_settings
from agentfactory.errors import AgentFactoryError, UsageError
from agentfactory.experience import (
    SCHEMA_VERSION,
    ExecutionRecord,
    ExperienceStore,
    RunRecord,
    StoreCorruptError,
    StoreLockedError,
    StoreSchemaError,
    default_store_path,
    input_shape,
    inputs_digest,
)
from agentfactory.experience.schema import MIGRATIONS


def _exec(name="csv-stats", version=1, ok=True, run="r1", agent="alice", ts=1.0, **kw) -> ExecutionRecord:
    return ExecutionRecord(
        run_id=run, agent_id=agent, subagent=name, version=version, success=ok, ts=ts, **kw
    )


def test_digest_is_canonical_and_shape_names_edge_cases():
    assert inputs_digest({"a": 1, "b": [1, 2]}) == inputs_digest({"b": [1, 2], "a": 1})
    assert inputs_digest({"a": 1}) != inputs_digest({"a": 2})
    shape = input_shape({"numbers": [], "sep": "", "n": -3, "rows": [1, "x"], "cfg": {}})
    assert shape == "cfg=dict(empty), n=int(<0), numbers=list(empty), rows=list[int|str], sep=str(empty)"
    assert input_shape({}) == "(no inputs)"


def test_execution_round_trip(store: ExperienceStore):
    rec = ExecutionRecord.build(
        run_id="r1",
        agent_id="alice",
        subagent="csv-stats",
        version=2,
        inputs={"path": "inputs/a.csv"},
        success=False,
        quality=0.0,
        duration_s=1.5,
        input_tokens=10,
        output_tokens=5,
        cost_usd=0.01,
        error_kind="KeyError",
        error="'price'",
        task="sum prices",
        task_type="csv",
        ts=123.0,
    )
    row_id = store.record_execution(rec)
    assert row_id == rec.id and row_id > 0
    (back,) = store.executions(run_id="r1")
    assert back == rec
    assert store.schema_version() == SCHEMA_VERSION


def test_default_path_is_beside_the_library_not_inside(tmp_path: Path):
    settings = load_settings(cwd=tmp_path, env={})
    path = default_store_path(settings.paths)
    assert path == tmp_path / "subagent_library.experience.sqlite"
    assert settings.paths.library not in path.parents
    custom = load_settings(cwd=tmp_path, env={"AGENTFACTORY_EXPERIENCE_DB": "team/exp.sqlite"})
    assert default_store_path(custom.paths) == tmp_path / "team" / "exp.sqlite"
    assert default_store_path(Paths(library=Path("/x/lib"))) == Path("/x/lib.experience.sqlite")


def test_success_rates_count_saved_versions_only(store: ExperienceStore):
    for ok in (True, True, False):
        store.record_execution(_exec(version=1, ok=ok))
    store.record_execution(_exec(version=2, ok=True))
    store.record_execution(_exec(version=None, ok=False))  # a candidate: not counted
    store.record_execution(_exec(name="other", version=1, ok=False))
    assert store.success_rates() == {"csv-stats": (4, 3), "other": (1, 0)}
    assert store.success_rates(["csv-stats"], version=2) == {"csv-stats": (1, 1)}
    assert store.success_rates([]) == {}


def test_failures_since_and_evolve_candidates(store: ExperienceStore):
    store.record_execution(_exec("a", 1, False, ts=10, error_kind="KeyError"))
    store.record_execution(_exec("a", 2, False, ts=20, error_kind="TypeError"))
    store.record_execution(_exec("a", 2, True, ts=21))
    store.record_execution(_exec("b", 1, False, ts=5))
    store.record_execution(_exec("b", 1, False, ts=6))
    store.record_execution(_exec("c", 1, False, ts=30))
    store.record_execution(_exec("d", 1, True, ts=30))
    assert [r.error_kind for r in store.failures_since("a", 2)] == ["TypeError"]
    assert [r.version for r in store.failures_since("a", 1)] == [1, 2]
    # b has most failures; a and c tie on one, c is more recent; a's v1 failure is history.
    assert [(c.name, c.failures) for c in store.evolve_candidates()] == [("b", 2), ("c", 1), ("a", 1)]
    assert store.evolve_candidates()[0].last_failure_ts == 6
    # The library knows b is at v2 now (evolved, not yet executed): b drops out.
    assert [c.name for c in store.evolve_candidates(current_versions={"b": 2})] == ["c", "a"]
    name, failures, last = store.evolve_candidates(limit=1)[0]
    assert (name, failures, last) == ("b", 2, 6)


def _run(run_id: str, ok: bool = True, **kw) -> RunRecord:
    status = "success" if ok else "task_failed"
    return RunRecord(run_id=run_id, agent_id="alice", task="t", status=status, success=ok, **kw)


def test_successful_runs_counts_distinct_runs(store: ExperienceStore):
    store.record_execution(_exec(run="r1", ok=True))
    store.record_execution(_exec(run="r1", ok=True))
    store.record_execution(_exec(run="r2", version=None, ok=True))  # the candidate r2 saved as v1
    store.record_execution(_exec(run="r3", ok=False))
    store.record_execution(_exec(run="r4", ok=True))  # no run row: not a recorded task run
    store.record_execution(_exec(run="r5", version=2, ok=True))
    store.record_execution(_exec(run="r6", version=None, ok=True))  # a candidate never saved
    for run_id in ("r1", "r3", "r5", "r6"):
        store.record_run(_run(run_id))
    store.record_run(_run("r2", subagents_saved=["csv-stats"], saved_versions={"csv-stats": 1}))
    assert store.successful_runs("csv-stats") == 4  # r1, r2, r5, r6
    assert store.successful_runs("csv-stats", 1) == 2  # r1, and r2 whose candidate became v1
    assert store.successful_runs("csv-stats", 2) == 1
    assert store.successful_runs("csv-stats", 1, exclude_run="r1") == 1
    assert store.successful_runs("unknown") == 0


def test_run_upsert_keeps_feedback(store: ExperienceStore):
    run = RunRecord(
        run_id="r1",
        agent_id="alice",
        task="t",
        status="success",
        success=True,
        quality=1.0,
        subagents_saved=["a"],
        started=1.0,
    )
    store.record_run(run)
    store.add_feedback("r1", 0.4, "answer was partial")
    store.add_feedback("r1", None, "second note")
    store.record_run(run)  # recorded again (e.g. a resumed run): feedback survives
    back = store.get_run("r1")
    assert back.feedback_score == 0.4 and back.feedback_note == "second note"
    assert back.subagents_saved == ["a"]
    assert [f["note"] for f in store.feedback("r1")] == ["answer was partial", "second note"]
    assert store.stats()["team"]["avg_quality"] == 0.4  # the user's score wins over automatic


def test_feedback_refuses_bad_input_and_changes_nothing(store: ExperienceStore):
    store.record_run(RunRecord(run_id="r1", agent_id="a", task="t", status="success", success=True))
    with pytest.raises(UsageError, match="No run 'nope'"):
        store.add_feedback("nope", 0.5)
    with pytest.raises(UsageError, match="outside 0-1"):
        store.add_feedback("r1", 1.5)
    with pytest.raises(UsageError, match="--score, a --note"):
        store.add_feedback("r1")
    assert store.feedback("r1") == [] and store.feedback("nope") == []
    with pytest.raises(UsageError):
        store.record_execution(_exec(quality=2.0))
    assert store.count_executions() == 0


def test_stats_on_a_fixed_history_equal_hand_computed_values(store: ExperienceStore):
    # Agent alice creates and saves two subagents; bob reuses one of them and one pulled from elsewhere.
    runs = [
        RunRecord(
            run_id="r1",
            agent_id="alice",
            task="t1",
            status="success",
            success=True,
            quality=1.0,
            input_tokens=1000,
            output_tokens=200,
            cache_read_tokens=300,
            cost_usd=0.05,
            subagents_created=["csv-stats", "plot"],
            subagents_saved=["csv-stats", "plot"],
            started=10,
        ),
        RunRecord(
            run_id="r2",
            agent_id="alice",
            task="t2",
            status="task_failed",
            success=False,
            quality=0.0,
            input_tokens=500,
            output_tokens=100,
            cost_usd=0.02,
            subagents_created=["x"],
            started=20,
        ),
        RunRecord(
            run_id="r3",
            agent_id="bob",
            task="t3",
            status="success",
            success=True,
            quality=0.5,
            input_tokens=300,
            output_tokens=50,
            cache_write_tokens=50,
            cost_usd=0.01,
            subagents_reused=["csv-stats", "external"],
            started=30,
        ),
        RunRecord(
            run_id="r4",
            agent_id="bob",
            task="t4",
            status="success",
            success=True,
            input_tokens=100,
            output_tokens=20,
            cost_usd=0.004,
            subagents_reused=["csv-stats"],
            started=40,
        ),
    ]
    for run in runs:
        store.record_run(run)
    execs = [
        _exec("csv-stats", 1, True, run="r1", agent="alice", quality=1.0, duration_s=1.0, cost_usd=0.1),
        _exec("csv-stats", 1, False, run="r3", agent="bob", quality=0.0, duration_s=3.0, cost_usd=0.2),
        _exec("csv-stats", 1, True, run="r4", agent="bob", quality=0.5, duration_s=2.0, cost_usd=0.3),
        _exec("csv-stats", 2, True, run="r4", agent="bob", quality=None, duration_s=4.0),
        _exec("x", None, False, run="r2", agent="alice", duration_s=0.5),
    ]
    for e in execs:
        store.record_execution(e)
    stats = store.stats(window=2)

    by_key = {(s["name"], s["version"]): s for s in stats["subagents"]}
    v1 = by_key[("csv-stats", 1)]
    assert (v1["runs"], v1["successes"], v1["success_rate"]) == (3, 2, 0.6667)
    assert v1["avg_quality"] == 0.5 and v1["avg_duration_s"] == 2.0 and v1["cost_usd"] == 0.6
    assert by_key[("csv-stats", 2)]["avg_quality"] is None
    assert by_key[("x", None)]["success_rate"] == 0.0
    assert [(s["name"], s["version"]) for s in stats["subagents"]] == [
        ("csv-stats", 1),
        ("csv-stats", 2),
        ("x", None),
    ]

    alice, bob = stats["agents"]
    assert alice["agent_id"] == "alice" and bob["agent_id"] == "bob"
    assert (alice["runs"], alice["success_rate"], alice["avg_quality"]) == (2, 0.5, 0.5)
    assert alice["tokens"] == {
        "input": 1500,
        "output": 300,
        "cache_read": 300,
        "cache_write": 0,
        "total": 2100,
    }
    assert alice["avg_tokens_per_run"] == 1050.0 and alice["cost_usd"] == 0.07
    assert alice["subagents_contributed"] == ["csv-stats", "plot"]
    assert (alice["reused_from_others"], alice["reused_by_others"]) == (0, 2)
    assert alice["executions"] == 2 and alice["reuse_ratio"] == 0.0
    assert (bob["runs"], bob["success_rate"], bob["avg_quality"]) == (2, 1.0, 0.5)
    assert bob["tokens"]["total"] == 520 and bob["avg_tokens_per_run"] == 260.0
    assert (bob["reused_from_others"], bob["reused_external"], bob["reused_by_others"]) == (2, 1, 0)
    assert bob["subagents_contributed"] == [] and bob["reuse_ratio"] == 1.0

    team = stats["team"]
    assert (team["agents"], team["runs"], team["successes"], team["success_rate"]) == (2, 4, 3, 0.75)
    assert team["avg_quality"] == 0.5  # (1 + 0 + 0.5) / 3; r4 has none
    assert team["tokens"]["total"] == 2620 and team["avg_tokens_per_run"] == 655.0
    assert team["cost_usd"] == 0.084 and team["mean_agent_success_rate"] == 0.75
    assert team["reuse_ratio"] == 0.5  # 3 reuses / (3 reuses + 3 created)
    assert (team["cross_agent_reuses"], team["subagents_saved"], team["executions"]) == (2, 2, 5)

    first, second = stats["trends"]["windows"]
    assert (first["first_run"], first["last_run"], first["success_rate"]) == ("r1", "r2", 0.5)
    assert first["avg_tokens_per_run"] == 1050.0 and first["reuse_ratio"] == 0.0
    assert (second["success_rate"], second["avg_tokens_per_run"], second["reuse_ratio"]) == (1.0, 260.0, 1.0)
    assert second["avg_cost_usd"] == 0.007
    assert stats["trends"]["change_first_to_last"]["success_rate"] == 0.5
    assert stats["trends"]["change_first_to_last"]["avg_tokens_per_run"] == -790.0

    only_bob = store.stats(agent_id="bob", window=5)
    assert [a["agent_id"] for a in only_bob["agents"]] == ["bob"]
    assert {(s["name"], s["version"]) for s in only_bob["subagents"]} == {("csv-stats", 1), ("csv-stats", 2)}
    assert only_bob["trends"]["windows"][0]["runs"] == 2
    assert only_bob["team"]["runs"] == 4  # the team figures stay for comparison
    with pytest.raises(UsageError):
        store.stats(window=0)


def _v1_database(path: Path) -> None:
    conn = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO executions (run_id, agent_id, subagent, version, success, ts) "
        "VALUES ('old', 'alice', 'csv-stats', 1, 1, 5.0)"
    )
    conn.execute(
        "INSERT INTO runs (run_id, agent_id, task, status, success, started, subagents_saved) "
        "VALUES ('old', 'alice', 'legacy task', 'success', 1, 5.0, '[\"csv-stats\"]')"
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()


def test_upgrade_from_version_1_keeps_every_row(tmp_path: Path):
    path = tmp_path / "old.sqlite"
    _v1_database(path)
    store = ExperienceStore(path)
    assert store.schema_version() == SCHEMA_VERSION
    (old,) = store.executions()
    assert (old.run_id, old.subagent, old.success, old.inputs_shape) == ("old", "csv-stats", True, "")
    assert store.get_run("old").task == "legacy task"
    store.add_feedback("old", 0.9)  # a column added by migration 2
    assert store.stats()["team"]["avg_quality"] == 0.9


def test_newer_schema_is_refused_naming_both_versions(tmp_path: Path):
    path = tmp_path / "new.sqlite"
    ExperienceStore(path).record_execution(_exec())
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 3}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreSchemaError) as info:
        ExperienceStore(path).success_rates()
    message = str(info.value)
    assert f"schema version {SCHEMA_VERSION + 3}" in message and f"version {SCHEMA_VERSION} " in message
    assert isinstance(info.value, AgentFactoryError)


def test_corrupt_file_gives_a_clear_error_and_is_left_alone(tmp_path: Path):
    library = tmp_path / "subagent_library"
    library.mkdir()
    (library / "keep.txt").write_text("library content")
    path = tmp_path / "subagent_library.experience.sqlite"
    garbage = b"this is not an sqlite file at all" * 200
    path.write_bytes(garbage)
    store = ExperienceStore(path)
    with pytest.raises(StoreCorruptError, match="is corrupt.*move it aside.*library is unaffected"):
        store.record_execution(_exec())
    with pytest.raises(StoreCorruptError):
        store.stats()
    assert path.read_bytes() == garbage
    assert [p.name for p in library.iterdir()] == ["keep.txt"]


def test_damaged_pages_are_reported_as_corrupt(tmp_path: Path):
    path = tmp_path / "x.sqlite"
    store = ExperienceStore(path)
    for i in range(300):
        store.record_execution(_exec(run=f"r{i}", task="x" * 200))
    store.close()
    data = bytearray(path.read_bytes())
    for offset in range(4096, len(data), 4096):  # keep the header, scribble over every other page
        data[offset + 8 : offset + 200] = b"\xff" * 192
    path.write_bytes(bytes(data))
    with pytest.raises(StoreCorruptError):
        reopened = ExperienceStore(path)
        reopened.check()
        reopened.executions()


def test_foreign_sqlite_database_is_refused(tmp_path: Path):
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreSchemaError, match="no experience-store schema"):
        ExperienceStore(path).stats()


def test_lock_held_beyond_the_timeout_is_a_typed_error(tmp_path: Path):
    path = tmp_path / "x.sqlite"
    ExperienceStore(path).record_execution(_exec())
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = ExperienceStore(path, timeout_s=0.3)
        with pytest.raises(StoreLockedError, match="locked by another process for more than 0.3 s"):
            store.record_execution(_exec(run="r2"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert ExperienceStore(path).count_executions() == 1


def test_recording_from_a_sandbox_trace_and_a_run_result(tmp_path: Path):
    from types import SimpleNamespace

    from agentfactory.experience.recording import SubagentExecution, execution_cost
    from agentfactory.llm.types import Usage
    from agentfactory.sandbox.trace import ExecutionTrace, ToolCallRecord

    store = ExperienceStore(tmp_path / "x.sqlite")
    settings = Settings.from_keys(subagent_model="anthropic:claude-haiku-4-5")
    ctx = SimpleNamespace(
        workspace=SimpleNamespace(run_id="run-1"), agent_id="alice", task="sum it", settings=settings
    )
    failed = ExecutionTrace(
        status="error",
        backend="local",
        duration_s=0.25,
        error={"type": "KeyError", "message": "'price'\nmore", "frames": []},
        tool_calls=[ToolCallRecord("llm", "{}", True, usage={"input_tokens": 1000, "output_tokens": 100})],
    )

    def execution(version, inputs, trace):
        usage = trace.usage_totals()
        return SubagentExecution(
            run_id="run-1",
            agent_id="alice",
            task="sum it",
            subagent="csv-stats",
            version=version,
            inputs=inputs,
            status=trace.status,
            error=trace.error,
            duration_s=trace.duration_s,
            usage=usage,
            cost_usd=execution_cost(settings, usage),
        )

    rec = store.record_subagent_execution(execution(0, {"rows": []}, failed))
    assert (rec.success, rec.version, rec.error_kind, rec.error, rec.quality) == (
        False,
        None,
        "KeyError",
        "'price'",
        0.0,
    )
    assert (rec.input_tokens, rec.output_tokens, rec.cost_usd) == (1000, 100, 0.0015)
    timeout = ExecutionTrace(status="timeout", backend="local", duration_s=120.0)
    rec = store.record_subagent_execution(execution(3, {"rows": [1]}, timeout))
    assert (rec.error_kind, rec.version, rec.duration_s) == ("timeout", 3, 120.0)
    ok = ExecutionTrace(status="ok", backend="local", duration_s=0.1, result={"x": 1})
    assert store.record_subagent_execution(execution(3, {}, ok)).quality == 1.0
    assert store.count_executions() == 3

    result = SimpleNamespace(
        run_id="run-1",
        status="success",
        model="scripted",
        simulated=True,
        steps=4,
        usage=Usage(100, 20, 50, 0),
        subagent_usage=Usage(10, 5),
        cost_usd=0.01,
        created=["csv-stats"],
        reused=["plot"],
        saved=[("csv-stats", 1)],
        duration_s=2.0,
    )
    run = store.record_run_result(ctx, result)
    back = store.get_run("run-1")
    assert back == run
    assert (back.success, back.subagents_saved, back.input_tokens, back.cache_read_tokens) == (
        True,
        ["csv-stats"],
        110,
        50,
    )
    assert back.finished - back.started == pytest.approx(2.0)
