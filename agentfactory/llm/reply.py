"""Reading a provider's 200 reply without trusting it.

The adapters never use the SDKs' parsed objects: without strict validation the SDKs return HTML as a
plain string and build models from whatever JSON arrived (`content` a string, `message` null, usage
missing), which then fails far from the cause. Instead the adapters take the raw body and read it with
these helpers, which check every field they use and raise `BadReply` with what was wrong, phrased to
complete the sentence "The <provider> sent a reply that cannot be used: <reason>."
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_COUNT = 10**12  # token counts above this are nonsense, and would overflow float cost arithmetic
MAX_ARGUMENT_DEPTH = 64  # tool arguments nested deeper are refused to the model, before recursion trouble
_SAFE_TYPE = re.compile(r"[^A-Za-z0-9.+/_-]")
MISSING = object()


class BadReply(Exception):
    """A successful (2xx) reply whose body cannot be used; the message says why, in a clause."""


def describe(value: Any) -> str:
    """What a JSON value is, for a sentence: "missing", "null", "a string", "a list", ..."""
    if value is MISSING:
        return "missing"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__  # pragma: no cover - json.loads makes nothing else


def scrub(value: Any) -> Any:
    """The value with lone surrogates replaced, so every string in it can be encoded as UTF-8."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, dict):
        return {scrub(k): scrub(v) for k, v in value.items()}
    return value


def load_json(raw: bytes, content_type: str | None) -> Any:
    """The parsed body, or BadReply naming the content type and size when it is not JSON."""
    if not raw.strip():
        raise BadReply("the body is empty")
    try:
        return scrub(json.loads(raw))
    except RecursionError:
        raise BadReply("the JSON body is nested too deeply to read") from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, an integer too long to convert
        kind = _SAFE_TYPE.sub("", (content_type or "no content-type").split(";")[0])[:60] or "unknown"
        raise BadReply(f"the body is not JSON (content-type {kind}, {len(raw)} bytes)") from None


def field(obj: dict[str, Any], key: str) -> Any:
    return obj.get(key, MISSING)


def need_object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadReply(f"{where} is {describe(value)}, not a JSON object")
    return value


def need_list(value: Any, where: str, *, nonempty: bool = False) -> list[Any]:
    if not isinstance(value, list) or (nonempty and not value):
        wanted = "a non-empty list" if nonempty else "a list"
        raise BadReply(f"{where} is {describe(value)}, not {wanted}")
    return value


def need_str(value: Any, where: str, *, optional: bool = False, nonempty: bool = False) -> str | None:
    if value is None or value is MISSING:
        if optional:
            return None
    elif isinstance(value, str) and (value or not nonempty):
        return value
    wanted = "a non-empty string" if nonempty else "a string"
    raise BadReply(f"{where} is {describe(value) if value != '' else 'an empty string'}, not {wanted}")


def count(value: Any, where: str, *, optional: bool = False) -> int:
    """A token count: a non-negative integer (an integral float is accepted); null/missing when optional."""
    if (value is None or value is MISSING) and optional:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadReply(f"{where} is {describe(value)}, not a token count")
    if isinstance(value, float) and not (value.is_integer() and value == value):
        raise BadReply(f"{where} is {value!r}, not a whole number of tokens")
    if not 0 <= value <= MAX_COUNT:
        raise BadReply(f"{where} is {'negative' if value < 0 else 'implausibly large'}, not a token count")
    return int(value)


def depth_exceeds(value: Any, limit: int = MAX_ARGUMENT_DEPTH) -> bool:
    """True when `value` nests lists/objects deeper than `limit` (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return False


def error_message(obj: dict[str, Any]) -> str | None:
    """The message of an error object sent with a 2xx status ({"type": "error", "error": {...}})."""
    inner = obj.get("error")
    if isinstance(inner, dict) and isinstance(inner.get("message"), str):
        return clip(inner["message"])
    if isinstance(inner, str):
        return clip(inner)
    return None


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def clip(text: str, limit: int = 300) -> str:
    """Provider-written text made safe for a one-line message: no control characters, bounded length."""
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= limit else text[:limit] + "..."


def parse_arguments(raw: str) -> tuple[dict[str, Any] | None, str | None]:
    """Parse a tool call's argument text as providers deliver it: (object, None) or (None, error)."""
    if not raw.strip():
        return {}, None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    except ValueError:  # an integer of over 4,300 digits (deep nesting is the caller's RecursionError)
        return None, "a number with too many digits to read"
    if not isinstance(value, dict):
        return None, f"expected a JSON object, got {type(value).__name__}"
    return value, None
