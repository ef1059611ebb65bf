"""Anthropic adapter: the Messages API through the official `anthropic` SDK, with native tool use.

Prompt caching: the stable prefix (the system prompt and the tool definitions) is marked with
`cache_control`, and so is the last block of the conversation, so each step of an agent loop reads
everything before it from the cache instead of paying for it again. Usage maps to our `Usage`:
`input_tokens` (Anthropic already excludes cached tokens from it), `cache_read_input_tokens` and
`cache_creation_input_tokens`. The SDK is imported lazily and its own retries are off; `retry.py` decides.
"""

from __future__ import annotations

import json
import time
from typing import Any

from agentfactory.errors import ConfigError
from agentfactory.llm.retry import RetryPolicy, call_with_retry, classify_sdk_error
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
    return request


def response_from_wire(message: Any, spec: str) -> ModelResponse:
    """Our ModelResponse from the SDK's `Message`."""
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in message.content:
        kind = getattr(block, "type", None)
        if kind == "text":
            texts.append(block.text)
        elif kind == "tool_use":
            args = block.input if isinstance(block.input, dict) else None
            calls.append(
                ToolCall(
                    id=block.id,
                    name=block.name,
                    arguments=args,
                    raw_arguments=json.dumps(block.input, ensure_ascii=False),
                    parse_error=None if args is not None else "tool input is not a JSON object",
                )
            )
    u = message.usage
    usage = Usage(
        input_tokens=int(u.input_tokens or 0),
        output_tokens=int(u.output_tokens or 0),
        cache_read_tokens=int(getattr(u, "cache_read_input_tokens", 0) or 0),
        cache_write_tokens=int(getattr(u, "cache_creation_input_tokens", 0) or 0),
    )
    stop = _STOP.get(message.stop_reason or "", "other")
    if calls and stop == "other":
        stop = "tool_use"
    return ModelResponse(text="".join(texts), tool_calls=calls, stop_reason=stop, usage=usage, model=spec)


class AnthropicProvider:
    """`anthropic:<model>`. Construct through `registry.get_provider` unless you need the knobs."""

    simulated = False

    def __init__(
        self,
        model: str,
        *,
        api_key: str,
        base_url: str | None = None,
        retry: RetryPolicy | None = None,
        timeout_s: float = 600.0,
        cache: bool = True,
    ):
        sdk = _import_sdk()
        self.model = model
        self.spec = f"anthropic:{model}"
        self.retry = retry or RetryPolicy()
        self.cache = cache
        self._sdk = sdk
        self._client = sdk.Anthropic(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout_s)

    def _classify(self, exc: BaseException) -> Any:
        return classify_sdk_error(exc, self._sdk.APIStatusError, self._sdk.APIConnectionError)

    def complete(
        self,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec] | None = None,
        max_tokens: int = 4096,
    ) -> ModelResponse:
        request = build_request(self.model, system, messages, tools, max_tokens, cache=self.cache)
        started = time.perf_counter()
        message = call_with_retry(
            lambda: self._client.messages.create(**request),
            self._classify,
            self.retry,
            provider="Anthropic API",
            key_var=KEY_VAR,
        )
        response = response_from_wire(message, self.spec)
        response.latency_s = round(time.perf_counter() - started, 6)
        return response
