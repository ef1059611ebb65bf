"""Reading a streamed Messages API reply (server-sent events) without trusting it.

The stream is read from the raw bytes, not through the SDK's event objects, with the same care as a
whole body (`reply.py`): every event is checked before it is used, and a stream that is not a usable
message ends the call with `BadReply` naming what was wrong. Sizes are bounded by the transport (the
whole stream counts against `MAX_REPLY_BYTES`) and here (one event, the number of content blocks); the
call's one deadline (`transport.CallGuard`) covers the whole stream, so a stream that stalls or drips
ends when the deadline passes.

The events are assembled into the body the non-streamed call would have returned (a `message` object:
content blocks, `stop_reason`, and `usage` from `message_start` updated by `message_delta`), which
`anthropic.response_from_body` then reads: one reading of a reply, whichever way it came.

While reading, `on_stream` is told what is being written: text and thinking deltas (never a signature
or a redacted block's data), the start of a tool call, and the growing input of a tool call with an
estimate of the output tokens so far. A callback that raises is ignored: the display is not the call.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

from agentfactory.llm.reply import BadReply, clip, describe, need_object, need_str, scrub
from agentfactory.llm.tokens import count_tokens
from agentfactory.llm.types import StreamCallback, StreamEvent

MAX_EVENT_BYTES = 4 * 1024 * 1024  # one event's data; a delta is a few bytes, a start a few kilobytes
MAX_BLOCKS = 4096  # content blocks in one reply

# The HTTP status an `error` event stands for, so the retry policy treats it like the same error
# arriving as a status (an `overloaded_error` mid-stream is retried like a 529).
ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


class StreamError(Exception):
    """An `error` event in the stream: the API gave up on the reply after it began."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class StreamCut(Exception):
    """The stream ended before `message_stop`: the connection was closed part way through the reply."""


class Unparsed:
    """A streamed tool input that is not valid JSON: kept as text, so the model is told, not the user."""

    def __init__(self, text: str):
        self.text = text


def sse_events(chunks: Iterable[bytes]) -> Iterator[tuple[str | None, bytes]]:
    """(event name, data) for each server-sent event in `chunks`; comments and ids are skipped."""
    buffer = bytearray()
    event: str | None = None
    data = bytearray()
    for chunk in chunks:
        scanned = len(buffer)  # the bytes held over hold no newline: search only the new ones
        buffer += chunk
        start = 0
        while True:
            end = buffer.find(b"\n", max(start, scanned))
            if end < 0:
                break
            line = bytes(buffer[start:end]).rstrip(b"\r")
            start = end + 1
            if not line:
                if data:
                    yield event, bytes(data)
                event, data = None, bytearray()
            elif line.startswith(b"data:"):
                if data:
                    data += b"\n"
                data += line[5:].removeprefix(b" ")
            elif line.startswith(b"event:"):
                event = line[6:].strip().decode("utf-8", "replace")[:64]
            if len(data) > MAX_EVENT_BYTES:
                raise BadReply(f"an event of the stream is larger than {MAX_EVENT_BYTES // 2**20} MiB")
        del buffer[:start]
        if len(buffer) > MAX_EVENT_BYTES:
            raise BadReply(f"a line of the stream is longer than {MAX_EVENT_BYTES // 2**20} MiB")
    if data:
        yield event, bytes(data)


