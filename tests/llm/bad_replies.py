"""Broken and hostile 200 replies, in the shapes a provider (or something in front of it) really sends.

Each entry is (id, canned answer, the exact reason the error sentence must give). Shared by the adapter
tests and the CLI tests, so both go through every shape.
"""

from __future__ import annotations

import copy
from typing import Any

from tests.fakes.wire_server import Canned, anthropic_message, openai_completion, raw_reply


def _anthropic(**changes: Any) -> Canned:
    body = copy.deepcopy(anthropic_message("hello").body)
    for key, value in changes.items():
        if value is _DROP:
            body.pop(key, None)
        else:
            body[key] = value
    return Canned(200, body)


def _openai(change) -> Canned:
    body = copy.deepcopy(openai_completion("hello").body)
    change(body)
    return Canned(200, body)


_DROP = object()

# Shapes that are wrong whatever the API: the body is not a JSON object at all.
COMMON = [
    (
        "html",
        raw_reply("<html><body>502 Bad Gateway</body></html>", "text/html"),
        "the body is not JSON (content-type text/html, 41 bytes)",
    ),
    (
        "not-json",
        raw_reply("this is not json", "application/json"),
        "the body is not JSON (content-type application/json, 16 bytes)",
    ),
    ("empty", raw_reply(""), "the body is empty"),
    ("json-list", raw_reply("[1, 2, 3]"), "the body is a list, not a JSON object"),
    ("json-null", raw_reply("null"), "the body is null, not a JSON object"),
    ("json-string", raw_reply('"ok"'), "the body is a string, not a JSON object"),
    (
        "bad-utf8",
        raw_reply(b'{"content": "\xff\xfe"}'),
        "the body is not JSON (content-type application/json, 17 bytes)",
    ),
    ("deep-nesting", raw_reply("[" * 100_000 + "]" * 100_000), "the JSON body is nested too deeply to read"),
    (
        "huge-integer",
        raw_reply('{"n": ' + "9" * 5000 + "}"),
        "the body is not JSON (content-type application/json, 5007 bytes)",
    ),
    (
        "content-type-injection",
        raw_reply("<b>x</b>", "text/html\x1b[31m;[bold]"),
        "the body is not JSON (content-type text/html31m, 8 bytes)",
    ),
]

