"""The run engine: one execution path with a typed experience record, totals from the metered providers,
a candidate store that reads a revision's base version once, and a library view that tells a missing
subagent from a broken library."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentfactory import events as ev
from agentfactory.engine.library_view import LibraryView
from agentfactory.engine.run import open_run
from agentfactory.errors import LibraryError
from agentfactory.experience.recording import SubagentExecution
from agentfactory.experience.records import USE, VALIDATION
from agentfactory.library import Library
from agentfactory.llm import ScriptedProvider
from agentfactory.llm.types import Message, Usage
from tests.meta.conftest import UPPER, call, make_env
from tests.meta.test_failed_reuse import NAME, SKIP_BLANKS, install, revise_and_finish


class CapturingStore:
    """An experience store that keeps what it is handed."""

    def __init__(self) -> None:
        self.executions: list[Any] = []
        self.runs: list[Any] = []

    def success_rates(self) -> dict[str, tuple[int, int]]:
        return {}

    def record_subagent_execution_later(self, execution: Any) -> None:
        self.executions.append(execution() if callable(execution) else execution)

    def record_run_result(self, run: Any, result: Any) -> None:
        self.runs.append((run, result))


def test_an_execution_reaches_the_experience_store_as_a_typed_record_of_the_run(tmp_path):
    env = make_env(tmp_path, agent_id="alice")
    store = CapturingStore()
    result = env.run(
        "Shout hello.",
        [
            call("create_subagent", name="upper", description="Upper-case a text.", code=UPPER),
            call("run_subagent", name="upper", inputs={"text": "hello"}),
            call("finish", answer="HELLO", save=["upper"]),
        ],
        experience=store,
    )
    assert result.status == "success" and result.saved == [("upper", 1)]
    [execution] = store.executions
    assert isinstance(execution, SubagentExecution)
    assert (execution.run_id, execution.agent_id, execution.task) == (result.run_id, "alice", "Shout hello.")
    assert (execution.subagent, execution.version, execution.status, execution.kind) == (
        "upper",
        None,
        "ok",
        USE,
    )
    assert execution.inputs == {"text": "hello"} and execution.error is None


def test_gate_cases_are_recorded_as_validation(tmp_path):
    env = make_env(tmp_path)
    install(env)
    store = CapturingStore()
    accepted = revise_and_finish(env, SKIP_BLANKS, "blank cells are skipped")
    assert accepted.saved == [(NAME, 2)]
    # A revision of v2 (its two stored cases) run on a third file, then saved through the gate.
    more = env.file("more.csv", "item,amount\nink,1\nbox,\n")
    env.run(
        "Total the amount column of the more file.",
        [
            call("modify_subagent", name=NAME, code=env.library.get(NAME).code + "\n# same\n", reason="note"),
            call("run_subagent", name=NAME, inputs={"path": "inputs/more.csv", "column": "amount"}),
            call("finish", answer="1.0", save=[NAME]),
        ],
        [more],
        experience=store,
    )
    kinds = [(e.kind, e.version) for e in store.executions]
    # One use of the candidate, then the gate: every stored case and the new one, as validation.
    assert kinds == [(USE, None)] + [(VALIDATION, None)] * 3


def test_a_revision_save_reads_its_base_version_once(tmp_path, monkeypatch):
    env = make_env(tmp_path)
    install(env)
    gets: list[tuple[str, int | None]] = []
    exports: list[tuple[str, int | None]] = []
    real_get, real_export = Library.get, Library.export

    def get(self, name, version=None):
        gets.append((name, version))
        return real_get(self, name, version)

    def export(self, name, version, dest):
        exports.append((name, version))
        return real_export(self, name, version, dest)

    monkeypatch.setattr(Library, "get", get)
    monkeypatch.setattr(Library, "export", export)
    accepted = revise_and_finish(env, SKIP_BLANKS, "blank cells are skipped")
    assert accepted.saved == [(NAME, 2)] and accepted.rejected == {}
    # Running v1 (the current version), the gate, the fixtures and the save all use the version read
    # once; nothing exports it again.
    assert exports == []
    assert gets == [(NAME, None)]


def test_finish_totals_come_from_the_metered_providers_and_match_the_log(tmp_path, monkeypatch):
    env = make_env(tmp_path)
    orchestrator = ScriptedProvider(
        [{"text": "a", "usage": {"input_tokens": 100, "output_tokens": 7, "cache_read_tokens": 50}}]
    )
    subagent = ScriptedProvider([{"text": "b", "usage": {"input_tokens": 30, "output_tokens": 3}}] * 2)
    with open_run(
        env.settings,
        "count",
        [],
        provider=orchestrator,
        subagent_provider=subagent,
        experience=CapturingStore(),
    ) as run:
        run.provider.complete("system", [Message.user("hi")], step=1)
        for _ in range(2):  # the subagents' `llm` calls, as the tool broker makes them
            run.subagent_provider.complete("", [Message.user("x")])

        def no_rereading(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("finish re-read the event log")

        monkeypatch.setattr(ev, "read_events", no_rereading)
        result = run.finish(status="success", reason="", answer="done", steps=1)
    monkeypatch.undo()
    assert result.model_calls == 3
    assert result.usage == Usage(100, 7, 50, 0) and result.subagent_usage == Usage(60, 6)
    summary = ev.summarize(ev.read_events(Path(result.workspace) / ev.EVENTS_FILE))
    assert (summary.model_calls, summary.orchestrator_usage, summary.subagent_usage, summary.cost_usd) == (
        result.model_calls,
        result.usage,
        result.subagent_usage,
        result.cost_usd,
    )


def test_the_library_view_tells_a_missing_subagent_from_a_broken_library(tmp_path, monkeypatch):
    library = Library(tmp_path / "lib")
    library.ensure()
    view = LibraryView(library)
    assert view.get("no-such-subagent") is None
    assert view.get("Not A Name!") is None

    def broken(name: str, version: int | None = None) -> Any:
        raise LibraryError("git object 1234 is missing")

    monkeypatch.setattr(library, "get", broken)
    with pytest.raises(LibraryError, match="missing"):
        view.get("csv-stats")


class PreparedBackend:
    """A backend that records when the run asks it to start its work ahead, and what the log held then."""

    name, isolation = "stub", "none"

    def __init__(self) -> None:
        self.prepared: list[list[str]] = []
        self.log_path: Path | None = None

    def prepare(self) -> None:
        assert self.log_path is not None
        self.prepared.append([e["type"] for e in ev.read_events(self.log_path)])

    def execute(self, req: Any) -> Any:
        raise AssertionError("no execution in this test")

    def close(self) -> None:
        pass


def test_a_run_prepares_its_sandbox_as_its_first_model_call_goes_out(tmp_path):
    env = make_env(tmp_path)
    backend = PreparedBackend()
    provider = ScriptedProvider([{"text": "a"}, {"text": "b"}])
    with open_run(
        env.settings, "count", [], provider=provider, backend=backend, experience=CapturingStore()
    ) as run:
        backend.log_path = run.workspace.events_path
        assert backend.prepared == []  # nothing started beside the run's own start
        run.provider.complete("system", [Message.user("hi")], step=1)
        assert backend.prepared == [[ev.RUN_STARTED, ev.MODEL_CALL_STARTED]]
        run.provider.complete("system", [Message.user("again")], step=2)
        assert len(backend.prepared) == 1  # once
        run.finish(status="success", reason="", answer="done", steps=2)
