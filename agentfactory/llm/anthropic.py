"""Anthropic adapter: the Messages API through the official `anthropic` SDK, with native tool use.

Prompt caching: the stable prefix (the system prompt and the tool definitions) is marked with
`cache_control`, and so is the last block of the conversation, so each step of an agent loop reads
everything before it from the cache instead of paying for it again. Usage maps to our `Usage`:
`input_tokens` (Anthropic already excludes cached tokens from it), `cache_read_input_tokens` and
`cache_creation_input_tokens`. The SDK is imported lazily and its own retries are off; `retry.py` decides.
Replies are read from the raw body and checked field by field (`reply.py`); a body that is not a usable
message is a `ProviderError` naming what was wrong. Every call has one overall deadline (`transport.py`).

Extended thinking: with `thinking_budget`, requests carry `thinking: {"type": "enabled", "budget_tokens":
N}` and the API's rules are kept: the budget is at least 1,024 tokens, `max_tokens` is raised to the
budget plus the output asked for (capped by the model's limit, `models.limits_for`), and no
`temperature`, `top_k` or forced `tool_choice` is sent. Thinking and redacted-thinking blocks of a reply
are kept on the response (`ThinkingBlock`) and sent back unchanged, first in their assistant turn: the
API refuses the next request of a tool-use turn otherwise. Thinking tokens are part of `output_tokens`.

Streaming: with `on_stream`, the call uses the streaming API and reads the events itself
(`anthropic_stream.py`); the response is the one the non-streamed call would give.

Errors users meet get their own sentence: 529 overloaded is retried like any 5xx; a prompt longer than
the context window is `ContextWindowExceeded`; an unknown model names the model and `agentfactory
models`; a refusal is a response with stop_reason "refusal" and a text saying so.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Iterator
from typing import Any

from agentfactory.errors import (
    AgentFactoryError,
    ConfigError,
    ContextWindowExceeded,
    ProviderError,
    import_extra,
)
from agentfactory.llm.anthropic_stream import StreamCut, StreamError, StreamReader, Unparsed
from agentfactory.llm.models import limits_for
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
from agentfactory.llm.retry import Failure, RetryPolicy, call_with_retry, classify_sdk_error
from agentfactory.llm.transport import DEFAULT_CALL_TIMEOUT_S, check_call_timeout, http_client, http_module
from agentfactory.llm.types import (
    Message,
    ModelResponse,
    StopReason,
    StreamCallback,
    ThinkingBlock,
    ToolCall,
    ToolSpec,
    Usage,
)

KEY_VAR = "ANTHROPIC_API_KEY"
_CACHE = {"type": "ephemeral"}
_NO_CACHE_MARK = ("thinking", "redacted_thinking")  # blocks the API refuses a cache_control on
MIN_THINKING_BUDGET = 1024  # the API refuses a smaller budget_tokens
REFUSAL_TEXT = "The model declined to answer this request (stop_reason refusal)."
_STOP: dict[str, StopReason] = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "model_context_window_exceeded": "max_tokens",
    "stop_sequence": "stop_sequence",
    "refusal": "refusal",
}


def _import_sdk() -> Any:
    return import_extra("anthropic", "anthropic", "The anthropic provider")


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
        # Thinking blocks first, exactly as the API sent them: it checks their signatures.
        for thought in message.thinking:
            if thought.kind == "redacted_thinking":
                blocks.append({"type": "redacted_thinking", "data": thought.data})
            else:
                blocks.append({"type": "thinking", "thinking": thought.text, "signature": thought.signature})
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
    thinking_budget: int | None = None,
) -> dict[str, Any]:
    """Keyword arguments for `client.messages.create`, with cache breakpoints on the stable prefix.

    With `thinking_budget`, `max_tokens` must already be above it (`thinking_max_tokens`)."""
    wire_messages = [message_to_wire(m) for m in messages]
    request: dict[str, Any] = {"model": model, "max_tokens": max_tokens, "messages": wire_messages}
    if thinking_budget is not None:
        # No temperature, top_k or forced tool_choice go with it: the API refuses them with thinking.
        request["thinking"] = {"type": "enabled", "budget_tokens": thinking_budget}
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
    if cache and wire_messages and wire_messages[-1]["content"][-1]["type"] not in _NO_CACHE_MARK:
        wire_messages[-1]["content"][-1]["cache_control"] = _CACHE
    # Text from subagents and earlier replies may hold lone surrogates, which cannot be sent as UTF-8.
    return scrub(request)


def check_thinking_budget(budget: Any, spec: str) -> int | None:
    """`budget` as a thinking budget for `spec`, or ConfigError: a whole number of at least 1,024
    tokens that leaves room for an answer below the model's output limit. None means no thinking."""
    if budget is None:
        return None
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < MIN_THINKING_BUDGET:
        raise ConfigError(
            f"The thinking budget must be a whole number of at least {MIN_THINKING_BUDGET:,} tokens "
            f"(the Anthropic API's minimum), not {budget!r}: raise --thinking (setting thinking_budget)."
        )
    limit = limits_for(spec).max_output
    if budget >= limit:
        raise ConfigError(
            f"A thinking budget of {budget:,} tokens leaves no room for an answer within the {limit:,} "
            f"output tokens {spec} may write in one call: choose a budget below {limit:,}."
        )
    return budget


