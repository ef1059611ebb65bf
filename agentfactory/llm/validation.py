"""Decide whether a tool call the model made may be executed.

A call whose arguments are not JSON, that names a tool the model was not given, or whose arguments fail
the tool's JSON schema is never executed: `check_tool_call` returns the paragraph the model sees instead,
written so the model can correct itself on the next turn. This module never executes anything.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agentfactory.llm.types import ToolCall, ToolSpec

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

_RAW_PREVIEW = 300
_validators: dict[str, Draft202012Validator] = {}
_validators_lock = threading.Lock()
# Checks run before a validator is compiled for a schema, once jsonschema is imported anyway: the skill
# tiers register theirs (a shipped skill's schema), so a broken one is reported at its first call.
BEFORE_COMPILE: list[Callable[[dict[str, Any]], None]] = []


def _validator(schema: dict[str, Any]) -> Draft202012Validator:
    from jsonschema import Draft202012Validator  # imported on first use: ~100 ms a command may not need

    # Compiling a validator costs more than validating; the same few schemas are checked every step.
    key = json.dumps(schema, sort_keys=True, default=str)
    with _validators_lock:
        validator = _validators.get(key)
        if validator is None:
            for check in BEFORE_COMPILE:
                check(schema)
            validator = Draft202012Validator(schema)
            _validators[key] = validator
        return validator


def _path(parts: Any) -> str:
    out = "$"
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def check_tool_call(call: ToolCall, tools: list[ToolSpec]) -> str | None:
    """None when `call` may be executed; otherwise the one-paragraph error to send back to the model."""
    by_name = {tool.name: tool for tool in tools}
    tool = by_name.get(call.name)
    if tool is None:
        names = ", ".join(sorted(by_name)) or "(none)"
        return (
            f"There is no tool named '{call.name}', so nothing was executed. "
            f"The available tools are: {names}. Call one of them by its exact name."
        )
    if call.arguments is None or call.parse_error:
        raw = call.raw_arguments
        if len(raw) > _RAW_PREVIEW:
            raw = raw[:_RAW_PREVIEW] + "..."
        reason = call.parse_error or "no arguments were given"
        return (
            f"The arguments of your call to '{call.name}' are not valid JSON ({reason}), so nothing was "
            f"executed. You sent: {raw!r}. Call '{call.name}' again with a single JSON object that "
            f"matches its input schema."
        )
    problem = schema_problem(tool.input_schema, call.arguments)
    if problem is not None:
        return (
            f"The arguments of your call to '{call.name}' do not match its input schema, so nothing was "
            f"executed: {problem}. Fix the arguments and call '{call.name}' again."
        )
    return None


def schema_problem(schema: dict[str, Any], value: Any) -> str | None:
    """None when `value` matches the JSON schema; else where and why it does not ("at $.k: ...")."""
    from jsonschema.exceptions import best_match  # jsonschema is imported on first use: a fast CLI

    error = best_match(_validator(schema).iter_errors(value))
    if error is None:
        return None
    return f"at {_path(error.absolute_path)}: {error.message}"
