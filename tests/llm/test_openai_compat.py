"""OpenAI-compatible servers as they are (tests/fakes/compat_shapes.py), through the real `openai` SDK
against the wire server with the API's request rules installed."""

from __future__ import annotations

import json

import pytest

from agentfactory.errors import ProviderError
from agentfactory.llm import Message, RetryPolicy, ToolResult, ToolSpec, check_tool_call
from agentfactory.llm.openai import OpenAIProvider
from agentfactory.llm.tokens import count_output_tokens, count_request_tokens
from tests.fakes import compat_shapes as shapes
from tests.fakes.openai_rules import openai_rules
from tests.fakes.wire_server import Canned, WireServer, openai_completion

FAST = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, max_retry_after_s=0.2)
ADD = ToolSpec(
    "add",
    "Add two integers.",
    {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}},
)
SEARCH = ToolSpec("search", "Search.", {"type": "object", "properties": {"q": {"type": "string"}}})


@pytest.fixture
def server():
    with WireServer() as wire:
        wire.validators.append(openai_rules)
        yield wire


def provider(server, model: str = "qwen2.5") -> OpenAIProvider:
    return OpenAIProvider(model, api_key=None, base_url=server.openai_base_url, retry=FAST, call_timeout_s=20)


def ask(server, answer: Canned, tools=(ADD, SEARCH), model: str = "qwen2.5"):
    server.push(answer)
    return provider(server, model).complete("You add.", [Message.user("2+3?")], list(tools))


def test_ollama_tool_call_reads_as_openai(server):
    response = ask(server, shapes.ollama_tool_call("add", {"a": 2, "b": 3}))
    [call] = response.tool_calls
    assert (call.id, call.name, call.arguments, call.parse_error) == (
        "call_k2x7rq1d",
        "add",
        {"a": 2, "b": 3},
        None,
    )
    assert (response.stop_reason, response.usage.input_tokens, response.usage_estimated) == (
        "tool_use",
        180,
        False,
    )


def test_arguments_as_a_json_object_are_accepted_and_sent_back_as_a_string(server):
    model = provider(server)
    server.push(shapes.object_arguments("add", {"a": 2, "b": 3}), openai_completion("5"))
    first = model.complete("You add.", [Message.user("2+3?")], [ADD])
    [call] = first.tool_calls
    assert (call.name, call.arguments, call.parse_error) == ("add", {"a": 2, "b": 3}, None)
    assert check_tool_call(call, [ADD]) is None
    messages = [
        Message.user("2+3?"),
        first.to_message(),
        Message("user", tool_results=[ToolResult(call.id, "5")]),
    ]
    assert model.complete("You add.", messages, [ADD]).text == "5"  # the rules refuse object arguments
    sent = server.requests[1].body["messages"][2]["tool_calls"][0]
    assert json.loads(sent["function"]["arguments"]) == {"a": 2, "b": 3}


def test_object_arguments_in_a_stream_are_accepted(server):
    chunk = {"choices": [{"index": 0, "delta": {"tool_calls": [
        {"index": 0, "id": "c1", "function": {"name": "add", "arguments": {"a": 1, "b": 2}}}]},
        "finish_reason": "tool_calls"}]}  # fmt: skip
    server.push(Canned(200, sse=[(None, chunk), (None, "[DONE]")]))
    events = []
    response = provider(server).complete("", [Message.user("1+2?")], [ADD], on_stream=events.append)
    [call] = response.tool_calls
    assert (call.id, call.name, call.arguments) == ("c1", "add", {"a": 1, "b": 2})
    assert [e.kind for e in events] == ["tool_call", "tool_input"]
    assert response.usage_estimated is True


@pytest.mark.parametrize(
    "answer", [shapes.lmstudio_without_usage, shapes.zero_usage], ids=["missing", "zeros"]
)
def test_missing_usage_is_estimated_with_the_project_tokenizer(server, answer):
    text = "The sum of two and three is five."
    response = ask(server, answer(text), tools=())
    assert response.text == text
    assert response.usage_estimated is True
    assert response.usage.input_tokens == count_request_tokens("You add.", [Message.user("2+3?")], [])
    assert response.usage.output_tokens == count_output_tokens(text, []) > 0


