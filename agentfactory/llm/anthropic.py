"""Anthropic adapter: the Messages API through the official `anthropic` SDK, with native tool use.

Prompt caching: the stable prefix (the system prompt and the tool definitions) is marked with
`cache_control`, and so is the last block of the conversation, so each step of an agent loop reads
everything before it from the cache instead of paying for it again. Usage maps to our `Usage`:
`input_tokens` (Anthropic already excludes cached tokens from it), `cache_read_input_tokens` and
`cache_creation_input_tokens`. The SDK is imported lazily and its own retries are off; `retry.py` decides.
Replies are read from the raw body and checked field by field (`reply.py`); a body that is not a usable
message is a `ProviderError` naming what was wrong. Every call has one overall deadline (`transport.py`).
"""

from __future__ import annotations

import json
import time
from typing import Any

from agentfactory.errors import ConfigError
from agentfactory.llm.reply import (
    BadReply,
    count,
    depth_exceeds,
    error_message,
    field,
    load_json,
    need_list,
    need_object,
    need_str,
    scrub,
)
from agentfactory.llm.retry import RetryPolicy, call_with_retry, classify_sdk_error
from agentfactory.llm.transport import DEFAULT_CALL_TIMEOUT_S, check_call_timeout, http_client
from agentfactory.llm.types import Message, ModelResponse, StopReason, ToolCall, ToolSpec, Usage

KEY_VAR = "ANTHROPIC_API_KEY"
_CACHE = {"type": "ephemeral"}
_STOP: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "model_context_window_exceeded": "max_tokens",
    "stop_sequence": "stop_sequence",
    "refusal": "refusal",
}


def _import_sdk() -> Any:
    try:
        import anthropic
    except ImportError:
        raise ConfigError("The anthropic SDK is not installed: pip install anthropic") from None
    return anthropic


def message_to_wire(message: Message) -> dict[str, Any]:
    """One of our messages as an Anthropic `MessageParam` (content blocks)."""
    blocks: list[dict[str, Any]] = []
    if message.role == "user":
        # Tool results must come first in the user turn that answers the assistant's tool calls.
        for result in message.tool_results:
            block: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": result.tool_call_id,
                "content": result.content,
            }
            if result.is_error:
                block["is_error"] = True
            blocks.append(block)
        if message.text:
            blocks.append({"type": "text", "text": message.text})
    else:
        if message.text:
            blocks.append({"type": "text", "text": message.text})
        for call in message.tool_calls:
            blocks.append(
                {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments or {}}
            )
    if not blocks:
        # The API rejects empty turns; an explicit placeholder keeps the conversation well-formed.
        blocks.append({"type": "text", "text": "(empty)"})
    return {"role": message.role, "content": blocks}


def tool_to_wire(tool: ToolSpec) -> dict[str, Any]:
    return {"name": tool.name, "description": tool.description, "input_schema": tool.input_schema}


def build_request(
    model: str,
    system: str,
    messages: list[Message],
    tools: list[ToolSpec] | None,
    max_tokens: int,
    cache: bool = True,
) -> dict[str, Any]:
    """Keyword arguments for `client.messages.create`, with cache breakpoints on the stable prefix."""
    wire_messages = [message_to_wire(m) for m in messages]
    request: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": wire_messages}
    if system:
        block: dict[str, Any] = {"type": "text", "text": system}
        if cache:
            block["cache_control"] = _CACHE
        request["system"] = [block]
    if tools:
        wire_tools = [tool_to_wire(t) for t in tools]
        if cache:
            wire_tools[-1]["cache_control"] = _CACHE
        request["tools"] = wire_tools
    if cache and wire_messages:
        wire_messages[-1]["content"][-1]["cache_control"] = _CACHE
    # Text from subagents and earlier replies may hold lone surrogates, which cannot be sent as UTF-8.
    return scrub(request)


