"""A run's trajectory, step by step, from its event log and the execution traces it points to.

Read-only: events and traces are parsed defensively (a field missing or of an unexpected type shows as
"-", never an exception), because a report is most wanted for runs that went wrong.
"""

from __future__ import annotations

import json
from dataclasses import field
from pathlib import Path
from typing import Any

from agentfactory import events as ev
from agentfactory.llm.types import Usage
from agentfactory.records import record

TEXT_LIMIT = 4000  # characters of any one text shown (stdout tails, results, arguments)


def clip(value: Any, limit: int = TEXT_LIMIT) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=1, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + f"\n… ({len(text) - limit:,} more characters)"


@record
class Item:
    """One event as the page shows it."""

    kind: str  # model_call, tool_call, subagent_execution, library_change, other
    offset_s: float
    title: str
    status: str = ""  # ok / error / "" (drives the colour)
    facts: list[tuple[str, str]] = field(default_factory=list)
    blocks: list[tuple[str, str]] = field(default_factory=list)  # (label, preformatted text)


@record
class Step:
    number: int
    items: list[Item] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


def _usage_text(usage: Usage) -> str:
    parts = [f"in {usage.input_tokens:,}", f"out {usage.output_tokens:,}"]
    if usage.cache_read_tokens:
        parts.append(f"cache read {usage.cache_read_tokens:,}")
    if usage.cache_write_tokens:
        parts.append(f"cache write {usage.cache_write_tokens:,}")
    return " · ".join(parts)


def _load_trace(run_dir: Path, rel: Any) -> dict[str, Any] | None:
    if not isinstance(rel, str) or not rel:
        return None
    path = (run_dir / rel).resolve()
    # Only files inside the run folder: the event log is data, not a path to follow anywhere.
    if run_dir.resolve() not in path.parents or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _model_item(e: dict[str, Any], offset: float) -> Item:
    usage = Usage.from_dict(e.get("usage") if isinstance(e.get("usage"), dict) else None)
    role = str(e.get("role", ev.ORCHESTRATOR))
    facts = [
        ("model", str(e.get("model", "-"))),
        ("tokens", _usage_text(usage)),
        ("cost", f"${float(e.get('cost_usd', 0) or 0):.5f}"),
        ("latency", f"{float(e.get('latency_s', 0) or 0):.2f} s"),
        ("stop", str(e.get("stop_reason", "-"))),
    ]
    return Item("model_call", offset, f"Model call ({role})", "", facts)


def _tool_item(e: dict[str, Any], offset: float) -> Item:
    status = "error" if e.get("is_error") else "ok"
    item = Item(
        "tool_call",
        offset,
        f"Tool {e.get('tool') or e.get('name') or '?'}",
        status,
        [("duration", f"{float(e.get('duration_s', 0) or 0):.3f} s")],
    )
    if e.get("arguments") not in (None, "", {}):
        item.blocks.append(("arguments", clip(e["arguments"])))
    if e.get("result") not in (None, ""):
        item.blocks.append(("result", clip(e["result"])))
    return item


