"""OpenAI adapter: chat completions with tools through the official `openai` SDK.

With a base URL the same adapter serves OpenAI-compatible servers (Ollama, vLLM, LM Studio,
llama.cpp); those usually need no key, so a placeholder is sent. Tool-call arguments arrive as a JSON
string the model wrote: they are parsed here and, when invalid, kept raw with the parse error instead
of raising, so the caller can tell the model what went wrong. Usage: `prompt_tokens` includes cached
tokens, so they are subtracted to keep `Usage.input_tokens` uncached as everywhere else. The chat API
has no error flag on tool results, so a failed tool's result is sent prefixed with "Error: ".
Replies are read from the raw body and checked field by field (`reply.py`): a body that is not a usable
completion (HTML, a list, `choices: []`, `message: null`, usage that is not counts) is a `ProviderError`
naming what was wrong. Every call has one overall deadline (`transport.py`).

With `on_stream` the reply is streamed (`stream: true`, `stream_options.include_usage`) and read by
`openai_stream.py` into the body an unstreamed reply would have had, so both give the same response.
A service that refuses `stream_options` (Mistral, Groq) is streamed without them from then on, and a
server that answers a streamed request with one JSON reply is read as one.
Compatible servers as they are (`openai_compat.py`): tool-call arguments sent as a JSON object are
accepted; tool calls a chat template wrote into the text are read back, for offered tools only; a
reply without usage is counted with the project's tokenizer (`agentfactory.llm.tokens`) and marked
`usage_estimated`. Reasoning models (`o1`, `o3`, `o4-mini`, `gpt-5`, ...) get `max_completion_tokens`,
no temperature, and the thinking budget as `reasoning_effort`; their reasoning tokens are inside
`completion_tokens`, so they count and are priced as output. A refusal (`message.refusal`) is a reply
with stop reason "refusal" and the refusal as its text.
"""

from __future__ import annotations

import json
import time
from dataclasses import field as field_
from typing import Any

from agentfactory.errors import AgentFactoryError, ConfigError, import_extra
from agentfactory.llm.openai_compat import (
    embedded_tool_calls,
    is_reasoning_model,
    reasoning_effort_for,
    typed_error,
)
from agentfactory.llm.openai_stream import read_stream
from agentfactory.llm.reply import (
    MISSING,
    BadReply,
    clip,
    count,
    depth_exceeds,
    describe,
    error_message,
    field,
    load_json,
    need_list,
    need_object,
    need_str,
    parse_arguments,
    scrub,
)
from agentfactory.llm.retry import RetryPolicy, call_with_retry, classify_sdk_error
from agentfactory.llm.tokens import count_output_tokens, count_request_tokens
from agentfactory.llm.transport import DEFAULT_CALL_TIMEOUT_S, check_call_timeout, http_client
from agentfactory.llm.types import (
    Message,
    ModelResponse,
    StopReason,
    StreamCallback,
    ToolCall,
    ToolSpec,
    Usage,
)
from agentfactory.records import record

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
    return import_extra("openai", "openai", "The openai provider")


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


def usage_from_body(u: Any) -> Usage:
    """Our Usage from a chat-completions `usage` object; BadReply when it is not counts.

    Reasoning tokens (`completion_tokens_details.reasoning_tokens`) are part of `completion_tokens`, so
    they are output tokens already; the details are only checked.
    """
    u = need_object(u, "'usage'")
    prompt = count(field(u, "prompt_tokens"), "'usage.prompt_tokens'")
    completion = count(field(u, "completion_tokens"), "'usage.completion_tokens'")
    details = field(u, "prompt_tokens_details")
    cached = written = 0
    if details is not None and details is not MISSING:
        details = need_object(details, "'usage.prompt_tokens_details'")
        where = "'usage.prompt_tokens_details"
        cached = count(field(details, "cached_tokens"), f"{where}.cached_tokens'", optional=True)
        written = count(field(details, "cache_write_tokens"), f"{where}.cache_write_tokens'", optional=True)
    out_details = field(u, "completion_tokens_details")
    if out_details is not None and out_details is not MISSING:
        out_details = need_object(out_details, "'usage.completion_tokens_details'")
        where = "'usage.completion_tokens_details.reasoning_tokens'"
        if count(field(out_details, "reasoning_tokens"), where, optional=True) > completion:
            raise BadReply(f"{where} is more than 'usage.completion_tokens'")
    return Usage(
        input_tokens=max(0, prompt - cached - written),
        output_tokens=completion,
        cache_read_tokens=cached,
        cache_write_tokens=written,
    )


