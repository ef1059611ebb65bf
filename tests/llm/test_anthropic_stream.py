"""Streamed replies through the real `anthropic` SDK: the events the streaming API sends, read event by
event, give the response the non-streamed call gives, under the same deadline and the same checks."""

from __future__ import annotations

import time

import pytest

from agentfactory.errors import ProviderError, ProviderTimeout
from agentfactory.llm import Message, RetryPolicy, ToolResult
from agentfactory.llm.anthropic import AnthropicProvider
from agentfactory.llm.types import StreamEvent, ThinkingBlock
from tests.fakes.anthropic_rules import AnthropicRules, as_stream, redacted, sign
from tests.fakes.wire_server import Canned, anthropic_error

FAST = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.02)
CODE = {"name": "upper-text", "code": 'def run(text: str) -> dict:\n    return {"upper": text.upper()}\n'}


@pytest.fixture
def rules(wire_server):
    return AnthropicRules().install(wire_server)


def provider(server, timeout: float = 30.0, budget: int | None = 2048) -> AnthropicProvider:
    return AnthropicProvider(
        "claude-sonnet-4-6",
        api_key="k",
        base_url=server.url,
        retry=FAST,
        call_timeout_s=timeout,
        thinking_budget=budget,
    )


def reply(rules: AnthropicRules, with_redacted: bool = True) -> Canned:
    return rules.message(
        "I will write the module.",
        [("toolu_1", "create_subagent", CODE)],
        thinking=[("redacted", "r1")] * with_redacted
        + ["A module that upper-cases its input is enough here."],
        input_tokens=1200,
        output_tokens=640,
        cache_read=1000,
        cache_write=50,
    )


def same(a, b) -> None:
    assert (a.text, a.stop_reason, a.model, a.usage, a.thinking) == (
        b.text,
        b.stop_reason,
        b.model,
        b.usage,
        b.thinking,
    )
    assert [(c.id, c.name, c.arguments, c.parse_error) for c in a.tool_calls] == [
        (c.id, c.name, c.arguments, c.parse_error) for c in b.tool_calls
    ]


def test_streamed_reply_equals_the_non_streamed_one(wire_server, rules):
    wire_server.push(reply(rules), as_stream(reply(rules), pieces=4))
    model = provider(wire_server)
    plain = model.complete("", [Message.user("upper")])
    seen: list[StreamEvent] = []
    streamed = model.complete("", [Message.user("upper")], on_stream=seen.append)

    same(streamed, plain)
    assert streamed.usage.input_tokens == 1200 and streamed.usage.output_tokens == 640
    assert streamed.usage.cache_read_tokens == 1000 and streamed.usage.cache_write_tokens == 50
    assert streamed.thinking[1].signature == sign("A module that upper-cases its input is enough here.")
    first, second = wire_server.bodies()
    assert "stream" not in first and second["stream"] is True
    assert second["thinking"] == {"type": "enabled", "budget_tokens": 2048}

    kinds = [e.kind for e in seen]
    assert (
        kinds.index("thinking") < kinds.index("text") < kinds.index("tool_call") < kinds.index("tool_input")
    )
    assert streamed.thinking[0] == ThinkingBlock("redacted_thinking", data=redacted("r1"))
    assert "".join(e.text for e in seen if e.kind == "thinking") == plain.thinking[1].text
    assert "".join(e.text for e in seen if e.kind == "text") == plain.text
    # The signature is never reported: it is not the model's words.
    assert all(plain.thinking[1].signature not in e.text and "r1" not in e.text for e in seen)
    assert [e.tool for e in seen if e.kind == "tool_call"] == ["create_subagent"]
    counts = [e.output_tokens for e in seen if e.kind == "tool_input"]
    assert len(counts) >= 4 and counts == sorted(counts) and counts[-1] > counts[0]
    assert all(e.tool == "create_subagent" for e in seen if e.kind == "tool_input")


