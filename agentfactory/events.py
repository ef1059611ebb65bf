"""The run event log: `workspaces/<run-id>/events.jsonl`, one JSON object a line.

Every model call, tool call, subagent execution and library change of a run is an event with a `type`,
a `ts` (unix seconds) and the `run_id`. Lines are appended with one `write` on an O_APPEND descriptor
and never rewritten, so a killed process loses at most the line being written; readers skip a torn last
line. This module never decides anything: it records and summarises.

Every event type is declared once, as a record (a dataclass whose fields without a default are
required): `EVENT_RECORDS`, in `agentfactory.event_records`, whose names this module re-exports. `EventLog.emit` checks each event against its record. An unknown type or a
missing required field is a programming error: under tests (`EventLog.strict`) it raises
EventSchemaError; in production the event is still written, with a `schema_error` field saying what is
wrong, because losing a run's record (or ending the run) for a missing field would cost the user more
than the imperfect line.

Events are written with the host's one JSON writer, `agentfactory.jsontext` (strict JSON that always
encodes as UTF-8 and holds no raw control character); this module re-exports its names.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, field
from pathlib import Path
from typing import Any, ClassVar

from agentfactory.background import MAKER, Queued

# The event types and their records live in event_records.py; `events.X` is how the package reads them.
from agentfactory.event_records import (  # noqa: F401
    CONTEXT_COMPACTED,
    EVENT_RECORDS,
    EVOLVE_ROUND,
    EXECUTION_OUTPUT,
    EXECUTION_STARTED,
    FINAL_DECISION,
    GATE_DECISIONS,
    LIBRARY_CHANGE,
    LIVE_ONLY,
    MCP_SERVER,
    MODEL_CALL,
    MODEL_CALL_STARTED,
    MODEL_STREAM,
    ORCHESTRATOR,
    RUN_FINISHED,
    RUN_STARTED,
    SUBAGENT,
    SUBAGENT_EXECUTION,
    TOOL_CALL,
    TOOL_CALL_STARTED,
    ContextCompacted,
    EventSchemaError,
    EvolveRound,
    ExecutionOutput,
    ExecutionStarted,
    FinalDecision,
    GateDecision,
    LibraryChange,
    McpServer,
    ModelCall,
    ModelCallStarted,
    ModelStream,
    RunFinished,
    RunStarted,
    SubagentExecution,
    ToolCall,
    ToolCallStarted,
    event_problem,
    record_for,
)
from agentfactory.jsontext import (  # noqa: F401 - the writer's names, as `events.X`
    MAX_JSON_DEPTH,
    clip_json,
    json_bytes,
    to_json,
    write_json,
)
from agentfactory.llm.types import Usage
from agentfactory.records import record

EVENTS_FILE = "events.jsonl"


def new_run_id() -> str:
    """Sortable, unique run id: UTC time plus 6 random hex digits."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + os.urandom(3).hex()


