"""A run's execution record is written after the execution returned (`Database.later`): in the
background, in order, before anything reads or writes the store, and at the interpreter's exit."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agentfactory.experience import ExperienceStore
from agentfactory.experience.recording import SubagentExecution
from agentfactory.experience.records import RunRecord

ROOT = Path(__file__).resolve().parents[2]


def _execution(i: int = 1, status: str = "ok") -> SubagentExecution:
    return SubagentExecution(
        run_id="run-1", agent_id="alice", task="t", subagent="upper", version=1, inputs={"i": i},
        status=status, error=None, duration_s=0.01,
    )  # fmt: skip


@pytest.fixture(params=["library", "bare"])
def store(request, tmp_path):
    if request.param == "library":  # the files in the library are the source, as in a run
        made = ExperienceStore(tmp_path / "exp.db", library=tmp_path / "lib", agent_id="alice")
    else:
        made = ExperienceStore(tmp_path / "exp.db", agent_id="alice")
    yield made
    made.close()


def test_a_queued_record_is_read_back_at_once(store):
    for i in range(5):
        store.record_subagent_execution_later(_execution(i))
    assert [row.inputs_digest for row in store.executions()] and len(store.executions()) == 5


def test_a_reader_waits_for_the_record_being_written(tmp_path):
    class Slow(ExperienceStore):
        def record_subagent_execution(self, execution):
            time.sleep(0.3)
            return super().record_subagent_execution(execution)

    store = Slow(tmp_path / "exp.db", agent_id="alice")
    start = time.monotonic()
    store.record_subagent_execution_later(_execution())
    assert time.monotonic() - start < 0.1  # the caller moved on
    time.sleep(0.05)  # the background thread has taken it and is writing
    assert len(store.executions()) == 1
    store.close()


def test_the_run_line_follows_its_executions_in_the_agents_file(tmp_path):
    library = tmp_path / "lib"
    store = ExperienceStore(tmp_path / "exp.db", library=library, agent_id="alice")
    gate = threading.Event()
    store.later(gate.wait)  # the background thread is held: the records below stay queued
    for i in range(3):
        store.record_subagent_execution_later(_execution(i))
    threading.Timer(0.2, gate.set).start()
    store.record_run(RunRecord(run_id="run-1", agent_id="alice", task="t", status="succeeded", success=True))
    lines = [json.loads(line) for line in (library / "experience" / "alice.jsonl").read_text().splitlines()]
    assert [line["type"] for line in lines] == ["execution"] * 3 + ["run"]
    store.close()


def test_a_failed_write_is_raised_by_the_next_reader_once(tmp_path):
    store = ExperienceStore(tmp_path / "exp.db", agent_id="alice")
    store.record_subagent_execution_later(_execution(status=""))

    def broken():
        raise OSError("disk full")

    store.later(broken)
    with pytest.raises(OSError, match="disk full"):
        store.executions()
    store.executions()  # raised once; the store goes on
    store.close()


def test_queued_records_are_written_at_the_interpreters_exit(tmp_path):
    code = (
        "import time, sys\n"
        "from agentfactory.experience import ExperienceStore\n"
        "from tests.experience.test_later_writes import _execution\n"
        "class Slow(ExperienceStore):\n"
        "    def record_subagent_execution(self, execution):\n"
        "        time.sleep(0.2)\n"
        "        return super().record_subagent_execution(execution)\n"
        f"store = Slow({str(tmp_path / 'exp.db')!r}, agent_id='alice')\n"
        "for i in range(3):\n"
        "    store.record_subagent_execution_later(_execution(i))\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
    store = ExperienceStore(tmp_path / "exp.db", agent_id="alice")
    assert len(store.executions()) == 3
    store.close()


def test_a_forked_child_does_not_make_what_its_parent_queued(tmp_path):
    """Both owners of a queue (`background.Queued`): the event log and the store. The parent's queued
    work is the parent's: a child forked before it was made writes it no second time."""
    import os

    from agentfactory import events as ev

    log = ev.EventLog(tmp_path / "events.jsonl", "run-1")
    store = ExperienceStore(tmp_path / "exp.db", agent_id="alice")
    with log.order, store._lock:  # the background thread waits: the work stays queued across the fork
        log.later(
            lambda: log.emit(ev.EXECUTION_STARTED, subagent="upper", version=1, revision=None, execution=1)
        )
        store.record_subagent_execution_later(_execution())
        pid = os.fork()
        if pid == 0:  # the child: flush and settle find nothing of its own to make
            try:
                log.flush()
                store.settle()
            finally:
                os._exit(0)
        assert os.waitpid(pid, 0)[1] == 0
    log.flush()
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert len([line for line in lines if ev.EXECUTION_STARTED in line]) == 1
    assert len(store.executions()) == 1
    log.close()
    store.close()


@pytest.mark.parametrize("owner", ["log", "store"])
def test_a_child_forked_while_the_background_thread_writes_can_write(tmp_path, owner):
    """The background thread holds the owner's lock while it makes queued work; a child forked then
    (multiprocessing's default on Linux) gets that lock held by a thread it does not have. It must
    still write and read, not wait for ever (`background.Maker._after_fork`)."""
    import os

    from agentfactory import events as ev

    log = ev.EventLog(tmp_path / "events.jsonl", "run-1")
    store = ExperienceStore(tmp_path / "exp.db", agent_id="alice")
    inside, go_on = threading.Event(), threading.Event()

    def held() -> None:  # made by the background thread, holding the owner's lock
        inside.set()
        go_on.wait(30)

    if owner == "log":
        log.later(held)
    else:
        store.record_subagent_execution_later(lambda: (held(), _execution(1))[1])
    assert inside.wait(10)
    pid = os.fork()
    if pid == 0:  # the child: its own writes and reads go through
        code = 1
        try:
            log.emit(ev.EXECUTION_STARTED, subagent="child", version=1, revision=None, execution=9)
            store.record_subagent_execution(_execution(2))
            code = 0 if [e.subagent for e in store.executions()] == ["upper"] else 2
        finally:
            os._exit(code)
    end = time.monotonic() + 20
    while (done := os.waitpid(pid, os.WNOHANG))[0] == 0 and time.monotonic() < end:
        time.sleep(0.01)
    if done[0] == 0:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    go_on.set()
    assert done[0] == pid, "the child waited for a lock nobody in it could release"
    assert os.waitstatus_to_exitcode(done[1]) == 0
    log.close()
    store.close()
    assert "child" in (tmp_path / "events.jsonl").read_text()
