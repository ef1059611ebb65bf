"""An MCP server over streamable HTTP on 127.0.0.1 (the test server, official SDK) as a tool skill in a
scripted run with the real local sandbox: the header of agentfactory.toml, with its ${VAR} read from the
environment, reaches the server; the sandbox never sees it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from agentfactory.config import load_settings

from .conftest import SERVER, Env, call, executions, module

CODE = module("""def run(query: str) -> dict:
    found = mcp.call("web.search_issues", {"query": query, "limit": 1})
    token = mcp.call("web.token_header")
    return {"answer": found["issues"][0], "token": token["result"], "env_has_it": "s3cr3t" in str(os.environ)}
""")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def http_server():
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, str(SERVER), "ok", "http", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        else:
            pytest.fail("the test MCP server did not listen within 30 s")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.kill()
        proc.wait(10)


def test_a_streamable_http_server_serves_allocated_tools_with_its_configured_header(tmp_path, http_server):
    (tmp_path / "agentfactory.toml").write_text(
        f'[mcp_servers.web]\nurl = "{http_server}"\nheaders = {{ X-Token = "${{WEB_TOKEN}}" }}\n',
        encoding="utf-8",
    )
    settings = load_settings(
        {"library": "lib", "workspaces": "ws", "sandbox": "local", "model": "scripted", "timeout_s": 30},
        env={"WEB_TOKEN": "s3cr3t"},
        cwd=tmp_path,
    )
    env = Env(tmp_path, settings)
    result = env.run(
        "Find one web issue.",
        [
            call(
                "create_subagent",
                name="web-issue",
                description="Find one issue.",
                code=CODE,
                tools=["web.search_issues", "web.token_header"],
            ),
            call("run_subagent", name="web-issue", inputs={"query": "http"}),
            call("finish", answer="done"),
        ],
    )
    [trace] = executions(env, result)
    assert trace["status"] == "ok", trace.get("error")
    assert trace["result"] == {"answer": "http issue 1", "token": "s3cr3t", "env_has_it": False}
    assert [e["status"] for e in env.events(result) if e["type"] == "mcp_server"] == ["started"]
