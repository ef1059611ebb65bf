"""The OpenAI adapter drives a whole Meta-Agent run against a fake server speaking the real wire format.

`openai:<model>` with `openai_base_url` at the fake server: create -> run -> finish. The recorded
requests must carry the six meta-skill tool definitions and, turn after turn, the tool results.
"""

from __future__ import annotations

import json

from agentfactory.meta.agent import MetaAgent
from tests.fakes.wire_server import openai_completion, wire_server  # noqa: F401  (fixture)

from .conftest import UPPER, make_env

META_TOOLS = [
    "search_subagents",
    "view_subagent",
    "create_subagent",
    "run_subagent",
    "modify_subagent",
    "finish",
]


def test_openai_adapter_full_run(tmp_path, wire_server, monkeypatch):  # noqa: F811
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    create = {"name": "upper-text", "description": "Upper-case a text.", "code": UPPER}
    wire_server.push(
        openai_completion(
            "I will write a subagent.",
            [("call_a1", "create_subagent", json.dumps(create))],
            prompt_tokens=1200,
            completion_tokens=90,
        ),
        openai_completion(
            None,
            [("call_a2", "run_subagent", json.dumps({"name": "upper-text", "inputs": {"text": "hello"}}))],
            prompt_tokens=1300,
            completion_tokens=20,
            cached_tokens=1000,
        ),
        openai_completion(
            None,
            [("call_a3", "finish", json.dumps({"answer": "HELLO", "save": ["upper-text"]}))],
            prompt_tokens=1400,
            completion_tokens=15,
            cached_tokens=1200,
        ),
    )
    env = make_env(tmp_path, model="openai:gpt-test", openai_base_url=wire_server.openai_base_url)
    result = MetaAgent(env.settings).run("Write HELLO in capitals from hello.")

    assert result.status == "success", result.reason
    assert result.answer == "HELLO" and result.model == "openai:gpt-test" and not result.simulated
    assert result.saved == [("upper-text", 1)]
    assert env.library.get("upper-text").cases[0].expected == {"upper": "HELLO"}
    # Usage comes from the wire: prompt tokens minus cached ones are uncached input.
    assert result.model_calls == 3
    assert result.usage.input_tokens == 1200 + 300 + 200
    assert result.usage.cache_read_tokens == 2200
    assert result.usage.output_tokens == 125

    bodies = wire_server.bodies()
    assert len(bodies) == 3 and wire_server.pending == 0
    assert all(r.path == "/v1/chat/completions" for r in wire_server.requests)
    for body in bodies:
        assert body["model"] == "gpt-test"
        assert [t["function"]["name"] for t in body["tools"]] == META_TOOLS
        assert all(t["type"] == "function" for t in body["tools"])
        assert body["messages"][0]["role"] == "system"
        assert "You are the Meta-Agent of AgentFactory" in body["messages"][0]["content"]
    create_schema = bodies[0]["tools"][2]["function"]["parameters"]
    assert create_schema["required"] == ["name", "description", "code"]
    assert bodies[0]["messages"][1]["role"] == "user"
    assert "<task>\nWrite HELLO in capitals from hello.\n</task>" in bodies[0]["messages"][1]["content"]

    # Turn 2 carries the assistant's call and its result, as a tool message with the call's id.
    messages = bodies[1]["messages"]
    assistant = messages[2]
    assert assistant["role"] == "assistant"
    assert assistant["tool_calls"][0]["id"] == "call_a1"
    assert json.loads(assistant["tool_calls"][0]["function"]["arguments"]) == create
    tool_message = messages[3]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_a1"
    assert tool_message["content"].startswith('<data source="create_subagent">')
    assert "Candidate 'upper-text' created" in tool_message["content"]

    # Turn 3 carries the execution trace of the run, delimited as data.
    last = bodies[2]["messages"][-1]
    assert last["role"] == "tool" and last["tool_call_id"] == "call_a2"
    assert last["content"].startswith('<data source="run_subagent">\nstatus: ok')
    assert '"upper": "HELLO"' in last["content"]
