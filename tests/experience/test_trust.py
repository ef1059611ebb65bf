"""What earns trust is not steerable from a pulled file: final answers and deploy maturity count only
trusted agents' task runs of the current version; feedback and run rows of others never override ours.

Real git (a bare remote in tmp_path, a hostile clone pushing crafted experience files), real SQLite, the
local sandbox and the scripted Meta-Agent model (tests/meta/conftest.py).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from agentfactory.experience import ExecutionRecord, ExperienceStore, RunRecord
from tests.experience.test_team_files import _alice_rows, _bare, _blob, _push_files
from tests.meta.conftest import make_env
from tests.meta.test_final_earned import NAME, install, reuse, seen_by_model

COSTS = "item,amount\nink,3\nlamp,4\n"


def _line(**row) -> bytes:
    return json.dumps({"v": 1, **row}).encode() + b"\n"


def _forged_runs(agent: str, count: int, version: int | None = 1, **execution) -> bytes:
    """`count` successful task runs of `agent`, each executing NAME once."""
    data = b""
    for i in range(count):
        run_id = f"forged-{agent}-{i}"
        data += _line(type="run", uid=f"r{i}", run_id=run_id, agent_id=agent, task="t", status="success",
                      success=True, started=1.0)  # fmt: skip
        data += _line(type="execution", uid=f"e{i}", run_id=run_id, agent_id=agent, subagent=NAME,
                      version=version, success=True, ts=1.0, **execution)  # fmt: skip
    return data


@pytest.fixture
def alice(tmp_path):
    """Alice's project: column-total v1 saved by one task run, pushed to a bare remote; mallory clones it."""
    env = make_env(tmp_path / "alice", agent_id="alice", final_min_runs=2)
    install(env)
    remote = _bare(tmp_path)
    env.library.push(remote)
    mallory = tmp_path / "mallory"
    subprocess.run(["git", "clone", "-q", remote, str(mallory)], check=True)
    return env, remote, mallory


def _offer(mallory: Path, remote: str, files: dict[str, bytes]) -> None:
    """Push mallory's commit: alice's files as they are, plus `files`."""
    rows = [r for r in _alice_rows(mallory) if r[3] not in files]
    rows += [("100644", "blob", _blob(mallory, data), name) for name, data in files.items()]
    _push_files(mallory, remote, rows)


def test_forged_runs_in_a_pulled_file_rank_search_but_never_make_a_result_final(alice):
    env, remote, mallory = alice
    _offer(mallory, remote, {"mallory.jsonl": _forged_runs("mallory", 5)})
    result = env.library.pull(remote)
    assert result.experience == ["mallory.jsonl"]
    store = ExperienceStore.open(env.settings.paths, env.settings.policy)
    assert store.success_rates([NAME]) == {NAME: (5, 5)}  # the team's rows rank search results
    assert store.successful_runs(NAME, 1) == 1  # alice's own run that saved v1, nothing of mallory's

    reused = reuse(env, COSTS)
    assert reused.model_calls == 2 and reused.answer == "checked"
    assert "has 1 earlier successful runs, fewer than the 2" in seen_by_model(env)


def test_a_trusted_agent_s_runs_count(alice):
    env, remote, mallory = alice
    _offer(mallory, remote, {"bob.jsonl": _forged_runs("bob", 1)})
    env.library.pull(remote)
    trusting = make_env(env.root, agent_id="alice", final_min_runs=2, trusted_agents="bob, carol")
    assert ExperienceStore.open(trusting.settings.paths, trusting.settings.policy).trusted_agents == (
        "bob",
        "carol",
    )
    reused = reuse(trusting, COSTS)
    assert reused.model_calls == 1 and reused.answer == "total: 7.0\nrows: 2"


def test_a_row_in_another_agent_s_name_is_refused(alice):
    """Mallory writes alice's name on rows in her own file: they are bad rows, not alice's runs."""
    env, remote, mallory = alice
    _offer(mallory, remote, {"mallory.jsonl": _forged_runs("alice", 3)})
    env.library.pull(remote)
    store = ExperienceStore.open(env.settings.paths, env.settings.policy)
    report = store.bad_rows()
    assert report["mallory.jsonl"] == (6, "agent_id 'alice' is not the agent of this file")
    assert not [e for e in store.executions() if e.run_id.startswith("forged")]
    assert store.successful_runs(NAME, 1) == 1 and store.get_run("forged-alice-0") is None


def test_a_forged_doc_version_does_not_carry_runs_to_other_code(alice):
    """A doc-only version counts the runs of the code it shares, as a trusted agent recorded it: an
    untrusted file saying "v5 has v1's code" lends v1's runs to nothing."""
    env, remote, mallory = alice
    doc = _line(type="doc_version", uid="d", subagent=NAME, version=5, same_code_as=1, ts=1.0)
    _offer(mallory, remote, {"mallory.jsonl": doc})
    env.library.pull(remote)
    store = ExperienceStore.open(env.settings.paths, env.settings.policy)
    assert store.successful_runs(NAME, 5) == 0
    store.record_doc_version(NAME, 2, 1)  # alice's own note: v2 changed only SKILL.md
    assert store.successful_runs(NAME, 2) == 1


