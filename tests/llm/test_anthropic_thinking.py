"""Extended thinking through the real `anthropic` SDK against a wire server applying the API's rules.

The rules (tests/fakes/anthropic_rules.py) refuse a request the way the real API does: a thinking
block changed, dropped or moved, a budget under 1,024, `max_tokens` not above the budget. So a test that
passes here sent what the real API accepts.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from agentfactory.config import load_settings
from agentfactory.errors import ConfigError, InvalidSetting, ProviderError
from agentfactory.llm import Message, RetryPolicy, ToolResult
from agentfactory.llm.anthropic import AnthropicProvider
from agentfactory.llm.metered import MeteredProvider
from agentfactory.llm.registry import get_provider
from agentfactory.llm.types import ThinkingBlock
from agentfactory.meta.agent import MetaAgent
from tests.fakes.anthropic_rules import AnthropicRules, redacted, sign
from tests.fakes.wire_server import anthropic_message
from tests.meta.conftest import UPPER, make_env

FAST = RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.02)


@pytest.fixture
def rules(wire_server):
    return AnthropicRules().install(wire_server)


def provider(server, budget: int | None = 2048, model: str = "claude-sonnet-4-6") -> AnthropicProvider:
    return AnthropicProvider(model, api_key="k", base_url=server.url, retry=FAST, thinking_budget=budget)


def test_thinking_blocks_preserved_over_three_tool_use_turns_of_a_run(
    tmp_path, wire_server, rules, monkeypatch
):
    create = {"name": "upper-text", "description": "Upper-case a text.", "code": UPPER}
    wire_server.push(
        rules.message(
            "I will write a subagent.",
            [("toolu_1", "create_subagent", create)],
            thinking=["The task needs a new subagent; none exists yet."],
            input_tokens=1200,
            output_tokens=400,
        ),
        rules.message(
            None,
            [("toolu_2", "run_subagent", {"name": "upper-text", "inputs": {"text": "hello"}})],
            thinking=[("redacted", "seed-2"), "Now run it on the input."],
            input_tokens=1300,
            output_tokens=120,
        ),
        rules.message(
            None,
            [("toolu_3", "finish", {"answer": "HELLO", "save": ["upper-text"]})],
            thinking=["The trace shows HELLO: finish and save it."],
            input_tokens=1400,
            output_tokens=90,
        ),
    )
    env = make_env(
        tmp_path,
        model="anthropic:claude-sonnet-4-6",
        anthropic_base_url=wire_server.url,
        thinking_budget=2048,
    )
    result = MetaAgent(replace(env.settings, credentials={"ANTHROPIC_API_KEY": "test-key"})).run(
        "Write HELLO in capitals from hello."
    )

    assert rules.refusals == []
    assert result.status == "success", result.reason
    assert result.answer == "HELLO" and result.saved == [("upper-text", 1)]
    # Thinking tokens are output tokens: counted and priced as such.
    assert result.usage.output_tokens == 400 + 120 + 90
    bodies = wire_server.bodies()
    assert len(bodies) == 3 and wire_server.pending == 0
    for body in bodies:
        assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
        assert body["max_tokens"] > 2048 and "temperature" not in body and "top_k" not in body
    # Each assistant turn starts with its thinking blocks, unchanged, before its text and tool call.
    first = bodies[2]["messages"][1]["content"]
    assert first[0] == {
        "type": "thinking",
        "thinking": "The task needs a new subagent; none exists yet.",
        "signature": sign("The task needs a new subagent; none exists yet."),
    }
    assert [b["type"] for b in first] == ["thinking", "text", "tool_use"]
    second = bodies[2]["messages"][3]["content"]
    assert second[0] == {"type": "redacted_thinking", "data": redacted("seed-2")}
    assert second[1]["type"] == "thinking" and second[1]["signature"] == sign("Now run it on the input.")
    assert [b["type"] for b in second] == ["redacted_thinking", "thinking", "tool_use"]


def test_the_rules_refuse_a_changed_dropped_or_moved_thinking_block(wire_server, rules):
    # The fake is not permissive: what the adapter must not do is refused as the real API refuses it.
    wire_server.push(rules.message(None, [("toolu_1", "add", {"a": 1})], thinking=["Add them."]))
    model = provider(wire_server)
    first = model.complete("", [Message.user("1+?")])
    results = Message(role="user", tool_results=[ToolResult("toolu_1", "1")])
    changed = first.to_message()
    changed.thinking = [ThinkingBlock("thinking", text="Add them!", signature=first.thinking[0].signature)]
    dropped = first.to_message()
    dropped.thinking = []
    for assistant, wording in [(changed, "Invalid `signature`"), (dropped, "changed, dropped or moved")]:
        with pytest.raises(ProviderError, match=wording):
            model.complete("", [Message.user("1+?"), assistant, results])
    assert len(rules.refusals) == 2
    # Moved behind the text, or a tool-use turn with no thinking at all while thinking is on.
    block = first.thinking[0]
    thought = {"type": "thinking", "thinking": block.text, "signature": block.signature}
    body = {
        "max_tokens": 4096,
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "messages": [
            {"role": "user", "content": "1+?"},
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "hm"}, thought, {"type": "tool_use", "id": "toolu_1"}],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "1"}]},
        ],
    }
    assert "changed, dropped or moved" in rules.problem(body)
    body["messages"][1]["content"] = [{"type": "tool_use", "id": "toolu_x", "name": "add"}]
    body["messages"][2]["content"][0]["tool_use_id"] = "toolu_x"
    assert "Expected `thinking` or `redacted_thinking`, but found `tool_use`" in rules.problem(body)
    del body["thinking"]
    assert rules.problem(body) is None


def test_redacted_block_is_kept_and_sent_back_unchanged(wire_server, rules):
    wire_server.push(
        rules.message(None, [("toolu_9", "add", {"a": 1})], thinking=[("redacted", "opaque")]),
        anthropic_message("2"),
    )
    model = provider(wire_server)
    first = model.complete("", [Message.user("1+1?")])
    assert first.thinking == [ThinkingBlock("redacted_thinking", data=redacted("opaque"))]
    assert first.text == ""  # nothing of a redacted block is shown
    results = Message(role="user", tool_results=[ToolResult("toolu_9", "2")])
    assert model.complete("", [Message.user("1+1?"), first.to_message(), results]).text == "2"
    assert rules.refusals == []
    assert wire_server.bodies()[1]["messages"][1]["content"][0] == {
        "type": "redacted_thinking",
        "data": redacted("opaque"),
    }


def test_max_tokens_is_raised_above_the_budget_within_the_model_limit(wire_server, rules):
    wire_server.push(rules.message("a"), rules.message("b"))
    provider(wire_server, budget=4000).complete("", [Message.user("x")], max_tokens=1000)
    # claude-3-5-haiku may write 8,192 tokens: budget + 8,000 asked for is capped there.
    provider(wire_server, budget=4000, model="claude-3-5-haiku-latest").complete(
        "", [Message.user("x")], max_tokens=8000
    )
    first, second = wire_server.bodies()
    assert first["max_tokens"] == 5000 and first["thinking"]["budget_tokens"] == 4000
    assert second["max_tokens"] == 8192
    assert rules.refusals == []


def test_without_a_budget_no_thinking_is_asked_for(wire_server, rules):
    wire_server.push(rules.message("plain"))
    provider(wire_server, budget=None).complete("", [Message.user("x")], max_tokens=1000)
    body = wire_server.bodies()[0]
    assert "thinking" not in body and body["max_tokens"] == 1000


@pytest.mark.parametrize("budget", [500, 1023, 0, True, "2048"])
def test_a_budget_under_1024_is_refused_with_a_sentence(wire_server, budget):
    with pytest.raises(ConfigError, match=r"at least 1,024 tokens \(the Anthropic API's minimum\)"):
        provider(wire_server, budget=budget)
    assert wire_server.requests == []


def test_a_budget_leaving_no_room_for_an_answer_is_refused(wire_server):
    with pytest.raises(ConfigError, match=r"no room for an answer within the 8,192 output tokens"):
        provider(wire_server, budget=8192, model="claude-3-5-haiku-latest")


def test_thinking_tokens_are_priced_as_output(wire_server, rules):
    wire_server.push(rules.message("ok", thinking=["long thoughts"], input_tokens=0, output_tokens=1_000_000))
    metered = MeteredProvider(provider(wire_server), load_settings({}, env={}).models)
    response = metered.complete("", [Message.user("x")])
    assert response.usage.output_tokens == 1_000_000
    price = load_settings({}, env={}).models.price_for("anthropic:claude-sonnet-4-6")
    assert response.cost_usd == pytest.approx(price.output)


def test_registry_builds_the_adapter_with_the_setting(wire_server):
    settings = load_settings({"anthropic_base_url": wire_server.url}, env={})
    key = {"ANTHROPIC_API_KEY": "k"}
    assert (
        get_provider(
            "anthropic:claude-sonnet-4-6", settings.models, env=key, thinking_budget=3000
        ).thinking_budget
        == 3000
    )
    assert get_provider("anthropic:claude-sonnet-4-6", settings.models, env=key).thinking_budget is None
    with pytest.raises(InvalidSetting, match=r"'thinking_budget' from settings is 512: .*at least 1,024"):
        load_settings({"thinking_budget": 512}, env={}, flag_sources={"thinking_budget": "settings"})


def test_thinking_flag_under_1024_is_refused_by_the_cli(tmp_path):
    for command in (["run", "hello"], ["evolve", "--all"]):
        done = subprocess.run(
            [sys.executable, "-m", "agentfactory", *command, "--thinking", "500", "--model", "sim"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(_root())},
        )
        assert done.returncode == 2, done.stderr
        assert "Traceback" not in done.stderr
        setting = "thinking_budget" if command[0] == "run" else "evolve_thinking_budget"
        assert (
            f"Setting '{setting}' from --thinking is 500: it must be a whole number, at least 1,024"
            in done.stderr
        )
        assert not (tmp_path / "workspaces").exists()


def _root() -> Path:
    return Path(__file__).resolve().parents[2]


def test_evolve_thinks_with_its_own_budget(tmp_path, monkeypatch):
    # `run` thinks with thinking_budget, `evolve` with evolve_thinking_budget (--thinking there).
    from typer.testing import CliRunner

    from agentfactory.cli import app
    from agentfactory.errors import ConfigError as Stop
    from agentfactory.llm import registry

    built: list[int | None] = []

    def recording(spec, settings, **kwargs):
        built.append(kwargs.get("thinking_budget"))
        raise Stop("stop here")

    monkeypatch.setattr(registry, "get_provider", recording)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AGENTFACTORY_CONFIG", raising=False)
    monkeypatch.setenv("AGENTFACTORY_THINKING_BUDGET", "5000")
    runner = CliRunner()
    for extra in (["--thinking", "2048"], []):
        result = runner.invoke(app, ["evolve", "--all", "--model", "anthropic:claude-x", *extra])
        assert result.exit_code == 3 and "stop here" in result.output
    assert built == [2048, None]
    assert (
        load_settings(env={"AGENTFACTORY_THINKING_BUDGET": "5000"}, cwd=tmp_path).models.thinking_budget
        == 5000
    )


def test_only_the_meta_agent_thinks_not_the_subagents_llm_calls(tmp_path, wire_server, rules, monkeypatch):
    from agentfactory.llm import registry

    built: list[tuple[str, int | None]] = []
    real = registry.get_provider

    def recording(spec, settings, **kwargs):
        built.append((spec, kwargs.get("thinking_budget")))
        return real(spec, settings, **kwargs)

    monkeypatch.setattr(registry, "get_provider", recording)
    wire_server.push(rules.message(None, [("toolu_1", "finish", {"answer": "hi"})], thinking=["Done."]))
    env = make_env(
        tmp_path,
        model="anthropic:claude-sonnet-4-6",
        anthropic_base_url=wire_server.url,
        thinking_budget=2048,
    )
    assert (
        MetaAgent(replace(env.settings, credentials={"ANTHROPIC_API_KEY": "test-key"})).run("Say hi.").status
        == "success"
    )
    spec = "anthropic:claude-sonnet-4-6"
    assert built == [(spec, 2048), (spec, None)]
