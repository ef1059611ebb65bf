"""The OpenAI adapter through the real `openai` SDK against the local wire server."""

from __future__ import annotations

import time

import pytest

from agentfactory.errors import AuthenticationError, ProviderError, ProviderTimeout
from agentfactory.llm import Message, RetryPolicy, ToolResult, ToolSpec, check_tool_call
from agentfactory.llm.openai import OpenAIProvider
from tests.fakes.wire_server import openai_completion, openai_error

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


def provider(server, retry: RetryPolicy = FAST) -> OpenAIProvider:
    return OpenAIProvider("gpt-4.1", api_key="test-key", base_url=server.openai_base_url, retry=retry)


def test_plain_answer(wire_server):
    wire_server.push(openai_completion("Paris."))
    response = provider(wire_server).complete("Be brief.", [Message.user("Capital of France?")])
    assert response.text == "Paris."
    assert response.stop_reason == "end_turn"
    assert response.model == "openai:gpt-4.1"
    request = wire_server.requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer test-key"
    assert request.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
    ]


def test_tool_call_round_trip(wire_server):
    wire_server.push(
        openai_completion(None, [("call_1", "add", '{"a": 2, "b": 3}')]),
        openai_completion("5"),
    )
    model = provider(wire_server)
    messages = [Message.user("2+3?")]
    first = model.complete("You add.", messages, [ADD])
    assert first.stop_reason == "tool_use"
    [call] = first.tool_calls
    assert (call.id, call.name, call.arguments, call.parse_error) == ("call_1", "add", {"a": 2, "b": 3}, None)

    messages += [
        first.to_message(),
        Message(role="user", text="Go on.", tool_results=[ToolResult("call_1", "5")]),
    ]
    assert model.complete("You add.", messages, [ADD]).text == "5"

    body = wire_server.requests[1].body
    assert body["tools"] == [
        {
            "type": "function",
            "function": {"name": "add", "description": "Add two integers.", "parameters": ADD.input_schema},
        }
    ]
    sent = body["messages"]
    assert sent[2]["role"] == "assistant"
    assert sent[2]["tool_calls"][0]["id"] == "call_1"
    assert sent[2]["tool_calls"][0]["function"]["name"] == "add"
    assert sent[2]["tool_calls"][0]["function"]["arguments"] == '{"a": 2, "b": 3}'
    assert sent[3] == {"role": "tool", "tool_call_id": "call_1", "content": "5"}
    assert sent[4] == {"role": "user", "content": "Go on."}


def test_usage_subtracts_cached_prompt_tokens(wire_server):
    wire_server.push(openai_completion("ok", prompt_tokens=1000, completion_tokens=20, cached_tokens=768))
    usage = provider(wire_server).complete("", [Message.user("hi")]).usage
    assert (usage.input_tokens, usage.cache_read_tokens, usage.output_tokens) == (232, 768, 20)
    assert usage.total_input_tokens == 1000


def test_malformed_tool_call_json_is_kept_not_raised(wire_server):
    wire_server.push(openai_completion(None, [("call_9", "add", '{"a": 2, "b": ')]))
    response = provider(wire_server).complete("", [Message.user("2+?")], [ADD])
    [call] = response.tool_calls
    assert call.arguments is None
    assert call.raw_arguments == '{"a": 2, "b": '
    assert call.parse_error
    error = check_tool_call(call, [ADD])
    assert error is not None and "not valid JSON" in error and call.parse_error in error


def test_429_with_retry_after_then_success(wire_server):
    wire_server.push(
        openai_error(429, "Rate limit reached.", {"retry-after": "0.4"}), openai_completion("done")
    )
    assert provider(wire_server).complete("", [Message.user("hi")]).text == "done"
    first, second = wire_server.requests
    assert second.ts - first.ts >= 0.4


def test_500_then_success(wire_server):
    wire_server.push(openai_error(500, "The server had an error."), openai_completion("recovered"))
    assert provider(wire_server).complete("", [Message.user("hi")]).text == "recovered"
    assert len(wire_server.requests) == 2


def test_401_clear_message_and_no_retry(wire_server):
    wire_server.push(openai_error(401, "Incorrect API key provided."), openai_completion("never"))
    started = time.monotonic()
    with pytest.raises(AuthenticationError) as info:
        provider(wire_server).complete("", [Message.user("hi")])
    assert "OPENAI_API_KEY" in str(info.value) and "Incorrect API key provided." in str(info.value)
    assert len(wire_server.requests) == 1
    assert time.monotonic() - started < 2


def test_exhausted_retries_report_status_and_message(wire_server):
    wire_server.push(*[openai_error(503, "Service unavailable.") for _ in range(3)])
    with pytest.raises(ProviderError, match=r"after 3 attempts \(503: Service unavailable\.\)"):
        provider(wire_server).complete("", [Message.user("hi")])


def test_compatible_server_without_key_gets_placeholder(wire_server):
    wire_server.push(openai_completion("local"))
    model = OpenAIProvider("llama3.1", api_key=None, base_url=wire_server.openai_base_url, retry=FAST)
    assert model.complete("", [Message.user("hi")]).text == "local"
    request = wire_server.requests[0]
    assert request.headers["authorization"].startswith("Bearer ")
    assert request.body["max_tokens"] == 4096


def test_many_queued_responses_in_order(wire_server):
    wire_server.push(*[openai_completion(f"answer {i}") for i in range(25)])
    model = provider(wire_server)
    texts = [model.complete("", [Message.user(str(i))]).text for i in range(25)]
    assert texts == [f"answer {i}" for i in range(25)]
    assert wire_server.pending == 0


def test_slow_reply_ends_at_the_call_deadline_without_retry(wire_server):
    slow = openai_completion("too late")
    slow.delay_s = 1.5
    wire_server.push(slow, openai_completion("never asked"))
    model = OpenAIProvider(
        "gpt-4.1", api_key="k", base_url=wire_server.openai_base_url, retry=FAST, call_timeout_s=0.5
    )
    started = time.monotonic()
    with pytest.raises(ProviderTimeout, match=r"within the 0\.5 s call deadline"):
        model.complete("", [Message.user("hi")])
    assert time.monotonic() - started < 0.5 + 0.4
    assert len(wire_server.requests) == 1
