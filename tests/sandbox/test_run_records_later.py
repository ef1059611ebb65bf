"""An execution in a run returns before its experience record is written (`Database.later`); the
record is there for the next reader of the store."""

from __future__ import annotations

import threading

from agentfactory.config import Settings
from agentfactory.engine.execution import Executor
from agentfactory.engine.workspace import WorkspaceManager
from agentfactory.events import EventLog
from agentfactory.experience import ExperienceStore

CODE = {"main.py": b"def run(x):\n    return {'y': x + 1}\n"}


def test_the_execution_returns_while_its_record_is_still_being_written(local_backend, tmp_path):
    release, written = threading.Event(), threading.Event()

    class Held(ExperienceStore):
        def record_subagent_execution(self, execution):
            release.wait(5)  # written before the return, the execution would wait for this
            row = super().record_subagent_execution(execution)
            written.set()
            return row

    store = Held(tmp_path / "exp.db", library=tmp_path / "lib")  # the executor's agent: default
    workspace = WorkspaceManager(tmp_path / "ws").create()
    log = EventLog(workspace.events_path, workspace.run_id)
    executor = Executor(
        settings=Settings.from_keys(), workspace=workspace, backend=local_backend, log=log, experience=store
    )
    trace = executor.execute(tmp_path / "main", "main", {"x": 1}, [], name="main", version=1, revision=None,
                             code_files=CODE)  # fmt: skip
    assert trace.status == "ok" and trace.result == {"y": 2}, trace.compact()
    assert not written.is_set()  # returned; the record is still to be written
    threading.Timer(0.2, release.set).start()
    [row] = store.executions()  # waits for it
    assert (row.subagent, row.version, row.success) == ("main", 1, True)
    log.close()
    store.close()
