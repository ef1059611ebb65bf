"""Errors users meet on the OpenAI API and compatible servers: each typed, one sentence, retried only
when retrying can help. Through the real `openai` SDK against the wire server with the API's rules."""

from __future__ import annotations

import pytest

from agentfactory.errors import AuthenticationError, ContextWindowExceeded, ProviderError
from agentfactory.llm import Message, RetryPolicy
from agentfactory.llm.openai import OpenAIProvider
from tests.fakes import compat_shapes as shapes
from tests.fakes.openai_rules import openai_rules
from tests.fakes.wire_server import Canned, WireServer, openai_completion

FAST = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, max_retry_after_s=0.2)


@pytest.fixture
def server():
    with WireServer() as wire:
        wire.validators.append(openai_rules)
        yield wire


def provider(server, model: str = "gpt-4.1") -> OpenAIProvider:
    return OpenAIProvider(
        model, api_key="sk-test", base_url=server.openai_base_url, retry=FAST, call_timeout_s=20
    )


def fail(server, answer, model: str = "gpt-4.1", stream: bool = False):
    server.push(answer, answer, answer)
    on_stream = (lambda event: None) if stream else None
    with pytest.raises(ProviderError) as info:
        provider(server, model).complete("", [Message.user("hi")], on_stream=on_stream)
    assert len(server.requests) == 1, "retrying cannot help, so it is not retried"
    return info.value


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize(
    "answer, detail",
    [
        (shapes.openai_context_exceeded(), "This model's maximum context length is 128000 tokens."),
        (shapes.vllm_context_exceeded(), "This model's maximum context length is 8192 tokens."),
        (
            shapes.llamacpp_context_exceeded(),
            "request (4711 tokens) exceeds the available context size (4096 tokens)",
        ),
    ],
    ids=["openai", "vllm", "llama.cpp"],
)
def test_context_window_exceeded_is_typed(server, answer, detail, stream):
    error = fail(server, answer, stream=stream)
    assert type(error) is ContextWindowExceeded
    message = str(error)
    assert message.startswith(
        f"The conversation no longer fits the context window of model 'gpt-4.1' on the server at "
        f"127.0.0.1:{server.port} (400: "
    )
    assert detail in message and message.endswith(").")


def test_refusal_is_a_reply_with_stop_reason_refusal(server):
    server.push(shapes.openai_refusal("I'm sorry, I can't help with that."))
    response = provider(server).complete("", [Message.user("hi")])
    assert (response.stop_reason, response.text, response.tool_calls) == (
        "refusal", "I'm sorry, I can't help with that.", [])  # fmt: skip
    assert response.usage.output_tokens == 9


def test_content_filter_finish_is_a_refusal(server):
    server.push(openai_completion("partial", finish_reason="content_filter"))
    assert provider(server).complete("", [Message.user("hi")]).stop_reason == "refusal"


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_invalid_api_key_is_an_authentication_error(server, stream):
    error = fail(server, shapes.openai_invalid_key(), stream=stream)
    assert type(error) is AuthenticationError
    assert str(error) == (
        f"The OpenAI-compatible server at {server.openai_base_url} refused the credentials (401: Incorrect API "
        "key provided: sk-proj-****abcd. You can find your API key at "
        "https://platform.openai.com/account/api-keys.): check OPENAI_API_KEY."
    )


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_model_not_found_names_the_model_and_points_to_models(server, stream):
    error = fail(server, shapes.openai_model_not_found("gpt-9"), "gpt-9", stream=stream)
    assert type(error) is ProviderError
    assert str(error) == (
        f"Model 'gpt-9' was not found on the server at 127.0.0.1:{server.port} (404: The model `gpt-9` does "
        "not exist or you do not have access to it.): check the model name and the base URL; "
        "`agentfactory models` lists the models AgentFactory knows."
    )


def test_ollama_model_not_found(server):
    error = fail(server, shapes.ollama_model_not_found("llama9"), "llama9")
    assert str(error).startswith(
        f"Model 'llama9' was not found on the server at 127.0.0.1:{server.port} (404: "
    )
    assert 'model "llama9" not found, try pulling it first' in str(error)


def test_openai_api_itself_is_named_as_such():
    from agentfactory.llm.openai_compat import typed_error

    error = typed_error(404, shapes.openai_model_not_found("gpt-9").body, "", model="gpt-9", base_url=None,
                        offered_tools=False)  # fmt: skip
    assert str(error).startswith("Model 'gpt-9' was not found on the OpenAI API (404: ")
    assert "base URL" not in str(error)


def test_overloaded_and_rate_limits_are_still_retried(server):
    server.push(
        Canned(429, {"error": {"message": "Rate limit reached", "code": "rate_limit_exceeded"}}),
        Canned(503, {"error": {"message": "The engine is currently overloaded"}}),
        openai_completion("ok"),
    )
    assert provider(server).complete("", [Message.user("hi")]).text == "ok"
    assert len(server.requests) == 3


def test_an_unrecognised_400_stays_a_plain_rejection(server):
    error = fail(server, Canned(400, {"error": {"message": "Invalid 'messages[0]'.", "code": None}}))
    assert type(error) is ProviderError
    assert str(error).endswith("rejected the request (400: Invalid 'messages[0]'.).")