def response_from_body(data: Any, spec: str) -> ModelResponse:
    """Our ModelResponse from a Messages API reply body (parsed JSON), every field checked.

    Raises `BadReply` when the body is not a usable `message`. A tool_use whose input is not a JSON
    object (or is nested absurdly deep) is not the provider's fault but the model's: it becomes a call
    with a parse error, which the loop sends back to the model instead of executing.
    """
    message = need_object(data, "the body")
    problem = error_message(message) if message.get("type") == "error" else None
    if problem is not None:
        raise BadReply(f"it is an error object ({problem})")
    texts: list[str] = []
    calls: list[ToolCall] = []
    for index, block in enumerate(need_list(field(message, "content"), "'content'")):
        where = f"'content[{index}]'"
        block = need_object(block, where)
        kind = block.get("type")
        if kind == "text":
            texts.append(need_str(field(block, "text"), f"{where}.text") or "")
        elif kind == "tool_use":
            call_id = need_str(field(block, "id"), f"{where}.id", nonempty=True) or ""
            name = need_str(field(block, "name"), f"{where}.name", nonempty=True) or ""
            raw = block.get("input")
            raw = {} if raw is None else raw
            error = None
            if depth_exceeds(raw):
                error, text = "tool input is nested too deeply", ""
            else:
                text = json.dumps(raw, ensure_ascii=False)
                if not isinstance(raw, dict):
                    error = "tool input is not a JSON object"
            calls.append(
                ToolCall(
                    id=call_id,
                    name=name,
                    arguments=raw if error is None else None,
                    raw_arguments=text,
                    parse_error=error,
                )
            )
        # Other block types (thinking, server tools) carry nothing the framework uses.
    u = need_object(field(message, "usage"), "'usage'")
    usage = Usage(
        input_tokens=count(field(u, "input_tokens"), "'usage.input_tokens'"),
        output_tokens=count(field(u, "output_tokens"), "'usage.output_tokens'"),
        cache_read_tokens=count(
            field(u, "cache_read_input_tokens"), "'usage.cache_read_input_tokens'", optional=True
        ),
        cache_write_tokens=count(
            field(u, "cache_creation_input_tokens"), "'usage.cache_creation_input_tokens'", optional=True
        ),
    )
    stop_reason = need_str(field(message, "stop_reason"), "'stop_reason'", optional=True)
    stop = _STOP.get(stop_reason or "", "other")
    if calls and stop == "other":
        stop = "tool_use"
    return ModelResponse(text="".join(texts), tool_calls=calls, stop_reason=stop, usage=usage, model=spec)


class AnthropicProvider:
    """`anthropic:<model>`. Construct through `registry.get_provider` unless you need the knobs.

    `call_timeout_s` is the overall deadline of one `complete()` (connect, the whole reply, every retry).
    """

    simulated = False

    def __init__(
        self,
        model: str,
        *,
        api_key: str,
        base_url: str | None = None,
        retry: RetryPolicy | None = None,
        call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S,
        cache: bool = True,
    ):
        sdk = _import_sdk()
        self.model = model
        self.spec = f"anthropic:{model}"
        self.retry = retry or RetryPolicy()
        self.call_timeout_s = check_call_timeout(call_timeout_s)
        self.cache = cache
        self._sdk = sdk
        self._client = sdk.Anthropic(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            timeout=self.call_timeout_s,
            http_client=http_client(sdk, self.call_timeout_s),
        )

    def _classify(self, exc: BaseException) -> Any:
        return classify_sdk_error(exc, self._sdk.APIStatusError, self._sdk.APIConnectionError)

    def _call(self, request: dict[str, Any]) -> ModelResponse:
        # The raw reply, read and checked here: the SDK's parsed object is never trusted (see reply.py).
        raw = self._client.messages.with_raw_response.create(**request)
        body = raw.http_response
        return response_from_body(load_json(body.content, body.headers.get("content-type")), self.spec)

    def complete(
        self,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec] | None = None,
        max_tokens: int = 4096,
    ) -> ModelResponse:
        request = build_request(self.model, system, messages, tools, max_tokens, cache=self.cache)
        started = time.perf_counter()
        response = call_with_retry(
            lambda: self._call(request),
            self._classify,
            self.retry,
            provider="Anthropic API",
            key_var=KEY_VAR,
            deadline_s=self.call_timeout_s,
        )
        response.latency_s = round(time.perf_counter() - started, 6)
        return response
