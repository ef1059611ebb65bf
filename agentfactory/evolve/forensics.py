"""Failing cases recovered from old runs: the inputs and trace of a recorded failure, read from its run's
workspace (trace files and `events.jsonl`).

The experience store keeps a digest of the inputs, not the inputs. The run's trace files hold each
execution's inputs in full; workspaces written before they did are searched through the event log's
`run_subagent` calls, whose arguments are kept only up to a preview length. Digests are compared with
`digest_matches`, which reads both the digest of today and the shorter one old event logs hold.
Everything read here was written next to hostile subagent output: it is parsed, never trusted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentfactory import events as ev
from agentfactory.evolve.records import FailingCase
from agentfactory.library.cases import digest_matches


def recover_failure(workspaces: Path, name: str, record: Any, rated_bad: bool = False) -> FailingCase | str:
    """A failing case from an experience record, or why it cannot be replayed.

    rated_bad: the record is a successful execution in a run the user rated bad; its result, read from
    the trace, is what a revision must change."""
    run_dir = workspaces / record.run_id
    events_path = run_dir / ev.EVENTS_FILE
    if not events_path.is_file():
        return f"run {record.run_id}: its workspace (with the inputs) is gone"
    events = list(ev.read_events(events_path))
    inputs = _inputs_from_traces(run_dir, events, name, record.inputs_digest)
    if inputs is None:
        inputs = _inputs_from_calls(events, name, record.inputs_digest)
    if inputs is None:
        return (
            f"run {record.run_id}: the inputs were not recorded in full (long inputs are kept as a preview)"
        )
    trace = _latest_trace(run_dir, events, name, inputs, ok=rated_bad)
    if rated_bad:
        if trace is None or trace.result is None:
            return f"run {record.run_id}: the result the user rated bad was not recorded"
        why = f"the user rated run {record.run_id} bad" + (f": {record.feedback}" if record.feedback else "")
        return FailingCase(
            inputs=inputs,
            kind=f"rated_bad|{record.inputs_shape}",
            error=why + "; the execution succeeded, but its result must change",
            run_id=record.run_id,
            fixtures=run_dir / "inputs",
            trace=trace,
            rated_bad=True,
            rejected_result=trace.result,
        )
    error = record.error or ""
    return FailingCase(
        inputs=inputs,
        kind=f"{record.error_kind or 'error'}|{record.inputs_shape}",
        error=f"{record.error_kind}: {error}".strip(": ") if record.error_kind else error,
        run_id=record.run_id,
        fixtures=run_dir / "inputs",
        trace=trace,
    )


def _inputs_from_traces(run_dir: Path, events: list[dict], name: str, digest: str) -> dict | None:
    for event in events:
        if event.get("type") != ev.SUBAGENT_EXECUTION or event.get("subagent") != name:
            continue
        recorded = read_json(_inside(run_dir, event.get("trace")))
        candidate = recorded.get("inputs") if isinstance(recorded, dict) else None
        if isinstance(candidate, dict) and digest_matches(digest, candidate):
            return candidate
    return None


def _inputs_from_calls(events: list[dict], name: str, digest: str) -> dict | None:
    for event in events:
        if event.get("type") != ev.TOOL_CALL or event.get("tool") != "run_subagent":
            continue
        try:
            args = json.loads(event.get("arguments") or "")
        except (json.JSONDecodeError, TypeError):
            continue
        if isinstance(args, dict) and args.get("name") == name:
            candidate = args.get("inputs") or {}
            if isinstance(candidate, dict) and digest_matches(digest, candidate):
                return candidate
    return None


def _latest_trace(run_dir: Path, events: list[dict], name: str, inputs: dict, ok: bool) -> Any:
    """The trace of the last execution of `name` on `inputs` that succeeded (ok) or failed."""
    from agentfactory.sandbox import ExecutionTrace

    trace_rel = None
    for event in events:
        if (
            event.get("type") == ev.SUBAGENT_EXECUTION
            and event.get("subagent") == name
            and digest_matches(event.get("inputs_digest"), inputs)
            and (event.get("status") == "ok") == ok
        ):
            trace_rel = event.get("trace")
    path = _inside(run_dir, trace_rel)
    if path is None or not path.is_file():
        return None
    try:
        return ExecutionTrace.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, TypeError, ValueError, OSError, UnicodeDecodeError):
        return None


def _inside(run_dir: Path, rel: Any) -> Path | None:
    """`run_dir / rel` when `rel` is a relative path that stays inside the run's folder, else None."""
    if not isinstance(rel, str) or not rel:
        return None
    path = (run_dir / rel).resolve()
    return path if run_dir.resolve() in path.parents else None


def read_json(path: Path | None) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path is not None and path.is_file() else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
