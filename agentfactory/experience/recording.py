"""Build experience records from what a run already has: its context, sandbox traces and result.

The Meta-Agent calls `ExperienceStore.record_subagent_execution` and `record_run_result`, which land
here; this keeps the store free of knowledge about traces and run results, and the Meta-Agent free of
knowledge about rows. Objects are read by attribute so neither side imports the other.
"""

from __future__ import annotations

import time
from typing import Any

from agentfactory.experience.quality import automatic_quality
from agentfactory.experience.records import USE, ExecutionRecord, RunRecord, input_shape, inputs_digest

SUCCESS_STATUSES = frozenset({"success", "succeeded"})


def _error_of(trace: Any) -> tuple[str | None, str | None]:
    """(error kind, one-line message): the exception type when the code raised, else the trace status."""
    status = str(getattr(trace, "status", "error"))
    error = getattr(trace, "error", None)
    if status == "ok":
        return None, None
    if isinstance(error, dict):
        kind = str(error.get("type") or status)
        message = str(error.get("message") or "").strip()
        return kind, (message.splitlines()[0] if message else None)
    return status, (str(error).splitlines()[0] if error else None)


def _cost(settings: Any, usage: dict[str, int]) -> float:
    """The subagent's model calls priced by the one cost function, the event log's (`llm.pricing`)."""
    if settings is None or not usage:
        return 0.0
    from agentfactory.llm.pricing import cost_usd
    from agentfactory.llm.types import Usage

    tokens = Usage(**{key: int(usage.get(key, 0) or 0) for key in _USAGE_KEYS})
    return cost_usd(tokens, settings.resolved_subagent_model(), settings)


_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")


def execution_record(
    ctx: Any,
    name: str,
    version: int | None,
    inputs: dict[str, Any],
    trace: Any,
    duration_s: float,
    case_results: list[bool] | None = None,
    execution_kind: str = USE,
) -> ExecutionRecord:
    status = str(getattr(trace, "status", "error"))
    usage = trace.usage_totals() if hasattr(trace, "usage_totals") else {}
    kind, message = _error_of(trace)
    return ExecutionRecord(
        run_id=ctx.workspace.run_id,
        agent_id=getattr(ctx, "agent_id", "default"),
        subagent=name,
        version=version or None,  # the library reports 0 for "never saved"
        success=status == "ok",
        task_type=getattr(ctx, "task_type", "") or "",
        task=(getattr(ctx, "task", "") or "")[:2000],
        inputs_digest=inputs_digest(inputs or {}),
        inputs_shape=input_shape(inputs),
        quality=automatic_quality(status, case_results),
        duration_s=float(getattr(trace, "duration_s", 0.0) or duration_s),
        input_tokens=int(usage.get("input_tokens", 0)) + int(usage.get("cache_read_tokens", 0)),
        output_tokens=int(usage.get("output_tokens", 0)),
        cost_usd=_cost(getattr(ctx, "settings", None), usage),
        error_kind=kind,
        error=message,
        kind=execution_kind,
    )


def run_record(ctx: Any, result: Any) -> RunRecord:
    usage = result.usage + result.subagent_usage
    finished = time.time()
    saved = [item[0] if isinstance(item, (tuple, list)) else str(item) for item in result.saved]
    status = str(result.status)
    return RunRecord(
        run_id=result.run_id,
        agent_id=getattr(ctx, "agent_id", "default"),
        task=(getattr(ctx, "task", "") or "")[:2000],
        status=status,
        success=status in SUCCESS_STATUSES,
        task_type=getattr(ctx, "task_type", "") or "",
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
        started=finished - float(result.duration_s or 0.0),
        finished=finished,
        simulated=bool(result.simulated),
    )
