"""A streamed chat completion, read from its server-sent events without trusting them.

`read_stream` takes the raw event-stream lines of one reply and assembles the body the same reply
would have had unstreamed (`{"choices": [{"message", "finish_reason"}], "usage"}`), which the adapter
then reads with the very same code as an unstreamed one, so both give the same `ModelResponse`.
Every field of every chunk is checked as in `reply.py`; tool calls are assembled from their indexed
deltas (at most `MAX_TOOL_CALLS` of them); usage comes from the chunk that carries it (the last one,
with `stream_options.include_usage`), and is left missing when no chunk does, so it is estimated.
Sizes and the deadline are bounded by the transport (`transport.py`): the whole stream counts toward
`MAX_REPLY_BYTES` and the one call deadline, so a stalled or dripping stream ends when it passes.

While reading, `report` gets `StreamEvent`s for display: text deltas, a tool call's name when it
starts, and a growing estimate of output tokens as its arguments arrive. A callback that raises is
dropped for the rest of the reply; it never breaks the call.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from agentfactory.llm.reply import (
    MISSING,
    BadReply,
    depth_exceeds,
    describe,
    error_message,
    field,
    need_list,
    need_object,
    need_str,
    scrub,
)
from agentfactory.llm.tokens import count_tokens
from agentfactory.llm.types import StreamCallback, StreamEvent

MAX_TOOL_CALLS = 128  # distinct tool-call indexes in one reply; more is a broken or hostile server


class _Call:
    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.parts: list[str] = []
        self.value: Any = MISSING  # arguments sent as a JSON value instead of text (compatible servers)


class StreamAssembler:
    """Feed it parsed chunks in order; `body()` is the completion they add up to."""

    def __init__(self, report: StreamCallback | None = None):
        self._report = report
        self.text: list[str] = []
        self.refusal: list[str] = []
        self.calls: dict[int, _Call] = {}
        self.finish: str | None = None
        self.usage: Any = MISSING
        self.done = False
        self.tokens = 0  # estimated output tokens so far, for display
        self._chunks = 0

    def _emit(self, event: StreamEvent) -> None:
        if self._report is None:
            return
        try:
            self._report(event)
        except Exception:
            self._report = None  # a broken display must not break the call

    def feed(self, chunk: Any) -> None:
        self._chunks += 1
        where = f"chunk {self._chunks}"
        chunk = need_object(chunk, where)
        problem = error_message(chunk) if "error" in chunk else None
        if problem is not None:
            raise BadReply(f"the stream carried an error ({problem})")
        usage = field(chunk, "usage")
        if usage is not MISSING and usage is not None:
            self.usage = need_object(usage, f"'usage' of {where}")
        choices = field(chunk, "choices")
        if choices is MISSING or choices is None:
            return
        for choice in need_list(choices, f"'choices' of {where}"):
            choice = need_object(choice, f"a choice of {where}")
            index = field(choice, "index")
            if index not in (0, MISSING, None):
                continue  # only the first choice is asked for; ignore any other
            self._choice(choice, where)

    def _choice(self, choice: dict[str, Any], where: str) -> None:
        finish = need_str(field(choice, "finish_reason"), f"'finish_reason' of {where}", optional=True)
        if finish:
            self.finish = finish
        delta = field(choice, "delta")
        if delta is MISSING or delta is None:
            return
        delta = need_object(delta, f"'delta' of {where}")
        for key in ("reasoning_content", "reasoning"):  # compatible servers' visible reasoning
            thought = field(delta, key)
            if isinstance(thought, str) and thought:
                self._emit(StreamEvent("thinking", text=thought, output_tokens=self.tokens))
        text = need_str(field(delta, "content"), f"'delta.content' of {where}", optional=True)
        if text:
            self.text.append(text)
            self.tokens += count_tokens(text)
            self._emit(StreamEvent("text", text=text, output_tokens=self.tokens))
        refusal = need_str(field(delta, "refusal"), f"'delta.refusal' of {where}", optional=True)
        if refusal:
            self.refusal.append(refusal)
        tool_calls = field(delta, "tool_calls")
        if tool_calls is not MISSING and tool_calls is not None:
            for item in need_list(tool_calls, f"'delta.tool_calls' of {where}"):
                self._tool_delta(need_object(item, f"a tool call delta of {where}"), where)

    def _tool_delta(self, item: dict[str, Any], where: str) -> None:
        index = field(item, "index")
        call_id = need_str(field(item, "id"), f"'tool_calls[].id' of {where}", optional=True) or ""
        if index is MISSING or index is None:
            # Some servers omit the index: a new id starts a new call, else it continues the last one.
            known = [i for i, c in self.calls.items() if c.id == call_id] if call_id else []
            if known:
                index = known[0]
            elif call_id or not self.calls:
                index = len(self.calls)
            else:
                index = max(self.calls)
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise BadReply(f"'tool_calls[].index' of {where} is {describe(index)}, not a tool call index")
        call = self.calls.get(index)
        if call is None:
            if len(self.calls) >= MAX_TOOL_CALLS:
                raise BadReply(f"the stream has more than {MAX_TOOL_CALLS} tool calls")
            call = self.calls[index] = _Call()
        if call_id and not call.id:
            call.id = call_id
        function = field(item, "function")
        if function is MISSING or function is None:
            return
        function = need_object(function, f"'tool_calls[].function' of {where}")
        name = need_str(field(function, "name"), f"'tool_calls[].function.name' of {where}", optional=True)
        if name and not call.name:
            call.name = name
            self._emit(StreamEvent("tool_call", tool=name, output_tokens=self.tokens))
        arguments = field(function, "arguments")
        if isinstance(arguments, str):
            if arguments:
                call.parts.append(arguments)
                self.tokens += count_tokens(arguments)
                self._emit(StreamEvent("tool_input", tool=call.name, output_tokens=self.tokens))
        elif arguments is not MISSING and arguments is not None:
            if depth_exceeds(arguments):
                raise BadReply(f"'tool_calls[].function.arguments' of {where} is nested too deeply")
            call.value = arguments
            self.tokens += count_tokens(json.dumps(arguments, ensure_ascii=False))
            self._emit(StreamEvent("tool_input", tool=call.name, output_tokens=self.tokens))

    def body(self) -> dict[str, Any]:
        """The completion the chunks add up to, shaped as an unstreamed reply body."""
        if not self.done and self.finish is None:
            raise BadReply("the stream ended before the reply was complete")
        message: dict[str, Any] = {
            "role": "assistant",
            "content": "".join(self.text) or None,
            "refusal": "".join(self.refusal) or None,
        }
        calls = []
        for index in sorted(self.calls):
            call = self.calls[index]
            if not call.name:
                raise BadReply(f"tool call {index} of the stream has no name")
            arguments = "".join(call.parts) if call.value is MISSING else call.value
            entry = {"type": "function", "function": {"name": call.name, "arguments": arguments}}
            if call.id:
                entry["id"] = call.id
            calls.append(entry)
        if calls:
            message["tool_calls"] = calls
        body: dict[str, Any] = {"choices": [{"index": 0, "message": message, "finish_reason": self.finish}]}
        if self.usage is not MISSING:
            body["usage"] = self.usage
        return body


def read_stream(lines: Iterable[str], report: StreamCallback | None = None) -> dict[str, Any]:
    """The completion body assembled from an event stream's lines (see the module docstring)."""
    assembler = StreamAssembler(report)
    data: list[str] = []

    def dispatch() -> None:
        if not data:
            return
        payload = "\n".join(data)
        data.clear()
        if payload.strip() == "[DONE]":
            assembler.done = True
            return
        try:
            chunk = scrub(json.loads(payload))
        except RecursionError:
            raise BadReply("a stream chunk is nested too deeply to read") from None
        except ValueError:
            raise BadReply(f"a stream chunk is not JSON ({len(payload)} characters)") from None
        assembler.feed(chunk)

    for line in lines:
        line = line.rstrip("\r")
        if not line:
            dispatch()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        # "event:", "id:", "retry:" and ":" comment lines carry nothing the chat API uses.
        if assembler.done:
            break
    dispatch()
    return assembler.body()