def test_streamed_thinking_goes_back_unchanged_and_the_rules_accept_it(wire_server, rules):
    wire_server.push(as_stream(reply(rules)), as_stream(rules.message("Done.", thinking=["ok"])))
    model = provider(wire_server)
    first = model.complete("", [Message.user("upper")], on_stream=lambda e: None)
    results = Message(role="user", tool_results=[ToolResult("toolu_1", "created")])
    second = model.complete(
        "", [Message.user("upper"), first.to_message(), results], on_stream=lambda e: None
    )
    assert second.text == "Done." and rules.refusals == []
    assert wire_server.bodies()[1]["messages"][1]["content"][1]["signature"] == first.thinking[1].signature


def test_a_callback_that_raises_does_not_break_the_call(wire_server, rules):
    wire_server.push(reply(rules), as_stream(reply(rules)))
    model = provider(wire_server)
    plain = model.complete("", [Message.user("upper")])
    calls = []

    def broken(event: StreamEvent) -> None:
        calls.append(event)
        raise RuntimeError("display broke")

    same(model.complete("", [Message.user("upper")], on_stream=broken), plain)
    assert len(calls) > 5


def test_a_stalled_stream_ends_at_the_call_deadline(wire_server, rules):
    stalled = as_stream(reply(rules))
    stalled.sse = stalled.sse[:3] + [("ping", {"type": "ping"})] + stalled.sse[3:]
    stalled.sse_gap_s = 5.0  # the second event never comes within the deadline
    wire_server.push(stalled)
    model = provider(wire_server, timeout=1.0)  # before the clock starts: the first import of the SDK is slow
    started = time.monotonic()
    with pytest.raises(ProviderTimeout, match=r"within the 1 s call deadline"):
        model.complete("", [Message.user("x")], on_stream=lambda e: None)
    assert time.monotonic() - started < 2.5  # the deadline, not the 5 s gap
    assert len(wire_server.requests) == 1


def test_a_dripping_stream_ends_at_the_call_deadline(wire_server, rules):
    # Each event arrives well within any read timeout; only the one overall deadline stops it.
    dripping = as_stream(reply(rules))
    dripping.sse = dripping.sse[:1] + [("ping", {"type": "ping"})] * 200 + dripping.sse[1:]
    dripping.sse_gap_s = 0.05
    wire_server.push(dripping)
    model = provider(wire_server, timeout=1.5)
    started = time.monotonic()
    with pytest.raises(ProviderTimeout, match=r"within the 1.5 s call deadline"):
        model.complete("", [Message.user("x")], on_stream=lambda e: None)
    assert time.monotonic() - started < 3.0  # not the 10 s the events would take


def test_overloaded_mid_stream_is_retried(wire_server, rules):
    broken = as_stream(reply(rules))
    broken.sse = broken.sse[:4] + [
        ("error", {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    ]
    wire_server.push(broken, as_stream(reply(rules)))
    response = provider(wire_server).complete("", [Message.user("x")], on_stream=lambda e: None)
    assert response.tool_calls[0].arguments == CODE
    assert len(wire_server.requests) == 2


def test_a_stream_cut_before_message_stop_is_retried_then_reported(wire_server, rules):
    cut = as_stream(reply(rules))
    cut.sse = cut.sse[:-2]  # no message_delta, no message_stop: the connection ended early
    wire_server.push(cut, cut, cut)
    with pytest.raises(ProviderError, match=r"still failed after 3 attempts .*before message_stop"):
        provider(wire_server).complete("", [Message.user("x")], on_stream=lambda e: None)
    assert len(wire_server.requests) == 3


def test_a_529_before_the_stream_is_retried(wire_server, rules):
    wire_server.push(anthropic_error(529, "Overloaded"), as_stream(rules.message("hi")))
    assert provider(wire_server).complete("", [Message.user("x")], on_stream=lambda e: None).text == "hi"
    assert len(wire_server.requests) == 2


@pytest.mark.parametrize(
    "mangle, reason",
    [
        (lambda e: [(None, "<html>")] + e, "event 1 of the stream is not JSON"),
        (lambda e: e[1:], "comes before message_start"),
        (lambda e: [e[0], e[0]] + e[1:], "a second message_start"),
        (lambda e: e[:2] + [e[3]] + e[2:], "names content block 0, which is not open"),
        (
            lambda e: (
                e[:2]
                + [
                    (
                        "content_block_start",
                        {"type": "content_block_start", "index": 7, "content_block": {"type": "text"}},
                    )
                ]
            ),
            "starts content block 7, not 0",
        ),
        (
            lambda e: (
                e[:3]
                + [
                    (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": 0,
                            "delta": {"type": "thinking_delta", "thinking": 5},
                        },
                    )
                ]
            ),
            r"'delta.thinking' is a number, not a string",
        ),
        (
            lambda e: (
                e[:3]
                + [
                    (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": 0,
                            "delta": {"type": "input_json_delta", "partial_json": "{"},
                        },
                    )
                ]
            ),
            "is a input_json_delta for a thinking block",
        ),
        (
            lambda e: (
                e[:-2]
                + [("message_delta", {"type": "message_delta", "delta": {}, "usage": {"output_tokens": -1}})]
                + e[-1:]
            ),
            r"'usage.output_tokens' is negative",
        ),
        (lambda e: e[:1] + [(None, "x" * (5 * 2**20))], "a line of the stream is longer than 4 MiB"),
        (lambda e: [("ping", {"type": "ping"})], "the stream ended without a message_start event"),
    ],
)
def test_a_hostile_stream_is_one_sentence_and_not_retried(wire_server, rules, mangle, reason):
    canned = as_stream(reply(rules, with_redacted=False))
    canned.sse = mangle(canned.sse)
    wire_server.push(canned)
    with pytest.raises(
        ProviderError, match=r"The Anthropic API sent a reply that cannot be used: "
    ) as caught:
        provider(wire_server).complete("", [Message.user("x")], on_stream=lambda e: None)
    assert __import__("re").search(reason, str(caught.value)), str(caught.value)
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 400
    assert len(wire_server.requests) == 1


