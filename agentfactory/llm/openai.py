"""OpenAI adapter: chat completions with tools through the official `openai` SDK.

With a base URL the same adapter serves OpenAI-compatible servers (Ollama, vLLM, LM Studio,
llama.cpp); those usually need no key, so a placeholder is sent. Tool-call arguments arrive as a JSON
string the model wrote: they are parsed here and, when invalid, kept raw with the parse error instead
of raising, so the caller can tell the model what went wrong. Usage: `prompt_tokens` includes cached
tokens, so they are subtracted to keep `Usage.input_tokens` uncached as everywhere else. The chat API
has no error flag on tool results, so a failed tool's result is sent prefixed with "Error: ".
"""

from __future__ import annotations

import json
import time
from typing import Any

from agentfactory.errors import ConfigError
from agentfactory.llm.retry import RetryPolicy, call_with_retry, classify_sdk_error
from agentfactory.llm.scripted import parse_arguments
from agentfactory.llm.types import Message, ModelResponse, StopReason, ToolCall, ToolSpec, Usage

KEY_VAR = "OPENAI_API_KEY"
PLACEHOLDER_KEY = "not-needed"  # local OpenAI-compatible servers accept any key but the SDK wants one
_STOP: dict[str, StopReason] = {
    "stop": "end_turn",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "length": "max_tokens",
    "content_filter": "refusal",
}


def _import_sdk() -> Any:
    try:
        import openai
    except ImportError:
        raise ConfigError("The openai SDK is not installed: pip install openai") from None
    return openai


def messages_to_wire(system: str, messages: list[Message]) -> list[dict[str, Any]]:
    """Our conversation as chat-completions messages: tool results become role "tool" messages."""
    wire: list[dict[str, Any]] = []
    if system:
        wire.append({"role": "system", "content": system})
    for message in messages:
        if message.role == "user":
            # Tool messages must directly follow the assistant turn that made the calls.
            for result in message.tool_results:
                content = f"Error: {result.content}" if result.is_error else result.content
                wire.append({"role": "tool", "tool_call_id": result.tool_call_id, "content": content})
            if message.text or not message.tool_results:
                wire.append({"role": "user", "content": message.text})
        else:
            entry: dict[str, Any] = {"role": "assistant", "content": message.text or None}
            if message.tool_calls:
                entry["tool_calls"] = [
                    {
                        "id": call.id,
                        "type": "function",
                        "function": {
                            "name": call.name,
                            "arguments": call.raw_arguments
                            if call.arguments is None
                            else json.dumps(call.arguments, ensure_ascii=False),
                        },
                    }
                    for call in message.tool_calls
                ]
            elif not message.text:
                entry["content"] = ""
            wire.append(entry)
    return wire


def tool_to_wire(tool: ToolSpec) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": tool.name, "description": tool.description, "parameters": tool.input_schema},
    }


def usage_from_wire(u: Any) -> Usage:
    if u is None:
        return Usage()
    prompt = int(getattr(u, "prompt_tokens", 0) or 0)
    details = getattr(u, "prompt_tokens_details", None)
    cached = int(getattr(details, "cached_tokens", 0) or 0) if details is not None else 0
    written = int(getattr(details, "cache_write_tokens", 0) or 0) if details is not None else 0
    return Usage(
        input_tokens=max(0, prompt - cached - written),
        output_tokens=int(getattr(u, "completion_tokens", 0) or 0),
        cache_read_tokens=cached,
        cache_write_tokens=written,
    )


def response_from_wire(completion: Any, spec: str) -> ModelResponse:
    """Our ModelResponse from the SDK's `ChatCompletion`; invalid argument JSON never raises."""
    if not completion.choices:
        return ModelResponse("", [], "other", usage_from_wire(completion.usage), spec)
    choice = completion.choices[0]
    message = choice.message
    calls: list[ToolCall] = []
    for index, tc in enumerate(message.tool_calls or []):
        function = getattr(tc, "function", None)
        if function is None:
            continue
        raw = function.arguments or ""
        args, error = parse_arguments(raw)
        calls.append(
            ToolCall(
                id=tc.id or f"call_{index}",
                name=function.name,
                arguments=args,
                raw_arguments=raw,
                parse_error=error,
            )
        )
    stop = _STOP.get(choice.finish_reason or "", "other")
    if calls:
        # Some compatible servers report "stop" even when the turn ends in tool calls.
        stop = "tool_use"
    return ModelResponse(
        text=message.content or "",
        tool_calls=calls,
        stop_reason=stop,
        usage=usage_from_wire(completion.usage),
        model=spec,
    )


class OpenAIProvider:
    """`openai:<model>`, or any OpenAI-compatible server when `base_url` is given."""

    simulated = False

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None,
        base_url: str | None = None,
        retry: RetryPolicy | None = None,
        timeout_s: float = 600.0,
    ):
        sdk = _import_sdk()
        self.model = model
        self.spec = f"openai:{model}"
        self.base_url = base_url
        self.retry = retry or RetryPolicy()
        self._sdk = sdk
        self._client = sdk.OpenAI(
            api_key=api_key or PLACEHOLDER_KEY, base_url=base_url, max_retries=0, timeout=timeout_s
        )
        self._provider_name = "OpenAI API" if not base_url else f"OpenAI-compatible server at {base_url}"

    def _classify(self, exc: BaseException) -> Any:
        return classify_sdk_error(exc, self._sdk.APIStatusError, self._sdk.APIConnectionError)

    def build_request(
        self, system: str, messages: list[Message], tools: list[ToolSpec] | None, max_tokens: int
    ) -> dict[str, Any]:
        request: dict[str, Any] = {"model": self.model, "messages": messages_to_wire(system, messages)}
        # OpenAI's own API wants max_completion_tokens (max_tokens is refused by reasoning models);
        # compatible servers widely understand only max_tokens.
        request["max_tokens" if self.base_url else "max_completion_tokens"] = max_tokens
        if tools:
            request["tools"] = [tool_to_wire(t) for t in tools]
        return request

    def complete(
        self,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec] | None = None,
        max_tokens: int = 4096,
    ) -> ModelResponse:
        request = self.build_request(system, messages, tools, max_tokens)
        started = time.perf_counter()
        completion = call_with_retry(
            lambda: self._client.chat.completions.create(**request),
            self._classify,
            self.retry,
            provider=self._provider_name,
            key_var=KEY_VAR,
        )
        response = response_from_wire(completion, self.spec)
        response.latency_s = round(time.perf_counter() - started, 6)
        return response
