"""The event types of a run and their records: one dataclass per type, whose fields without a default
are required (`EVENT_RECORDS`), and the check of an event against its record (`event_problem`).

The records are declared here once; `agentfactory.events` (the writer, the reader and the summary)
re-exports every name, so `events.RUN_FINISHED` or `events.ModelCall` is how the rest of the package
reaches them. This module holds data only: it writes nothing and imports nothing of the package.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any

RUN_STARTED = "run_started"
RUN_FINISHED = "run_finished"
MODEL_CALL = "model_call"
TOOL_CALL = "tool_call"
SUBAGENT_EXECUTION = "subagent_execution"
LIBRARY_CHANGE = "library_change"
# `library_change` actions that record a gate decision rather than a change of the library.
GATE_DECISIONS = ("accepted", "rejected")
# Progress: written when work begins, so a view shows each call before its result and a log cut short
# shows what the run was waiting on. The finishing event (model_call, tool_call, subagent_execution)
# carries the same `call`, `step` or `execution` number.
MODEL_CALL_STARTED = "model_call_started"
TOOL_CALL_STARTED = "tool_call_started"
EXECUTION_STARTED = "execution_started"
# Live only, never written to the log (the trace keeps the stream tails): one line a subagent printed.
EXECUTION_OUTPUT = "execution_output"
# Live only, never written to the log: a model reply as it is written (a StreamEvent: kind "text",
# "thinking", "tool_call" or "tool_input", with its `call` and `step`). Usage comes from model_call.
MODEL_STREAM = "model_stream"
# Older tool results of the conversation were reduced to status lines to stay within the context window.
CONTEXT_COMPACTED = "context_compacted"
# One stage of one subagent's `agentfactory evolve` loop: assess, a round, the verdict.
EVOLVE_ROUND = "evolve_round"
# A `run_subagent(final=true)` request and whether the result was allowed to end the run.
FINAL_DECISION = "final_decision"
# An MCP server of agentfactory.toml started, failed to start, or stopped serving during the run.
MCP_SERVER = "mcp_server"

# Roles of model calls: the orchestrator (Meta-Agent, ReAct agent) or a subagent's `llm` tool.
ORCHESTRATOR = "orchestrator"
SUBAGENT = "subagent"


# -- the records: one per event type --------------------------------------------------------------------


def record(cls: type) -> type:
    """An event's record: a dataclass declaring the event's fields. Events are dicts, never instances of
    their record, so it has no generated method (no __init__, __repr__, __eq__, nor a frozen one's
    __setattr__): compiling those cost every process that writes an event log about 13 ms for these 17
    records, before a run's first model call. Each record has a docstring: without one, dataclass would
    write one from the class's signature, which for a class without __init__ costs tokenize's regex."""
    if not cls.__doc__:
        raise TypeError(f"the event record {cls.__name__} needs a docstring: say what the event records")
    return dataclass(init=False, repr=False, eq=False)(cls)


@record
class RunStarted:
    """A run began (the Meta-Agent's, evolve's or a baseline's): what it was asked and with what."""

    task: str
    model: str
    agent_id: str
    simulated: bool
    sandbox: str
    library: str
    library_head: str | None
    inputs: list[str]


@record
class RunFinished:
    """The last event of every run log, whatever happened (a crash ends with status `error`)."""

    status: str
    reason: str
    answer: str | None
    steps: int = 0
    created: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    saved: list[Any] = field(default_factory=list)  # [name, version] pairs
    rejected: dict[str, str] = field(default_factory=dict)


@record
class ModelCallStarted:
    """A model call began; its `model_call` carries the same `call`."""

    model: str
    role: str  # ORCHESTRATOR or SUBAGENT
    call: int
    step: int | None = None


@record
class ModelCall:
    """A finished model call, with what it cost."""

    model: str
    role: str
    usage: dict[str, int]
    cost_usd: float
    latency_s: float
    stop_reason: str | None
    simulated: bool
    call: int
    step: int | None = None


@record
class ModelStream:
    """Live only: a piece of a model reply as it is written."""

    call: int
    role: str
    kind: str  # text, thinking, tool_call, tool_input
    text: str | None
    tool: str | None
    output_tokens: int
    step: int | None = None


@record
class ToolCallStarted:
    """A tool call of the orchestrator began; its `tool_call` carries the same `step`."""

    step: int
    tool: str
    arguments: str  # a clipped JSON preview


@record
class ToolCall:
    """A finished call of a meta skill (or a baseline's tool)."""

    step: int
    tool: str
    arguments: str
    is_error: bool
    duration_s: float
    result: str  # a preview


@record
class ExecutionStarted:
    """An execution in the sandbox began; its `subagent_execution` carries the same `execution`."""

    subagent: str
    version: int | None
    revision: int | None
    execution: int


@record
class ExecutionOutput:
    """Live only: one line a subagent printed."""

    execution: int
    subagent: str
    stream: str
    line: str


@record
class SubagentExecution:
    """One execution in the sandbox; its full trace is the file `trace` (relative to the run folder)."""

    subagent: str
    version: int | None
    revision: int | None
    status: str
    duration_s: float
    inputs_digest: str
    trace: str
    tool_calls: int
    tool_usage: dict[str, Any]
    execution: int
    error: Any


@record
class LibraryChange:
    """A change of the library: a version saved (action `save`) or restored (`rollback`)."""

    action: str
    subagent: str
    version: int
    commit: str | None = None
    parent_version: int | None = None
    cases: int | None = None


@record
class GateDecision:
    """The regression gate's verdict on a revision (a `library_change` of action accepted or rejected):
    per-origin case counts and, for each broken case, its failures and trace."""

    action: str  # GATE_DECISIONS
    subagent: str
    base_version: int | None
    source: str  # "run" or "evolve"
    reason: str
    version: int | None = None
    cases: dict[str, list[int]] | None = None
    broken: list[dict[str, Any]] | None = None
    round: int | None = None


@record
class ContextCompacted:
    """Older tool results were reduced to status lines to keep the conversation in its window."""

    step: int
    steps: int
    results: int
    tokens_before: int
    tokens_after: int
    window: int
    hard: bool


@record
class EvolveRound:
    """One stage of one subagent's evolve loop: refused, error, assess, round, done."""

    subagent: str
    stage: str
    reason: str | None = None
    round: int | None = None
    verdict: str | None = None
    stored: list[int] | None = None  # [passed, total]
    failing: list[int] | None = None
    held_out: list[int] | None = None
    version_before: int | None = None
    version_after: int | None = None
    rounds: int | None = None


@record
class FinalDecision:
    """Whether a reused subagent's result ended the run without a model turn (meta/final.py)."""

    subagent: str
    version: int | None
    used: bool
    reason: str


@record
class McpServer:
    """An MCP server's start, failure or exit (agentfactory/tools/mcp_client.py); `message` is one sentence."""

    server: str
    status: str  # started, failed, exited
    message: str


EVENT_RECORDS: dict[str, type] = {
    RUN_STARTED: RunStarted,
    RUN_FINISHED: RunFinished,
    MODEL_CALL_STARTED: ModelCallStarted,
    MODEL_CALL: ModelCall,
    MODEL_STREAM: ModelStream,
    TOOL_CALL_STARTED: ToolCallStarted,
    TOOL_CALL: ToolCall,
    EXECUTION_STARTED: ExecutionStarted,
    EXECUTION_OUTPUT: ExecutionOutput,
    SUBAGENT_EXECUTION: SubagentExecution,
    LIBRARY_CHANGE: LibraryChange,
    CONTEXT_COMPACTED: ContextCompacted,
    EVOLVE_ROUND: EvolveRound,
    FINAL_DECISION: FinalDecision,
    MCP_SERVER: McpServer,
}
LIVE_ONLY = frozenset({EXECUTION_OUTPUT, MODEL_STREAM})  # shown to observers, never written


class EventSchemaError(ValueError):
    """An event of an undeclared type, or without a field its record requires (a programming error)."""


def record_for(type: str, values: dict[str, Any]) -> type | None:
    """The record an event of `type` with these fields is checked against (None: undeclared type).
    A `library_change` that records a gate decision is a GateDecision."""
    if type == LIBRARY_CHANGE and values.get("action") in GATE_DECISIONS:
        return GateDecision
    return EVENT_RECORDS.get(type)


_REQUIRED: dict[type, tuple[str, ...]] = {}


def event_problem(type: str, values: dict[str, Any]) -> str | None:
    """None when the event matches its declared record; else what is wrong, in a clause. Fields the
    record does not name are allowed (an emitter may add detail); missing required ones are not."""
    record = record_for(type, values)
    if record is None:
        return f"event type {type!r} is not declared in agentfactory/event_records.py"
    required = _REQUIRED.get(record)
    if required is None:
        required = tuple(
            f.name for f in fields(record) if f.default is MISSING and f.default_factory is MISSING
        )
        _REQUIRED[record] = required
    missing = [name for name in required if name not in values]
    if missing:
        return f"event {type!r} lacks its required field(s) {', '.join(missing)}"
    return None