def test_streamed_tool_input_that_is_not_json_goes_to_the_model_as_a_parse_error(wire_server, rules):
    canned = as_stream(rules.message(None, [("toolu_1", "create_subagent", {"a": 1})]))
    for _, data in canned.sse:
        if data.get("delta", {}).get("type") == "input_json_delta" and data["delta"]["partial_json"]:
            data["delta"]["partial_json"] = '{"a": '
    wire_server.push(canned)
    [call] = provider(wire_server).complete("", [Message.user("x")], on_stream=lambda e: None).tool_calls
    assert call.arguments is None and call.parse_error == "tool input is not valid JSON"
    assert call.raw_arguments.startswith('{"a": ')


def test_a_server_that_ignores_stream_true_is_read_as_a_whole_reply(wire_server, rules):
    wire_server.push(reply(rules), reply(rules))
    model = provider(wire_server)
    seen: list[StreamEvent] = []
    same(
        model.complete("", [Message.user("x")], on_stream=seen.append),
        model.complete("", [Message.user("x")]),
    )
    assert seen == [] and wire_server.bodies()[0]["stream"] is True


@pytest.mark.parametrize("size", [1, 7, 1 << 16])
def test_events_split_anywhere_read_the_same(rules, size):
    from agentfactory.llm.anthropic_stream import StreamReader
    from tests.fakes.wire_server import sse_event

    canned = as_stream(reply(rules))
    raw = b"".join(sse_event(name, data) for name, data in canned.sse)
    raw = raw.replace(b"\n", b"\r\n") if size == 7 else raw  # CRLF line ends too
    chunks = [raw[i : i + size] for i in range(0, len(raw), size)]
    body = StreamReader().read(chunks)
    expected = reply(rules).body
    assert body["content"] == expected["content"] and body["usage"] == expected["usage"]
    assert body["stop_reason"] == expected["stop_reason"]


def test_a_stream_that_is_not_server_sent_events_is_one_sentence(wire_server):
    from tests.fakes.wire_server import raw_reply

    wire_server.push(raw_reply("<html>\x1b[2J502</html>", "text/html; charset=\x1b[31m"))
    with pytest.raises(ProviderError) as caught:
        provider(wire_server).complete("", [Message.user("x")], on_stream=lambda e: None)
    assert str(caught.value) == (
        "The Anthropic API sent a reply that cannot be used: the stream is not server-sent events "
        "(content-type text/html)."
    )
    assert len(wire_server.requests) == 1
