"""An MCP server of agentfactory.toml (the test server, official SDK, stdio) used as a tool skill by a
subagent in a scripted run with a real sandbox: local bubblewrap everywhere, Docker where marked."""

from __future__ import annotations

import sys

import pytest

from agentfactory.llm import ScriptedProvider
from agentfactory.meta.agent import MetaAgent

from .conftest import FIRST_CODE, SECRET, SERVER, call, executions, mcp_env, module, subagent, toml_table

ALLOCATED = module(
    '''def run(query: str) -> dict:
    found = mcp.call("tracker.search_issues", {"query": query, "limit": 2})
    try:
        mcp.call("tracker.add", {"a": 1, "b": 2})
        refused = ""
    except ToolError as exc:
        refused = str(exc)
    # Everything of the host this process can see: its environment, and every process' environ and
    # command line that /proc shows it.
    seen = [json.dumps(dict(os.environ))]
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else []:
        for part in ("environ", "cmdline"):
            try:
                with open(f"/proc/{pid}/{part}", "rb") as fh:
                    seen.append(fh.read().decode("utf-8", "replace"))
            except OSError:
                pass
    return {"answer": ", ".join(found["issues"]), "issues": found["issues"],
            "server_saw": found["secret_seen"], "refused": refused,
            "secret_here": any("'''
    + SECRET
    + """" in text for text in seen),
            "visible": len(seen)}
"""
)


def test_allocated_tool_answers_unallocated_is_refused_and_the_secret_stays_on_the_host(tmp_path, sandbox):
    env = mcp_env(tmp_path, sandbox)
    result = env.run(
        "Find the tracker issues about crashes.",
        subagent(ALLOCATED, "find-issues", ["tracker.search_issues"], {"query": "crash"}),
    )
    assert result.status == "success"
    [trace] = executions(env, result)
    assert trace["status"] == "ok", trace.get("error")
    out = trace["result"]
    assert out["issues"] == ["crash issue 1", "crash issue 2"]
    assert out["server_saw"] == SECRET[:4]  # the server had its secret ...
    assert out["secret_here"] is False and out["visible"] >= 1  # ... the sandbox never saw it
    assert out["refused"] == "tool 'tracker.add' is not allocated to this subagent"
    calls = [(c["tool"], c["ok"]) for c in trace["tool_calls"]]
    assert calls == [("tracker.search_issues", True), ("tracker.add", False)]
    assert '"query": "crash"' in trace["tool_calls"][0]["arguments"]
    # The server started once, for the run, and said so; the log ends with run_finished.
    events = env.events(result)
    started = [e for e in events if e["type"] == "mcp_server"]
    assert [(e["server"], e["status"]) for e in started] == [("tracker", "started")]
    assert events[-1]["type"] == "run_finished"


SCHEMA_BREAKER = module("""def run(query: str) -> dict:
    out = {}
    for label, args in (("wrong_type", {"query": query, "limit": "two"}), ("missing", {"limit": 1}),
                        ("extra_kwarg", None)):
        try:
            if args is None:
                mcp.call("tracker.search_issues", query=query, limit=1)
                out[label] = "answered"
            else:
                mcp.call("tracker.search_issues", args)
                out[label] = "answered"
        except ToolError as exc:
            out[label] = str(exc)
    return out
""")


def test_arguments_against_the_tools_input_schema_are_refused_before_the_server_hears_them(tmp_path):
    env = mcp_env(tmp_path)
    result = env.run(
        "Search the tracker.",
        subagent(SCHEMA_BREAKER, "bad-args", ["tracker.search_issues"], {"query": "x"}),
    )
    [trace] = executions(env, result)
    out = trace["result"]
    assert out["wrong_type"].startswith("tool 'tracker.search_issues' was not called: its arguments do not")
    assert "at $.limit: 'two' is not of type 'integer'" in out["wrong_type"]
    assert "'query' is a required property" in out["missing"]
    assert out["extra_kwarg"] == "answered"  # keywords are arguments too
    assert [c["ok"] for c in trace["tool_calls"]] == [False, False, True]


def test_an_unknown_mcp_tool_or_server_is_refused_at_create_subagent(tmp_path):
    env = mcp_env(tmp_path)
    result = env.run(
        "Search the tracker.",
        [
            {"tool_calls": [{"name": "create_subagent", "arguments": {
                "name": "a", "description": "A.", "code": ALLOCATED, "tools": ["tracker.delete_everything"]}}]},
            {"tool_calls": [{"name": "create_subagent", "arguments": {
                "name": "b", "description": "B.", "code": ALLOCATED, "tools": ["github.search"]}}]},
            {"tool_calls": [{"name": "finish", "arguments": {"answer": "no", "status": "failed",
                                                             "reason": "no tool"}}]},
        ],
    )  # fmt: skip
    replies = [r[1][-1].tool_results[0].content for r in env.providers[0].requests[1:3]]
    assert "Not created: MCP server 'tracker' has no tool 'delete_everything'" in replies[0]
    assert (
        "Not created: unknown tool skill github.search (MCP tools are named SERVER.tool; servers: tracker)"
        in (replies[1])
    )
    assert result.created == []


