"""Streamed OpenAI replies through the real `openai` SDK against the wire server with the API's rules:
the same response and usage as unstreamed, the display events, and the hardening of the raw path."""

from __future__ import annotations

import json
import time

import pytest

from agentfactory.errors import AuthenticationError, ProviderError, ProviderTimeout
from agentfactory.llm import Message, RetryPolicy, ToolSpec
from agentfactory.llm.openai import OpenAIProvider
from agentfactory.llm.openai_stream import MAX_TOOL_CALLS
from agentfactory.llm.tokens import count_output_tokens, count_request_tokens
from agentfactory.llm.types import StreamEvent
from tests.fakes.compat_shapes import ollama_stream_without_usage, openai_refusal, openai_stream
from tests.fakes.openai_rules import openai_rules
from tests.fakes.wire_server import Canned, WireServer, openai_completion

FAST = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, max_retry_after_s=0.2)
SCHEMA = {"type": "object", "properties": {"path": {"type": "string"}, "code": {"type": "string"}}}
WRITE = ToolSpec("write_file", "Write a file.", SCHEMA)
READ = ToolSpec("read_file", "Read a file.", {"type": "object", "properties": {"path": {"type": "string"}}})
CODE = "def main(x):\n    return {'total': sum(x)}\n" * 20


@pytest.fixture
def server():
    with WireServer() as wire:
        wire.validators.append(openai_rules)
        yield wire


def provider(server, **kwargs) -> OpenAIProvider:
    kwargs.setdefault("retry", FAST)
    kwargs.setdefault("call_timeout_s", 20)
    return OpenAIProvider("gpt-4.1", api_key="k", base_url=server.openai_base_url, **kwargs)


def observable(response):
    return (
        response.text,
        response.tool_calls,
        response.stop_reason,
        response.usage,
        response.usage_estimated,
        response.thinking,
        response.model,
    )


def both(server, model, unstreamed: Canned, streamed: Canned, tools=None):
    """(unstreamed response, streamed response, the events reported while streaming)."""
    server.push(unstreamed, streamed)
    messages = [Message.user("Write the module.")]
    plain = model.complete("You write code.", messages, tools)
    events: list[StreamEvent] = []
    live = model.complete("You write code.", messages, tools, on_stream=events.append)
    return plain, live, events


def test_streamed_text_equals_unstreamed_with_usage(server):
    text = "Here is the plan: read the data, then sum it."
    usage = {"prompt_tokens": 1200, "completion_tokens": 14, "cached_tokens": 1024}
    plain, live, events = both(
        server, provider(server), openai_completion(text, **usage), openai_stream(text, **usage, piece=3)
    )
    assert observable(live) == observable(plain)
    assert (live.usage.input_tokens, live.usage.cache_read_tokens, live.usage.output_tokens) == (
        176,
        1024,
        14,
    )
    assert live.usage_estimated is False
    assert "".join(e.text for e in events if e.kind == "text") == text
    assert [e.kind for e in events] == ["text"] * len(events) and len(events) == 15
    unstreamed_request, streamed_request = (r.body for r in server.requests)
    assert "stream" not in unstreamed_request and "stream_options" not in unstreamed_request
    assert streamed_request["stream"] is True
    assert streamed_request["stream_options"] == {"include_usage": True}


def test_streamed_tool_calls_equal_unstreamed_and_report_progress(server):
    calls = [("call_a", "write_file", json.dumps({"path": "m.py", "code": CODE}))]
    calls.append(("call_b", "read_file", '{"path": "m.py"}'))
    plain, live, events = both(
        server,
        provider(server),
        openai_completion("Writing it.", calls, prompt_tokens=300, completion_tokens=400),
        openai_stream("Writing it.", calls, prompt_tokens=300, completion_tokens=400, piece=7),
        [WRITE, READ],
    )
    assert observable(live) == observable(plain)
    assert [(c.id, c.name) for c in live.tool_calls] == [("call_a", "write_file"), ("call_b", "read_file")]
    assert live.tool_calls[0].arguments["code"] == CODE
    assert live.stop_reason == "tool_use" and live.usage.output_tokens == 400
    starts = [e.tool for e in events if e.kind == "tool_call"]
    assert starts == ["write_file", "read_file"]
    growing = [e.output_tokens for e in events if e.kind == "tool_input" and e.tool == "write_file"]
    assert len(growing) > 50 and growing == sorted(growing) and growing[0] < growing[-1]
    assert growing[-1] >= count_output_tokens("", [live.tool_calls[0]]) // 2


def test_streamed_refusal_equals_unstreamed(server):
    sentence = "I'm sorry, I can't help with that."
    refused = openai_refusal(sentence)
    refused.body["usage"]["completion_tokens"] = 5
    refused.body["usage"]["prompt_tokens"] = 10
    plain, live, _ = both(server, provider(server), refused, openai_stream(refusal=sentence))
    assert observable(live) == observable(plain)
    assert (live.stop_reason, live.text) == ("refusal", sentence)


