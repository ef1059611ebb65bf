"""MCP servers as tool skills: what they cost. A stdio MCP server with 50 tools (official SDK, written to
a temporary folder) is configured for a temporary project; the script prints

- the server's start and tool listing (what the first message of a run waits for),
- the first message's MCP lines for a task against listing all 50 tools (tokens, AgentFactory's count),
- the median latency of one tool call from the host (the hub) and from inside the local sandbox
  (subagent -> broker -> hub -> server and back), over `--calls` calls each.

    python benchmarks/mcp_tool_calls.py [--calls 30] [--json]
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

SERVER = '''
from mcp.server.mcpserver import MCPServer

server = MCPServer("bench")
TOPICS = ["weather forecast", "stock prices", "calendar events", "email inbox", "file storage"]


@server.tool()
def echo(text: str) -> str:
    """Return the text unchanged."""
    return text


for index in range(49):
    topic = TOPICS[index % 5]

    def make(i=index, t=topic):
        def tool(text: str) -> str:
            return f"{t} {i}: {text}"

        tool.__name__ = f"tool_{i:02d}_{t.split()[0]}"
        tool.__doc__ = f"Work with {t} (variant {i})."
        return tool

    server.tool()(make())

server.run()
'''

SUBAGENT = '''"""Time MCP calls from the sandbox.

Purpose: call bench.echo `calls` times and report each latency.
Inputs: calls (int).
Outputs: seconds (list).
Limitations: none.
"""
import time

from agentfactory_tools import mcp


def run(calls: int) -> dict:
    seconds = []
    for i in range(calls):
        start = time.perf_counter()
        mcp.call("bench.echo", {"text": str(i)})
        seconds.append(time.perf_counter() - start)
    return {"answer": "timed", "seconds": seconds}
'''

TASK = "Get the weather forecast for Paris tomorrow."


def _measure(calls: int) -> dict:
    from agentfactory.config import load_settings
    from agentfactory.llm import ScriptedProvider
    from agentfactory.llm.tokens import count_tokens
    from agentfactory.meta.agent import MetaAgent
    from agentfactory.tools.mcp import McpTools, ToolMatch

    root = Path(tempfile.mkdtemp(prefix="af-mcp-bench-"))
    (root / "server.py").write_text(SERVER, encoding="utf-8")
    (root / "agentfactory.toml").write_text(
        f"[mcp_servers.bench]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(str(root / 'server.py'))}]\n",
        encoding="utf-8",
    )
    settings = load_settings(
        {"library": "lib", "workspaces": "ws", "sandbox": "local", "model": "scripted", "timeout_s": 120},
        env={},
        cwd=root,
    )

    tools = McpTools.from_settings(settings.tools)
    assert tools is not None
    start = time.perf_counter()
    listed = tools.hub.tools("bench")
    start_s = time.perf_counter() - start
    offered = tools.search(TASK, 5)
    all_lines = "\n".join(ToolMatch(t, 0.0).line for t in listed)
    host = []
    for i in range(calls):
        t0 = time.perf_counter()
        tools.hub.call("bench", "echo", {"text": str(i)}, 30)
        host.append(time.perf_counter() - t0)
    tools.close()

    def call(tool: str, **arguments: object) -> dict:
        return {"tool_calls": [{"name": tool, "arguments": arguments}]}

    provider = ScriptedProvider(
        [
            call("create_subagent", name="timer", description="Time MCP calls.", code=SUBAGENT,
                 tools=["bench.echo"]),
            call("run_subagent", name="timer", inputs={"calls": calls}),
            call("finish", answer="done"),
        ]
    )  # fmt: skip
    result = MetaAgent(settings, provider=provider).run(TASK)
    trace_event = next(
        json.loads(line)
        for line in (Path(result.workspace) / "events.jsonl").read_text().splitlines()
        if json.loads(line)["type"] == "subagent_execution"
    )
    trace = json.loads((Path(result.workspace) / trace_event["trace"]).read_text())
    sandbox = trace["result"]["seconds"]
    first_message = provider.requests[0][1][0].text
    mcp_part = "\n".join(
        line for line in first_message.splitlines() if "MCP" in line or line.startswith("- bench.")
    )
    return {
        "tools_on_server": len(listed),
        "server_start_and_listing_s": round(start_s, 3),
        "offered_in_first_message": [m.tool.qualified for m in offered],
        "first_message_mcp_tokens": count_tokens(mcp_part),
        "all_tools_listed_tokens": count_tokens(all_lines),
        "calls": calls,
        "host_call_median_ms": round(statistics.median(host) * 1000, 2),
        "sandbox_call_median_ms": round(statistics.median(sandbox) * 1000, 2),
    }


def main() -> None:
    calls = int(sys.argv[sys.argv.index("--calls") + 1]) if "--calls" in sys.argv else 30
    figures = _measure(calls)
    if "--json" in sys.argv:
        print(json.dumps(figures, indent=2))
        return
    print(
        f"server with {figures['tools_on_server']} tools: start and listing {figures['server_start_and_listing_s']} s"
    )
    print(
        f"first message: {figures['first_message_mcp_tokens']} tokens of MCP lines "
        f"({', '.join(figures['offered_in_first_message'])}); listing all tools would be "
        f"{figures['all_tools_listed_tokens']} tokens"
    )
    print(
        f"one tool call, median of {calls}: {figures['host_call_median_ms']} ms from the host, "
        f"{figures['sandbox_call_median_ms']} ms from inside the local sandbox (through the broker)"
    )


if __name__ == "__main__":
    main()
