"""A small MCP server for the tests (official SDK, stdio or streamable HTTP): `MODE` picks its behaviour.

Modes (argv[1]): `ok` serves the tools; `many` serves 50 tools; `die-on-call` exits on its first call;
`hang` never answers a call; `flood` answers a call with an endless line; `garbage` writes non-JSON to
stdout when called; `fail-start` exits before the handshake. argv[2] `http PORT` serves HTTP on 127.0.0.1.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

MODE = sys.argv[1] if len(sys.argv) > 1 else "ok"
if MODE == "fail-start":
    print("cannot start: no database", file=sys.stderr)
    sys.exit(3)

from mcp.server.mcpserver import Context, MCPServer  # noqa: E402

if os.environ.get("TOOL_SERVER_STARTS"):  # a test counts the starts of this server
    with open(os.environ["TOOL_SERVER_STARTS"], "a", encoding="utf-8") as log:
        log.write(f"{os.getpid()}\n")

WIRE = os.dup(1)  # the SDK diverts descriptor 1 from the protocol: a broken server writes here

server = MCPServer("tests")


@server.tool()
def search_issues(query: str, limit: int = 3) -> dict[str, Any]:
    """Search the issue tracker for issues whose title matches a query."""
    if MODE == "die-on-call":
        os._exit(7)
    if MODE == "hang":
        time.sleep(3600)
    if MODE == "flood":
        chunk = b"x" * (1 << 20)
        for _ in range(64):
            os.write(WIRE, chunk)
        time.sleep(3600)
    if MODE == "garbage":
        os.write(WIRE, b"this is not json\n" * 100)
        time.sleep(3600)
    titles = [f"{query} issue {i}" for i in range(1, limit + 1)]
    return {"issues": titles, "secret_seen": os.environ.get("SERVER_SECRET", "")[:4]}


@server.tool()
def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


@server.tool()
def token_header(ctx: Context) -> str:
    """The X-Token header of the HTTP request that carried this call ("" over stdio)."""
    return (ctx.headers or {}).get("x-token", "")


@server.tool()
def fail(reason: str) -> str:
    """Always fails with the given reason."""
    raise ValueError(reason)


if MODE == "many":
    for index in range(46):  # with the four above: 50 tools
        topic = ["weather forecast", "stock prices", "calendar events", "email inbox", "file storage"][
            index % 5
        ]

        def make(i: int = index, t: str = topic):
            def tool(text: str) -> str:
                return f"{t} {i}: {text}"

            tool.__name__ = f"tool_{i:02d}_{t.split()[0]}"
            tool.__doc__ = f"Work with {t} (variant {i})."
            return tool

        server.tool()(make())

if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[2] == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[3]))
    else:
        server.run()