def test_stream_without_usage_chunk_is_estimated(server):
    server.push(ollama_stream_without_usage("The answer is forty-two, as computed."))
    model = provider(server)
    messages = [Message.user("What is it?")]
    response = model.complete("Be brief.", messages, on_stream=lambda event: None)
    assert response.text == "The answer is forty-two, as computed."
    assert response.usage_estimated is True
    assert response.usage.input_tokens == count_request_tokens("Be brief.", messages, [])
    assert response.usage.output_tokens == count_output_tokens(response.text, [])
    assert response.usage.output_tokens > 0


def test_a_raising_callback_does_not_break_the_call(server):
    server.push(openai_stream("all of this arrives", piece=2))
    seen = []

    def broken(event):
        seen.append(event)
        raise RuntimeError("display crashed")

    response = provider(server).complete("", [Message.user("hi")], on_stream=broken)
    assert response.text == "all of this arrives"
    assert len(seen) == 1  # dropped after it raised, the reply still read whole
    assert len(server.requests) == 1


def test_stalled_stream_ends_at_the_call_deadline(server):
    server.push(openai_stream("never finished", gap_s=3.0), openai_stream("not asked"))
    model = provider(server, call_timeout_s=0.6)
    started = time.monotonic()
    with pytest.raises(ProviderTimeout, match=r"within the 0\.6 s call deadline"):
        model.complete("", [Message.user("hi")], on_stream=lambda event: None)
    assert time.monotonic() - started < 0.6 + 0.5
    assert len(server.requests) == 1


def test_dripping_stream_ends_at_the_call_deadline(server):
    # Each event comes well within any per-read timeout; only the one overall deadline ends it.
    server.push(openai_stream("x" * 400, piece=1, gap_s=0.05))
    model = provider(server, call_timeout_s=1.0)
    events = []
    started = time.monotonic()
    with pytest.raises(ProviderTimeout, match=r"within the 1 s call deadline"):
        model.complete("", [Message.user("hi")], on_stream=events.append)
    assert time.monotonic() - started < 1.0 + 0.5
    assert 5 < len(events) < 400


def test_stream_cut_before_its_end_is_one_sentence_not_retried(server):
    whole = openai_stream("cut short", piece=2).sse
    cut = Canned(200, sse=whole[:3])  # no finish chunk, no [DONE]
    server.push(cut, cut, cut)
    with pytest.raises(ProviderError) as info:
        provider(server).complete("", [Message.user("hi")], on_stream=lambda event: None)
    assert str(info.value) == (
        f"The OpenAI-compatible server at {server.openai_base_url} sent a reply that cannot be used: "
        "the stream ended before the reply was complete."
    )
    assert len(server.requests) == 1


def _chunk(delta):
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": None}]}


@pytest.mark.parametrize(
    "events, reason",
    [
        ([(None, "{not json")], "a stream chunk is not JSON (9 characters)"),
        ([(None, [1, 2])], "chunk 1 is a list, not a JSON object"),
        ([(None, _chunk({"content": 5}))], "'delta.content' of chunk 1 is a number, not a string"),
        (
            [(None, _chunk({"tool_calls": [{"index": "0", "function": {"name": "x"}}]}))],
            "'tool_calls[].index' of chunk 1 is a string, not a tool call index",
        ),
        (
            [(None, _chunk({"tool_calls": [{"index": i, "function": {"name": "x"}} for i in range(200)]}))],
            f"the stream has more than {MAX_TOOL_CALLS} tool calls",
        ),
        (
            [(None, _chunk({"tool_calls": [{"index": 10**18, "function": {"arguments": "{}"}}]})),
             (None, {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})],
            "tool call 1000000000000000000 of the stream has no name",
        ),
        ([(None, {"error": {"message": "Internal error"}})], "the stream carried an error (Internal error)"),
        ([(None, {"usage": "lots"})], "'usage' of chunk 1 is a string, not a JSON object"),
        ([(None, "[" * 50_000 + "]" * 50_000)], "a stream chunk is nested too deeply to read"),
    ],
    ids=["not-json", "list", "content-number", "index-string", "too-many-calls", "no-name", "error",
         "usage-string", "deep"],
)  # fmt: skip
def test_hostile_stream_is_one_sentence_not_retried(server, events, reason):
    answer = Canned(200, sse=events + [(None, "[DONE]")])
    server.push(answer, answer, answer)
    with pytest.raises(ProviderError) as info:
        provider(server).complete("", [Message.user("hi")], on_stream=lambda event: None)
    assert type(info.value) is ProviderError
    assert str(info.value) == (
        f"The OpenAI-compatible server at {server.openai_base_url} sent a reply that cannot be used: {reason}."
    )
    assert len(server.requests) == 1


