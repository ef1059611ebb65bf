"""`agentfactory mcp serve --http`: streamable HTTP on 127.0.0.1 with the official mcp client, concurrent
clients, and the bearer token off loopback."""

from __future__ import annotations

import subprocess
import sys

import anyio
import httpx
import pytest

from .conftest import CODE, DESCRIPTION, NAME, Project, start_http, stop
from .test_mcp_stdio import SHOUT


async def _with_session(url: str, body, headers: dict[str, str] | None = None):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    async with (
        create_mcp_http_client(headers=headers) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        return await body(session)


def test_http_lists_searches_views_runs_and_saves(project: Project) -> None:
    server = start_http(project)
    assert server.url.startswith("http://127.0.0.1:")

    async def body(s):
        tools = (await s.list_tools()).tools
        found = await s.call_tool("search_subagents", {"query": "words"})
        viewed = await s.call_tool("view_subagent", {"name": NAME})
        ran = await s.call_tool("run_subagent", {"name": NAME, "inputs": {"text": "a b c d e"}})
        by_path = await s.call_tool("run_subagent", {"name": NAME, "files": [{"path": "/etc/hostname"}]})
        saved = await s.call_tool(
            "save_subagent",
            {"name": "shout", "description": "Upper-case a text.", "code": SHOUT,
             "cases": [{"inputs": {"text": "ab"}, "expected": {"text": "AB"}}]},
        )  # fmt: skip
        refused = await s.call_tool(
            "save_subagent",
            {"name": NAME, "description": DESCRIPTION, "code": CODE.replace("len(text.split())", "0"),
             "cases": [{"inputs": {"text": ""}, "expected": {"words": 0}}]},
        )  # fmt: skip
        return tools, found, viewed, ran, by_path, saved, refused

    try:
        tools, found, viewed, ran, by_path, saved, refused = anyio.run(_with_session, server.url, body)
    finally:
        stop(server)
    assert len(tools) == 4
    assert found.structured_content["subagents"][0]["name"] == NAME
    assert viewed.structured_content["version"] == 1
    assert not ran.is_error and ran.structured_content["result"] == {"words": 5}
    assert ran.content[1].resource.text == "words: 5\n"
    # Over HTTP the server never reads a path on its own machine for the caller.
    assert by_path.is_error and "accepted only over stdio" in by_path.content[0].text
    assert saved.content[0].text.startswith("Saved shout v1")
    assert refused.is_error and "stored case" in refused.content[0].text
    assert project.library.get(NAME).version == 1


def test_twenty_concurrent_calls_from_several_clients(project: Project) -> None:
    """Runs and saves from three clients at once: each call one answer, the library consistent."""
    server = start_http(project)
    results: dict[str, object] = {}

    async def client(index: int) -> None:
        async def body(s):
            async def one(j: int) -> None:
                key = f"{index}-{j}"
                if j % 3 == 0:
                    name = f"shout-{index}-{j}"
                    results[key] = (
                        name,
                        await s.call_tool(
                            "save_subagent",
                            {"name": name, "description": "Upper-case a text.", "code": SHOUT,
                             "cases": [{"inputs": {"text": key}, "expected": {"text": key.upper()}}]},
                        ),
                    )  # fmt: skip
                elif j % 3 == 1:
                    results[key] = (
                        None,
                        await s.call_tool("run_subagent", {"name": NAME, "inputs": {"text": key}}),
                    )
                else:
                    # Revisions of one name from every client: each a new version through the gate.
                    code = CODE.replace('{"words": words}', f'{{"words": words, "rev": "{key}"}}')
                    results[key] = (
                        "rev",
                        await s.call_tool(
                            "save_subagent",
                            {"name": NAME, "description": DESCRIPTION, "code": code,
                             "cases": [{"inputs": {"text": key}, "expected": {"words": 1, "rev": key}}]},
                        ),
                    )  # fmt: skip

            async with anyio.create_task_group() as tg:
                for j in range(7 if index < 2 else 6):
                    tg.start_soon(one, j)

        await _with_session(server.url, body)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for i in range(3):
                tg.start_soon(client, i)

    try:
        anyio.run(main)
        # The server still serves after the burst.
        after = anyio.run(
            _with_session, server.url, lambda s: s.call_tool("search_subagents", {"query": "words"})
        )
    finally:
        stop(server)
    assert len(results) == 20
    revisions = 0
    for kind, answer in results.values():
        text = answer.content[0].text
        if kind is None:
            assert not answer.is_error, text
            assert answer.structured_content["result"]["words"] == 1
        elif kind == "rev":
            # Each revision brings a case only its own code passes, and must pass every case stored
            # before it: the first one through the gate wins, every later one is refused.
            revisions += not answer.is_error
            if answer.is_error:
                assert "Not saved" in text and "Traceback" not in text, text
        else:
            assert not answer.is_error, text
            assert project.library.get(kind).version == 1
    assert revisions == 1
    assert project.library.get(NAME).version == 2
    assert not after.is_error


def test_host_off_loopback_without_a_token_is_refused(project: Project) -> None:
    run = subprocess.run(
        [sys.executable, *project.serve_args("--http", "--host", "0.0.0.0", "--port", "0")],
        env=project.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 3
    assert "set AGENTFACTORY_MCP_TOKEN" in run.stderr and "Traceback" not in run.stderr


def test_host_off_loopback_needs_the_bearer_token(project: Project) -> None:
    token = "t0k3n-" + "x" * 30
    server = start_http(project, "--host", "0.0.0.0", env={**project.env, "AGENTFACTORY_MCP_TOKEN": token})
    url = server.url.replace("0.0.0.0", "127.0.0.1")  # the test talks to it on loopback only
    try:
        bare = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, timeout=10)
        wrong = httpx.post(url, json={}, headers={"Authorization": "Bearer nope"}, timeout=10)
        tools = anyio.run(_with_session, url, lambda s: s.list_tools(), {"Authorization": f"Bearer {token}"})
    finally:
        stop(server)
    assert bare.status_code == 401 and wrong.status_code == 401
    assert len(tools.tools) == 4


@pytest.mark.parametrize("token", ["short"])
def test_a_short_token_is_refused(project: Project, token: str) -> None:
    run = subprocess.run(
        [sys.executable, *project.serve_args("--http", "--port", "0")],
        env={**project.env, "AGENTFACTORY_MCP_TOKEN": token},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 3 and "AGENTFACTORY_MCP_TOKEN is too short" in run.stderr