@record
class Prompt:
    """What was asked, for reading the reply: the offered tools, and the request to estimate usage from."""

    system: str = ""
    messages: list[Message] = field_(default_factory=list)
    tools: list[ToolSpec] = field_(default_factory=list)


def _content_text(value: Any, where: str) -> str:
    """The message text: a string, null, or (some compatible servers) a list of {"type": "text"} parts."""
    if value is None or value is MISSING:
        return ""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        raise BadReply(f"{where} is {describe(value)}, not text")
    parts = value
    texts = []
    for index, part in enumerate(parts):
        part = need_object(part, f"{where}[{index}]")
        if part.get("type") == "text":
            texts.append(need_str(field(part, "text"), f"{where}[{index}].text") or "")
    return "".join(texts)


def _tool_call(tc: Any, index: int) -> ToolCall:
    where = f"'choices[0].message.tool_calls[{index}]"
    tc = need_object(tc, where + "'")
    function = need_object(field(tc, "function"), f"{where}.function'")
    name = need_str(field(function, "name"), f"{where}.function.name'", nonempty=True) or ""
    call_id = need_str(field(tc, "id"), f"{where}.id'", optional=True) or f"call_{index}"
    raw = field(function, "arguments")
    if raw is None or raw is MISSING:
        raw = ""
    if isinstance(raw, str):
        # The model's own text: invalid JSON here is the model's mistake, told back to it, not a failure.
        try:
            args, error = parse_arguments(raw)
        except RecursionError:
            args, error = None, "the JSON is nested too deeply"
        except ValueError as exc:  # e.g. an integer literal too long to convert
            args, error = None, clip(str(exc), 120)
        if args is not None and depth_exceeds(args):
            args, error = None, "the JSON is nested too deeply"
        return ToolCall(id=call_id, name=name, arguments=args, raw_arguments=raw, parse_error=error)
    # Some compatible servers send the arguments as a JSON value instead of a string.
    if depth_exceeds(raw):
        return ToolCall(call_id, name, None, "", "the JSON is nested too deeply")
    text = json.dumps(raw, ensure_ascii=False)
    if isinstance(raw, dict):
        return ToolCall(call_id, name, raw, text, None)
    return ToolCall(call_id, name, None, text, f"expected a JSON object, got {describe(raw)}")


def response_from_body(data: Any, spec: str, prompt: Prompt | None = None) -> ModelResponse:
    """Our ModelResponse from a chat-completions reply body (parsed JSON), every field checked.

    Raises `BadReply` when the body is not a usable completion. Invalid argument JSON never raises: the
    call keeps the raw text and the parse error, so the model can be told. `prompt` (what was asked)
    lets tool calls written into the text be read back, and a missing usage be estimated.
    """
    prompt = prompt or Prompt()
    completion = need_object(data, "the body")
    if field(completion, "choices") in (None, MISSING):
        problem = error_message(completion)
        if problem is not None:
            raise BadReply(f"it is an error object ({problem})")
    choices = need_list(field(completion, "choices"), "'choices'", nonempty=True)
    choice = need_object(choices[0], "'choices[0]'")
    message = need_object(field(choice, "message"), "'choices[0].message'")
    text = _content_text(field(message, "content"), "'choices[0].message.content'")
    refusal = need_str(field(message, "refusal"), "'choices[0].message.refusal'", optional=True)
    tool_calls = field(message, "tool_calls")
    if tool_calls is None or tool_calls is MISSING:
        tool_calls = []
    calls = [
        _tool_call(tc, i) for i, tc in enumerate(need_list(tool_calls, "'choices[0].message.tool_calls'"))
    ]
    finish = need_str(field(choice, "finish_reason"), "'choices[0].finish_reason'", optional=True)
    stop = _STOP.get(finish or "", "other")
    if not calls and prompt.tools:
        # Some chat templates write the calls into the text and the server passes them on as text.
        text, calls = embedded_tool_calls(text, prompt.tools)
    if calls and stop != "max_tokens":
        # Some compatible servers report "stop" even when the turn ends in tool calls. A turn cut at
        # the output limit keeps "max_tokens": its last call's arguments are incomplete.
        stop = "tool_use"
    if refusal:
        text = f"{text}\n{refusal}" if text else refusal
        stop = "refusal"
    usage_body = field(completion, "usage")
    estimated = _no_usage(usage_body, text, calls)
    if estimated:
        usage = Usage(
            input_tokens=count_request_tokens(prompt.system, prompt.messages, prompt.tools),
            output_tokens=count_output_tokens(text, calls),
        )
    else:
        usage = usage_from_body(usage_body)
    return ModelResponse(
        text=text, tool_calls=calls, stop_reason=stop, usage=usage, model=spec, usage_estimated=estimated
    )


