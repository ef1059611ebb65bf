"""A model that replays a given list of responses, for tests and reproducible demos.

Each item is a `ModelResponse`, a dict `{"text", "tool_calls": [{"name", "arguments"}], "stop_reason"?,
"usage"?}` (arguments a JSON object, or a raw string that is parsed like a real provider's output and
may therefore be invalid), or a callable `(system, messages, tools) -> either of those`. When an item
gives no usage, it is counted with `agentfactory.llm.tokens` from the actual request and response, so
token figures of scripted runs move with the prompt like real ones. Everything it returns is marked
simulated: no model was asked.

A dict item may also declare how its reply streams, replayed only when the caller passes `on_stream`
(the response is the same either way): `"stream": true` derives the deltas from the text and tool calls,
or `"stream": [{"kind": "text"|"thinking"|"tool_call"|"tool_input", "text"?, "tool"?, "output_tokens"?,
"delay_s"?}, ...]` gives them one by one (`delay_s`, at most 5 s, waits before the delta is reported).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agentfactory.errors import ConfigError, ProviderError
from agentfactory.llm.reply import parse_arguments
from agentfactory.llm.tokens import count_output_tokens, count_request_tokens
from agentfactory.llm.types import (
    Message,
    ModelResponse,
    StreamCallback,
    StreamEvent,
    ToolCall,
    ToolSpec,
    Usage,
)

ScriptItem = ModelResponse | dict[str, Any] | Callable[[str, list[Message], list[ToolSpec]], Any]

_STREAM_KINDS = {"text", "thinking", "tool_call", "tool_input"}
MAX_STREAM_DELAY_S = 5.0
STREAM_CHUNK_TOKENS = 200  # derived tool-input deltas: one per this many tokens written
_STOP_REASONS = {"end_turn", "tool_use", "max_tokens", "stop_sequence", "refusal", "other"}


class ScriptedProvider:
    """Replays `responses` in order; one item per `complete()` call. Thread-safe."""

    simulated = True

    def __init__(self, responses: Sequence[ScriptItem], spec: str = "scripted", model: str = "scripted"):
        self.spec = spec
        self.model = model
        self._items = list(responses)
        self._next = 0
        self._call_ids = 0
        self._lock = threading.Lock()
        self.requests: list[tuple[str, list[Message], list[ToolSpec]]] = []

    @classmethod
    def from_file(cls, path: str | Path) -> ScriptedProvider:
        """Load a JSON list of response dicts (or {"responses": [...]}) for `--model scripted:FILE`."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"Scripted model file {path} does not exist.") from None
        except OSError as exc:
            raise ConfigError(f"Cannot read scripted model file {path}: {exc.strerror}.") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"Scripted model file {path} is not valid JSON: {exc}.") from None
        if isinstance(data, dict):
            data = data.get("responses")
        if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
            raise ConfigError(
                f'Scripted model file {path} must hold a JSON list of responses (or {{"responses": [...]}}), '
                'each an object like {"text": "...", "tool_calls": [...]}.'
            )
        for index, item in enumerate(data):
            _check_item(item, f"{path} item {index}", ConfigError)
        return cls(data, spec=f"scripted:{path}")

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._items) - self._next

    def complete(
        self,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec] | None = None,
        max_tokens: int = 4096,
        *,
        on_stream: StreamCallback | None = None,
    ) -> ModelResponse:
        tools = list(tools or [])
        with self._lock:
            if self._next >= len(self._items):
                raise ProviderError(
                    f"The scripted model has no more responses (all {len(self._items)} were used)."
                )
            item = self._items[self._next]
            self._next += 1
            self.requests.append((system, list(messages), tools))
        if callable(item) and not isinstance(item, ModelResponse):
            item = item(system, messages, tools)
        if isinstance(item, ModelResponse):
            item.simulated = True
            return item
        if not isinstance(item, dict):
            raise ProviderError(
                f"A scripted response must be a ModelResponse or a dict, got {type(item).__name__}."
            )
        response = self._build(item, system, messages, tools)
        if on_stream is not None and item.get("stream"):
            _replay(item["stream"], response, on_stream)
        return response

    def _new_call_id(self) -> str:
        with self._lock:
            self._call_ids += 1
            return f"call_{self._call_ids}"

    def _build(
        self, item: dict[str, Any], system: str, messages: list[Message], tools: list[ToolSpec]
    ) -> ModelResponse:
        _check_item(item, "scripted response", ProviderError)
        text = str(item.get("text", "") or "")
        calls: list[ToolCall] = []
        for raw_call in item.get("tool_calls") or []:
            args = raw_call.get("arguments", {})
            call_id = str(raw_call.get("id") or self._new_call_id())
            if isinstance(args, str):
                parsed, error = parse_arguments(args)
                calls.append(
                    ToolCall(call_id, raw_call["name"], parsed, raw_arguments=args, parse_error=error)
                )
            else:
                calls.append(ToolCall(call_id, raw_call["name"], dict(args), raw_arguments=json.dumps(args)))
        stop = item.get("stop_reason") or ("tool_use" if calls else "end_turn")
        if "usage" in item and item["usage"] is not None:
            usage = Usage.from_dict(item["usage"])
        else:
            usage = Usage(
                input_tokens=count_request_tokens(system, messages, tools),
                output_tokens=count_output_tokens(text, calls),
            )
        return ModelResponse(
            text=text, tool_calls=calls, stop_reason=stop, usage=usage, model=self.model, simulated=True
        )