class StreamReader:
    """Assembles the events of one streamed reply into the non-streamed `message` body."""

    def __init__(self, on_stream: StreamCallback | None = None):
        self.on_stream = on_stream
        self.message: dict[str, Any] | None = None
        self.blocks: list[dict[str, Any]] = []
        self.open: set[int] = set()
        self.partial: dict[int, list[str]] = {}  # tool_use index -> input JSON pieces
        self.finished = False
        self.estimate = 0  # output tokens written so far, estimated with the project's tokenizer
        self.count = 0

    def read(self, chunks: Iterable[bytes]) -> dict[str, Any]:
        for name, data in sse_events(chunks):
            self.count += 1
            self.feed(name, data)
            if self.finished:
                break
        if self.message is None:
            raise BadReply("the stream ended without a message_start event")
        if not self.finished:
            raise StreamCut(f"the stream ended after {self.count} events, before message_stop")
        return self.body()

    def body(self) -> dict[str, Any]:
        assert self.message is not None
        return {**self.message, "content": self.blocks}

    # ---- one event -------------------------------------------------------------------------------

    def feed(self, name: str | None, data: bytes) -> None:
        where = f"event {self.count} of the stream"
        try:
            event = scrub(json.loads(data))
        except RecursionError:
            raise BadReply(f"{where} is nested too deeply to read") from None
        except ValueError:
            raise BadReply(f"{where} is not JSON ({len(data)} bytes)") from None
        event = need_object(event, where)
        kind = event.get("type")
        if not isinstance(kind, str):
            raise BadReply(f"{where} has a 'type' that is {describe(kind)}, not a string")
        if kind == "ping":
            return
        if kind == "error":
            inner = event.get("error")
            inner = inner if isinstance(inner, dict) else {}
            kind_of = inner.get("type") if isinstance(inner.get("type"), str) else "api_error"
            text = inner.get("message") if isinstance(inner.get("message"), str) else kind_of
            raise StreamError(ERROR_STATUS.get(kind_of, 500), clip(text))
        if kind == "message_start":
            if self.message is not None:
                raise BadReply(f"{where} is a second message_start")
            message = need_object(event.get("message"), f"{where}: 'message'")
            usage = need_object(message.get("usage"), f"{where}: 'message.usage'")
            self.message = {k: v for k, v in message.items() if k != "content"}
            self.message["usage"] = dict(usage)
            return
        if self.message is None:
            raise BadReply(f"{where} ({clip(kind, 40)}) comes before message_start")
        if kind == "content_block_start":
            self._start(event, where)
        elif kind == "content_block_delta":
            self._delta(event, where)
        elif kind == "content_block_stop":
            index = self._index(event, where)
            self.open.discard(index)
            self._finish_input(index)
        elif kind == "message_delta":
            delta = need_object(event.get("delta"), f"{where}: 'delta'")
            for key in ("stop_reason", "stop_sequence"):
                if key in delta:
                    self.message[key] = delta[key]
            usage = event.get("usage")
            if usage is not None:
                usage = need_object(usage, f"{where}: 'usage'")
                # Counts in message_delta are cumulative: they replace what message_start said.
                self.message["usage"].update({k: v for k, v in usage.items() if v is not None})
        elif kind == "message_stop":
            for index in list(self.open):
                self._finish_input(index)
            self.finished = True
        # Other event types are newer than this reader and carry nothing it needs.

    def _index(self, event: dict[str, Any], where: str) -> int:
        index = event.get("index")
        if isinstance(index, bool) or not isinstance(index, int) or index not in self.open:
            raise BadReply(f"{where} names content block {clip(repr(index), 40)}, which is not open")
        return index

    def _start(self, event: dict[str, Any], where: str) -> None:
        index = event.get("index")
        if isinstance(index, bool) or index != len(self.blocks):
            raise BadReply(f"{where} starts content block {clip(repr(index), 40)}, not {len(self.blocks)}")
        if index >= MAX_BLOCKS:
            raise BadReply(f"the stream has more than {MAX_BLOCKS} content blocks")
        block = dict(need_object(event.get("content_block"), f"{where}: 'content_block'"))
        kind = block.get("type")
        if kind == "text":
            block["text"] = need_str(block.get("text"), f"{where}: 'text'", optional=True) or ""
        elif kind == "thinking":
            block["thinking"] = need_str(block.get("thinking"), f"{where}: 'thinking'", optional=True) or ""
            block["signature"] = (
                need_str(block.get("signature"), f"{where}: 'signature'", optional=True) or ""
            )
        elif kind == "tool_use":
            name = need_str(block.get("name"), f"{where}: 'name'", nonempty=True) or ""
            self.partial[index] = []
            self._tell(StreamEvent("tool_call", tool=name, output_tokens=self.estimate))
        self.blocks.append(block)
        self.open.add(index)

    def _delta(self, event: dict[str, Any], where: str) -> None:
        index = self._index(event, where)
        block = self.blocks[index]
        delta = need_object(event.get("delta"), f"{where}: 'delta'")
        kind = delta.get("type")
        wanted = {
            "text_delta": ("text", "text"),
            "thinking_delta": ("thinking", "thinking"),
            "signature_delta": ("thinking", "signature"),
            "input_json_delta": ("tool_use", "partial_json"),
        }.get(kind if isinstance(kind, str) else "")
        if wanted is None:
            return  # citations and newer delta types: nothing the framework uses
        block_kind, key = wanted
        if block.get("type") != block_kind:
            raise BadReply(f"{where} is a {kind} for a {clip(str(block.get('type')), 40)} block")
        piece = need_str(delta.get(key), f"{where}: 'delta.{key}'") or ""
        if kind == "signature_delta":
            block["signature"] += piece  # never shown: it is the provider's, not the model's words
            return
        self.estimate += count_tokens(piece)
        if kind == "input_json_delta":
            self.partial[index].append(piece)
            self._tell(StreamEvent("tool_input", tool=str(block.get("name")), output_tokens=self.estimate))
        else:
            block[key] += piece
            self._tell(StreamEvent(block_kind, text=piece, output_tokens=self.estimate))

    def _finish_input(self, index: int) -> None:
        pieces = self.partial.pop(index, None)
        if not pieces:
            return  # no delta: the input given at the block's start stands
        text = "".join(pieces)
        if not text.strip():
            return
        try:
            self.blocks[index]["input"] = scrub(json.loads(text))
        except (ValueError, RecursionError):
            self.blocks[index]["input"] = Unparsed(text)

    def _tell(self, event: StreamEvent) -> None:
        if self.on_stream is None:
            return
        with contextlib.suppress(Exception):  # the display failing must not fail the model call
            self.on_stream(event)