@pytest.mark.parametrize("usage", [None, {}, {"total_tokens": 0}], ids=["null", "empty", "no-counts"])
def test_usage_without_counts_is_estimated(server, usage):
    answer = openai_completion("fine")
    answer.body["usage"] = usage
    response = ask(server, answer, tools=())
    assert response.usage_estimated is True and response.usage.output_tokens == 1


def test_zero_usage_for_an_empty_reply_is_taken_as_given(server):
    answer = openai_completion("")
    answer.body["usage"].update(prompt_tokens=0, completion_tokens=0)
    response = ask(server, answer, tools=())
    assert response.usage_estimated is False and response.usage.total_tokens == 0


def test_reported_usage_is_not_estimated(server):
    response = ask(server, openai_completion("fine", prompt_tokens=7, completion_tokens=1), tools=())
    assert response.usage_estimated is False and response.usage.input_tokens == 7


@pytest.mark.parametrize(
    "answer, model, where",
    [
        (shapes.ollama_no_tools("gemma2:2b"), "gemma2:2b", "registry.ollama.ai/library/gemma2:2b does not support tools"),
        (shapes.vllm_no_tool_choice(), "Qwen/Qwen2.5-7B", '"auto" tool choice requires --enable-auto-tool-choice'),
        (shapes.llamacpp_tools_need_jinja(), "qwen2.5", "tools param requires --jinja flag"),
        (shapes.llamacpp_unsupported_tools(), "qwen2.5", "Unsupported param: tools"),
    ],
    ids=["ollama", "vllm", "llama.cpp", "llama.cpp-old"],
)  # fmt: skip
def test_server_without_tool_support_is_one_sentence_naming_server_and_model(server, answer, model, where):
    server.push(answer, answer, answer)
    with pytest.raises(ProviderError) as info:
        provider(server, model).complete("", [Message.user("hi")], [ADD])
    message = str(info.value)
    assert message.startswith(
        f"Model '{model}' on the server at 127.0.0.1:{server.port} does not support tool calls ({answer.status}: "
    )
    assert where in message
    assert message.endswith("choose a model with tool support, or enable tool calling on the server.")
    assert len(server.requests) == 1  # not retried, even the 500


def test_same_error_without_tools_offered_is_not_called_a_tool_problem(server):
    server.push(shapes.ollama_no_tools())
    with pytest.raises(ProviderError) as info:
        provider(server).complete("", [Message.user("hi")])
    assert "does not support tool calls" not in str(info.value)


def test_hermes_tool_call_in_text_becomes_a_tool_call(server):
    content = shapes.hermes_tool_call_text("add", {"a": 2, "b": 3}, before="Let me add.\n")
    response = ask(server, shapes.llamacpp_text_reply(content))
    [call] = response.tool_calls
    assert (call.id, call.name, call.arguments, call.parse_error) == ("call_0", "add", {"a": 2, "b": 3}, None)
    assert (response.text, response.stop_reason) == ("Let me add.", "tool_use")


def test_several_tagged_calls_and_an_unclosed_last_one(server):
    content = (
        '<tool_call>{"name": "add", "arguments": {"a": 1, "b": 1}}</tool_call>\n'
        '<tool_call>\n{"name": "search", "arguments": "{\\"q\\": \\"x\\"}"}'
    )
    response = ask(server, shapes.llamacpp_text_reply(content))
    assert [(c.id, c.name, c.arguments) for c in response.tool_calls] == [
        ("call_0", "add", {"a": 1, "b": 1}),
        ("call_1", "search", {"q": "x"}),
    ]
    assert response.text == ""


