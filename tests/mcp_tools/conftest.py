"""MCP servers of agentfactory.toml used as tool skills: a project in tmp_path whose toml declares the
test server (tests/mcp_tools/tool_server.py, official SDK, stdio) in a chosen mode, a real sandbox and a
scripted Meta-Agent model (the helpers of tests/meta)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# Imported at collection, not first inside a CliRunner test: the SDK's stdio_client binds its default
# `errlog` to whatever sys.stderr is at import time, and a CliRunner's stream would outlive its test.
import mcp  # noqa: F401

from tests.meta.conftest import Env, call, docker_available, make_env, sandbox  # noqa: F401 - helpers, fixtures

SERVER = Path(__file__).with_name("tool_server.py")
SECRET = "tracker-secret-7c1f0d9e"  # in the server's environment only


def toml_table(name: str, mode: str = "ok", **extra: Any) -> str:
    lines = [
        f"[mcp_servers.{name}]",
        f"command = {json.dumps(sys.executable)}",
        f"args = {json.dumps([str(SERVER), mode])}",
        f'env = {{ SERVER_SECRET = "{SECRET}" }}',
    ]
    lines += [f"{key} = {json.dumps(value)}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


def mcp_env(root: Path, backend: str = "local", servers: str | None = None, **overrides: Any) -> Env:
    """A project whose agentfactory.toml declares `servers` (default: `tracker` in mode ok)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "agentfactory.toml").write_text(servers or toml_table("tracker"), encoding="utf-8")
    return make_env(root, backend, **overrides)


def executions(env: Env, result: Any) -> list[dict[str, Any]]:
    """Each execution's trace file, in order."""
    out = []
    for event in env.events(result):
        if event["type"] == "subagent_execution":
            out.append(json.loads((Path(result.workspace) / event["trace"]).read_text(encoding="utf-8")))
    return out


def subagent(code: str, name: str, tools: list[str], inputs: dict[str, Any]) -> list[dict[str, Any]]:
    """The script of a run that creates one subagent, runs it once and finishes."""
    return [
        call("create_subagent", name=name, description=f"The {name} subagent.", code=code, tools=tools),
        call("run_subagent", name=name, inputs=inputs),
        call("finish", answer="done"),
    ]


def module(body: str) -> str:
    """A subagent module: docstring, imports and `run`."""
    return (
        '"""Use the tracker.\n\nPurpose: call MCP tools.\nInputs: query (str).\nOutputs: a dict.\n'
        'Limitations: none.\n"""\nimport json\nimport os\n\nfrom agentfactory_tools import ToolError, mcp\n\n\n'
        + body
    )


# A subagent that calls the tracker once and returns what it got, or the error.
FIRST_CODE = module(
    """def run(query: str) -> dict:
    try:
        return {"answer": str(mcp.call("tracker.search_issues", {"query": query}))}
    except ToolError as exc:
        return {"answer": "failed", "error": str(exc)}
"""
)
