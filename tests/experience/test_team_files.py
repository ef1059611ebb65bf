"""Experience travels with the library: each agent appends to `experience/<agent>.jsonl` in the library
repository, the SQLite store is derived from those files, and `library push/pull` share them.

Everything runs for real: git (bare remotes in tmp_path), SQLite, the local sandbox and the scripted
Meta-Agent model (tests/meta/conftest.py).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentfactory.cli.app import app
from agentfactory.engine.gate import sandbox_verifier
from agentfactory.errors import LibraryError, ValidationError
from agentfactory.experience import (
    SCHEMA_VERSION,
    ExecutionRecord,
    ExperienceStore,
    RunRecord,
    default_store_path,
)
from agentfactory.library import Library
from agentfactory.library import experience_files as files
from tests.meta.conftest import COLUMN_SUM, UPPER, WORD_COUNT, call, make_env

runner = CliRunner()
FIXTURE = Path(__file__).parent / "data" / "store-schema4.sqlite"


def _git(repo: Path, *args: str, data: bytes | None = None) -> str:
    out = subprocess.run(["git", "-C", str(repo), *args], input=data, capture_output=True, check=True)
    return out.stdout.decode().strip()


def _bare(tmp_path: Path) -> str:
    remote = tmp_path / "team.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    return str(remote)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ---------------------------------------------------------------------------------- two machines


def _install(env, name: str, code: str, description: str, inputs: dict, answer: str, files_: list):
    return env.run(
        f"Use {name}.",
        [
            call("create_subagent", name=name, description=description, code=code),
            call("run_subagent", name=name, inputs=inputs),
            call("finish", answer=answer, save=[name]),
        ],
        files_,
    )


def _pull(env, remote: str):
    result = env.library.pull(remote, verify=sandbox_verifier(env.settings))
    assert not result.conflicts and not result.rejected, result
    return result


def test_two_machines_share_experience_through_one_bare_remote(tmp_path, monkeypatch):
    remote = _bare(tmp_path)
    alice = make_env(tmp_path / "alice", agent_id="alice")
    bob = make_env(tmp_path / "bob", agent_id="bob")

    # Both machines work at once, before either has seen the other: each installs a subagent.
    sales = alice.file("sales.csv", "item,amount\npen,2.5\nbook,10\n")
    first = _install(
        alice, "column-sum", COLUMN_SUM, "Sum a numeric column of a CSV file.",
        {"path": "inputs/sales.csv", "column": "amount"}, "12.5", [sales],
    )  # fmt: skip
    assert first.saved == [("column-sum", 1)], first
    notes = bob.file("notes.txt", "the cat saw the dog\n")
    second = _install(
        bob, "word-count", WORD_COUNT, "Count the words of a text file.",
        {"path": "inputs/notes.txt"}, "5", [notes],
    )  # fmt: skip
    assert second.saved == [("word-count", 1)], second
    # Records are appended to each agent's own file, not yet committed for every execution.
    assert len(_lines(alice.library.path / "experience" / "alice.jsonl")) == 2  # 1 execution + 1 run

    alice.library.push(remote)
    with pytest.raises(LibraryError, match="pull"):
        bob.library.push(remote)  # the remote moved: bob pulls first
    merged = _pull(bob, remote)
    assert merged.updated == ["column-sum"] and merged.experience == ["alice.jsonl"]
    bob.library.push(remote)

    # Bob reuses alice's subagent: once it fails on a blank cell, once it works.
    costs = bob.file("costs.csv", "item,amount\nink,3\nbox,\nlamp,4\n")
    failed = bob.run(
        "Total the amount column of the costs file.",
        [
            call("run_subagent", name="column-sum", inputs={"path": "inputs/costs.csv", "column": "amount"}),
            call("finish", answer="", status="failed", reason="a blank cell"),
        ],
        [costs],
    )
    assert failed.reused == ["column-sum"]
    more = bob.file("more.csv", "item,amount\na,1\nb,2\n")
    ok = bob.run(
        "Total the amount column of the more file.",
        [
            call("run_subagent", name="column-sum", inputs={"path": "inputs/more.csv", "column": "amount"}),
            call("finish", answer="3.0"),
        ],
        [more],
    )
    assert ok.status == "success"
    bob.library.push(remote)  # commits bob's new records first

    # Alice records more meanwhile, then pulls: nothing of either side is lost.
    upper = _install(
        alice, "upper-text", UPPER, "Upper-case a text.", {"text": "a"}, "A", [],
    )  # fmt: skip
    assert upper.saved == [("upper-text", 1)]
    pulled = _pull(alice, remote)
    assert pulled.experience == ["bob.jsonl"]
    alice.library.push(remote)
    _pull(bob, remote)
    for env in (alice, bob):
        lib = env.library
        assert sorted(i.name for i in lib.list()) == ["column-sum", "upper-text", "word-count"]
        committed = _git(lib.path, "show", "HEAD:experience/alice.jsonl").splitlines()
        assert len(committed) == 2 * 2  # two runs of alice, one execution each
        assert len(_git(lib.path, "show", "HEAD:experience/bob.jsonl").splitlines()) == 2 + 2 * 2

    # Alice's store now holds bob's experience: the success rate that ranks search, the failure that
    # drives evolve, the lesson.
    store = ExperienceStore.open(alice.settings.paths, alice.settings.policy)
    assert store.success_rates(["column-sum"]) == {"column-sum": (2, 1)}  # bob's reuses of v1
    (candidate,) = store.evolve_candidates({"column-sum": 1})
    assert candidate.name == "column-sum" and candidate.failures == 1
    (failure,) = store.failures_since("column-sum", 1)
    assert failure.agent_id == "bob" and failure.error_kind == "ValueError"
    assert any("ValueError" in text for text in store.lessons_for("column-sum"))
    assert {r.agent_id for r in store.runs()} == {"alice", "bob"}

    # `agentfactory stats` on alice's machine shows both agents, and that bob reused alice's subagent.
    monkeypatch.chdir(tmp_path / "alice")
    out = runner.invoke(app, ["stats", "--json", "--library", str(alice.library.path)])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    agents = {a["agent_id"]: a for a in data["agents"]}
    assert set(agents) == {"alice", "bob"}
    assert agents["alice"]["subagents_contributed"] == ["column-sum", "upper-text"]
    assert agents["bob"]["subagents_contributed"] == ["word-count"]
    assert agents["bob"]["reused_from_others"] == 2 and agents["alice"]["reused_by_others"] == 2
    assert data["bad_rows"] == {}


# ------------------------------------------------------------------------------- commit timing


def _record(store: ExperienceStore, n: int, agent: str = "alice", ok: bool = True) -> None:
    for i in range(n):
        store.record_execution(
            ExecutionRecord(
                run_id=f"run-{agent}-{i}", agent_id=agent, subagent="csv-stats", version=1, success=ok
            )
        )


def test_records_are_appended_without_commits_and_committed_at_save_and_push(tmp_path):
    from tests.library._helpers import write_folder

    lib = Library(tmp_path / "lib")
    store = ExperienceStore(tmp_path / "x.sqlite", library=lib.path, agent_id="alice")
    _record(store, 5)
    head = lib.head()
    assert _git(lib.path, "rev-list", "--count", "HEAD") == "1"  # five records, no commit
    assert len(_lines(lib.path / "experience" / "alice.jsonl")) == 5

    result = lib.save(write_folder(tmp_path / "src", "csv-stats"))
    assert result.changed and lib.head() == result.commit  # the save's own commit stays HEAD
    parent = _git(lib.path, "rev-parse", f"{result.commit}^")
    assert parent != head and "experience" in _git(lib.path, "log", "-1", "--format=%s", parent)
    assert len(_git(lib.path, "show", "HEAD:experience/alice.jsonl").splitlines()) == 5

    _record(store, 2, ok=False)
    remote = _bare(tmp_path)
    lib.push(remote)
    assert len(_git(Path(remote), "show", "main:experience/alice.jsonl").splitlines()) == 7
    assert lib.push(remote) == lib.head()  # nothing new: no new commit


def _append_many(library: str, count: int) -> None:
    store = ExperienceStore(
        Path(library).parent / f"x-{os.getpid()}.sqlite", library=Path(library), agent_id="w"
    )
    _record(store, count, agent="w")


def test_processes_appending_with_one_agent_id_never_corrupt_the_file(tmp_path):
    lib = Library(tmp_path / "lib")
    lib.ensure()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(str(lib.path), 40)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    rows = _lines(lib.path / "experience" / "w.jsonl")  # every line is whole JSON
    assert len(rows) == 160 and len({r["uid"] for r in rows}) == 160
    store = ExperienceStore(tmp_path / "fresh.sqlite", library=lib.path, agent_id="w")
    assert store.count_executions() == 160


# ---------------------------------------------------------------------------------- migration


_OLD_STORE = """
import sys, time
from pathlib import Path
from agentfactory.experience import ExperienceStore, ExecutionRecord, RunRecord
s = ExperienceStore(Path(sys.argv[1]))
for i in range(4):
    s.record_execution(ExecutionRecord(run_id="r1", agent_id="alice", subagent="csv-stats", version=1,
        success=i != 2, error_kind="KeyError", error="KeyError: 'x'", inputs_shape="rows=list(empty)", ts=100 + i))
