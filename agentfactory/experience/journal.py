"""One line per record in an agent's experience file: how records are written and how lines are read.

The experience files (`experience/<agent>.jsonl` in the library repository) are the source of truth; the
SQLite store is derived from them. Lines written by other agents arrive by `library pull` and are
hostile: `parse_line` accepts only a JSON object of a known type whose every field has the right type
and a bounded size, and says why it refused anything else. Unknown extra keys are ignored, so a newer
writer's additions do not make its rows unreadable here.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, fields
from typing import Any

from agentfactory.experience.records import EXECUTION_KINDS, ExecutionRecord, RunRecord
from agentfactory.library.experience_files import MAX_LINE_BYTES

FORMAT = 1
EXECUTION, RUN, FEEDBACK, DOC_VERSION = "execution", "run", "feedback", "doc_version"
_TEXT = 4000  # longest free text kept in a record (tasks are cut at 2000 when recorded)
_IDENT = 200  # run ids, agent ids, digests, error kinds
_LIST = 200  # names in a run's created / reused / saved lists


class BadRow(ValueError):
    """A line that is not a record this version can use; the message says why, in a few words."""


@dataclass
class Entry:
    """One parsed line: its type, its unique id (dedup across copies of a file) and its record."""

    type: str
    uid: str
    record: Any  # ExecutionRecord | RunRecord | dict (feedback, doc_version)


def new_uid() -> str:
    return uuid.uuid4().hex


# ------------------------------------------------------------------------------------------------ write


def _bounded(value: Any, limit: int) -> Any:
    return value[:limit] if isinstance(value, str) else value


def execution_line(record: ExecutionRecord, uid: str) -> bytes:
    data = {f.name: getattr(record, f.name) for f in fields(ExecutionRecord) if f.name != "id"}
    data = {k: _bounded(v, _IDENT if k in _IDENTS else _TEXT) for k, v in data.items()}
    return _line(EXECUTION, uid, data)


def run_line(record: RunRecord, uid: str) -> bytes:
    data = {f.name: getattr(record, f.name) for f in fields(RunRecord) if not f.name.startswith("feedback_")}
    data = {k: _bounded(v, _IDENT if k in _IDENTS else _TEXT) for k, v in data.items()}
    for key in _LISTS:
        data[key] = [str(n)[:_IDENT] for n in data[key][:_LIST]]
    return _line(RUN, uid, data)


def feedback_line(run_id: str, score: float | None, note: str | None, ts: float, uid: str) -> bytes:
    return _line(FEEDBACK, uid, {"run_id": run_id, "score": score, "note": _bounded(note, _TEXT), "ts": ts})


def doc_version_line(name: str, version: int, same_code_as: int, ts: float, uid: str) -> bytes:
    data = {"subagent": name, "version": version, "same_code_as": same_code_as, "ts": ts}
    return _line(DOC_VERSION, uid, data)


def _line(kind: str, uid: str, data: dict[str, Any]) -> bytes:
    text = json.dumps({"v": FORMAT, "type": kind, "uid": uid, **data}, ensure_ascii=False, allow_nan=False)
    out = text.encode("utf-8", "backslashreplace") + b"\n"
    if len(out) > MAX_LINE_BYTES:  # only free text can be this long: cut it harder rather than lose it
        for key in ("task", "error", "note", "feedback"):
            if isinstance(data.get(key), str):
                data[key] = data[key][:200]
        return _line(kind, uid, data)
    return out


# ------------------------------------------------------------------------------------------------- read

_IDENTS = {"run_id", "agent_id", "subagent", "task_type", "inputs_digest", "error_kind", "model", "status"}
_LISTS = ("subagents_created", "subagents_reused", "subagents_saved")


def _text(data: dict, key: str, *, required: bool = False, optional: bool = False, limit: int = _TEXT) -> Any:
    if key not in data:
        if required:
            raise BadRow(f"no {key}")
        return None if optional else ""
    value = data[key]
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise BadRow(f"{key} is not a string")
    if len(value) > limit:
        raise BadRow(f"{key} is longer than {limit} characters")
    return value


def _number(data: dict, key: str, *, optional: bool = False) -> Any:
    """A finite, non-negative number (absent or null: 0, or None when `optional`)."""
    value = data.get(key)
    if value is None:
        return None if optional else 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadRow(f"{key} is not a number")
    if value < 0:
        raise BadRow(f"{key} is negative")
    return float(value)


def _integer(data: dict, key: str, *, optional: bool = False) -> Any:
    value = data.get(key)
    if value is None:
        if optional:
            return None
        value = 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
        raise BadRow(f"{key} is not a non-negative integer")
    return value


def _flag(data: dict, key: str, *, required: bool = False) -> bool:
    if key not in data and not required:
        return False
    if not isinstance(data.get(key), bool):
        raise BadRow(f"{key} is not true or false")
    return data[key]


def _quality(data: dict, key: str) -> float | None:
    value = _number(data, key, optional=True)
    if value is not None and not 0.0 <= value <= 1.0:
        raise BadRow(f"{key} is outside 0-1")
    return value


def _name(data: dict, key: str) -> str:
    from agentfactory.errors import ValidationError
    from agentfactory.library.names import validate_name

    value = _text(data, key, required=True, limit=_IDENT)
    try:
        return validate_name(value)
    except ValidationError:
        raise BadRow(f"{key} is not a subagent name") from None


def _timestamp(data: dict, key: str = "ts") -> float:
    if key not in data:
        raise BadRow(f"no {key}")
    return _number(data, key)


def parse_line(raw: bytes) -> Entry:
    """The record on one line (without its newline), or BadRow saying what is wrong with it."""
    if len(raw) > MAX_LINE_BYTES:
        raise BadRow(f"line longer than {MAX_LINE_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRow("not JSON") from None
    if not isinstance(data, dict):
        raise BadRow("not a JSON object")
    version = data.get("v")
    if isinstance(version, bool) or not isinstance(version, int):
        raise BadRow("no format version")
    if version > FORMAT:
        raise BadRow(f"format version {version} is newer than this AgentFactory's ({FORMAT})")
    uid = _text(data, "uid", required=True, limit=_IDENT)
    if not uid:
        raise BadRow("empty uid")
    kind = data.get("type")
    if kind == EXECUTION:
        return Entry(kind, uid, _execution(data))
    if kind == RUN:
        return Entry(kind, uid, _run(data))
    if kind == FEEDBACK:
        score = _quality(data, "score")
        note = _text(data, "note", optional=True)
        if score is None and not note:
            raise BadRow("feedback without score or note")
        record = {"run_id": _text(data, "run_id", required=True, limit=_IDENT), "score": score}
        return Entry(kind, uid, {**record, "note": note, "ts": _timestamp(data)})
    if kind == DOC_VERSION:
        record = {"subagent": _name(data, "subagent"), "version": _integer(data, "version")}
        record["same_code_as"] = _integer(data, "same_code_as")
        return Entry(kind, uid, {**record, "ts": _timestamp(data)})
    raise BadRow("unknown record type")


def _execution(data: dict) -> ExecutionRecord:
    kind = _text(data, "kind", limit=_IDENT) or "use"
    if kind not in EXECUTION_KINDS:
        raise BadRow("kind is not an execution kind")
    return ExecutionRecord(
        run_id=_text(data, "run_id", required=True, limit=_IDENT),
        agent_id=_text(data, "agent_id", required=True, limit=_IDENT),
        subagent=_name(data, "subagent"),
        version=_integer(data, "version", optional=True) or None,
        success=_flag(data, "success", required=True),
        task_type=_text(data, "task_type", limit=_IDENT),
        task=_text(data, "task"),
        inputs_digest=_text(data, "inputs_digest", limit=_IDENT),
        inputs_shape=_text(data, "inputs_shape"),
        quality=_quality(data, "quality"),
        duration_s=_number(data, "duration_s"),
        input_tokens=_integer(data, "input_tokens"),
        output_tokens=_integer(data, "output_tokens"),
        cost_usd=_number(data, "cost_usd"),
        error_kind=_text(data, "error_kind", optional=True, limit=_IDENT),
        error=_text(data, "error", optional=True),
        feedback=_text(data, "feedback", optional=True),
        ts=_timestamp(data),
        kind=kind,
    )


def _names(data: dict, key: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or len(value) > _LIST:
        raise BadRow(f"{key} is not a list of at most {_LIST} names")
    if not all(isinstance(v, str) and len(v) <= _IDENT for v in value):
        raise BadRow(f"{key} holds something other than names")
    return list(value)


def _run(data: dict) -> RunRecord:
    return RunRecord(
        run_id=_text(data, "run_id", required=True, limit=_IDENT),
        agent_id=_text(data, "agent_id", required=True, limit=_IDENT),
        task=_text(data, "task"),
        status=_text(data, "status", required=True, limit=_IDENT),
        success=_flag(data, "success", required=True),
        task_type=_text(data, "task_type", limit=_IDENT),
        model=_text(data, "model", limit=_IDENT),
        quality=_quality(data, "quality"),
        steps=_integer(data, "steps"),
        input_tokens=_integer(data, "input_tokens"),
        output_tokens=_integer(data, "output_tokens"),
        cache_read_tokens=_integer(data, "cache_read_tokens"),
        cache_write_tokens=_integer(data, "cache_write_tokens"),
        cost_usd=_number(data, "cost_usd"),
        subagents_created=_names(data, "subagents_created"),
        subagents_reused=_names(data, "subagents_reused"),
        subagents_saved=_names(data, "subagents_saved"),
        started=_timestamp(data, "started"),
        finished=_number(data, "finished", optional=True),
        simulated=_flag(data, "simulated"),
    )
