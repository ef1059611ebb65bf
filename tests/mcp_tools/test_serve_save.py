"""`mcp serve`'s save_subagent for a subagent that calls MCP tools of agentfactory.toml: allocated like
create_subagent allocates them, its cases run through the gate with the server answering."""

from __future__ import annotations

from agentfactory.mcp.service import LibraryService
from tests.mcp_tools.conftest import mcp_env, module

USES_TRACKER = module(
    """def run(query: str) -> dict:
    return {"issues": mcp.call("tracker.search_issues", {"query": query, "limit": 2})["issues"]}
"""
)
CASE = {"inputs": {"query": "crash"}, "expected": {"issues": ["crash issue 1", "crash issue 2"]}}


def test_a_subagent_using_an_mcp_tool_is_saved_when_its_cases_pass_with_the_server(tmp_path):
    env = mcp_env(tmp_path, "local")
    answer = LibraryService(env.settings).save_subagent(
        "find-issues", "Find tracker issues.", USES_TRACKER, [CASE], tools=["tracker.search_issues"]
    )
    assert not answer.is_error, answer.text
    assert answer.text.startswith("Saved find-issues v1")
    assert env.library.get("find-issues").tools == ["tracker.search_issues"]


def test_an_mcp_tool_the_server_lacks_or_no_server_declared_is_one_refusal(tmp_path):
    env = mcp_env(tmp_path, "local")
    service = LibraryService(env.settings)
    lacking = service.save_subagent("find-issues", "d", USES_TRACKER, [CASE], tools=["tracker.nope"])
    assert lacking.is_error and lacking.text == "Not saved: MCP server 'tracker' has no tool 'nope'."
    other = service.save_subagent("find-issues", "d", USES_TRACKER, [CASE], tools=["github.search"])
    assert other.is_error and "unknown tool skill github.search" in other.text
    assert env.library.list() == []  # nothing half-saved