s.record_execution(ExecutionRecord(run_id="r2", agent_id="carol", subagent="csv-stats", version=2,
    success=False, error_kind="ValueError", inputs_shape="rows=list[str]", ts=110))
s.record_execution(ExecutionRecord(run_id="ev", agent_id="alice", subagent="csv-stats", version=2,
    success=True, kind="validation", ts=111))
s.record_run(RunRecord(run_id="r1", agent_id="alice", task="t1", status="succeeded", success=True,
    subagents_saved=["csv-stats"], started=99, finished=105))
s.record_run(RunRecord(run_id="r2", agent_id="carol", task="t2", status="failed", success=False,
    subagents_reused=["csv-stats"], started=109, finished=112))
s.add_feedback("r1", score=0.3, note="slow")
s.record_doc_version("csv-stats", 3, 2)
print(s.schema_version())
"""


def _snapshot(store: ExperienceStore) -> dict:
    def strip(records):  # the row id and source (the file a row was read from) are the store's own
        return [{k: v for k, v in vars(r).items() if k not in ("id", "source")} for r in records]

    return {
        "executions": strip(store.executions()),
        "runs": strip(store.runs()),
        "feedback": store.feedback("r1"),
        "lessons": store.lessons("csv-stats"),
        "code_versions": store.code_versions("csv-stats", 3),
        "rates": store.success_rates(),
        "evolve": store.evolve_candidates(),
        "stats": store.stats()["agents"],
    }


def test_a_store_made_by_the_previous_code_migrates_without_loss(tmp_path):
    # data/store-schema4.sqlite was made by the code before the experience files (schema 4), running
    # _OLD_STORE above: `PYTHONPATH=<checkout of f0a408d> python -c "$_OLD_STORE" store-schema4.sqlite`.
    db = tmp_path / "lib.experience.sqlite"
    shutil.copyfile(FIXTURE, db)
    assert ExperienceStore(db).schema_version() == SCHEMA_VERSION  # migrated in place, nothing exported yet
    before = _snapshot(ExperienceStore(db))

    lib = Library(tmp_path / "lib")
    lib.ensure()
    store = ExperienceStore(db, library=lib.path, agent_id="alice")
    assert _snapshot(store) == before and store.schema_version() == SCHEMA_VERSION
    # Each row went to the file of its own agent (a file speaks for its agent alone).
    exported = _lines(lib.path / "experience" / "alice.jsonl")
    carols = _lines(lib.path / "experience" / "carol.jsonl")
    assert [r["type"] for r in exported].count("execution") == 5
    assert {r["agent_id"] for r in exported if r["type"] in ("execution", "run")} == {"alice"}
    assert [(r["type"], r["agent_id"]) for r in carols] == [("execution", "carol"), ("run", "carol")]
    assert {e.source for e in store.executions()} == {"alice.jsonl", "carol.jsonl"}
    # Once: opening again exports nothing more; a new record is one more line.
    store.close()
    store = ExperienceStore(db, library=lib.path, agent_id="alice")
    _record(store, 1)
    assert len(_lines(lib.path / "experience" / "alice.jsonl")) == len(exported) + 1

    # The store is derived data now: deleted, it is rebuilt from the file with everything in it.
    store.close()
    db.unlink()
    rebuilt = ExperienceStore(db, library=lib.path, agent_id="alice")
    after = _snapshot(rebuilt)
    assert after["executions"][:-1] == before["executions"]
    assert after["runs"] == before["runs"] and after["feedback"] == before["feedback"]
    assert after["lessons"] == before["lessons"] and after["code_versions"] == before["code_versions"]


# ---------------------------------------------------------------------------------- hostile pulls


@pytest.fixture
def team(tmp_path):
    """Alice's library with a few records, pushed to a bare remote; mallory clones it."""
    remote = _bare(tmp_path)
    alice = Library(tmp_path / "alice")
    store = ExperienceStore(tmp_path / "alice.sqlite", library=alice.path, agent_id="alice")
    _record(store, 3)
    alice.push(remote)
    mallory = tmp_path / "mallory"
    subprocess.run(["git", "clone", "-q", remote, str(mallory)], check=True)
    return alice, store, remote, mallory