FIRST = FIRST_CODE


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("die-on-call", "McpServerError: MCP server 'tracker' stopped serving: it exited (code 7)"),
        ("hang", "McpServerError: MCP server 'tracker' did not answer tracker.search_issues within 2 s"),
        (
            "flood",
            "McpServerError: MCP server 'tracker' stopped serving: it sent a message over 4,194,304 bytes",
        ),
        (
            "garbage",
            "McpServerError: MCP server 'tracker' stopped serving: it wrote more than 20 lines that are not "
            "JSON-RPC to stdout",
        ),
    ],
)
def test_a_server_that_dies_hangs_floods_or_writes_garbage_gives_one_clear_error_and_the_run_goes_on(
    tmp_path, mode, expected
):
    env = mcp_env(tmp_path, servers=toml_table("tracker", mode, timeout=2))
    result = env.run(
        "Search the tracker.", subagent(FIRST, "first", ["tracker.search_issues"], {"query": "x"})
    )
    [trace] = executions(env, result)
    assert trace["status"] == "ok"  # the subagent caught the ToolError and returned
    assert trace["result"]["error"] == expected
    assert trace["tool_calls"][0]["ok"] is False and trace["tool_calls"][0]["error"] == expected
    assert result.status == "success"
    events = env.events(result)
    statuses = [e["status"] for e in events if e["type"] == "mcp_server"]
    assert statuses == (["started"] if mode == "hang" else ["started", "exited"])
    assert events[-1]["type"] == "run_finished"


def test_a_server_that_fails_to_start_gives_the_subagent_an_error_and_the_user_one_sentence(tmp_path):
    env = mcp_env(tmp_path, servers=toml_table("tracker", "fail-start"))
    result = env.run(
        "Search the tracker.", subagent(FIRST, "first", ["tracker.search_issues"], {"query": "x"})
    )
    # The first message searched the server's tools: it could not start, so none are offered, and
    # create_subagent says why.
    first = env.providers[0].requests[0][1][0].text
    assert "MCP tools" not in first
    reply = env.providers[0].requests[1][1][-1].tool_results[0].content
    sentence = (
        f"MCP server 'tracker' ({sys.executable} {SERVER} fail-start) could not start: "
        "it exited (code 3); its stderr ends: cannot start: no database"
    )
    assert f"Not created: {sentence}" in reply
    events = env.events(result)
    assert [(e["status"], e["message"]) for e in events if e["type"] == "mcp_server"] == [
        ("failed", sentence + ".")
    ]
    assert events[-1]["type"] == "run_finished"


ECHO = module('def run(query: str) -> dict:\n    return {"answer": query}\n')


def test_servers_start_lazily_once_per_run_and_are_shared_by_its_executions(tmp_path):
    env = mcp_env(tmp_path)
    script = [
        call(
            "create_subagent",
            name="first",
            description="Search.",
            code=FIRST,
            tools=["tracker.search_issues"],
        ),
        call("run_subagent", name="first", inputs={"query": "a"}),
        call("run_subagent", name="first", inputs={"query": "b"}),
        call("create_subagent", name="echo-word", description="Echo.", code=ECHO),
        call("run_subagent", name="echo-word", inputs={"query": "c"}),
        call("finish", answer="done", save=["first", "echo-word"]),
    ]
    result = env.run("Search the tracker twice.", script)
    assert [t["result"]["answer"] for t in executions(env, result)] == [
        str({"issues": ["a issue 1", "a issue 2", "a issue 3"], "secret_seen": SECRET[:4]}),
        str({"issues": ["b issue 1", "b issue 2", "b issue 3"], "secret_seen": SECRET[:4]}),
        "c",
    ]
    assert [e["status"] for e in env.events(result) if e["type"] == "mcp_server"] == ["started"]
    assert result.saved == [("first", 1), ("echo-word", 1)]

    # Without the model (no first message): a subagent that uses no MCP tool starts no server; one
    # that does starts it once.
    echoed = MetaAgent(env.settings, provider=ScriptedProvider([])).run_subagent("echo-word", {"query": "d"})
    assert echoed.status == "success"
    assert [e for e in env.events(echoed) if e["type"] == "mcp_server"] == []
    ran = MetaAgent(env.settings, provider=ScriptedProvider([])).run_subagent("first", {"query": "c"})
    assert ran.status == "success" and ran.result["answer"].startswith("{'issues': ['c issue 1'")
    assert [e["status"] for e in env.events(ran) if e["type"] == "mcp_server"] == ["started"]