def thinking_max_tokens(budget: int | None, requested: int, spec: str) -> int:
    """`max_tokens` for a call asking for `requested` output tokens: the thinking budget comes on top
    (thinking counts against max_tokens), within the model's limit."""
    if budget is None:
        return requested
    return min(budget + requested, limits_for(spec).max_output)


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
    thinking: list[ThinkingBlock] = []
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
            if isinstance(raw, Unparsed):  # a streamed input that did not add up to JSON
                error, text, raw = "tool input is not valid JSON", raw.text, None
            elif depth_exceeds(raw):
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
        elif kind == "thinking":
            thinking.append(
                ThinkingBlock(
                    "thinking",
                    text=need_str(field(block, "thinking"), f"{where}.thinking") or "",
                    signature=need_str(field(block, "signature"), f"{where}.signature", optional=True) or "",
                )
            )
        elif kind == "redacted_thinking":
            opaque = need_str(field(block, "data"), f"{where}.data", nonempty=True) or ""
            thinking.append(ThinkingBlock("redacted_thinking", data=opaque))
        # Other block types (server tools, citations) carry nothing the framework uses.
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
    text = "".join(texts)
    if stop == "refusal":
        # The loop ends the run on a refusal; a half-written tool call must not be executed first.
        calls = []
        text = text.strip() or REFUSAL_TEXT
    return ModelResponse(
        text=text, tool_calls=calls, stop_reason=stop, usage=usage, model=spec, thinking=thinking
    )