def _replay(stream: Any, response: ModelResponse, on_stream: StreamCallback) -> None:
    """Report a scripted reply as it would stream: the declared deltas, or ones derived from it."""
    if stream is True:
        stream = []
        for line in response.text.splitlines(keepends=True):
            stream.append({"kind": "text", "text": line})
        written = count_output_tokens(response.text, [])
        for call in response.tool_calls:
            stream.append({"kind": "tool_call", "tool": call.name, "output_tokens": written})
            total = count_output_tokens("", [call])
            for done in range(STREAM_CHUNK_TOKENS, total, STREAM_CHUNK_TOKENS):
                stream.append({"kind": "tool_input", "tool": call.name, "output_tokens": written + done})
            written += total
            stream.append({"kind": "tool_input", "tool": call.name, "output_tokens": written})
    for delta in stream:
        delay = min(float(delta.get("delay_s", 0) or 0), MAX_STREAM_DELAY_S)
        if delay > 0:
            time.sleep(delay)
        on_stream(
            StreamEvent(
                kind=delta["kind"],
                text=str(delta.get("text", "")),
                tool=str(delta.get("tool", "")),
                output_tokens=int(delta.get("output_tokens", 0) or 0),
            )
        )


def _check_stream(stream: Any, where: str, error: type[Exception]) -> None:
    if stream is None or isinstance(stream, bool):
        return
    if not isinstance(stream, list):
        raise error(f"In {where}, 'stream' must be true or a list of deltas.")
    for delta in stream:
        if not isinstance(delta, dict) or delta.get("kind") not in _STREAM_KINDS:
            raise error(
                f"In {where}, each stream delta needs a 'kind' of {', '.join(sorted(_STREAM_KINDS))}."
            )
        for key in ("output_tokens", "delay_s"):
            value = delta.get(key, 0)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1e9:
                raise error(f"In {where}, a stream delta's '{key}' must be a number of at least 0.")


def _check_item(item: dict[str, Any], where: str, error: type[Exception]) -> None:
    _check_stream(item.get("stream"), where, error)
    calls = item.get("tool_calls") or []
    if not isinstance(calls, list):
        raise error(f"In {where}, 'tool_calls' must be a list.")
    for call in calls:
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            raise error(f"In {where}, each tool call needs a 'name' string.")
        if not isinstance(call.get("arguments", {}), (dict, str)):
            raise error(f"In {where}, tool call arguments must be an object or a string.")
    stop = item.get("stop_reason")
    if stop is not None and stop not in _STOP_REASONS:
        raise error(f"In {where}, 'stop_reason' must be one of {', '.join(sorted(_STOP_REASONS))}.")
    if item.get("usage") is not None and not isinstance(item["usage"], dict):
        raise error(f"In {where}, 'usage' must be an object of token counts.")