def _push_files(mallory: Path, remote: str, tree_rows: list[tuple[str, str, str, str]]) -> None:
    """Push a commit whose `experience` entry is the given rows (mode, kind, sha, name)."""
    top = [
        line.split("\t", 1)
        for line in _git(mallory, "ls-tree", "HEAD").splitlines()
        if not line.endswith("\texperience")
    ]
    rows = [(*meta.split(), name) for meta, name in top]
    if tree_rows:
        listing = b"".join(f"{m} {k} {s}\t{n}".encode() + b"\0" for m, k, s, n in tree_rows)
        rows.append(("040000", "tree", _git(mallory, "mktree", "-z", data=listing), "experience"))
    tree = _git(
        mallory, "mktree", "-z", data=b"".join(f"{m} {k} {s}\t{n}".encode() + b"\0" for m, k, s, n in rows)
    )
    commit = _git(mallory, "commit-tree", tree, "-p", "HEAD", "-m", "hostile")
    _git(mallory, "push", "-q", "-f", remote, f"{commit}:refs/heads/main")


def _blob(repo: Path, data: bytes) -> str:
    return _git(repo, "hash-object", "-w", "--stdin", data=data)


def _alice_rows(mallory: Path) -> list[tuple[str, str, str, str]]:
    meta, name = _git(mallory, "ls-tree", "HEAD:experience").split("\t")
    return [(*meta.split(), name)]


