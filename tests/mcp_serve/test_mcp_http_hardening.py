"""`mcp serve --http` on addresses other than the default loopback names, and request bodies past the cap.

Real servers (`python -m agentfactory mcp serve --http --port 0`) on 127.0.0.1 and 127.0.0.2, real HTTP:
raw sockets where the point is what the server reads, the official mcp client where a session must work.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from urllib.parse import urlsplit

import anyio
import httpx
import pytest

from agentfactory.errors import ConfigError
from agentfactory.mcp.server import MAX_BODY_BYTES, BodyLimit, http_token

from .conftest import NAME, Project, start_http, stop
from .test_mcp_http import _with_session

TOKEN = "t0k3n-" + "y" * 30
PING = b'{"jsonrpc": "2.0", "id": 1, "method": "ping"}'


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or 80


def _raw(url: str, head: bytes, chunks: list[bytes] = (), timeout: float = 20) -> bytes:
    """Send `head` and `chunks` on one connection, then read the reply until the server closes it."""
    with socket.create_connection(_address(url), timeout=timeout) as sock:
        sock.sendall(head)
        for chunk in chunks:
            sock.sendall(chunk)
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            reply += data
    return reply


def _status(reply: bytes) -> int:
    return int(reply.split(b" ", 2)[1])


def _head(url: str, *lines: str) -> bytes:
    host, port = _address(url)
    text = f"POST {urlsplit(url).path} HTTP/1.1\r\nHost: {host}:{port}\r\n" + "".join(
        f"{x}\r\n" for x in lines
    )
    return (
        text + "Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\r\n"
    ).encode()


# ------------------------------------------------------------------------------ tokens and hosts


@pytest.mark.parametrize("host", ["127.0.0.2", "0.0.0.0", "::ffff:127.0.0.1"])
def test_every_address_but_the_default_names_needs_a_token(host: str) -> None:
    with pytest.raises(ConfigError, match="set AGENTFACTORY_MCP_TOKEN"):
        http_token(host, env={})
    assert http_token(host, env={"AGENTFACTORY_MCP_TOKEN": TOKEN}) == TOKEN
    for default in ("127.0.0.1", "::1", "localhost"):
        assert http_token(default, env={}) is None


def test_serving_on_127_0_0_2_without_a_token_is_refused(project: Project) -> None:
    run = subprocess.run(
        [sys.executable, *project.serve_args("--http", "--host", "127.0.0.2", "--port", "0")],
        env=project.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 3
    assert "reachable from other processes and users: set AGENTFACTORY_MCP_TOKEN" in run.stderr
    assert "Traceback" not in run.stderr


def test_127_0_0_2_needs_the_token_and_checks_host_and_origin(project: Project) -> None:
    server = start_http(project, "--host", "127.0.0.2", env={**project.env, "AGENTFACTORY_MCP_TOKEN": TOKEN})
    assert server.url.startswith("http://127.0.0.2:")
    auth = {"Authorization": f"Bearer {TOKEN}"}
    post = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    _, port = _address(server.url)
    try:
        bare = httpx.post(server.url, content=PING, headers=post, timeout=10)
        rebound = httpx.post(
            server.url, content=PING, headers={**post, **auth, "Host": f"evil.example:{port}"}, timeout=10
        )
        foreign = httpx.post(
            server.url, content=PING, headers={**post, **auth, "Origin": "http://evil.example"}, timeout=10
        )
        tools = anyio.run(_with_session, server.url, lambda s: s.list_tools(), auth)
    finally:
        stop(server)
    assert bare.status_code == 401
    assert rebound.status_code == 421  # a DNS-rebound name is refused even with the token
    assert foreign.status_code == 403
    assert len(tools.tools) == 4


def test_127_0_0_1_refuses_a_rebound_host_name(project: Project) -> None:
    server = start_http(project)
    _, port = _address(server.url)
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    try:
        rebound = httpx.post(server.url, content=PING, headers={**headers, "Host": f"evil.example:{port}"})
        foreign = httpx.post(server.url, content=PING, headers={**headers, "Origin": "http://evil.example"})
    finally:
        stop(server)
    assert rebound.status_code == 421 and foreign.status_code == 403


# ---------------------------------------------------------------------------------- body size


def test_a_declared_body_over_the_cap_is_refused_before_it_is_sent(project: Project) -> None:
    server = start_http(project)
    try:
        # Only the headers go out: the 413 comes back without the server waiting for a single body byte.
        reply = _raw(server.url, _head(server.url, f"Content-Length: {MAX_BODY_BYTES + 1}"))
    finally:
        stop(server)
    assert _status(reply) == 413 and b"request body too large" in reply


def test_a_chunked_body_is_cut_off_at_the_cap(project: Project) -> None:
    server = start_http(project)
    piece = b"x" * (1 << 20)
    count = MAX_BODY_BYTES // len(piece) + 1  # just past the cap; the terminating chunk is never sent
    chunks = [b"%x\r\n" % len(piece) + piece + b"\r\n" for _ in range(count)]
    try:
        reply = _raw(server.url, _head(server.url, "Transfer-Encoding: chunked"), chunks)
        after = anyio.run(_with_session, server.url, lambda s: s.call_tool("view_subagent", {"name": NAME}))
    finally:
        stop(server)
    assert _status(reply) == 413
    assert not after.is_error  # the server keeps serving


def test_a_large_call_under_the_cap_is_served(project: Project) -> None:
    """5 MiB of input file (over the SDK's own 4 MiB default, under MAX_BODY_BYTES) runs."""
    server = start_http(project)
    text = "word " * (1 << 20)
    args = {"name": NAME, "files": [{"name": "big.txt", "text": text}], "inputs": {"path": "inputs/big.txt"}}
    try:
        ran = anyio.run(_with_session, server.url, lambda s: s.call_tool("run_subagent", args))
    finally:
        stop(server)
    assert not ran.is_error, ran.content[0].text
    assert ran.structured_content["result"] == {"words": 1 << 20}


def test_body_limit_never_reads_past_the_cap() -> None:
    """The middleware itself: a stream of 1 KiB chunks against a 10 KiB cap is read 11 chunks deep."""
    limit, taken, sent = 10 * 1024, [], []

    async def receive():
        taken.append(1)
        return {"type": "http.request", "body": b"x" * 1024, "more_body": True}

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):  # never reached
        raise AssertionError("the application saw an oversized body")

    anyio.run(BodyLimit(app, limit), {"type": "http", "headers": []}, receive, send)
    assert len(taken) == 11
    assert sent[0]["status"] == 413
