"""One line per record in an agent's experience file: how records are written and how lines are read.

The experience files (`experience/<agent>.jsonl` in the library repository) are the source of truth; the
SQLite store is derived from them. Lines written by other agents arrive by `library pull` and are
hostile: `parse_line` accepts only a JSON object of a known type whose every field has the right type
and a bounded size, and says why it refused anything else. Unknown extra keys are ignored, so a newer
writer's additions do not make its rows unreadable here.

A line speaks for the agent whose file holds it: read from `<agent>.jsonl`, an execution or run row
claiming another agent id is refused (`agent_file`), so nobody can put words in another agent's mouth by
writing rows into their own file. Which file a row came from is the reader's to record (the store's
`source` column); a line never says it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import fields
from functools import partial
from typing import Any

from agentfactory.experience.records import EXECUTION_KINDS, ExecutionRecord, RunRecord
from agentfactory.library.experience_files import MAX_LINE_BYTES, file_name
from agentfactory.records import record

FORMAT = 1
EXECUTION, RUN, FEEDBACK, DOC_VERSION = "execution", "run", "feedback", "doc_version"
_TEXT = 4000  # longest free text kept in a record (tasks are cut at 2000 when recorded)
_IDENT = 200  # run ids, agent ids, digests, error kinds
_LIST = 200  # names in a run's created / reused / saved lists


class BadRow(ValueError):
    """A line that is not a record this version can use; the message says why, in a few words."""


@record
class Entry:
    """One parsed line: its type, its unique id (dedup across copies of a file) and its record."""

    type: str
    uid: str
    record: Any  # ExecutionRecord | RunRecord | dict (feedback, doc_version)


def new_uid() -> str:
    return os.urandom(16).hex()  # 128 random bits, as uuid4 (whose import brings platform)


# ------------------------------------------------------------------------------------------------ write


def _bounded(value: Any, limit: int) -> Any:
    return value[:limit] if isinstance(value, str) else value


def _record_line(kind: str, record: Any, skip: tuple[str, ...], uid: str) -> bytes:
    data = {f.name: getattr(record, f.name) for f in fields(record) if f.name not in skip}
    data = {k: _bounded(v, _IDENT if k in _IDENTS else _TEXT) for k, v in data.items()}
    for key in _LISTS:
        if key in data:
            data[key] = [str(n)[:_IDENT] for n in data[key][:_LIST]]
    return _line(kind, uid, data)


def execution_line(record: ExecutionRecord, uid: str) -> bytes:
    return _record_line(EXECUTION, record, ("id", "source"), uid)


def run_line(record: RunRecord, uid: str) -> bytes:
    return _record_line(RUN, record, ("feedback_score", "feedback_note", "source"), uid)


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
_LISTS = ("subagents_created", "subagents_reused", "subagents_saved")  # lists of names


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


def _kind(data: dict, key: str) -> str:
    kind = _text(data, key, limit=_IDENT) or "use"
    if kind not in EXECUTION_KINDS:
        raise BadRow(f"{key} is not an execution kind")
    return kind


def _names(data: dict, key: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or len(value) > _LIST:
        raise BadRow(f"{key} is not a list of at most {_LIST} names")
    if not all(isinstance(v, str) and len(v) <= _IDENT for v in value):
        raise BadRow(f"{key} holds something other than names")
    return list(value)


def _versions(data: dict, key: str) -> dict[str, int]:
    """name -> version (absent: none); names are subagent names, versions positive integers."""
    value = data.get(key) or {}
    if not isinstance(value, dict) or len(value) > _LIST:
        raise BadRow(f"{key} is not an object of at most {_LIST} names")
    out = {}
    for name, version in value.items():
        out[_name({"name": name}, "name")] = _integer({key: version}, key)
        if out[name] < 1:
            raise BadRow(f"{key} holds a version under 1")
    return out


# One reader per record type: field -> how it is read. A record's fields are exactly these (what a line
# holds beyond them is ignored; `id`, `source` and the feedback columns are never read from a line).
_Reader = Callable[[dict, str], Any]
_IDENT_R: _Reader = partial(_text, limit=_IDENT)
_REQUIRED_IDENT: _Reader = partial(_text, required=True, limit=_IDENT)
_OPTIONAL_IDENT: _Reader = partial(_text, optional=True, limit=_IDENT)
_OPTIONAL_TEXT: _Reader = partial(_text, optional=True)
_REQUIRED_FLAG: _Reader = partial(_flag, required=True)

_EXECUTION: dict[str, _Reader] = {
    "run_id": _REQUIRED_IDENT,
    "agent_id": _REQUIRED_IDENT,
    "subagent": _name,
    "version": lambda d, k: _integer(d, k, optional=True) or None,  # 0: a candidate never saved
    "success": _REQUIRED_FLAG,
    "task_type": _IDENT_R,
    "task": _text,
    "inputs_digest": _IDENT_R,
    "inputs_shape": _text,
    "quality": _quality,
    "duration_s": _number,
    "input_tokens": _integer,
    "output_tokens": _integer,
    "cost_usd": _number,
    "error_kind": _OPTIONAL_IDENT,
    "error": _OPTIONAL_TEXT,
    "feedback": _OPTIONAL_TEXT,
    "ts": _timestamp,
    "kind": _kind,
}
_RUN: dict[str, _Reader] = {
    "run_id": _REQUIRED_IDENT,
    "agent_id": _REQUIRED_IDENT,
    "task": _text,
    "status": _REQUIRED_IDENT,
    "success": _REQUIRED_FLAG,
    "task_type": _IDENT_R,
    "model": _IDENT_R,
    "quality": _quality,
    "steps": _integer,
    "input_tokens": _integer,
    "output_tokens": _integer,
    "cache_read_tokens": _integer,
    "cache_write_tokens": _integer,
    "cost_usd": _number,
    "subagents_created": _names,
    "subagents_reused": _names,
    "subagents_saved": _names,
    "saved_versions": _versions,
    "started": _timestamp,
    "finished": lambda d, k: _number(d, k, optional=True),
    "simulated": _flag,
}
_FEEDBACK: dict[str, _Reader] = {
    "run_id": _REQUIRED_IDENT,
    "score": _quality,
    "note": _OPTIONAL_TEXT,
    "ts": _timestamp,
}
_DOC_VERSION: dict[str, _Reader] = {
    "subagent": _name,
    "version": _integer,
    "same_code_as": _integer,
    "ts": _timestamp,
}
_TYPES: dict[str, tuple[Callable[..., Any], dict[str, _Reader]]] = {
    EXECUTION: (ExecutionRecord, _EXECUTION),
    RUN: (RunRecord, _RUN),
    FEEDBACK: (dict, _FEEDBACK),
    DOC_VERSION: (dict, _DOC_VERSION),
}


def parse_line(raw: bytes, agent_file: str | None = None) -> Entry:
    """The record on one line (without its newline), or BadRow saying what is wrong with it.

    `agent_file`: the name of the file the line was read from (`<agent>.jsonl`); an execution or run row
    whose agent id is not that file's agent is refused."""
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
    if not isinstance(kind, str) or kind not in _TYPES:
        raise BadRow("unknown record type")
    make, readers = _TYPES[kind]
    record = make(**{key: read(data, key) for key, read in readers.items()})
    if kind == FEEDBACK and record["score"] is None and not record["note"]:
        raise BadRow("feedback without score or note")
    if agent_file is not None and kind in (EXECUTION, RUN) and file_name(record.agent_id) != agent_file:
        raise BadRow(f"agent_id {record.agent_id[:40]!r} is not the agent of this file")
    return Entry(kind, uid, record)