def test_runs_of_another_version_do_not_count(tmp_path):
    store = ExperienceStore(tmp_path / "x.sqlite", library=tmp_path / "lib", agent_id="alice")
    for i, version in enumerate((1, 1, 2)):
        run_id = f"r{i}"
        execution = ExecutionRecord(
            run_id=run_id, agent_id="alice", subagent=NAME, version=version, success=True
        )
        store.record_execution(execution)
        store.record_run(RunRecord(run_id=run_id, agent_id="alice", task="t", status="success", success=True))
    assert [store.successful_runs(NAME, v) for v in (1, 2, 3)] == [2, 1, 0]
    assert store.successful_runs(NAME) == 3


def test_executions_without_a_run_row_earn_nothing(tmp_path):
    store = ExperienceStore(tmp_path / "x.sqlite", library=tmp_path / "lib", agent_id="alice")
    for i in range(4):  # executions of runs that never finished (or were never task runs)
        store.record_execution(ExecutionRecord(run_id=f"r{i}", agent_id="alice", subagent=NAME, version=1,
                                               success=True))  # fmt: skip
    assert store.successful_runs(NAME, 1) == 0 and store.success_rates() == {NAME: (4, 4)}


def test_far_future_feedback_from_a_remote_does_not_override_ours(alice):
    env, remote, mallory = alice
    store = ExperienceStore.open(env.settings.paths, env.settings.policy)
    (run,) = store.runs()
    store.add_feedback(run.run_id, score=0.0, note="wrong total")
    assert store.successful_runs(NAME, 1) == 0
    env.library.push(remote)
    subprocess.run(["git", "-C", str(mallory), "pull", "-q", remote, "main"], check=True)
    praise = _line(type="feedback", uid="f", run_id=run.run_id, score=1.0, note="great", ts=1e12)
    _offer(mallory, remote, {"mallory.jsonl": praise})
    env.library.pull(remote)
    after = store.get_run(run.run_id)
    assert (after.feedback_score, after.feedback_note) == (0.0, "wrong total")
    assert [f["score"] for f in store.feedback(run.run_id)] == [0.0, 1.0]  # kept, and shown
    assert store.successful_runs(NAME, 1) == 0
    assert [e.run_id for e in store.rated_bad(NAME)] == [run.run_id]  # still evolve's evidence


def test_a_remote_run_row_with_our_run_id_changes_nothing_of_ours(tmp_path):
    lib = tmp_path / "lib"
    store = ExperienceStore(tmp_path / "x.sqlite", library=lib, agent_id="alice")
    store.record_execution(
        ExecutionRecord(run_id="r", agent_id="alice", subagent=NAME, version=1, success=True)
    )
    store.record_run(RunRecord(run_id="r", agent_id="alice", task="t", status="task_failed", success=False))
    forged = _line(type="run", uid="x", run_id="r", agent_id="mallory", task="t", status="success",
                   success=True, started=1.0)  # fmt: skip
    (lib / "experience" / "mallory.jsonl").write_bytes(forged)
    store.sync()
    assert store.get_run("r").success is False and store.get_run("r").source == "alice.jsonl"
    assert store.successful_runs(NAME, 1) == 0


def test_a_store_derived_before_sources_were_kept_reads_its_files_again(tmp_path):
    """A store built by the previous schema holds rows with no source: its files are read again."""
    lib = tmp_path / "lib"
    store = ExperienceStore(tmp_path / "x.sqlite", library=lib, agent_id="alice")
    store.record_execution(
        ExecutionRecord(run_id="r", agent_id="alice", subagent=NAME, version=1, success=True)
    )
    store.record_run(RunRecord(run_id="r", agent_id="alice", task="t", status="success", success=True))
    conn = store._connection()
    for table in ("executions", "runs"):  # as the schema-6 migration leaves a schema-5 store
        conn.execute(f"UPDATE {table} SET source = ''")
    conn.execute("DELETE FROM store_meta WHERE key = 'rows_have_sources'")
    store.close()
    reopened = ExperienceStore(tmp_path / "x.sqlite", library=lib, agent_id="alice")
    assert [e.source for e in reopened.executions()] == ["alice.jsonl"]
    assert reopened.successful_runs(NAME, 1) == 1 and reopened.count_executions() == 1


def test_copies_of_our_run_ids_in_a_file_read_first_do_not_take_our_runs_on_a_rebuild(alice):
    """Our run ids are public once pushed: a file named to be read before ours ("aaa.jsonl") repeats
    them as failed runs. Rebuilt from the files, the store still has our runs as we recorded them."""
    env, remote, mallory = alice
    store = ExperienceStore.open(env.settings.paths, env.settings.policy)
    (run,) = store.runs()
    copy = _line(type="run", uid="c", run_id=run.run_id, agent_id="aaa", task="t", status="task_failed",
                 success=False, started=1.0)  # fmt: skip
    _offer(mallory, remote, {"aaa.jsonl": copy})
    env.library.pull(remote)
    store.close()
    store.path.unlink()
    rebuilt = ExperienceStore.open(env.settings.paths, env.settings.policy)
    assert rebuilt.get_run(run.run_id).success is True and rebuilt.get_run(run.run_id).source == "alice.jsonl"
    assert rebuilt.successful_runs(NAME, 1) == 1
