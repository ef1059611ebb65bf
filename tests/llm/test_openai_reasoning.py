"""OpenAI reasoning models: detection by name, the thinking budget as `reasoning_effort`,
`max_completion_tokens` and no temperature, reasoning tokens counted and priced as output. Through the
real `openai` SDK against the wire server with the API's request rules (which refuse what the API
refuses, shown by the rule tests at the end)."""

from __future__ import annotations

import pytest

from agentfactory.config import Prices, Settings
from agentfactory.errors import ConfigError
from agentfactory.llm import Message, RetryPolicy, ToolResult, ToolSpec, cost_usd
from agentfactory.llm.openai import OpenAIProvider
from agentfactory.llm.openai_compat import is_reasoning_model, reasoning_effort_for
from tests.fakes.compat_shapes import openai_stream
from tests.fakes.openai_rules import openai_rules
from tests.fakes.wire_server import RecordedRequest, WireServer, openai_completion

FAST = RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.05, max_retry_after_s=0.2)
ADD = ToolSpec("add", "Add.", {"type": "object", "properties": {"a": {"type": "integer"}}})


@pytest.fixture
def server():
    with WireServer() as wire:
        wire.validators.append(openai_rules)
        yield wire


def provider(server, model: str, budget: int | None = None) -> OpenAIProvider:
    return OpenAIProvider(
        model,
        api_key="k",
        base_url=server.openai_base_url,
        retry=FAST,
        call_timeout_s=20,
        thinking_budget=budget,
    )


@pytest.mark.parametrize(
    "name, reasoning",
    [
        ("o1", True), ("o1-mini", True), ("o3", True), ("o3-mini-2025-01-31", True), ("o3-pro", True),
        ("o4-mini", True), ("gpt-5", True), ("gpt-5-mini", True), ("gpt-5.1", True), ("openai/o3", True),
        ("GPT-5-nano", True), ("gpt-5-chat-latest", False), ("gpt-4.1", False), ("gpt-4o", False),
        ("olmo2", False), ("o1x", False), ("llama3.1:8b", False), ("qwen2.5", False),
    ],
)  # fmt: skip
def test_reasoning_models_by_name(name, reasoning):
    assert is_reasoning_model(name) is reasoning


@pytest.mark.parametrize(
    "budget, effort",
    [(None, None), (1, "low"), (1024, "low"), (4095, "low"), (4096, "medium"), (16_383, "medium"),
     (16_384, "high"), (128_000, "high")],
)  # fmt: skip
def test_thinking_budget_maps_to_reasoning_effort(budget, effort):
    assert reasoning_effort_for(budget) == effort


@pytest.mark.parametrize("budget, effort", [(2048, "low"), (8000, "medium"), (32_000, "high")])
def test_reasoning_request_keeps_the_api_rules(server, budget, effort):
    server.push(openai_completion(None, [("call_1", "add", '{"a": 1}')]), openai_completion("done"))
    model = provider(server, "o3", budget)
    first = model.complete("Sys.", [Message.user("go")], [ADD], max_tokens=20_000)
    messages = [
        Message.user("go"),
        first.to_message(),
        Message("user", tool_results=[ToolResult("call_1", "1")]),
    ]
    assert model.complete("Sys.", messages, [ADD], max_tokens=20_000).text == "done"
    for request in server.requests:
        body = request.body
        assert body["max_completion_tokens"] == 20_000
        assert body["reasoning_effort"] == effort
        assert "max_tokens" not in body and "temperature" not in body


def test_reasoning_model_without_budget_sends_no_effort(server):
    server.push(openai_completion("ok"))
    provider(server, "gpt-5-mini").complete("", [Message.user("hi")], max_tokens=5000)
    body = server.requests[0].body
    assert body["max_completion_tokens"] == 5000 and "reasoning_effort" not in body


def test_other_models_ignore_the_budget_and_keep_max_tokens_on_compatible_servers(server):
    server.push(openai_completion("ok"))
    provider(server, "llama3.1:8b", 8000).complete("", [Message.user("hi")], max_tokens=5000)
    body = server.requests[0].body
    assert body["max_tokens"] == 5000
    assert "reasoning_effort" not in body and "max_completion_tokens" not in body


def test_openai_api_gets_max_completion_tokens_for_every_model():
    model = OpenAIProvider("gpt-4.1", api_key="k", thinking_budget=8000)
    request = model.build_request("", [Message.user("hi")], None, 700)
    assert request["max_completion_tokens"] == 700
    assert "max_tokens" not in request and "reasoning_effort" not in request


