"""The run's bookkeeping of an execution that does not depend on its result (the started event, the
inputs' digest, the trace file's creation) happens while the sandbox starts, and changes nothing in what
a run records: same events in the same order, same trace files, nothing left by an execution that
raised."""

from __future__ import annotations

import json
import shutil

import pytest

from agentfactory import events as ev
from agentfactory.config import SandboxSettings, Settings
from agentfactory.engine.execution import Executor
from agentfactory.engine.workspace import WorkspaceManager
from agentfactory.library.cases import inputs_digest
from agentfactory.sandbox import ExecutionTrace


class FakeBackend:
    """Calls on_started like the real backends (or not, `hook=False`), records what existed then."""

    def __init__(self, hook: bool = True, fail: bool = False):
        self.hook, self.fail = hook, fail
        self.seen: dict = {}

    def execute(self, req):
        if self.hook:
            req.on_started()
            self.seen["traces"] = sorted(p.name for p in self.traces.iterdir())
            self.seen["events"] = [e["type"] for e in ev.read_events(self.events)]
        if self.fail:
            raise RuntimeError("the daemon went away")
        trace = ExecutionTrace(status="ok", backend="fake", isolation="none", result={"y": 2})
        if self.hook:
            req.on_finished(trace)
            self.seen["recorded"] = [e["type"] for e in ev.read_events(self.events)][-1]
        return trace


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
    if hook:  # started and the empty trace file exist while the sandbox runs
        assert backend.seen == {"traces": ["001-sub.json", "002-sub.json"], "events": [
            "execution_started", "subagent_execution", "execution_started"],
            "recorded": "subagent_execution"}  # fmt: skip
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
    assert [e["type"] for e in ev.read_events(workspace.events_path)] == ["execution_started"]
    assert list(workspace.traces.iterdir()) == []
    backend.fail = False  # the next trace takes the number the failed one did not keep
    executor.execute(code, "sub.py", {"x": 1}, [], name="sub", version=1, revision=None)
    assert sorted(p.name for p in workspace.traces.iterdir()) == ["001-sub.json"]


@pytest.mark.skipif(not shutil.which("bwrap"), reason="bubblewrap is not installed")
def test_the_run_records_an_execution_before_the_backend_refills(tmp_path, monkeypatch):
    """The backend hands the trace back (on_finished) before it starts its background work: the run's
    records are written when the refill of the sandbox started ahead begins, not after, beside it."""
    from agentfactory.sandbox.local import LocalBackend

    backend = LocalBackend(SandboxSettings(preload=""), pool_size=1)
    executor, workspace = _executor(tmp_path, FakeBackend())
    executor.backend = backend
    seen: list[list[str]] = []
    refill = LocalBackend._refill

    def watched(self):
        seen.append([e["type"] for e in ev.read_events(workspace.events_path)])
        refill(self)

    code = tmp_path / "code"
    code.mkdir()
    (code / "sub.py").write_text("def run(x):\n    return {'y': x + 1}\n")
    try:
        assert backend.wait_pool(60)
        monkeypatch.setattr(LocalBackend, "_refill", watched)
        trace = executor.execute(code, "sub.py", {"x": 1}, [], name="sub", version=1, revision=None)
    finally:
        backend.close()
    assert trace.status == "ok" and trace.result == {"y": 2}, trace.compact()
    assert seen == [["execution_started", "subagent_execution"]]
