"""The Anthropic API errors a user meets, through the real SDK: each a typed error (or status) with one
clear sentence, retried only when retrying can help."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentfactory.cli import app
from agentfactory.errors import (
    EXIT_CONFIG,
    EXIT_TASK_FAILED,
    AuthenticationError,
    ContextWindowExceeded,
    ProviderError,
)
from agentfactory.llm import Message, RetryPolicy
from agentfactory.llm.anthropic import REFUSAL_TEXT, AnthropicProvider
from tests.fakes.anthropic_rules import AnthropicRules, as_stream
from tests.fakes.wire_server import WireServer, anthropic_error, anthropic_message

FAST = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.02, max_retry_after_s=0.05)
TOO_LONG = "prompt is too long: 215443 tokens > 200000 maximum"


def provider(server, model: str = "claude-sonnet-4-6") -> AnthropicProvider:
    return AnthropicProvider(model, api_key="k", base_url=server.url, retry=FAST)


@pytest.mark.parametrize("streamed", [False, True])
def test_overloaded_529_is_retried(wire_server, streamed):
    answer = anthropic_message("fine")
    wire_server.push(anthropic_error(529, "Overloaded"), anthropic_error(529, "Overloaded"))
    wire_server.push(as_stream(answer) if streamed else answer)
    on_stream = (lambda e: None) if streamed else None
    assert provider(wire_server).complete("", [Message.user("x")], on_stream=on_stream).text == "fine"
    assert len(wire_server.requests) == 3


def test_overloaded_until_the_attempts_run_out_is_one_sentence(wire_server):
    wire_server.push(*[anthropic_error(529, "Overloaded")] * 3)
    with pytest.raises(ProviderError) as caught:
        provider(wire_server).complete("", [Message.user("x")])
    assert str(caught.value) == "The Anthropic API still failed after 3 attempts (529: Overloaded)."
    assert len(wire_server.requests) == 3


@pytest.mark.parametrize("streamed", [False, True])
def test_context_window_exceeded_is_typed_and_not_retried(wire_server, streamed):
    wire_server.push(anthropic_error(400, TOO_LONG), anthropic_message("never"))
    on_stream = (lambda e: None) if streamed else None
    with pytest.raises(ContextWindowExceeded) as caught:
        provider(wire_server).complete("", [Message.user("x")], on_stream=on_stream)
    assert str(caught.value) == (
        f"The conversation no longer fits the context window of anthropic:claude-sonnet-4-6 ({TOO_LONG}): "
        "lower compact_at so older tool results are compacted sooner, or choose a model with a larger window."
    )
    assert caught.value.exit_code == EXIT_TASK_FAILED
    assert len(wire_server.requests) == 1


def test_another_400_stays_a_plain_rejection(wire_server):
    wire_server.push(anthropic_error(400, "messages: at least one message is required"))
    with pytest.raises(ProviderError) as caught:
        provider(wire_server).complete("", [Message.user("x")])
    assert not isinstance(caught.value, ContextWindowExceeded)
    assert "rejected the request (400: messages: at least one message is required)" in str(caught.value)


def test_unknown_model_names_the_model_and_the_models_command(wire_server):
    wire_server.push(anthropic_error(404, "model: claude-nope-9"), anthropic_message("never"))
    with pytest.raises(ProviderError) as caught:
        provider(wire_server, model="claude-nope-9").complete("", [Message.user("x")])
    assert str(caught.value) == (
        "The Anthropic API does not know the model 'claude-nope-9' (404: model: claude-nope-9): "
        "see `agentfactory models` for model names, and check anthropic_base_url."
    )
    assert len(wire_server.requests) == 1


def test_invalid_key_is_authentication_error_exit_3(wire_server):
    wire_server.push(anthropic_error(401, "invalid x-api-key"), anthropic_message("never"))
    with pytest.raises(AuthenticationError) as caught:
        provider(wire_server).complete("", [Message.user("x")], on_stream=lambda e: None)
    assert caught.value.exit_code == EXIT_CONFIG
    assert "check ANTHROPIC_API_KEY" in str(caught.value)
    assert len(wire_server.requests) == 1


@pytest.mark.parametrize("streamed", [False, True])
def test_refusal_is_a_clear_response_without_tool_calls(wire_server, streamed):
    # A refusal can come part way through a reply: its half-written tool call must not run.
    answer = anthropic_message(None, [("toolu_1", "run_subagent", {"name": "x"})], stop_reason="refusal")
    wire_server.push(as_stream(answer) if streamed else answer)
    on_stream = (lambda e: None) if streamed else None
    response = provider(wire_server).complete("", [Message.user("x")], on_stream=on_stream)
    assert response.stop_reason == "refusal"
    assert response.text == REFUSAL_TEXT == "The model declined to answer this request (stop_reason refusal)."
    assert response.tool_calls == []
    assert response.usage.output_tokens == 5


def test_refusal_keeps_the_models_own_words(wire_server):
    wire_server.push(anthropic_message("I can't help with that.", stop_reason="refusal"))
    response = provider(wire_server).complete("", [Message.user("x")])
    assert (response.stop_reason, response.text) == ("refusal", "I can't help with that.")


# ---- a whole `agentfactory run` -----------------------------------------------------------------

runner = CliRunner()


def _run(tmp_path: Path, monkeypatch, server: WireServer, *extra: str) -> tuple[int, str, dict]:
    monkeypatch.chdir(tmp_path)
    for var in ("AGENTFACTORY_CONFIG", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    args = ["run", "say hello", "--model", "anthropic:claude-x", "--sandbox", "local", *extra]
    result = runner.invoke(app, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    [log] = list((tmp_path / "workspaces").glob("*/events.jsonl"))
    last = json.loads(log.read_text(encoding="utf-8").splitlines()[-1])
    return result.exit_code, result.output, last


@pytest.mark.parametrize(
    "answer, sentence",
    [
        (
            anthropic_error(400, TOO_LONG),
            f"The conversation no longer fits the context window of anthropic:claude-x ({TOO_LONG}): "
            "lower compact_at so older tool results are compacted sooner, "
            "or choose a model with a larger window.",
        ),
        (
            anthropic_error(404, "model: claude-x"),
            "The Anthropic API does not know the model 'claude-x' (404: model: claude-x): "
            "see `agentfactory models` for model names, and check anthropic_base_url.",
        ),
    ],
)
def test_a_run_ends_with_the_sentence_and_exit_1(tmp_path, monkeypatch, answer, sentence):
    with WireServer() as server:
        server.push(answer, answer)
        code, output, last = _run(tmp_path, monkeypatch, server)
        assert len(server.requests) == 1
    assert code == EXIT_TASK_FAILED and "Traceback" not in output
    assert last["type"] == "run_finished" and last["status"] == "provider_error"
    assert last["reason"].startswith(sentence.rstrip("."))


def test_a_thinking_run_sends_what_the_rules_accept(tmp_path, monkeypatch):
    with WireServer() as server:
        rules = AnthropicRules().install(server)
        server.push(rules.message(None, [("toolu_1", "finish", {"answer": "hello"})], thinking=["Easy."]))
        code, output, last = _run(tmp_path, monkeypatch, server, "--thinking", "1024")
        body = server.bodies()[0]
    assert rules.refusals == [] and code == 0, output
    assert last["type"] == "run_finished" and last["status"] == "success"
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert body["max_tokens"] > 1024