def test_stream_refused_with_401_is_an_authentication_error(server):
    server.push(Canned(401, {"error": {"message": "Incorrect API key provided.", "code": "invalid_api_key"}}))
    with pytest.raises(AuthenticationError, match="check OPENAI_API_KEY"):
        provider(server).complete("", [Message.user("hi")], on_stream=lambda event: None)
    assert len(server.requests) == 1


def test_streamed_call_retries_a_503_then_streams(server):
    server.push(Canned(503, {"error": {"message": "Service unavailable."}}), openai_stream("back"))
    response = provider(server).complete("", [Message.user("hi")], on_stream=lambda event: None)
    assert response.text == "back" and len(server.requests) == 2


def test_a_server_that_does_not_stream_is_read_as_one_reply(server):
    server.push(openai_completion("whole at once", prompt_tokens=12, completion_tokens=3))
    events = []
    response = provider(server).complete("", [Message.user("hi")], on_stream=events.append)
    assert (response.text, response.usage.input_tokens, response.usage_estimated) == (
        "whole at once",
        12,
        False,
    )
    assert events == []


def test_visible_reasoning_of_compatible_servers_is_shown_as_thinking_not_kept(server):
    chunks = [
        {"choices": [{"index": 0, "delta": {"reasoning_content": "Two plus "}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"reasoning": "three."}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": "5"}, "finish_reason": "stop"}]},
    ]
    server.push(Canned(200, sse=[(None, c) for c in chunks] + [(None, "[DONE]")]))
    events = []
    response = provider(server).complete("", [Message.user("2+3?")], on_stream=events.append)
    assert [(e.kind, e.text) for e in events] == [
        ("thinking", "Two plus "),
        ("thinking", "three."),
        ("text", "5"),
    ]
    assert (response.text, response.thinking, response.stop_reason) == ("5", [], "end_turn")


def test_tool_call_deltas_without_index_are_told_apart_by_id(server):
    def delta(call_id, name, arguments):
        call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
        return (None, {"choices": [{"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": None}]})

    end = (None, {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    sse = [delta("c1", "read_file", '{"path": "a"}'), delta("c2", "read_file", '{"path": "b"}'), end]
    server.push(Canned(200, sse=sse + [(None, "[DONE]")]))
    response = provider(server).complete("", [Message.user("read")], [READ], on_stream=lambda event: None)
    assert [(c.id, c.arguments) for c in response.tool_calls] == [
        ("c1", {"path": "a"}),
        ("c2", {"path": "b"}),
    ]


def test_tool_call_cut_at_the_output_limit_keeps_max_tokens_streamed_or_not(server):
    cut = [("call_w", "write_file", '{"path": "m.py", "code": "def main(x):\\n    ret')]
    streamed = openai_stream(None, cut, completion_tokens=64)
    streamed.sse[-3][1]["choices"][0]["finish_reason"] = "length"
    plain, live, _ = both(
        server,
        provider(server),
        openai_completion(None, cut, finish_reason="length", completion_tokens=64),
        streamed,
        [WRITE],
    )
    assert observable(live) == observable(plain)
    assert plain.stop_reason == "max_tokens"
    [call] = plain.tool_calls
    assert call.arguments is None and call.parse_error and call.raw_arguments.endswith("ret")


REFUSALS = {
    "groq": Canned(400, {"error": {"message": "property 'stream_options' is unsupported, did you mean 'stream'?",
                                   "type": "invalid_request_error"}}),
    "mistral": Canned(422, {"object": "error", "message": {"detail": [
        {"type": "extra_forbidden", "loc": ["body", "stream_options", "include_usage"],
         "msg": "Extra inputs are not permitted", "input": True}]}, "type": "invalid_request_error",
        "param": None, "code": None}),
}  # fmt: skip


@pytest.mark.parametrize("service", sorted(REFUSALS))
def test_a_service_refusing_stream_options_is_streamed_without_them(server, service):
    def refuse_stream_options(request):
        return REFUSALS[service] if "stream_options" in request.body else None

    server.validators.insert(0, refuse_stream_options)
    server.push(openai_stream("first", include_usage=False), openai_stream("second", include_usage=False))
    model = provider(server)
    first = model.complete("", [Message.user("hi")], on_stream=lambda event: None)
    second = model.complete("", [Message.user("hi")], on_stream=lambda event: None)
    assert (first.text, second.text) == ("first", "second")
    assert first.usage_estimated and second.usage_estimated and first.usage.output_tokens == 1
    sent = [r.body for r in server.requests]
    assert len(sent) == 3  # refused once, then never sent again
    assert "stream_options" in sent[0]
    assert all("stream_options" not in b and b["stream"] is True for b in sent[1:])


def test_other_refusals_of_a_stream_are_not_retried_without_stream_options(server):
    server.push(Canned(400, {"error": {"message": "Invalid 'messages[0]'.", "param": "messages"}}))
    with pytest.raises(ProviderError, match=r"rejected the request \(400: Invalid 'messages\[0\]'\.\)"):
        provider(server).complete("", [Message.user("hi")], on_stream=lambda event: None)
    assert len(server.requests) == 1