def _execution_item(e: dict[str, Any], offset: float, run_dir: Path) -> Item:
    version = e.get("version")
    label = f"v{version}" if version else f"candidate r{e.get('revision') or '?'}"
    status = str(e.get("status", "-"))
    item = Item(
        "subagent_execution",
        offset,
        f"Subagent {e.get('subagent', '?')} ({label})",
        "ok" if status == "ok" else "error",
        [
            ("status", status),
            ("duration", f"{float(e.get('duration_s', 0) or 0):.3f} s"),
            ("tool calls", str(e.get("tool_calls", 0))),
            ("inputs digest", str(e.get("inputs_digest", "-"))[:16]),
        ],
    )
    usage = e.get("tool_usage")
    if isinstance(usage, dict) and usage:
        item.facts.append(("llm tokens", _usage_text(Usage.from_dict(usage))))
    trace = _load_trace(run_dir, e.get("trace"))
    if trace is None:
        return item
    error = trace.get("error")
    if isinstance(error, dict):
        lines = [f"{error.get('type', 'Error')}: {error.get('message', '')}"]
        for frame in error.get("frames") or []:
            if isinstance(frame, dict):
                lines.append(
                    f"  {frame.get('file', '?')}:{frame.get('line', '?')} in {frame.get('function', '?')}"
                    + (f"\n    {frame['source']}" if frame.get("source") else "")
                )
        item.blocks.append(("exception", clip("\n".join(lines))))
    preview = trace.get("result_preview") or (trace.get("result") if trace.get("result") is not None else "")
    if preview:
        item.blocks.append(("result", clip(preview)))
    for stream in ("stdout", "stderr"):
        if trace.get(stream):
            item.blocks.append((stream, clip(trace[stream][-TEXT_LIMIT:])))
    calls = trace.get("tool_calls") or []
    if calls:
        rows = []
        for call in calls:
            if isinstance(call, dict):
                mark = "ok" if call.get("ok") else f"refused: {call.get('error')}"
                rows.append(f"{call.get('tool', '?')}({call.get('arguments', '')}) → {mark}")
        item.blocks.append(("tool calls", clip("\n".join(rows))))
    if trace.get("output_files"):
        item.facts.append(("files", ", ".join(map(str, trace["output_files"]))[:300]))
    return item


def _library_item(e: dict[str, Any], offset: float) -> Item:
    action = str(e.get("action", "change"))
    version = e.get("version")
    title = f"Library {action}: {e.get('subagent', '?')}" + (f" v{version}" if version else "")
    facts = [
        (key, str(e[key]))
        for key in ("commit", "parent_version", "base_version", "cases")
        if e.get(key) not in (None, "")
    ]
    item = Item("library_change", offset, title, "error" if action == "rejected" else "ok", facts)
    if e.get("reason"):
        item.blocks.append(("reason", clip(e["reason"])))
    return item


_STARTED = (ev.MODEL_CALL_STARTED, ev.TOOL_CALL_STARTED, ev.EXECUTION_STARTED)


def build_trajectory(events: list[dict[str, Any]], run_dir: Path) -> list[Step]:
    """Group events by orchestrator step; what happens before the first step is step 0."""
    started = next((e.get("ts") for e in events if e.get("type") == ev.RUN_STARTED), None)
    started = float(started) if isinstance(started, (int, float)) else None
    steps: list[Step] = [Step(0)]
    for e in events:
        kind = e.get("type")
        ts = e.get("ts")
        offset = round(float(ts) - started, 3) if started is not None and isinstance(ts, (int, float)) else 0
        step_no = e.get("step")
        if kind == ev.MODEL_CALL and e.get("role", ev.ORCHESTRATOR) == ev.ORCHESTRATOR:
            number = int(step_no) if isinstance(step_no, int) else steps[-1].number + 1
            if number != steps[-1].number:
                steps.append(Step(number))
        if kind == ev.MODEL_CALL:
            item = _model_item(e, offset)
            steps[-1].usage = steps[-1].usage + Usage.from_dict(
                e.get("usage") if isinstance(e.get("usage"), dict) else None
            )
        elif kind == ev.TOOL_CALL:
            item = _tool_item(e, offset)
        elif kind == ev.SUBAGENT_EXECUTION:
            item = _execution_item(e, offset, run_dir)
        elif kind == ev.LIBRARY_CHANGE:
            item = _library_item(e, offset)
        elif kind in (ev.RUN_STARTED, ev.RUN_FINISHED, *_STARTED):
            continue  # a started event is shown by the item of the call or execution it began
        else:
            item = Item("other", offset, str(kind), "", [], [("event", clip(e, 1000))])
        steps[-1].items.append(item)
    return [s for s in steps if s.items]
