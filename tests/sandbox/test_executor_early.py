"""The run's bookkeeping of an execution that does not depend on its result (the started event, the
trace file's number) happens while the sandbox starts; what depends on it (the trace file, the
`subagent_execution` event) is made once the caller has the trace
(`EventLog.later`). Neither changes what a run records: same events in the same order, same trace files,
each in the log before anything logged after the execution (run_finished, after a Ctrl-C, included) and
before the log closes; nothing left by an execution that raised."""

from __future__ import annotations

import json
import threading
import time

import pytest

from agentfactory import events as ev
from agentfactory.config import Settings
from agentfactory.engine.execution import Executor, _Early
from agentfactory.engine.workspace import WorkspaceManager
from agentfactory.library.cases import inputs_digest
from agentfactory.sandbox import ExecutionTrace


class FakeBackend:
    """Calls on_started like the real backends (or not, `hook=False`), records what existed then."""

    def __init__(self, hook: bool = True, fail: bool = False):
        self.hook, self.fail = hook, fail
        self.seen: dict = {}
        self.calls = 0

    def execute(self, req):
        if self.hook:
            req.on_started()
            self.calls += 1
            self.seen["events"] = _events_while_running(self.events, self.calls)
            self.seen["traces"] = sorted(p.name for p in self.traces.iterdir())
        if self.fail:
            raise RuntimeError("the daemon went away")
        trace = ExecutionTrace(status="ok", backend="fake", isolation="none", result={"y": 2})
        if self.hook:
            req.on_finished(trace)
        return trace


def _events_while_running(path, started: int, wait_s: float = 5.0) -> list[str]:
    """The log's event types once the `started`-th execution's started event is in it: a background
    thread writes it at once, while the sandbox runs (nobody flushes the log meanwhile)."""
    end = time.monotonic() + wait_s
    while True:
        types = [e["type"] for e in ev.read_events(path)]
        if types.count("execution_started") >= started or time.monotonic() > end:
            return types
        time.sleep(0.005)


def _executor(tmp_path, backend):
    workspace = WorkspaceManager(tmp_path / "workspaces").create()
    backend.traces, backend.events = workspace.traces, workspace.events_path
    log = ev.EventLog(workspace.events_path, workspace.run_id)
    executor = Executor(settings=Settings(), workspace=workspace, backend=backend, log=log)
    return executor, workspace


@pytest.mark.parametrize("hook", [True, False])
def test_an_execution_records_the_same_whether_the_backend_calls_on_started(tmp_path, hook):
    backend = FakeBackend(hook=hook)
    executor, workspace = _executor(tmp_path, backend)
    code = tmp_path / "code"
    code.mkdir()
    for _ in range(2):
        trace = executor.execute(code, "sub.py", {"x": 1}, [], name="sub", version=1, revision=None)
        assert trace.status == "ok"
    if hook:  # the started event is there while the sandbox runs, the earlier execution's records too
        assert backend.seen == {"traces": ["001-sub.json"], "events": [
            "execution_started", "subagent_execution", "execution_started"]}  # fmt: skip
    executor.log.close()
    events = [e for e in ev.read_events(workspace.events_path)]
    assert [e["type"] for e in events] == ["execution_started", "subagent_execution"] * 2
    done = [e for e in events if e["type"] == "subagent_execution"]
    assert [e["trace"] for e in done] == ["traces/001-sub.json", "traces/002-sub.json"]
    assert all(e["inputs_digest"] == inputs_digest({"x": 1}) for e in done)
    written = json.loads((workspace.root / "traces" / "002-sub.json").read_text())
    assert written["result"] == {"y": 2} and written["inputs"] == {"x": 1}


@pytest.mark.parametrize("hook", [True, False])
def test_an_execution_that_raises_leaves_its_started_event_and_no_trace_file(tmp_path, hook):
    backend = FakeBackend(hook=hook, fail=True)
    executor, workspace = _executor(tmp_path, backend)
    code = tmp_path / "code"
    code.mkdir()
    with pytest.raises(RuntimeError):
        executor.execute(code, "sub.py", {"x": 1}, [], name="sub", version=1, revision=None)
    executor.log.flush()  # the started event may be on its way still (a background thread writes it)
    assert [e["type"] for e in ev.read_events(workspace.events_path)] == ["execution_started"]
    assert list(workspace.traces.iterdir()) == []
    backend.fail = False  # the next trace takes the number the failed one did not keep
    executor.execute(code, "sub.py", {"x": 1}, [], name="sub", version=1, revision=None)
    executor.log.flush()
    assert sorted(p.name for p in workspace.traces.iterdir()) == ["001-sub.json"]


class Gate:
    """Holds the trace file's text (a slow disk) until opened: the execution has returned by then."""

    def __init__(self, monkeypatch):
        self.open = threading.Event()
        write = _Early.write_trace

        def held(early, trace):
            assert self.open.wait(10)
            return write(early, trace)

        monkeypatch.setattr(_Early, "write_trace", held)

    def open_soon(self, delay_s: float = 0.2) -> None:
        threading.Timer(delay_s, self.open.set).start()


def _types(workspace) -> list[str]:
    return [e["type"] for e in ev.read_events(workspace.events_path)]