class EventLog:
    """Append-only JSONL writer for one run. Thread-safe; each event is flushed to the OS at once.

    Each event is checked against its record (`event_problem`): with `strict` (the test suite sets
    it) a bad one raises EventSchemaError; otherwise it is written with a `schema_error` field.

    An event may be made after its emitter moved on (`later`): a background thread makes it at once, and
    it is in the log, in the order queued, before any later event and before `close` returns."""

    strict: ClassVar[bool] = False

    def __init__(self, path: Path, run_id: str):
        self.path = Path(path)
        self.run_id = run_id
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._lock = threading.Lock()
        # Held while an event is written (and, in a subclass, handed on) and while queued events are
        # made: what `later` queued is written before anything emitted after it, whichever thread.
        self.order = threading.RLock()
        self._later = Queued()

    def _checked(self, type: str, values: dict[str, Any], live: bool) -> dict[str, Any]:
        problem = event_problem(type, values)
        if problem is None and not live and type in LIVE_ONLY:
            problem = f"event {type!r} is live only: send it with notify(), never to the log"
        if problem is None:
            return values
        if self.strict:
            raise EventSchemaError(problem)
        return {**values, "schema_error": problem}

    def emit(self, type: str, *, ts: float | None = None, **values: Any) -> dict[str, Any]:
        """Write one event; `ts`: its moment (unix seconds), now unless given."""
        with self.order:
            error = self._make_later()  # what was queued before comes first
            values = self._checked(type, values, live=False)
            moment = time.time() if ts is None else ts
            event = {"type": type, "ts": round(moment, 6), "run_id": self.run_id, **values}
            line = json_bytes(event) + b"\n"
            with self._lock:
                if self._fd < 0:
                    raise ValueError(f"event log {self.path} is closed")
                os.write(self._fd, line)
        if error is not None:  # a queued event failed: its emitter learns it now, this event kept
            raise error
        return event

    def later(self, work: Callable[[], object]) -> None:
        """Run `work` once the caller has moved on: it does what an event reports on (writes a file,
        say) and emits that event. A background thread runs it at once; whatever happens next, its
        events are in the log, in the order queued, before any event emitted after this call and
        before `close` returns, and `flush()` waits for them. If `work` fails, the next `emit` or
        `flush` of a caller raises that error (after writing its own event); `close` does not."""
        with self._lock:
            closed = self._fd < 0
        if closed:  # nothing will flush it: run here, failing here as an emit would
            work()
            return
        self._later.add(work)
        MAKER.put(self)

    def emit_later(self, type: str, **values: Any) -> None:
        """`emit`, made in the background (`later`): the event keeps this moment as its `ts`."""
        ts = time.time()
        self.later(lambda: self.emit(type, ts=ts, **values))

    def flush(self) -> None:
        """Make and write every queued event now (waiting for one another thread is making)."""
        with self.order:
            error = self._make_later()
        if error is not None:
            raise error

    def make_queued(self) -> None:
        """What the background thread calls (background.MAKER): the queued events made; an error is
        kept for the log's next caller."""
        with self.order:
            self._later.make()

    def settle_queued(self) -> None:
        """What is still queued at the interpreter's exit, made then."""
        self.flush()

    def after_fork(self) -> None:
        """In a forked child (background.MAKER calls it): the locks anew, as the parent's background
        thread may have held them."""
        self._lock, self.order = threading.Lock(), threading.RLock()

    def _make_later(self) -> BaseException | None:
        """Make the queued events, in order, holding `order`. Returns the first error met (once)."""
        self._later.make()
        return self._later.take_error()

    @property
    def observed(self) -> bool:
        """Whether someone watches events as they happen (a live view); see `notify`."""
        return False

    @property
    def on_terminal(self) -> bool:
        """Whether that watcher shows progress on a terminal (then replies are streamed to it)."""
        return False

    def notify(self, type: str, **values: Any) -> dict[str, Any]:
        """An event for observers only, not written to the log (e.g. a subagent's printed line)."""
        values = self._checked(type, values, live=True)
        return {"type": type, "ts": round(time.time(), 6), "run_id": self.run_id, **values}

    def close(self) -> None:
        with self.order:
            self._make_later()  # queued events are written; an error of theirs surfaced already or is lost
            with self._lock:
                if self._fd >= 0:
                    os.close(self._fd)
                    self._fd = -1

    def __enter__(self) -> EventLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_events(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the complete events of a log; a torn or garbled line (a crash mid-write) is skipped."""
    with Path(path).open("rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                return
            try:
                event = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(event, dict) and "type" in event:
                yield event


@record
class RunSummary:
    """What `runs list` and `runs show` report, computed from a run's events alone."""

    run_id: str
    task: str = ""
    status: str = "running"
    model: str = ""
    agent_id: str = ""
    started: float | None = None
    finished: float | None = None
    steps: int = 0
    model_calls: int = 0
    tool_calls: int = 0
    executions: int = 0
    library_changes: int = 0  # saves and rollbacks
    gate_decisions: int = 0  # accepted or rejected candidates (library_change events of GATE_DECISIONS)
    usage: Usage = field(default_factory=Usage)
    orchestrator_usage: Usage = field(default_factory=Usage)
    subagent_usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    simulated: bool = False
    answer: str | None = None
    reason: str = ""  # why the run ended as it did (empty on a plain success)
    # executions that did not end ok: {subagent, status, trace} (trace: path relative to the run folder)
    failed_executions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def duration_s(self) -> float | None:
        if self.started is None or self.finished is None:
            return None
        return round(self.finished - self.started, 3)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("usage", "orchestrator_usage", "subagent_usage"):
            data[key] = getattr(self, key).to_dict()
        data["total_tokens"] = self.usage.total_tokens
        data["duration_s"] = self.duration_s
        return data


def summarize(events: list[dict[str, Any]] | Iterator[dict[str, Any]], run_id: str = "") -> RunSummary:
    summary = RunSummary(run_id=run_id)
    for ev in events:
        kind = ev.get("type")
        summary.run_id = summary.run_id or ev.get("run_id", "")
        if kind == RUN_STARTED:
            summary.started = ev.get("ts")
            summary.task = ev.get("task", "")
            summary.model = ev.get("model", "")
            summary.agent_id = ev.get("agent_id", "")
            summary.simulated = bool(ev.get("simulated", False))
        elif kind == RUN_FINISHED:
            summary.finished = ev.get("ts")
            summary.status = ev.get("status", "unknown")
            summary.answer = ev.get("answer")
            summary.reason = str(ev.get("reason") or "")
            summary.steps = max(summary.steps, int(ev.get("steps", 0) or 0))
        elif kind == MODEL_CALL:
            usage = Usage.from_dict(ev.get("usage"))
            summary.model_calls += 1
            summary.usage = summary.usage + usage
            summary.cost_usd += float(ev.get("cost_usd", 0.0) or 0.0)
            if ev.get("role", ORCHESTRATOR) == SUBAGENT:
                summary.subagent_usage = summary.subagent_usage + usage
            else:
                summary.orchestrator_usage = summary.orchestrator_usage + usage
                summary.steps = max(summary.steps, int(ev.get("step", 0) or 0))
        elif kind == TOOL_CALL:
            summary.tool_calls += 1
        elif kind == SUBAGENT_EXECUTION:
            summary.executions += 1
            if ev.get("status") != "ok":
                summary.failed_executions.append(
                    {k: ev.get(k) for k in ("subagent", "version", "status", "trace")}
                )
        elif kind == LIBRARY_CHANGE:
            # A gate decision is not a change: an accepted one is followed by its save, a rejected one
            # changed nothing. Decisions are counted apart so they stay visible.
            if ev.get("action") in GATE_DECISIONS:
                summary.gate_decisions += 1
            else:
                summary.library_changes += 1
    summary.cost_usd = round(summary.cost_usd, 6)
    return summary


def summarize_run(run_dir: Path) -> RunSummary:
    path = Path(run_dir) / EVENTS_FILE
    return summarize(read_events(path), run_id=Path(run_dir).name)
