"""The one JSON writer of the host (`to_json`, `json_bytes`, `write_json`, and `clip_json` for previews),
used for the event log, traces and every `--json` output: its text is strict JSON (no NaN/Infinity
tokens) that always encodes as UTF-8 and holds no raw control character, whatever a subagent or a model
put in the value (lone surrogates, terminal escapes, non-finite floats, cycles, objects JSON does not
know). It never raises, and imports nothing of the package, so any module can use it.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any

MAX_JSON_DEPTH = 200  # deeper subtrees are written as a marker string (the sandbox caps results at 64)
_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}
# Characters json.dumps(ensure_ascii=False) leaves raw that must not reach a file or a terminal as they
# are: lone surrogates (not encodable), DEL and C1 controls (terminal escapes), bidirectional controls and
# line/paragraph separators (they reorder or break what is shown).
_UNSAFE = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "to_dict"):
        return obj.to_dict()
    if hasattr(obj, "__dataclass_fields__"):
        return asdict(obj)
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "backslashreplace")
    return repr(obj)


def clip_json(value: Any, limit: int = 400) -> str:
    """`value` as JSON of at most about `limit` characters, cut only between whole keys or items.

    What does not fit is dropped from the end and counted (`… 2 more keys: code, tools`), so a preview
    never ends inside a value: a short value reads back as the exact JSON, a long one as its head.
    """
    text = _dumps(value)
    if len(text) <= limit:
        return text
    if isinstance(value, dict):
        return _clip_items([(k, v) for k, v in value.items()], limit, "{", "}", "key")
    if isinstance(value, list | tuple):
        return _clip_items([(None, v) for v in value], limit, "[", "]", "item")
    if isinstance(value, str):  # one long string (raw arguments that did not parse): its head, closed
        return _dumps(value[: max(0, limit - 40)]) + f"… ({len(value):,} chars)"
    return f"… ({type(value).__name__}, {len(text):,} chars)"


def _clip_items(items: list[tuple[Any, Any]], limit: int, open_: str, close: str, unit: str) -> str:
    parts: list[str] = []
    for key, item in items:
        head = _dumps(str(key)) + ": " if key is not None else ""
        room = limit - len(open_) - len(close) - sum(len(p) + 2 for p in parts) - len(head)
        text = _dumps(item)
        if len(text) > room and isinstance(item, dict | list | tuple) and room > 60:
            text = clip_json(item, room - 40)  # cut at its own inner boundary, leaving room for our note
        if len(text) > room:
            break
        parts.append(head + text)
    while True:  # drop whole trailing values until the note about them fits too
        rest = items[len(parts) :]
        note = ""
        if rest:
            note = f"… {len(rest)} more {unit}{'s' if len(rest) > 1 else ''}"
            if rest[0][0] is not None:
                names = [str(k)[:30] for k, _ in rest[:5]]
                note += ": " + ", ".join(names) + (", …" if len(rest) > 5 else "")
        text = open_ + ", ".join([*parts, note] if note else parts) + close
        if len(text) <= limit or not parts:
            return text
        parts.pop()


def _dumps(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError):
        return repr(value)


def _plain(value: Any) -> Any:
    """A copy of `value` made of JSON types only: non-finite floats become the strings "NaN",
    "Infinity", "-Infinity"; unknown objects go through `_json_default`; cycles and subtrees deeper than
    MAX_JSON_DEPTH become marker strings. Iterative, so no input can exhaust the stack."""
    root: list[Any] = [None]
    # (value, container to fill, key in it, depth, ids of the containers above)
    stack: list[tuple[Any, Any, Any, int, frozenset[int]]] = [(value, root, 0, 0, frozenset())]
    while stack:
        item, parent, key, depth, above = stack.pop()
        for _ in range(3):  # to_dict() may return a dataclass, whose asdict() is plain
            if item is None or isinstance(item, (str, int, float, dict, list, tuple)):
                break
            try:
                item = _json_default(item)
            except Exception as exc:  # a hostile __repr__/to_dict: record that, never raise
                item = f"<unserialisable {type(item).__name__}: {type(exc).__name__}>"
        if isinstance(item, bool) or item is None or isinstance(item, str):
            parent[key] = item
        elif isinstance(item, float):
            parent[key] = item if math.isfinite(item) else _NON_FINITE.get(item, "NaN")
        elif isinstance(item, int):
            parent[key] = int(item)
        elif isinstance(item, (dict, list, tuple)):
            if id(item) in above:
                parent[key] = "<circular reference>"
                continue
            if depth >= MAX_JSON_DEPTH:
                parent[key] = f"<nested deeper than {MAX_JSON_DEPTH} levels>"
                continue
            inner = above | {id(item)}
            if isinstance(item, dict):
                out: Any = {}
                for k, v in item.items():
                    k = k if isinstance(k, str) else _key(k)
                    out[k] = None
                    stack.append((v, out, k, depth + 1, inner))
            else:
                out = [None] * len(item)
                stack.extend((v, out, i, depth + 1, inner) for i, v in enumerate(item))
            parent[key] = out
        else:
            parent[key] = f"<unserialisable {type(item).__name__}>"
    return root[0]


def _key(key: Any) -> str:
    if key is None or isinstance(key, (bool, int)):
        return json.dumps(key)
    if isinstance(key, float):
        return repr(key) if math.isfinite(key) else _NON_FINITE.get(key, "NaN")
    return str(key)


def _escape_unsafe(text: str) -> str:
    # These can only sit inside a JSON string, where \uXXXX is a valid escape: the text becomes safe to
    # encode and to show, and json.loads gives the same string back.
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def to_json(value: Any, *, indent: int | None = None) -> str:
    """Strict JSON text for any value; see the module docstring. Never raises."""
    try:
        text = json.dumps(value, indent=indent, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        text = json.dumps(_plain(value), indent=indent, ensure_ascii=False, allow_nan=False)
    return _escape_unsafe(text) if _UNSAFE.search(text) else text


def json_bytes(value: Any, *, indent: int | None = None) -> bytes:
    """`to_json` encoded: always valid UTF-8."""
    return to_json(value, indent=indent).encode("utf-8")


def write_json(path: Path, value: Any, *, indent: int | None = 1) -> Path:
    """Write `value` as a strict, valid UTF-8 JSON file."""
    Path(path).write_bytes(json_bytes(value, indent=indent) + b"\n")
    return Path(path)
