"""Every broken or hostile 200 reply is a ProviderError with one sentence, through the real SDKs.

No shape is retried (the provider did answer; asking again bills the same broken answer), none leaks an
SDK exception or a traceback, and the sentence names the provider and what was wrong.
"""

from __future__ import annotations

import json
import socket
import threading

import pytest

from agentfactory.errors import AuthenticationError, ProviderError, ProviderTimeout
from agentfactory.llm import Message, RetryPolicy
from agentfactory.llm.anthropic import AnthropicProvider
from agentfactory.llm.openai import OpenAIProvider
from agentfactory.llm.transport import MAX_REPLY_BYTES
from tests.fakes.wire_server import (
    Canned,
    anthropic_error,
    anthropic_message,
    openai_completion,
    openai_error,
    raw_reply,
)
from tests.llm.bad_replies import ANTHROPIC, OPENAI

FAST = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, max_retry_after_s=0.2)


def anthropic(server) -> AnthropicProvider:
    return AnthropicProvider("claude-x", api_key="k", base_url=server.url, retry=FAST, call_timeout_s=20)


def openai(server) -> OpenAIProvider:
    return OpenAIProvider(
        "gpt-x", api_key="k", base_url=server.openai_base_url, retry=FAST, call_timeout_s=20
    )


def _refused(model, server, answer: Canned) -> str:
    server.push(answer, answer, answer)
    with pytest.raises(ProviderError) as info:
        model.complete("", [Message.user("hi")])
    assert type(info.value) is ProviderError  # not a timeout, not an authentication problem
    assert len(server.requests) == 1, "a bad body must not be retried"
    return str(info.value)


@pytest.mark.parametrize("name, answer, reason", ANTHROPIC, ids=[c[0] for c in ANTHROPIC])
def test_anthropic_bad_reply_is_one_sentence(wire_server, name, answer, reason):
    message = _refused(anthropic(wire_server), wire_server, answer)
    assert message == f"The Anthropic API sent a reply that cannot be used: {reason}."


@pytest.mark.parametrize("name, answer, reason", OPENAI, ids=[c[0] for c in OPENAI])
def test_openai_bad_reply_is_one_sentence(wire_server, name, answer, reason):
    message = _refused(openai(wire_server), wire_server, answer)
    assert message == (
        f"The OpenAI-compatible server at {wire_server.openai_base_url} sent a reply that cannot be used: "
        f"{reason}."
    )


@pytest.mark.parametrize("factory", [anthropic, openai])
def test_oversized_reply_is_refused_without_reading_it_all(wire_server, factory):
    message = _refused(factory(wire_server), wire_server, raw_reply(b" " * (MAX_REPLY_BYTES + 1024)))
    assert message.endswith("sent a reply that cannot be used: the reply is larger than 16 MiB.")


@pytest.mark.parametrize("factory", [anthropic, openai])
def test_compressed_reply_is_refused(wire_server, factory):
    # Asked for identity; a gzip body could inflate past any size bound, so it is not decoded at all.
    answer = raw_reply(b"\x1f\x8b\x08\x00" + b"\x00" * 16)
    answer.headers["content-encoding"] = "gzip"
    message = _refused(factory(wire_server), wire_server, answer)
    assert message.endswith("the reply is compressed although an uncompressed one was asked for.")
    assert wire_server.requests[0].headers["accept-encoding"] == "identity"


@pytest.mark.parametrize("factory", [anthropic, openai])
def test_redirect_is_not_followed(wire_server, factory):
    wire_server.push(Canned(307, "", {"location": "http://127.0.0.1:9/elsewhere"}))
    with pytest.raises(ProviderError, match=r"rejected the request \(307"):
        factory(wire_server).complete("", [Message.user("hi")])
    assert len(wire_server.requests) == 1


@pytest.mark.parametrize(
    "factory, error, ok",
    [(anthropic, anthropic_error, anthropic_message), (openai, openai_error, openai_completion)],
)
def test_retryable_statuses_and_a_reset_connection_are_retried(wire_server, factory, error, ok):
    wire_server.push(error(529, "Overloaded."), Canned(reset=True), ok("recovered"))
    assert factory(wire_server).complete("", [Message.user("hi")]).text == "recovered"
    assert len(wire_server.requests) == 3


@pytest.mark.parametrize(
    "factory, error, kind",
    [
        (anthropic, anthropic_error, AuthenticationError),
        (openai, openai_error, AuthenticationError),
    ],
)
def test_auth_and_not_found_are_not_retried(wire_server, factory, error, kind):
    wire_server.push(error(401, "bad key"), error(404, "no such model"), error(404, "no such model"))
    model = factory(wire_server)
    with pytest.raises(kind):
        model.complete("", [Message.user("hi")])
    with pytest.raises(ProviderError, match=r"\(404: no such model\)"):
        model.complete("", [Message.user("hi")])
    assert len(wire_server.requests) == 2


