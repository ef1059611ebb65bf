from __future__ import annotations

import json
import threading

import pytest

from agentfactory.errors import ConfigError, ProviderError
from agentfactory.llm import Message, ModelResponse, ScriptedProvider, ToolSpec, Usage
from agentfactory.llm.tokens import count_output_tokens, count_request_tokens

TOOL = ToolSpec("echo", "Echo.", {"type": "object", "properties": {"text": {"type": "string"}}})


def test_replays_in_order_and_then_says_it_is_exhausted():
    model = ScriptedProvider([{"text": "one"}, {"text": "two"}])
    assert model.complete("", [Message.user("a")]).text == "one"
    assert model.complete("", [Message.user("b")]).text == "two"
    with pytest.raises(ProviderError, match="scripted model has no more responses"):
        model.complete("", [Message.user("c")])


def test_dict_with_tool_calls_object_and_raw_string_arguments():
    model = ScriptedProvider(
        [
            {
                "text": "",
                "tool_calls": [
                    {"name": "echo", "arguments": {"text": "hi"}},
                    {"name": "echo", "arguments": '{"text": '},
                ],
            }
        ]
    )
    response = model.complete("sys", [Message.user("go")], [TOOL])
    ok, bad = response.tool_calls
    assert ok.arguments == {"text": "hi"} and ok.parse_error is None
    assert bad.arguments is None and bad.parse_error and bad.raw_arguments == '{"text": '
    assert ok.id != bad.id
    assert response.stop_reason == "tool_use"
    assert response.simulated is True


def test_usage_counted_from_request_and_response_when_not_given():
    model = ScriptedProvider([{"text": "the answer is 42"}])
    messages = [Message.user("What is six times seven? Please explain.")]
    response = model.complete("You are careful.", messages, [TOOL])
    assert response.usage.input_tokens == count_request_tokens("You are careful.", messages, [TOOL])
    assert response.usage.output_tokens == count_output_tokens("the answer is 42", [])
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0


def test_given_usage_and_stop_reason_are_kept():
    model = ScriptedProvider(
        [{"text": "x", "usage": {"input_tokens": 5, "cache_read_tokens": 7}, "stop_reason": "max_tokens"}]
    )
    response = model.complete("", [])
    assert response.usage == Usage(input_tokens=5, cache_read_tokens=7)
    assert response.stop_reason == "max_tokens"


def test_callables_and_model_responses():
    seen = []

    def reply(system, messages, tools):
        seen.append((system, len(messages), [t.name for t in tools]))
        return {"text": f"echo {messages[-1].text}"}

    fixed = ModelResponse("fixed", [], "end_turn", Usage(1, 1), "scripted")
    model = ScriptedProvider([reply, fixed])
    assert model.complete("s", [Message.user("hey")], [TOOL]).text == "echo hey"
    assert seen == [("s", 1, ["echo"])]
    assert model.complete("s", []).text == "fixed"


def test_from_file_and_bad_files(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(
        json.dumps({"responses": [{"text": "a"}, {"tool_calls": [{"name": "echo", "arguments": {}}]}]})
    )
    model = ScriptedProvider.from_file(good)
    assert model.spec == f"scripted:{good}"
    assert model.remaining == 2

    bad_json = tmp_path / "bad.json"
    bad_json.write_text("[{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        ScriptedProvider.from_file(bad_json)

    wrong_shape = tmp_path / "shape.json"
    wrong_shape.write_text(json.dumps({"text": "a"}))
    with pytest.raises(ConfigError, match="must hold a JSON list"):
        ScriptedProvider.from_file(wrong_shape)

    bad_call = tmp_path / "call.json"
    bad_call.write_text(json.dumps([{"tool_calls": [{"arguments": {}}]}]))
    with pytest.raises(ConfigError, match="needs a 'name'"):
        ScriptedProvider.from_file(bad_call)


def test_thread_safe_each_response_served_once():
    model = ScriptedProvider([{"text": str(i)} for i in range(200)])
    got: list[str] = []
    lock = threading.Lock()

    def worker():
        for _ in range(50):
            text = model.complete("", []).text
            with lock:
                got.append(text)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got, key=int) == [str(i) for i in range(200)]
