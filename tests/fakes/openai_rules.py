"""The chat-completions request rules the real OpenAI API applies, as a wire-server validator.

Install with `server.validators.append(openai_rules)`: a request that breaks a rule is answered with
the 400 the real API gives (same error shape, `param` and `code`, message worded as the API words it),
before any queued answer is used. Rules checked:

- every assistant message with `tool_calls` is followed by one `tool` message per call id, and every
  `tool` message answers a call of the assistant message before it;
- a tool call's `function.arguments` is a string; an assistant message without tool calls has text;
- reasoning models (`o1`, `o3`, `o4-mini`, `gpt-5`, ... except `gpt-5*-chat`) refuse `max_tokens`
  (they take `max_completion_tokens`) and any temperature but 1; other models refuse
  `reasoning_effort`, whose value must be one of minimal/low/medium/high;
- `max_tokens` and `max_completion_tokens` are not both set;
- `stream_options` only with `stream: true`;
- each tool is `{"type": "function", "function": {"name", "parameters"}}` with a valid name and
  `parameters` a JSON-schema object (`"type": "object"`).
"""

from __future__ import annotations

import re
from typing import Any

from tests.fakes.wire_server import Canned, RecordedRequest

_REASONING = re.compile(r"(?:o[1-9][0-9]*(?:-|$)|gpt-5(?!.*-chat))")
_TOOL_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
EFFORTS = ("minimal", "low", "medium", "high")


def _refuse(message: str, param: str | None = None, code: str | None = None) -> Canned:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
    return Canned(400, body)


def _messages(messages: Any) -> Canned | None:
    if not isinstance(messages, list) or not messages:
        return _refuse(
            "Invalid 'messages': empty array. Expected an array with minimum length 1.", "messages"
        )
    pending: list[str] = []  # call ids of the last assistant turn still waiting for their tool message
    answered: set[str] = set()
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if pending and role != "tool":
            missing = ", ".join(pending)
            return _refuse(
                "An assistant message with 'tool_calls' must be followed by tool messages responding to "
                f"each 'tool_call_id'. The following tool_call_ids did not have response messages: {missing}",
                f"messages.[{i}].role",
            )
        if role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in pending:
                return _refuse(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding "
                    "message with 'tool_calls'.",
                    f"messages.[{i}].role",
                )
            pending.remove(call_id)
            answered.add(call_id)
            if not isinstance(message.get("content"), str):
                return _refuse(f"Invalid type for 'messages[{i}].content': expected a string.", "messages")
        elif role == "assistant":
            calls = message.get("tool_calls") or []
            if not calls and not isinstance(message.get("content"), str):
                return _refuse(
                    f"Invalid value for 'messages[{i}].content': expected a string, got null.",
                    f"messages.[{i}].content",
                )
            for j, call in enumerate(calls):
                function = call.get("function") if isinstance(call, dict) else None
                if not isinstance(function, dict) or not isinstance(function.get("arguments"), str):
                    got = type(function.get("arguments")).__name__ if isinstance(function, dict) else "none"
                    return _refuse(
                        f"Invalid type for 'messages[{i}].tool_calls[{j}].function.arguments': expected "
                        f"a string, but got {got} instead.",
                        f"messages[{i}].tool_calls[{j}].function.arguments",
                        "invalid_type",
                    )
                pending.append(call.get("id"))
        elif role not in ("system", "developer", "user"):
            return _refuse(f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', "
                           "'tool', 'developer'.", f"messages[{i}].role", "invalid_value")  # fmt: skip
    if pending:
        return _refuse(
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each "
            f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(pending)}",
            f"messages.[{len(messages)}].role",
        )
    return None


def _tools(tools: Any) -> Canned | None:
    if tools is None:
        return None
    if not isinstance(tools, list) or not tools:
        return _refuse("Invalid 'tools': empty array. Expected an array with minimum length 1.", "tools")
    for i, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
            return _refuse(f"Missing required parameter: 'tools[{i}].function'.", f"tools[{i}].function")
        name = function.get("name")
        if not isinstance(name, str) or not _TOOL_NAME.fullmatch(name):
            return _refuse(
                f"Invalid 'tools[{i}].function.name': string does not match pattern. Expected a string "
                "that matches the pattern '^[a-zA-Z0-9_-]+$'.",
                f"tools[{i}].function.name",
                "invalid_value",
            )
        schema = function.get("parameters")
        if schema is not None and (not isinstance(schema, dict) or schema.get("type") != "object"):
            got = schema.get("type") if isinstance(schema, dict) else None
            return _refuse(
                f"Invalid schema for function '{name}': schema must be a JSON Schema of 'type: \"object\"', "
                f"got 'type: \"{got}\"'.",
                f"tools[{i}].function.parameters",
                "invalid_function_parameters",
            )
    return None


def openai_rules(request: RecordedRequest) -> Canned | None:
    """The 400 the real chat-completions API answers to `request`, or None when it keeps the rules."""
    if request.api != "openai" or not request.path.rstrip("/").endswith("/chat/completions"):
        return None
    body = request.body
    if not isinstance(body, dict):
        return _refuse("We could not parse the JSON body of your request.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return _refuse("you must provide a model parameter")
    reasoning = bool(_REASONING.match(model.lower().rsplit("/", 1)[-1]))
    if reasoning and "max_tokens" in body:
        return _refuse(
            "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
            "'max_completion_tokens' instead.",
            "max_tokens",
            "unsupported_parameter",
        )
    if "max_tokens" in body and "max_completion_tokens" in body:
        return _refuse("max_tokens and max_completion_tokens cannot both be set.", "max_tokens")
    for key in ("max_tokens", "max_completion_tokens"):
        value = body.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            return _refuse(f"Invalid '{key}': integer below minimum value.", key, "integer_below_min_value")
    temperature = body.get("temperature")
    if reasoning and temperature is not None and temperature != 1:
        return _refuse(
            f"Unsupported value: 'temperature' does not support {temperature} with this model. Only the "
            "default (1) value is supported.",
            "temperature",
            "unsupported_value",
        )
    if "reasoning_effort" in body:
        if not reasoning:
            return _refuse(
                "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
                "reasoning_effort",
                "unsupported_parameter",
            )
        if body["reasoning_effort"] not in EFFORTS:
            return _refuse(
                f"Invalid value: '{body['reasoning_effort']}'. Supported values are: "
                + ", ".join(f"'{e}'" for e in EFFORTS)
                + ".",
                "reasoning_effort",
                "invalid_value",
            )
    if body.get("stream_options") is not None and body.get("stream") is not True:
        return _refuse(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options"
        )
    return _messages(body.get("messages")) or _tools(body.get("tools"))
