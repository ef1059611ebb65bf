"""Build experience records from what a run hands over: a typed execution record, a run's result.

The engine fills a `SubagentExecution` for each sandbox execution and hands it to
`ExperienceStore.record_subagent_execution_later` (written once the execution returned); the rows are
built here, so the store knows no traces and the engine knows no rows. Nothing here reads a run's
objects by attribute.
"""

from __future__ import annotations

import time
from dataclasses import field
from typing import Any

from agentfactory.experience.quality import automatic_quality
from agentfactory.experience.records import USE, ExecutionRecord, RunRecord, input_shape, inputs_digest
from agentfactory.records import record

SUCCESS_STATUSES = frozenset({"success", "succeeded"})


@record(frozen=True)
class SubagentExecution:
    """One sandbox execution of a subagent, as the run that made it saw it."""

    run_id: str
    agent_id: str
    task: str
    subagent: str
    version: int | None  # None (or 0) for a candidate never saved
    inputs: dict[str, Any]
    status: str  # the trace's status: ok, error, timeout, ...
    error: dict[str, Any] | str | None  # the trace's error
    duration_s: float
    usage: dict[str, int] = field(default_factory=dict)  # tokens of its tool calls (trace.usage_totals)
    cost_usd: float = 0.0  # of those tokens, see `execution_cost`
    kind: str = USE  # USE, VALIDATION (a gate or evolve checking a version) or DIRECT (see records)
    case_results: list[bool] | None = None


def _error_of(status: str, error: Any) -> tuple[str | None, str | None]:
    """(error kind, one-line message): the exception type when the code raised, else the trace status."""
    if status == "ok":
        return None, None
    if isinstance(error, dict):
        kind = str(error.get("type") or status)
        message = str(error.get("message") or "").strip()
        return kind, (message.splitlines()[0] if message else None)
    return status, (str(error).splitlines()[0] if error else None)


def execution_cost(settings: Any, usage: dict[str, int]) -> float:
    """An execution's tool calls priced by the one cost function, the event log's (`llm.pricing`)."""
    if settings is None or not usage:
        return 0.0
    from agentfactory.llm.pricing import cost_usd
    from agentfactory.llm.types import Usage

    tokens = Usage(**{key: int(usage.get(key, 0) or 0) for key in _USAGE_KEYS})
    return cost_usd(tokens, settings.resolved_subagent_model(), settings.models)


_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def execution_record(execution: SubagentExecution) -> ExecutionRecord:
    usage = execution.usage
    kind, message = _error_of(execution.status, execution.error)
    return ExecutionRecord(
        run_id=execution.run_id,
        agent_id=execution.agent_id,
        subagent=execution.subagent,
        version=execution.version or None,  # the library reports 0 for "never saved"
        success=execution.status == "ok",
        task=execution.task[:2000],
        inputs_digest=inputs_digest(execution.inputs or {}),
        inputs_shape=input_shape(execution.inputs),
        quality=automatic_quality(execution.status, execution.case_results),
        duration_s=float(execution.duration_s),
        input_tokens=int(usage.get("input_tokens", 0)) + int(usage.get("cache_read_tokens", 0)),
        output_tokens=int(usage.get("output_tokens", 0)),
        cost_usd=float(execution.cost_usd),
        error_kind=kind,
        error=message,
        kind=execution.kind,
    )


def run_record(ctx: Any, result: Any) -> RunRecord:
    usage = result.usage + result.subagent_usage
    finished = time.time()
    saved = [item[0] if isinstance(item, (tuple, list)) else str(item) for item in result.saved]
    # The version each save made: the candidate's executions of this run count for it (experience.trust).
    versions = {str(item[0]): int(item[1]) for item in result.saved if isinstance(item, (tuple, list))}
    status = str(result.status)
    return RunRecord(
        run_id=result.run_id,
        agent_id=getattr(ctx, "agent_id", "default"),
        task=(getattr(ctx, "task", "") or "")[:2000],
        status=status,
        success=status in SUCCESS_STATUSES,
        model=result.model,
        quality=1.0 if status in SUCCESS_STATUSES else 0.0,
        steps=int(result.steps),
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        cost_usd=float(result.cost_usd),
        subagents_created=list(result.created),
        subagents_reused=list(result.reused),
        subagents_saved=saved,
        saved_versions={name: v for name, v in versions.items() if v >= 1},
        started=finished - float(result.duration_s or 0.0),
        finished=finished,
        simulated=bool(result.simulated),
    )