def _no_usage(usage: Any, text: str, calls: list[ToolCall]) -> bool:
    """True when the server gave no usage: missing, null, an object without either count, or (some
    servers) both counts zero for a reply that has output."""
    if usage is None or usage is MISSING:
        return True
    if not isinstance(usage, dict):
        return False
    counts = [usage.get("prompt_tokens"), usage.get("completion_tokens")]
    if all(c is None for c in counts):
        return True
    return bool(text or calls) and all(type(c) is int and c == 0 for c in counts)


def _refuses_stream_options(exc: Any) -> bool:
    """True when a 400/422 refusal is about `stream_options` (a service that does not know it)."""
    if getattr(exc, "status_code", None) not in (400, 422):
        return False
    try:
        body = json.dumps(getattr(exc, "body", None), default=str)[:20_000]
    except (TypeError, ValueError, RecursionError):
        body = ""
    return "stream_options" in body or "stream_options" in str(getattr(exc, "message", ""))[:20_000]


class OpenAIProvider:
    """`openai:<model>`, or any OpenAI-compatible server when `base_url` is given.

    `thinking_budget` (tokens, the `thinking_budget` setting) is sent to reasoning models as
    `reasoning_effort` (see `openai_compat.reasoning_effort_for`); other models ignore it.
    """

    simulated = False

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None,
        base_url: str | None = None,
        retry: RetryPolicy | None = None,
        call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S,
        thinking_budget: int | None = None,
    ):
        sdk = _import_sdk()
        if thinking_budget is not None and (
            isinstance(thinking_budget, bool) or not isinstance(thinking_budget, int) or thinking_budget < 1
        ):
            raise ConfigError(
                f"thinking_budget must be a positive number of tokens, not {thinking_budget!r}."
            )
        self.model = model
        self.spec = f"openai:{model}"
        self.base_url = base_url
        self.retry = retry or RetryPolicy()
        self.call_timeout_s = check_call_timeout(call_timeout_s)
        self.thinking_budget = thinking_budget
        self.reasoning = is_reasoning_model(model)
        self._sdk = sdk
        self._client = sdk.OpenAI(
            api_key=api_key or PLACEHOLDER_KEY,
            base_url=base_url,
            max_retries=0,
            timeout=self.call_timeout_s,
            http_client=http_client(sdk, self.call_timeout_s),
        )
        self._provider_name = "OpenAI API" if not base_url else f"OpenAI-compatible server at {base_url}"
        self._omit_stream_options = False  # set when the server refused `stream_options`

    def _classify(self, exc: BaseException) -> Any:
        if isinstance(exc, AgentFactoryError):
            return None  # already typed (a refusal users meet): raised as it is, never retried
        return classify_sdk_error(exc, self._sdk.APIStatusError, self._sdk.APIConnectionError)

    def _typed(self, exc: Any, request: dict[str, Any]) -> AgentFactoryError | None:
        return typed_error(
            int(getattr(exc, "status_code", 0) or 0),
            getattr(exc, "body", None),
            str(getattr(exc, "message", exc)),
            model=self.model,
            base_url=self.base_url,
            offered_tools=bool(request.get("tools")),
        )

    def _call(self, request: dict[str, Any], prompt: Prompt) -> ModelResponse:
        # The raw reply, read and checked here: the SDK's parsed object is never trusted (see reply.py).
        try:
            raw = self._client.chat.completions.with_raw_response.create(**request)
        except self._sdk.APIStatusError as exc:
            typed = self._typed(exc, request)
            if typed is None:
                raise
            raise typed from None
        body = raw.http_response
        return response_from_body(
            load_json(body.content, body.headers.get("content-type")), self.spec, prompt
        )

    def _call_streaming(
        self, request: dict[str, Any], prompt: Prompt, on_stream: StreamCallback
    ) -> ModelResponse:
        if self._omit_stream_options:
            request = {k: v for k, v in request.items() if k != "stream_options"}
        try:
            try:
                data = self._stream_once(request, on_stream)
            except self._sdk.APIStatusError as exc:
                if "stream_options" not in request or not _refuses_stream_options(exc):
                    raise
                # Some compatible services (Mistral, Groq, ...) refuse the option: stream without it,
                # from now on, and count the usage ourselves when none comes.
                self._omit_stream_options = True
                request = {k: v for k, v in request.items() if k != "stream_options"}
                data = self._stream_once(request, on_stream)
        except self._sdk.APIStatusError as exc:
            typed = self._typed(exc, request)
            if typed is None:
                raise
            raise typed from None
        return response_from_body(data, self.spec, prompt)

    def _stream_once(self, request: dict[str, Any], on_stream: StreamCallback) -> Any:
        # The raw event stream, read line by line here (the SDK's chunk objects are never trusted).
        with self._client.chat.completions.with_streaming_response.create(**request) as raw:
            kind = raw.headers.get("content-type", "")
            if "text/event-stream" in kind.lower():
                return read_stream(raw.iter_lines(), on_stream)
            # A server that does not stream answers with the whole reply: read it as one.
            return load_json(raw.read(), kind)

    def build_request(
        self,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec] | None,
        max_tokens: int,
        *,
        stream: bool = False,
    ) -> dict[str, Any]:
        request: dict[str, Any] = {"model": self.model, "messages": messages_to_wire(system, messages)}
        # OpenAI's own API wants max_completion_tokens (max_tokens is refused by reasoning models);
        # compatible servers widely understand only max_tokens. No temperature is ever sent (reasoning
        # models refuse any but the default).
        limit_key = "max_completion_tokens" if self.reasoning or not self.base_url else "max_tokens"
        request[limit_key] = max_tokens
        effort = reasoning_effort_for(self.thinking_budget) if self.reasoning else None
        if effort is not None:
            request["reasoning_effort"] = effort
        if tools:
            request["tools"] = [tool_to_wire(t) for t in tools]
        if stream:
            request["stream"] = True
            request["stream_options"] = {"include_usage": True}
        # Text from subagents and earlier replies may hold lone surrogates, which cannot be sent as UTF-8.
        return scrub(request)

    def complete(
        self,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec] | None = None,
        max_tokens: int = 4096,
        *,
        on_stream: StreamCallback | None = None,
    ) -> ModelResponse:
        request = self.build_request(system, messages, tools, max_tokens, stream=on_stream is not None)
        prompt = Prompt(system, list(messages), list(tools or []))
        if on_stream is None:
            attempt = lambda: self._call(request, prompt)  # noqa: E731
        else:
            attempt = lambda: self._call_streaming(request, prompt, on_stream)  # noqa: E731
        started = time.perf_counter()
        response = call_with_retry(
            attempt,
            self._classify,
            self.retry,
            provider=self._provider_name,
            key_var=KEY_VAR,
            deadline_s=self.call_timeout_s,
        )
        response.latency_s = round(time.perf_counter() - started, 6)
        return response