@pytest.mark.parametrize("factory", [anthropic, openai])
def test_error_status_with_hostile_body_is_one_clean_sentence(wire_server, factory):
    wire_server.push(raw_reply("<html>\x1b[2J" + "x" * 5000 + "</html>", "text/html", status=400))
    with pytest.raises(ProviderError) as info:
        factory(wire_server).complete("", [Message.user("hi")])
    message = str(info.value)
    assert "\x1b" not in message and "\n" not in message and len(message) < 500
    assert "rejected the request (400:" in message


def test_openai_invalid_tool_arguments_go_back_to_the_model(wire_server):
    # The model's own text, not the provider's fault: kept raw with the parse error, never executed.
    nested = "[" * 5000 + "]" * 5000
    wire_server.push(
        openai_completion(
            tool_calls=[
                ("c1", "add", '{"a": 1,'),
                ("c2", "add", '{"a": ' + "9" * 5000 + "}"),
                ("c3", "add", nested),
                ("c4", "add", '{"a": ' + "[" * 100 + "]" * 100 + "}"),
                ("c5", "add", "[1, 2]"),
            ]
        )
    )
    calls = openai(wire_server).complete("", [Message.user("hi")]).tool_calls
    assert [c.arguments for c in calls] == [None] * 5
    assert all(c.parse_error for c in calls)
    assert calls[0].raw_arguments == '{"a": 1,'
    assert "nested too deeply" in calls[2].parse_error and "nested too deeply" in calls[3].parse_error


def test_openai_arguments_sent_as_an_object_are_accepted(wire_server):
    body = openai_completion(tool_calls=[("c1", "add", "{}")]).body
    body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = {"a": 1, "b": 2}
    wire_server.push(Canned(200, body))
    [call] = openai(wire_server).complete("", [Message.user("hi")]).tool_calls
    assert call.arguments == {"a": 1, "b": 2} and call.parse_error is None


def test_anthropic_tool_input_not_an_object_goes_back_to_the_model(wire_server):
    wire_server.push(anthropic_message(tool_uses=[("t1", "add", [1, 2]), ("t2", "add", {"a": [[[[]]]] * 1})]))
    first, second = anthropic(wire_server).complete("", [Message.user("hi")]).tool_calls
    assert first.arguments is None and first.parse_error == "tool input is not a JSON object"
    assert second.arguments == {"a": [[[[]]]]}


def test_lone_surrogates_in_a_reply_are_replaced(wire_server):
    wire_server.push(raw_reply(_with_text('"\\ud800 hi"')))
    response = anthropic(wire_server).complete("", [Message.user("hi")])
    assert response.text == "? hi"
    response.text.encode("utf-8")


def _with_text(text_json: str) -> str:
    return (
        '{"type": "message", "role": "assistant", "content": [{"type": "text", "text": '
        + text_json
        + '}], "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 1}}'
    )


@pytest.mark.parametrize("factory", [anthropic, openai])
def test_unexpected_sdk_exception_is_classified(wire_server, factory, monkeypatch):
    model = factory(wire_server)

    def broken(*_args):
        raise TypeError("boom")

    monkeypatch.setattr(model, "_call", broken)
    with pytest.raises(ProviderError, match=r"failed unexpectedly \(TypeError: boom\)"):
        model.complete("", [Message.user("hi")])


def test_provider_timeout_is_a_provider_error():
    assert issubclass(ProviderTimeout, ProviderError)


@pytest.mark.parametrize("factory", [anthropic, openai])
def test_lone_surrogates_in_a_request_are_replaced(wire_server, factory):
    # A subagent's result can carry a lone surrogate; sending it used to fail while encoding the request.
    ok = anthropic_message("fine") if factory is anthropic else openai_completion("fine")
    wire_server.push(ok)
    assert factory(wire_server).complete("sys \ud800", [Message.user("result \udcff")]).text == "fine"
    sent = json.dumps(wire_server.requests[0].body)
    assert "sys ?" in sent and "result ?" in sent


@pytest.mark.parametrize("factory_name", ["anthropic", "openai"])
def test_garbage_instead_of_http_is_retried_then_one_sentence(factory_name):
    # Not HTTP at all (a wrong port, a broken proxy): a transport failure, retried within the bounds.
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    port = listener.getsockname()[1]
    served = []

    def serve() -> None:
        for _ in range(FAST.max_attempts):  # bounded: exactly the attempts the policy allows
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"\x00\x01garbage\r\n\r\n")
                served.append(1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    if factory_name == "anthropic":
        model = AnthropicProvider("c", api_key="k", base_url=base, retry=FAST, call_timeout_s=20)
    else:
        model = OpenAIProvider("g", api_key="k", base_url=base + "/v1", retry=FAST, call_timeout_s=20)
    try:
        with pytest.raises(ProviderError) as info:
            model.complete("", [Message.user("hi")])
    finally:
        thread.join(timeout=10)
        listener.close()
    message = str(info.value)
    assert "still failed after 3 attempts (no response: connection failed" in message
    assert "\n" not in message and len(served) == 3


def test_tool_arguments_with_a_huge_integer_are_a_parse_error_not_a_crash():
    from agentfactory.llm.reply import parse_arguments

    value, error = parse_arguments('{"n": ' + "9" * 5000 + "}")
    assert value is None and "too many digits" in error
