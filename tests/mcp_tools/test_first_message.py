"""The Meta-Agent sees the few MCP tools relevant to its task, not every tool of every server: a server
with 50 tools costs the first message at most MAX_MCP_OFFERED lines, and the tool definitions never list
the servers' tools."""

from __future__ import annotations

import json

from agentfactory.meta.agent import MAX_MCP_OFFERED
from agentfactory.meta.skills import MCP_TOOL_PATTERN, meta_tools

from .conftest import call, mcp_env, toml_table


def test_fifty_tools_on_a_server_offer_only_the_relevant_few_in_the_first_message(tmp_path):
    env = mcp_env(tmp_path, servers=toml_table("hub", "many"))
    env.run("Get the weather forecast for Paris tomorrow.", [call("finish", answer="sunny")])
    system, messages, tools = env.providers[0].requests[0][:3]
    first = messages[0].text
    offered = [line for line in first.splitlines() if line.startswith("- hub.")]
    assert 1 <= len(offered) <= MAX_MCP_OFFERED
    assert all("weather" in line for line in offered), offered
    assert (
        offered[0].startswith("- hub.tool_") and "(text: string) — Work with weather forecast" in offered[0]
    )
    assert "search_issues" not in first and "stock" not in first
    # The model's tool definitions carry a pattern for SERVER.tool, not the fifty names.
    spec = next(t for t in tools if t.name == "create_subagent")
    items = spec.input_schema["properties"]["tools"]["items"]
    assert items["anyOf"][1] == {"type": "string", "pattern": MCP_TOOL_PATTERN}
    assert "hub." not in json.dumps([t.input_schema for t in tools]) + system


def test_without_configured_servers_the_first_message_and_the_tools_do_not_change(tmp_path):
    from .conftest import make_env

    env = make_env(tmp_path)
    env.run("Get the weather forecast for Paris tomorrow.", [call("finish", answer="sunny")])
    _, messages, tools = env.providers[0].requests[0][:3]
    assert "MCP" not in messages[0].text
    assert [t.input_schema for t in tools] == [t.input_schema for t in meta_tools()]


def test_search_and_view_show_a_tool_and_its_schema(tmp_path):
    env = mcp_env(tmp_path, servers=toml_table("hub", "many"))
    env.run(
        "Read my email inbox.",
        [
            call("search_subagents", query="add two numbers"),
            call("view_subagent", name="hub.add"),
            call("view_subagent", name="hub.nothing"),
            call("finish", answer="done"),
        ],
    )
    replies = [r[1][-1].tool_results[0].content for r in env.providers[0].requests[1:4]]
    assert "MCP tools:\nhub.add(a: integer, b: integer) — Add two whole numbers." in replies[0]
    assert "MCP tool hub.add (server 'hub')\nAdd two whole numbers.\nArguments (JSON schema): {" in replies[1]
    assert '"required": ["a", "b"]' in replies[1]
    assert "MCP server 'hub' has no tool 'nothing'." in replies[2]
