"""The records the experience store keeps: one per subagent execution, one per run.

They cross the boundary between the Meta-Agent (which fills them) and the store (which persists them),
so they are plain dataclasses with no behaviour beyond building themselves from common inputs.
"""

from __future__ import annotations

import math
import time
from dataclasses import field
from typing import Any

from agentfactory.library.cases import inputs_digest  # the one digest, re-exported here
from agentfactory.records import record

# The kind of an execution: a subagent working in a task run, a gate / evolve checking a version on
# cases, or a library subagent run on its own with no task around it (`MetaAgent.run_subagent`, the MCP
# server's `run_subagent`: whoever calls it chose the inputs and nobody judged the result). Only USE
# executions are usage: statistics, ranking, evolve's evidence and what earns trust (final answers,
# deploy's maturity gate) read those alone; DIRECT ones are recorded and shown in statistics apart.
USE = "use"
VALIDATION = "validation"
DIRECT = "direct"
EXECUTION_KINDS = (USE, VALIDATION, DIRECT)


# Strings longer than this are "long": a size class that often breaks naive code (timeouts, memory).
LONG_STRING = 10_000
LONG_LIST = 10_000


def _value_shape(value: Any) -> str:
    """A coarse class of one input value: its type plus the edge cases that tend to break code."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int(0)" if value == 0 else "int(<0)" if value < 0 else "int"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return "float(nan/inf)"
        return "float(0)" if value == 0 else "float(<0)" if value < 0 else "float"
    if isinstance(value, str):
        if not value:
            return "str(empty)"
        if not value.strip():
            return "str(blank)"
        return "str(long)" if len(value) > LONG_STRING else "str"
    if isinstance(value, (list, tuple)):
        if not value:
            return "list(empty)"
        kinds = sorted({_value_shape(v).split("(")[0] for v in value[:200]})
        inner = "|".join(kinds) if len(kinds) <= 2 else "mixed"
        size = "(long)" if len(value) > LONG_LIST else ""
        return f"list[{inner}]{size}"
    if isinstance(value, dict):
        return "dict(empty)" if not value else "dict"
    return type(value).__name__


def input_shape(inputs: dict[str, Any] | None) -> str:
    """Canonical shape of a subagent's inputs, e.g. `numbers=list(empty), sep=str`.

    Lessons are keyed on this: two failing executions whose inputs have the same shape (not the same
    values) are evidence of the same limitation.
    """
    if not inputs:
        return "(no inputs)"
    if not isinstance(inputs, dict):
        return _value_shape(inputs)
    return ", ".join(f"{key}={_value_shape(inputs[key])}" for key in sorted(inputs))


@record
class ExecutionRecord:
    """One execution of one subagent (a library version, or an unsaved candidate when version is None)."""

    run_id: str
    agent_id: str
    subagent: str
    version: int | None
    success: bool
    task_type: str = ""
    task: str = ""
    inputs_digest: str = ""
    inputs_shape: str = ""
    quality: float | None = None  # 0-1; None = not assessed
    duration_s: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    error_kind: str | None = None  # trace status ("timeout", "oom") or exception type ("KeyError")
    error: str | None = None  # one line, for evolve and lessons; never the whole traceback
    feedback: str | None = None
    ts: float = field(default_factory=time.time)
    kind: str = USE  # USE, VALIDATION or DIRECT (see EXECUTION_KINDS)
    id: int | None = None  # row id, set when read back from the store
    # The experience file the row was read from ("" for a row written straight to a bare store): who
    # vouches for it. Set by the store, never by the writer.
    source: str = ""

    @classmethod
    def build(
        cls,
        *,
        run_id: str,
        agent_id: str,
        subagent: str,
        version: int | None,
        inputs: dict[str, Any] | None,
        success: bool,
        **rest: Any,
    ) -> ExecutionRecord:
        """A record whose digest and shape are computed from the inputs themselves."""
        return cls(
            run_id=run_id,
            agent_id=agent_id,
            subagent=subagent,
            version=version,
            success=success,
            inputs_digest=inputs_digest(inputs or {}),
            inputs_shape=input_shape(inputs),
            **rest,
        )


@record
class RunRecord:
    """One run of the Meta-Agent (or a baseline): outcome, size, cost and what it did to the library."""

    run_id: str
    agent_id: str
    task: str
    status: str  # "succeeded", "failed", "budget_exhausted", "interrupted", ...
    success: bool
    task_type: str = ""
    model: str = ""
    quality: float | None = None
    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0
    subagents_created: list[str] = field(default_factory=list)
    subagents_reused: list[str] = field(default_factory=list)
    subagents_saved: list[str] = field(default_factory=list)
    saved_versions: dict[str, int] = field(default_factory=dict)  # name -> the version this run saved
    started: float = field(default_factory=time.time)
    finished: float | None = None
    simulated: bool = False
    feedback_score: float | None = None  # set only through ExperienceStore.add_feedback
    feedback_note: str | None = None
    source: str = ""  # the experience file the row was read from, as for ExecutionRecord

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_read_tokens + self.cache_write_tokens