ANTHROPIC = COMMON + [
    ("message-null", _anthropic(content=None), "'content' is null, not a list"),
    ("content-string", _anthropic(content="hello"), "'content' is a string, not a list"),
    ("content-missing", _anthropic(content=_DROP), "'content' is missing, not a list"),
    ("block-not-object", _anthropic(content=[1]), "'content[0]' is a number, not a JSON object"),
    (
        "text-not-string",
        _anthropic(content=[{"type": "text", "text": 5}]),
        "'content[0]'.text is a number, not a string",
    ),
    (
        "tool-use-no-name",
        _anthropic(content=[{"type": "tool_use", "id": "t1", "input": {}}]),
        "'content[0]'.name is missing, not a non-empty string",
    ),
    (
        "tool-use-id-list",
        _anthropic(content=[{"type": "tool_use", "id": [], "name": "x", "input": {}}]),
        "'content[0]'.id is an empty list, not a non-empty string",
    ),
    ("usage-missing", _anthropic(usage=_DROP), "'usage' is missing, not a JSON object"),
    ("usage-null", _anthropic(usage=None), "'usage' is null, not a JSON object"),
    (
        "usage-string",
        _anthropic(usage={"input_tokens": "ten", "output_tokens": 1}),
        "'usage.input_tokens' is a string, not a token count",
    ),
    (
        "usage-negative",
        _anthropic(usage={"input_tokens": -5, "output_tokens": 1}),
        "'usage.input_tokens' is negative, not a token count",
    ),
    (
        "usage-huge",
        _anthropic(usage={"input_tokens": 10**30, "output_tokens": 1}),
        "'usage.input_tokens' is implausibly large, not a token count",
    ),
    (
        "usage-bool",
        _anthropic(usage={"input_tokens": True, "output_tokens": 1}),
        "'usage.input_tokens' is a boolean, not a token count",
    ),
    (
        "usage-nan",
        raw_reply('{"type": "message", "content": [], "usage": {"input_tokens": NaN, "output_tokens": 1}}'),
        "'usage.input_tokens' is nan, not a whole number of tokens",
    ),
    (
        "usage-fraction",
        _anthropic(usage={"input_tokens": 1.5, "output_tokens": 1}),
        "'usage.input_tokens' is 1.5, not a whole number of tokens",
    ),
    ("stop-reason-number", _anthropic(stop_reason=7), "'stop_reason' is a number, not a string"),
    (
        "error-object",
        Canned(200, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        "it is an error object (Overloaded)",
    ),
]


def _set(path: str, value: Any):
    def change(body: dict[str, Any]) -> None:
        target = body
        *parents, last = path.split(".")
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if value is _DROP:
            target.pop(last)
        else:
            target[last] = value

    return change


OPENAI = COMMON + [
    ("choices-empty", _openai(_set("choices", [])), "'choices' is an empty list, not a non-empty list"),
    ("choices-missing", _openai(_set("choices", _DROP)), "'choices' is missing, not a non-empty list"),
    ("choices-object", _openai(_set("choices", {"0": {}})), "'choices' is an object, not a non-empty list"),
    ("choice-null", _openai(_set("choices", [None])), "'choices[0]' is null, not a JSON object"),
    (
        "message-null",
        _openai(_set("choices.0.message", None)),
        "'choices[0].message' is null, not a JSON object",
    ),
    (
        "message-missing",
        _openai(_set("choices.0.message", _DROP)),
        "'choices[0].message' is missing, not a JSON object",
    ),
    (
        "content-number",
        _openai(_set("choices.0.message.content", 42)),
        "'choices[0].message.content' is a number, not text",
    ),
    (
        "tool-calls-string",
        _openai(_set("choices.0.message.tool_calls", "add")),
        "'choices[0].message.tool_calls' is a string, not a list",
    ),
    (
        "tool-call-function-null",
        _openai(_set("choices.0.message.tool_calls", [{"id": "c1", "function": None}])),
        "'choices[0].message.tool_calls[0].function' is null, not a JSON object",
    ),
    (
        "tool-call-name-number",
        _openai(
            _set("choices.0.message.tool_calls", [{"id": "c1", "function": {"name": 3, "arguments": "{}"}}])
        ),
        "'choices[0].message.tool_calls[0].function.name' is a number, not a non-empty string",
    ),
    # A missing or null usage is not broken: compatible servers omit it, and it is then estimated
    # (tests/llm/test_openai_compat.py).
    ("usage-list", _openai(_set("usage", [])), "'usage' is an empty list, not a JSON object"),
    (
        "usage-string",
        _openai(_set("usage.prompt_tokens", "10")),
        "'usage.prompt_tokens' is a string, not a token count",
    ),
    (
        "usage-negative",
        _openai(_set("usage.completion_tokens", -1)),
        "'usage.completion_tokens' is negative, not a token count",
    ),
    (
        "usage-details-list",
        _openai(_set("usage.prompt_tokens_details", [])),
        "'usage.prompt_tokens_details' is an empty list, not a JSON object",
    ),
    (
        "reasoning-tokens-over-completion",
        _openai(_set("usage.completion_tokens_details", {"reasoning_tokens": 6})),
        "'usage.completion_tokens_details.reasoning_tokens' is more than 'usage.completion_tokens'",
    ),
    (
        "refusal-number",
        _openai(_set("choices.0.message.refusal", 7)),
        "'choices[0].message.refusal' is a number, not a string",
    ),
    (
        "finish-reason-list",
        _openai(_set("choices.0.finish_reason", ["stop"])),
        "'choices[0].finish_reason' is a list, not a string",
    ),
    (
        "error-object",
        Canned(200, {"error": {"message": "Rate limit reached", "type": "server_error"}}),
        "it is an error object (Rate limit reached)",
    ),
]