def test_pulled_rows_that_are_not_json_or_have_wrong_types_are_skipped_counted_and_reported(
    team, monkeypatch
):
    alice, store, remote, mallory = team
    good = {
        "v": 1, "type": "execution", "uid": "m1", "run_id": "m", "agent_id": "mallory", "subagent": "csv-stats",
        "version": 1, "success": False, "error_kind": "KeyError", "ts": 5.0,
    }  # fmt: skip
    bad = [
        b"not json at all",
        b"[1, 2, 3]",
        json.dumps({**good, "uid": "m2", "success": "yes"}).encode(),
        json.dumps({**good, "uid": "m3", "version": -4}).encode(),
        json.dumps({**good, "uid": "m4", "subagent": "../../etc"}).encode(),
        json.dumps({**good, "uid": "m5", "duration_s": 1e999}).encode().replace(b"Infinity", b"1e999"),
        json.dumps({**good, "uid": "m6", "task": "x" * 200_000}).encode(),
        json.dumps({**good, "uid": "m7", "type": "drop_table"}).encode(),
        b"\xff\xfe garbage",
    ]
    data = b"\n".join([json.dumps(good).encode(), *bad, json.dumps({**good, "uid": "m8"}).encode()]) + b"\n"
    _push_files(
        mallory, remote, [*_alice_rows(mallory), ("100644", "blob", _blob(mallory, data), "mallory.jsonl")]
    )

    result = alice.pull(remote)
    assert result.experience == ["mallory.jsonl"] and not result.conflicts
    report = store.sync()
    assert report.records == {"mallory.jsonl": 2} and report.bad_rows == {"mallory.jsonl": len(bad)}
    assert store.success_rates(["csv-stats"]) == {"csv-stats": (5, 3)}
    assert store.bad_rows()["mallory.jsonl"][0] == len(bad)
    # The CLI says it too.
    monkeypatch.chdir(alice.path.parent)
    out = runner.invoke(app, ["stats", "--library", str(alice.path), "--db", str(store.path)])
    assert out.exit_code == 0, out.output
    assert f"{len(bad)} bad rows skipped in experience/mallory.jsonl" in out.output