@pytest.mark.parametrize(
    "content",
    [
        '{"name": "add", "arguments": {"a": 4, "b": 5}}',
        '  ```json\n{"name": "add", "parameters": {"a": 4, "b": 5}}\n```  ',
        '[{"name": "add", "arguments": {"a": 4, "b": 5}}]',
        '[TOOL_CALLS] [{"name": "add", "arguments": {"a": 4, "b": 5}}]',
    ],
    ids=["bare", "fenced-parameters", "list", "mistral"],
)
def test_whole_reply_as_a_tool_call_object(server, content):
    response = ask(server, shapes.llamacpp_text_reply(content))
    [call] = response.tool_calls
    assert (call.name, call.arguments, response.text, response.stop_reason) == (
        "add",
        {"a": 4, "b": 5},
        "",
        "tool_use",
    )


@pytest.mark.parametrize(
    "content",
    [
        '<tool_call>{"name": "rm_rf", "arguments": {"path": "/"}}</tool_call>',
        '{"name": "rm_rf", "arguments": {}}',
        '[{"name": "add", "arguments": {}}, {"name": "rm_rf", "arguments": {}}]',
        '<tool_call>{"name": "add", "arguments": {"a": </tool_call>',
        'Use {"name": "add", "arguments": {"a": 1}} to add.',
        '{"name": "add", "arguments": ' + "[" * 200 + "]" * 200 + "}",
    ],
    ids=[
        "tag-unknown-tool",
        "bare-unknown-tool",
        "list-with-unknown",
        "tag-bad-json",
        "inside-prose",
        "deep",
    ],
)
def test_text_that_is_not_an_offered_tool_call_stays_text(server, content):
    response = ask(server, shapes.llamacpp_text_reply(content))
    assert (response.text, response.tool_calls, response.stop_reason) == (content, [], "end_turn")


def test_embedded_calls_are_not_read_when_no_tools_were_offered(server):
    content = '{"name": "add", "arguments": {"a": 4, "b": 5}}'
    response = ask(server, shapes.llamacpp_text_reply(content), tools=())
    assert (response.text, response.tool_calls) == (content, [])


def test_embedded_calls_in_a_stream_equal_unstreamed(server):
    content = shapes.hermes_tool_call_text("add", {"a": 2, "b": 3})
    server.push(
        shapes.llamacpp_text_reply(content),
        shapes.openai_stream(content, prompt_tokens=210, completion_tokens=40),
    )
    model = provider(server)
    plain = model.complete("You add.", [Message.user("2+3?")], [ADD])
    live = model.complete("You add.", [Message.user("2+3?")], [ADD], on_stream=lambda event: None)
    assert (live.text, live.tool_calls, live.stop_reason, live.usage) == (
        plain.text, plain.tool_calls, plain.stop_reason, plain.usage)  # fmt: skip
    assert plain.tool_calls[0].arguments == {"a": 2, "b": 3}


def test_reply_ignoring_tools_is_a_text_turn(server):
    # A server that drops the tools cannot be told from a model that chose to answer: a text turn.
    response = ask(server, shapes.vllm_reply_ignoring_tools("2 + 3 = 5"))
    assert (response.text, response.tool_calls, response.stop_reason) == ("2 + 3 = 5", [], "end_turn")


def test_qwen3_coder_xml_tool_call_in_text_becomes_a_tool_call(server):
    code = "def main(x):\n    return {'n': 1 < 2}\n"
    answer = shapes.lmstudio_xml_tool_call_text("write", {"path": "m.py", "code": code, "mode": "420"})
    write = ToolSpec(
        "write",
        "Write.",
        {"type": "object", "properties": {"path": {"type": "string"}, "code": {"type": "string"},
                                          "mode": {"type": "integer"}}},
    )  # fmt: skip
    response = ask(server, answer, tools=(write,))
    [call] = response.tool_calls
    assert call.name == "write" and call.arguments == {"path": "m.py", "code": code, "mode": 420}
    assert (response.text, response.stop_reason) == ("", "tool_use")


def test_xml_tool_call_for_a_tool_not_offered_stays_text(server):
    answer = shapes.lmstudio_xml_tool_call_text("delete_all", {"path": "/"})
    response = ask(server, answer)
    assert response.tool_calls == [] and response.text.startswith("<tool_call>")