def test_an_execution_returns_before_its_records_and_the_next_event_waits_for_them(tmp_path, monkeypatch):
    gate = Gate(monkeypatch)
    executor, workspace = _executor(tmp_path, FakeBackend())
    code = tmp_path / "code"
    code.mkdir()
    trace = executor.execute(code, "sub.py", {"x": 1}, [], name="sub", version=1, revision=None)
    assert trace.result == {"y": 2}  # the caller has its trace ...
    trace_file = workspace.traces / "001-sub.json"
    assert not trace_file.exists() and _types(workspace) == ["execution_started"]  # ... before them
    gate.open_soon()
    executor.log.emit(ev.RUN_FINISHED, status="success", reason="", answer="done")  # waits for them
    assert _types(workspace) == ["execution_started", "subagent_execution", "run_finished"]
    assert json.loads(trace_file.read_text())["result"] == {"y": 2}


def test_records_are_made_without_a_later_event(tmp_path):
    executor, workspace = _executor(tmp_path, FakeBackend())
    code = tmp_path / "code"
    code.mkdir()
    executor.execute(code, "sub.py", {"x": 1}, [], name="sub", version=1, revision=None)
    end = time.monotonic() + 10
    while _types(workspace)[-1:] != ["subagent_execution"] and time.monotonic() < end:
        time.sleep(0.005)
    assert _types(workspace) == ["execution_started", "subagent_execution"]
    assert json.loads((workspace.traces / "001-sub.json").read_text())["result"] == {"y": 2}


def test_closing_the_log_writes_the_records_it_waits_for(tmp_path, monkeypatch):
    gate = Gate(monkeypatch)
    executor, workspace = _executor(tmp_path, FakeBackend())
    code = tmp_path / "code"
    code.mkdir()
    executor.execute(code, "sub.py", {"x": 1}, [], name="sub", version=1, revision=None)
    gate.open_soon()
    executor.log.close()
    assert _types(workspace) == ["execution_started", "subagent_execution"]
    assert json.loads((workspace.traces / "001-sub.json").read_text())["inputs"] == {"x": 1}


def test_ctrl_c_right_after_an_execution_loses_nothing_and_the_log_ends_with_run_finished(
    tmp_path, monkeypatch
):
    from agentfactory.engine.run import open_run
    from agentfactory.llm import ScriptedProvider
    from tests.meta.conftest import make_env

    gate = Gate(monkeypatch)
    env = make_env(tmp_path)
    code = tmp_path / "code"
    code.mkdir()
    backend = FakeBackend(hook=False)
    with (
        pytest.raises(KeyboardInterrupt),
        open_run(env.settings, "t", [], provider=ScriptedProvider([]), backend=backend) as run,
    ):
        workspace = run.workspace
        run.execute(code, "sub.py", {"x": 1}, [], name="sub", version=1, revision=None)
        gate.open_soon()
        raise KeyboardInterrupt  # before the records were made
    assert _types(workspace)[-3:] == ["execution_started", "subagent_execution", "run_finished"]
    assert json.loads((workspace.traces / "001-sub.json").read_text())["result"] == {"y": 2}


def test_a_record_that_fails_reaches_the_next_emitter_after_its_own_event_is_written(tmp_path):
    log = ev.EventLog(tmp_path / "events.jsonl", "r")

    def broken():
        raise OSError(28, "No space left on device")

    log.later(broken)
    with pytest.raises(OSError, match="No space left"):
        log.emit(ev.RUN_FINISHED, status="error", reason="", answer=None)
    log.emit(ev.RUN_FINISHED, status="error", reason="", answer=None)  # raised once
    log.close()
    assert [e["type"] for e in ev.read_events(tmp_path / "events.jsonl")] == ["run_finished"] * 2


def test_observers_see_records_made_later_in_the_log_s_order(tmp_path, monkeypatch):
    from agentfactory.engine.log import RunLog

    seen: list[str] = []
    log = RunLog(tmp_path / "events.jsonl", "r", on_event=lambda event: seen.append(event["type"]))
    release = threading.Event()

    def slow():
        assert release.wait(10)
        log.emit(ev.EXECUTION_STARTED, subagent="s", version=1, revision=None, execution=1)

    log.later(slow)
    threading.Timer(0.2, release.set).start()
    log.emit(ev.RUN_FINISHED, status="success", reason="", answer="a")
    log.close()
    assert seen == _types_of(tmp_path / "events.jsonl") == ["execution_started", "run_finished"]


def _types_of(path) -> list[str]:
    return [e["type"] for e in ev.read_events(path)]


def test_one_failed_record_does_not_fail_the_records_queued_after_it(tmp_path):
    log = ev.EventLog(tmp_path / "events.jsonl", "r")
    gate = threading.Event()

    def broken():
        assert gate.wait(10)
        raise OSError(28, "No space left on device")

    def fine():
        log.emit(ev.EXECUTION_STARTED, subagent="s", version=1, revision=None, execution=2)

    log.later(broken)
    log.later(fine)
    gate.set()
    with pytest.raises(OSError, match="No space left"):
        log.flush()
    log.close()
    assert _types_of(tmp_path / "events.jsonl") == ["execution_started"]