@pytest.mark.parametrize(
    "rows, message",
    [
        ([("120000", "blob", "LINK", "evil.jsonl")], "is a link"),
        ([("040000", "tree", "SUB", "sub")], "not an agent file"),
        ([("100644", "blob", "DATA", ".hidden.jsonl")], "not an agent file"),
        ([("100644", "blob", "DATA", "notes.txt")], "not an agent file"),
        ([("100644", "blob", "HUGE", "huge.jsonl")], "the limit is"),
    ],
    ids=["symlink", "subfolder", "hidden", "not-jsonl", "huge"],
)
def test_a_hostile_experience_tree_refuses_the_whole_pull(team, rows, message, monkeypatch):
    alice, store, remote, mallory = team
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 3000)
    shas = {
        "LINK": _blob(mallory, b"/etc/passwd"),
        "DATA": _blob(mallory, b"{}\n"),
        "HUGE": _blob(mallory, b"{}\n" * 2000),
    }
    inner = _git(mallory, "mktree", "-z", data=f"100644 blob {shas['DATA']}\tx.jsonl".encode() + b"\0")
    shas["SUB"] = inner
    crafted = [(m, k, shas[s], n) for m, k, s, n in rows]
    _push_files(mallory, remote, [*_alice_rows(mallory), *crafted])
    head = alice.head()
    with pytest.raises(ValidationError, match=message):
        alice.pull(remote)
    assert alice.head() == head and sorted(p.name for p in (alice.path / "experience").iterdir()) == [
        "alice.jsonl"
    ]


def test_a_remote_that_drops_or_rewrites_our_file_loses_nothing_of_ours(team):
    alice, store, remote, mallory = team
    forged = b'{"v": 1, "type": "execution", "uid": "forged", "run_id": "f", "agent_id": "alice", ' \
        b'"subagent": "csv-stats", "version": 1, "success": true, "ts": 1}\n'  # fmt: skip
    _push_files(mallory, remote, [("100644", "blob", _blob(mallory, forged), "alice.jsonl")])
    ours = (alice.path / "experience" / "alice.jsonl").read_bytes()
    result = alice.pull(remote)
    assert not result.fast_forward  # taking theirs as it is would have shortened our file
    assert result.experience_refused == ["alice.jsonl"]  # and it is our own: nothing of theirs is taken
    assert (alice.path / "experience" / "alice.jsonl").read_bytes() == ours
    assert _git(alice.path, "show", "HEAD:experience/alice.jsonl").encode() + b"\n" == ours

    _push_files(mallory, remote, [])  # the remote removes every experience file
    alice.pull(remote)
    assert (alice.path / "experience" / "alice.jsonl").read_bytes() == ours
    assert store.count_executions() == 3


def test_a_remote_appending_to_our_own_file_is_refused_and_reported(team, monkeypatch):
    """Mallory appends a forged run and execution in alice's name to alice's own file (a fast-forward
    of the remote): the pull keeps alice's file as it is, says so, and the CLI exits 1."""
    alice, store, remote, mallory = team
    ours = (alice.path / "experience" / "alice.jsonl").read_bytes()
    run = {"v": 1, "type": "run", "uid": "fr", "run_id": "f", "agent_id": "alice", "task": "t",
           "status": "success", "success": True, "started": 1.0}  # fmt: skip
    execution = {"v": 1, "type": "execution", "uid": "fe", "run_id": "f", "agent_id": "alice",
                 "subagent": "csv-stats", "version": 1, "success": True, "ts": 1.0}  # fmt: skip
    forged = ours + json.dumps(run).encode() + b"\n" + json.dumps(execution).encode() + b"\n"
    _push_files(mallory, remote, [("100644", "blob", _blob(mallory, forged), "alice.jsonl")])
    monkeypatch.chdir(alice.path.parent)
    out = runner.invoke(app, ["library", "pull", remote, "--library", str(alice.path), "--sandbox", "local"])
    assert out.exit_code == 1, out.output
    assert "Refused: the remote's changes to experience/alice.jsonl, this agent's own file; kept ours." in (
        " ".join(out.output.split())
    )
    assert (alice.path / "experience" / "alice.jsonl").read_bytes() == ours
    assert _git(alice.path, "show", "HEAD:experience/alice.jsonl").encode() + b"\n" == ours
    assert store.get_run("f") is None and store.count_executions() == 3


def test_two_machines_with_the_same_agent_id_keep_their_own_files(tmp_path):
    """One agent id on two machines: each machine's file is its own, so neither takes the other's
    lines into it (each is told), and nothing of either is lost or conflicts."""
    remote = _bare(tmp_path)
    one, two = Library(tmp_path / "one"), Library(tmp_path / "two")
    s1 = ExperienceStore(tmp_path / "1.sqlite", library=one.path, agent_id="default")
    _record(s1, 2, agent="default")
    one.push(remote)
    two.pull(remote)  # two has written nothing yet: the file is taken as any other
    s2 = ExperienceStore(tmp_path / "2.sqlite", library=two.path, agent_id="default")
    _record(s1, 3, agent="default")
    _record(s2, 4, agent="default")
    one.push(remote)
    result = two.pull(remote)
    assert not result.conflicts and result.experience_refused == ["default.jsonl"]
    two.push(remote)
    assert one.pull(remote).experience_refused == ["default.jsonl"]
    assert len(_lines(one.path / "experience" / "default.jsonl")) == 2 + 3
    assert len(_lines(two.path / "experience" / "default.jsonl")) == 2 + 4
    assert (s1.count_executions(), s2.count_executions()) == (5, 6)


