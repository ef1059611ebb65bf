"""The records that cross the sandbox boundary: what to run (ExecutionRequest) and what happened
(ExecutionTrace, ToolCallRecord).

A trace is built by the host from facts it controls (its own timer, the container's exit state, the
runner's status file) and from the result file, read with size and depth limits. Nothing the subagent
prints is parsed, so printed text can never change the status.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentfactory.records import record

if TYPE_CHECKING:
    from agentfactory.sandbox.broker import ToolBroker

OK = "ok"
ERROR = "error"
TIMEOUT = "timeout"
OOM = "oom"
KILLED = "killed"
OUTPUT_LIMIT = "output_limit"
SANDBOX_ERROR = "sandbox_error"
INTERRUPTED = "interrupted"
TOOL_LIMIT = "tool_limit"  # the subagent went past the tool broker's call limit; its session was closed
STATUSES = (OK, ERROR, TIMEOUT, OOM, KILLED, OUTPUT_LIMIT, SANDBOX_ERROR, INTERRUPTED, TOOL_LIMIT)

DEFAULT_STREAM_MAX_BYTES = 1 << 20  # tail of stdout / stderr kept, each
DEFAULT_OUTPUT_MAX_MB = 64  # total size of outputs/
DEFAULT_RESULT_MAX_BYTES = 16 << 20  # serialised result
DEFAULT_RESULT_MAX_DEPTH = 64
PREVIEW_CHARS = 500


@record
class ExecutionRequest:
    """One execution of `run(**inputs)` from module `entry` found in `code_dir`, or in `code_files` when
    given: the subagent's files by relative path (a library version as read), written straight into the
    sandbox (`code_dir` then only names them in messages).

    `workdir` is a host folder whose `inputs/` the subagent sees read-only as `inputs/`; output files the
    subagent writes to `outputs/` are copied to `output_dir` after the sandbox stopped.
    """

    code_dir: Path
    entry: str
    inputs: dict[str, Any] = field(default_factory=dict)
    workdir: Path | None = None
    output_dir: Path | None = None
    timeout_s: float = 120.0
    memory_mb: int = 512
    tools: list[str] = field(default_factory=list)
    broker: ToolBroker | None = None
    run_id: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    output_max_mb: int = DEFAULT_OUTPUT_MAX_MB
    stream_max_bytes: int = DEFAULT_STREAM_MAX_BYTES
    result_max_bytes: int = DEFAULT_RESULT_MAX_BYTES
    code_files: Mapping[str, bytes] | None = None  # instead of copying code_dir (see above)
    # Live view hook (see base.OutputCallback): called with ("stdout", line) as the subagent prints.
    on_output: Callable[[str, str], None] | None = None
    # Called once, on the executing thread, right after the job was handed over: while the sandbox starts,
    # the caller can do what does not depend on the result (the run's bookkeeping), off the path.
    on_started: Callable[[], None] | None = None
    # Called once with the finished trace, before the backend starts its own background work (the
    # sandbox's teardown, the refill of its pool), so the caller's records are not slowed by it.
    on_finished: Callable[[ExecutionTrace], None] | None = None


@record
class ToolCallRecord:
    """One call a subagent made through the tool broker, allowed or refused."""

    tool: str
    arguments: str  # preview, truncated
    ok: bool
    error: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@record
class ExecutionTrace:
    status: str
    backend: str
    result: Any = None
    result_preview: str = ""
    error: dict[str, Any] | None = None  # {type, message, frames: [{file, line, function, source}]}
    stdout: str = ""
    stderr: str = ""
    stdout_bytes: int = 0
    stderr_bytes: int = 0
    duration_s: float = 0.0
    # The subagent's process's peak resident size (and its reaped children's): a warm interpreter's
    # preloaded pages count in it, as they are mapped and resident.
    peak_memory_mb: float | None = None
    output_files: list[str] = field(default_factory=list)
    refused_outputs: list[str] = field(default_factory=list)  # printable (escaped) relative paths
    output_refusals: dict[str, str] = field(default_factory=dict)  # refused path -> why
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    isolation: str = ""
    entry: str = ""
    run_id: str = ""
    sandbox_id: str = ""  # container id (docker) or process id (local), for debugging

    @property
    def ok(self) -> bool:
        return self.status == OK

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tool_calls"] = [c.to_dict() for c in self.tool_calls]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExecutionTrace:
        data = dict(data)
        data["tool_calls"] = [ToolCallRecord(**c) for c in data.get("tool_calls", [])]
        names = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in names})

    def usage_totals(self) -> dict[str, int]:
        """Token usage summed over the tool calls (the llm tool reports it)."""
        total: dict[str, int] = {}
        for call in self.tool_calls:
            for key, value in call.usage.items():
                if isinstance(value, int | float):
                    total[key] = total.get(key, 0) + int(value)
        return total

    def compact(self, max_chars: int = 2000) -> str:
        """The trace as a model should see it: status first, then what is needed to fix the code."""
        lines = [f"status: {self.status}  duration: {self.duration_s:.2f}s  backend: {self.backend}"]
        if self.peak_memory_mb is not None:
            lines[0] += f"  peak memory: {self.peak_memory_mb:.0f} MB"
        if self.status == OK:
            # The full result is kept; the model sees as much of it as a third of its budget allows,
            # and first, on a line of its own, the subagent's `answer` text (what a reuse may hand on).
            result = self.result
            if isinstance(result, dict) and isinstance(result.get("answer"), str):
                lines.append(f"answer: {preview(result['answer'], max(PREVIEW_CHARS, max_chars // 2))}")
                result = {k: v for k, v in result.items() if k != "answer"}
            shown = preview(result, max(PREVIEW_CHARS, max_chars // 3)) if result is not None else ""
            lines.append(f"result: {shown or self.result_preview}")
        if self.error:
            lines.append(f"{self.error.get('type', 'Error')}: {self.error.get('message', '')}")
            for fr in self.error.get("frames", []):
                lines.append(f'  File "{fr.get("file")}", line {fr.get("line")}, in {fr.get("function")}')
                if fr.get("source"):
                    lines.append(f"    {fr['source']}")
        if self.output_files:
            lines.append("output files: " + ", ".join(self.output_files[:20]))
        if self.refused_outputs:
            shown = [
                f"{p} ({self.output_refusals[p]})" if p in self.output_refusals else p
                for p in self.refused_outputs[:20]
            ]
            lines.append("refused output files: " + ", ".join(shown))
        for call in self.tool_calls[:10]:
            state = "ok" if call.ok else f"refused/failed: {call.error}"
            lines.append(f"tool {call.tool}({call.arguments[:80]}) -> {state}")
        if len(self.tool_calls) > 10:
            lines.append(f"... {len(self.tool_calls) - 10} more tool calls")
        head = "\n".join(lines)
        budget = max(0, max_chars - len(head) - 40)
        streams = []
        for name, text in (("stdout", self.stdout), ("stderr", self.stderr)):
            if text:
                streams.append((name, text))
        for name, text in streams:
            share = budget // len(streams)
            tail = text[-share:] if share else ""
            if len(tail) < len(text):
                tail = "…" + tail
            head += f"\n--- {name} (tail) ---\n{tail}"
        return head[:max_chars]


def preview(value: Any, limit: int = PREVIEW_CHARS) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


def max_depth_exceeded(value: Any, limit: int) -> bool:
    """Iterative depth check (a recursive one is what a hostile result would attack)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False
