"""The Anthropic adapter through the real `anthropic` SDK against the local wire server."""

from __future__ import annotations

import time

import pytest

from agentfactory.errors import AuthenticationError, ProviderError
from agentfactory.llm import Message, RetryPolicy, ToolResult, ToolSpec, check_tool_call
from agentfactory.llm.anthropic import AnthropicProvider
from tests.fakes.wire_server import anthropic_error, anthropic_message

FAST = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, max_retry_after_s=2.0)
ADD = ToolSpec(
    "add",
    "Add two integers.",
    {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    },
)
ECHO = ToolSpec("echo", "Echo text.", {"type": "object", "properties": {"text": {"type": "string"}}})


def provider(server, retry: RetryPolicy = FAST) -> AnthropicProvider:
    return AnthropicProvider("claude-sonnet-4-6", api_key="test-key", base_url=server.url, retry=retry)


def test_plain_answer(wire_server):
    wire_server.push(anthropic_message("Paris."))
    response = provider(wire_server).complete("Be brief.", [Message.user("Capital of France?")])
    assert response.text == "Paris."
    assert response.tool_calls == []
    assert response.stop_reason == "end_turn"
    assert response.model == "anthropic:claude-sonnet-4-6"
    assert response.latency_s > 0
    body = wire_server.requests[0].body
    assert wire_server.requests[0].path == "/v1/messages"
    assert body["model"] == "claude-sonnet-4-6"
    assert body["messages"][0]["role"] == "user"
    assert body["messages"][0]["content"][0]["text"] == "Capital of France?"


def test_tool_call_round_trip(wire_server):
    wire_server.push(
        anthropic_message("Let me add.", [("toolu_1", "add", {"a": 2, "b": 3})]),
        anthropic_message("5"),
    )
    model = provider(wire_server)
    messages = [Message.user("2+3?")]
    first = model.complete("You add.", messages, [ADD, ECHO])
    assert first.stop_reason == "tool_use"
    [call] = first.tool_calls
    assert (call.id, call.name, call.arguments) == ("toolu_1", "add", {"a": 2, "b": 3})
    assert check_tool_call(call, [ADD, ECHO]) is None

    messages += [
        first.to_message(),
        Message(role="user", tool_results=[ToolResult("toolu_1", "5"), ToolResult("toolu_x", "boom", True)]),
    ]
    second = model.complete("You add.", messages, [ADD, ECHO])
    assert second.text == "5"

    sent = wire_server.requests[1].body["messages"]
    assert sent[1]["role"] == "assistant"
    assert sent[1]["content"][0] == {"type": "text", "text": "Let me add."}
    assert sent[1]["content"][1] == {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "add",
        "input": {"a": 2, "b": 3},
    }
    assert sent[2]["role"] == "user"
    ok, failed = sent[2]["content"]
    assert ok["type"] == "tool_result" and ok["tool_use_id"] == "toolu_1" and ok["content"] == "5"
    assert "is_error" not in ok
    assert failed["is_error"] is True and failed["content"] == "boom"


def test_usage_with_cache_tokens_and_cache_markers(wire_server):
    wire_server.push(
        anthropic_message("ok", input_tokens=12, output_tokens=7, cache_read=900, cache_write=150)
    )
    response = provider(wire_server).complete("System prompt.", [Message.user("hi")], [ADD, ECHO])
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens) == (12, 7)
    assert (usage.cache_read_tokens, usage.cache_write_tokens) == (900, 150)
    body = wire_server.requests[0].body
    assert body["system"] == [
        {"type": "text", "text": "System prompt.", "cache_control": {"type": "ephemeral"}}
    ]
    assert "cache_control" not in body["tools"][0]
    assert body["tools"][-1]["cache_control"] == {"type": "ephemeral"}
    assert body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}


def test_429_with_retry_after_then_success(wire_server):
    wire_server.push(anthropic_error(429, "Rate limited.", {"retry-after": "0.4"}), anthropic_message("done"))
    response = provider(wire_server).complete("", [Message.user("hi")])
    assert response.text == "done"
    first, second = wire_server.requests
    assert second.ts - first.ts >= 0.4


def test_500_then_success(wire_server):
    wire_server.push(anthropic_error(500, "Internal error."), anthropic_message("recovered"))
    assert provider(wire_server).complete("", [Message.user("hi")]).text == "recovered"
    assert len(wire_server.requests) == 2


def test_529_overloaded_exhausts_retries_with_status_and_message(wire_server):
    wire_server.push(*[anthropic_error(529, "Overloaded.") for _ in range(3)])
    with pytest.raises(ProviderError, match=r"after 3 attempts \(529: Overloaded\.\)"):
        provider(wire_server).complete("", [Message.user("hi")])
    assert len(wire_server.requests) == 3


def test_401_clear_message_and_no_retry(wire_server):
    wire_server.push(anthropic_error(401, "invalid x-api-key"), anthropic_message("never"))
    started = time.monotonic()
    with pytest.raises(AuthenticationError) as info:
        provider(wire_server).complete("", [Message.user("hi")])
    message = str(info.value)
    assert "ANTHROPIC_API_KEY" in message and "401" in message and "invalid x-api-key" in message
    assert len(wire_server.requests) == 1
    assert time.monotonic() - started < 2


def test_400_is_not_retried(wire_server):
    wire_server.push(anthropic_error(400, "messages: field required"), anthropic_message("never"))
    with pytest.raises(ProviderError, match="400: messages: field required"):
        provider(wire_server).complete("", [Message.user("hi")])
    assert len(wire_server.requests) == 1


def test_connection_refused_is_retried_then_reported():
    # A port nobody listens on: bind, read the port, close.
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    model = AnthropicProvider("claude-x", api_key="k", base_url=f"http://127.0.0.1:{port}", retry=FAST)
    with pytest.raises(ProviderError, match="after 3 attempts"):
        model.complete("", [Message.user("hi")])