def test_a_subagent_cannot_be_named_like_the_experience_folder(tmp_path):
    from tests.library._helpers import write_folder

    lib = Library(tmp_path / "lib")
    with pytest.raises(ValidationError, match="reserved"):
        lib.save(write_folder(tmp_path / "src", "experience"))


def test_the_store_path_default_is_unchanged(tmp_path):
    env = make_env(tmp_path, agent_id="alice")
    store = ExperienceStore.open(env.settings.paths, env.settings.policy)
    assert store.path == default_store_path(env.settings.paths) and store.agent_id == "alice"
    store.record_run(RunRecord(run_id="r", agent_id="alice", task="t", status="succeeded", success=True))
    assert (env.settings.paths.library / "experience" / "alice.jsonl").is_file()


def test_library_pull_on_the_cli_says_what_experience_came_and_what_was_skipped(team, monkeypatch):
    alice, store, remote, mallory = team
    row = {"v": 1, "type": "run", "uid": "r", "run_id": "m", "agent_id": "mallory", "task": "t",
           "status": "succeeded", "success": True, "started": 1.0}  # fmt: skip
    data = json.dumps(row).encode() + b"\n" + json.dumps({**row, "steps": "many"}).encode() + b"\n"
    _push_files(
        mallory, remote, [*_alice_rows(mallory), ("100644", "blob", _blob(mallory, data), "mallory.jsonl")]
    )
    monkeypatch.chdir(alice.path.parent)
    out = runner.invoke(app, ["library", "pull", remote, "--library", str(alice.path), "--sandbox", "local"])
    assert out.exit_code == 0, out.output
    assert "Experience: 4 new records from alice.jsonl, mallory.jsonl" in out.output
    assert "1 bad rows skipped in mallory.jsonl (steps is not a non-negative integer)" in out.output


def test_an_export_interrupted_before_the_store_noted_it_adds_nothing_twice(tmp_path):
    from agentfactory.experience import sync

    db = tmp_path / "lib.experience.sqlite"
    shutil.copyfile(FIXTURE, db)
    before = _snapshot(ExperienceStore(db))
    lib = Library(tmp_path / "lib")
    lib.ensure()
    store = ExperienceStore(db, library=lib.path, agent_id="alice")
    conn = store._connection()
    conn.execute("BEGIN IMMEDIATE")
    first = sync.export_legacy(conn, lib.path, "alice")
    conn.execute("ROLLBACK")  # killed after the file was written, before the store's transaction ended
    assert _snapshot(store) == before  # exported again on open, every copy ignored
    written = sum(len(_lines(path)) for path in (lib.path / "experience").iterdir())
    assert written == 2 * first


def test_a_file_rewritten_by_hand_rebuilds_the_store_from_the_files(tmp_path):
    lib = Library(tmp_path / "lib")
    store = ExperienceStore(tmp_path / "x.sqlite", library=lib.path, agent_id="alice")
    _record(store, 3)
    path = lib.path / "experience" / "alice.jsonl"
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:2]))
    report = store.sync()
    assert report.rebuilt and store.count_executions() == 2


def test_a_remote_whose_experience_is_a_file_is_refused(team):
    alice, store, remote, mallory = team
    rows = [
        line.split("\t", 1)
        for line in _git(mallory, "ls-tree", "HEAD").splitlines()
        if not line.endswith("\texperience")
    ]
    listing = [(*meta.split(), name) for meta, name in rows]
    listing.append(("100644", "blob", _blob(mallory, b"{}\n"), "experience"))
    tree = _git(
        mallory, "mktree", "-z", data=b"".join(f"{m} {k} {s}\t{n}".encode() + b"\0" for m, k, s, n in listing)
    )
    commit = _git(mallory, "commit-tree", tree, "-p", "HEAD", "-m", "hostile")
    _git(mallory, "push", "-q", "-f", remote, f"{commit}:refs/heads/main")
    head = alice.head()
    with pytest.raises(ValidationError, match="experience is not a folder"):
        alice.pull(remote)
    assert alice.head() == head and (alice.path / "experience" / "alice.jsonl").is_file()