@pytest.mark.parametrize("budget", [0, -5, True, 1.5, "high"])
def test_an_unusable_budget_is_a_config_error(budget):
    with pytest.raises(ConfigError, match="thinking_budget must be a positive number of tokens"):
        OpenAIProvider("o3", api_key="k", thinking_budget=budget)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_reasoning_tokens_count_and_are_priced_as_output(server, stream):
    usage = {"prompt_tokens": 1000, "completion_tokens": 900}
    if stream:
        server.push(openai_stream("Forty-two.", **usage, reasoning_tokens=768))
    else:
        answer = openai_completion("Forty-two.", **usage)
        answer.body["usage"]["completion_tokens_details"]["reasoning_tokens"] = 768
        server.push(answer)
    on_stream = (lambda event: None) if stream else None
    response = provider(server, "o3", 20_000).complete("", [Message.user("q")], on_stream=on_stream)
    assert (response.usage.input_tokens, response.usage.output_tokens) == (1000, 900)
    settings = Settings.from_keys(prices={"o3": Prices(input=2.0, output=8.0)})
    assert cost_usd(response.usage, "openai:o3", settings.models) == pytest.approx(
        (1000 * 2.0 + 900 * 8.0) / 1e6
    )


# ---- the rules themselves refuse what the real API refuses ---------------------------------------


def _request(**body) -> RecordedRequest:
    body.setdefault("messages", [{"role": "user", "content": "hi"}])
    return RecordedRequest("POST", "/v1/chat/completions", {}, body, 0.0)


@pytest.mark.parametrize(
    "body, param, code",
    [
        ({"model": "o3", "max_tokens": 10}, "max_tokens", "unsupported_parameter"),
        ({"model": "gpt-5", "temperature": 0.2}, "temperature", "unsupported_value"),
        ({"model": "gpt-4.1", "reasoning_effort": "low"}, "reasoning_effort", "unsupported_parameter"),
        ({"model": "o3", "reasoning_effort": "extreme"}, "reasoning_effort", "invalid_value"),
        ({"model": "gpt-4.1", "stream_options": {"include_usage": True}}, "stream_options", None),
        ({"model": "gpt-4.1", "max_tokens": 5, "max_completion_tokens": 5}, "max_tokens", None),
        (
            {"model": "gpt-4.1", "tools": [{"type": "function", "function": {"name": "t", "parameters": {}}}]},
            "tools[0].function.parameters",
            "invalid_function_parameters",
        ),
        (
            {"model": "gpt-4.1", "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "t", "arguments": "{}"}}]},
                {"role": "user", "content": "and?"}]},
            "messages.[2].role",
            None,
        ),
        (
            {"model": "gpt-4.1", "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "t", "arguments": {}}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "1"}]},
            "messages[1].tool_calls[0].function.arguments",
            "invalid_type",
        ),
        (
            {"model": "gpt-4.1", "messages": [{"role": "user", "content": "hi"},
                                              {"role": "tool", "tool_call_id": "c9", "content": "1"}]},
            "messages.[1].role",
            None,
        ),
    ],
    ids=["max-tokens-reasoning", "temperature-reasoning", "effort-non-reasoning", "effort-value",
         "stream-options-alone", "both-limits", "schema-not-object", "tool-result-missing",
         "arguments-object", "orphan-tool-message"],
)  # fmt: skip
def test_rules_refuse_as_the_api_does(body, param, code):
    answer = openai_rules(_request(**body))
    assert answer is not None and answer.status == 400
    assert (answer.body["error"]["param"], answer.body["error"]["code"]) == (param, code)


def test_rules_accept_a_well_formed_reasoning_request():
    body = {"model": "o4-mini", "max_completion_tokens": 10, "reasoning_effort": "high", "stream": True,
            "stream_options": {"include_usage": True}}  # fmt: skip
    assert openai_rules(_request(**body)) is None


def test_rules_answer_through_the_sdk(server):
    import openai

    client = openai.OpenAI(api_key="k", base_url=server.openai_base_url, max_retries=0)
    with pytest.raises(openai.BadRequestError, match="Use 'max_completion_tokens' instead"):
        client.chat.completions.create(model="o3", messages=[{"role": "user", "content": "hi"}], max_tokens=5)


def test_the_registry_hands_the_thinking_budget_to_openai_too():
    from agentfactory.config import Settings
    from agentfactory.llm.registry import get_provider

    provider = get_provider(
        "openai:o3", Settings().models, env={"OPENAI_API_KEY": "k"}, thinking_budget=20_000
    )
    assert provider.thinking_budget == 20_000