class AnthropicProvider:
    """`anthropic:<model>`. Construct through `registry.get_provider` unless you need the knobs.

    `call_timeout_s` is the overall deadline of one `complete()` (connect, the whole reply, every retry).
    `thinking_budget` turns extended thinking on with that many tokens (at least 1,024).
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
        thinking_budget: int | None = None,
    ):
        sdk = _import_sdk()
        self.model = model
        self.spec = f"anthropic:{model}"
        self.thinking_budget = check_thinking_budget(thinking_budget, self.spec)
        self.retry = retry or RetryPolicy()
        self.call_timeout_s = check_call_timeout(call_timeout_s)
        self.cache = cache
        self._sdk = sdk
        self._http = http_module(sdk.DefaultHttpxClient)
        self._client = sdk.Anthropic(
            api_key=api_key,
            base_url=base_url,
            max_retries=0,
            timeout=self.call_timeout_s,
            http_client=http_client(sdk, self.call_timeout_s),
        )

    def _classify(self, exc: BaseException) -> Failure | None:
        if isinstance(exc, AgentFactoryError):
            return None  # already typed (see _typed_error): raised as it is
        if isinstance(exc, StreamError):
            return Failure(status=exc.status, message=exc.message)
        if isinstance(exc, StreamCut):
            return Failure(status=None, message=str(exc), kind="transport")
        if isinstance(exc, self._http.TransportError):
            # Raised while the stream's body is read, after the SDK handed the response over.
            return Failure(
                status=None, message=f"the stream broke off: {type(exc).__name__}", kind="transport"
            )
        return classify_sdk_error(exc, self._sdk.APIStatusError, self._sdk.APIConnectionError)

    def _typed_error(self, exc: Any) -> ProviderError | None:
        """The error a user can act on, for the statuses that have one; None for the rest."""
        status = int(getattr(exc, "status_code", 0) or 0)
        failure = classify_sdk_error(exc, self._sdk.APIStatusError, self._sdk.APIConnectionError)
        message = failure.message if failure is not None else ""
        if status == 400 and "prompt is too long" in message.lower():
            return ContextWindowExceeded(
                f"The conversation no longer fits the context window of {self.spec} ({message}): "
                "lower compact_at so older tool results are compacted sooner, "
                "or choose a model with a larger window."
            )
        if status == 404:
            return ProviderError(
                f"The Anthropic API does not know the model '{self.model}' (404: {message}): "
                f"see `agentfactory models` for model names, and check anthropic_base_url."
            )
        return None

    @contextlib.contextmanager
    def _typed_errors(self) -> Iterator[None]:
        try:
            yield
        except self._sdk.APIStatusError as exc:
            typed = self._typed_error(exc)
            if typed is not None:
                raise typed from None
            raise

    def _call(self, request: dict[str, Any]) -> ModelResponse:
        # The raw reply, read and checked here: the SDK's parsed object is never trusted (see reply.py).
        with self._typed_errors():
            raw = self._client.messages.with_raw_response.create(**request)
        body = raw.http_response
        return response_from_body(load_json(body.content, body.headers.get("content-type")), self.spec)

    def _call_streamed(self, request: dict[str, Any], on_stream: StreamCallback) -> ModelResponse:
        # The raw event stream, read and checked event by event (see anthropic_stream.py).
        create = self._client.messages.with_streaming_response.create
        with self._typed_errors(), create(**request, stream=True) as raw:
            http = raw.http_response
            kind = http.headers.get("content-type", "")
            media = kind.split(";")[0].strip().lower()
            if media == "application/json":
                # A server (a proxy, a compatible one) that ignored stream=true: read the whole reply.
                return response_from_body(load_json(http.read(), kind), self.spec)
            if media not in ("", "text/event-stream"):
                shown = re.sub(r"[^a-z0-9.+/_-]", "", media)[:60] or "unknown"
                raise BadReply(f"the stream is not server-sent events (content-type {shown})")
            body = StreamReader(on_stream).read(http.iter_raw())
        return response_from_body(body, self.spec)

    def complete(
        self,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec] | None = None,
        max_tokens: int = 4096,
        *,
        on_stream: StreamCallback | None = None,
    ) -> ModelResponse:
        request = build_request(
            self.model,
            system,
            messages,
            tools,
            thinking_max_tokens(self.thinking_budget, max_tokens, self.spec),
            cache=self.cache,
            thinking_budget=self.thinking_budget,
        )
        started = time.perf_counter()
        response = call_with_retry(
            (lambda: self._call_streamed(request, on_stream)) if on_stream else (lambda: self._call(request)),
            self._classify,
            self.retry,
            provider="Anthropic API",
            key_var=KEY_VAR,
            deadline_s=self.call_timeout_s,
        )
        response.latency_s = round(time.perf_counter() - started, 6)
        return response
