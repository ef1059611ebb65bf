"""Client for the host's tool broker, importable inside the sandbox as `agentfactory_tools`.

Standard library only. MCP tools allocated to the subagent are called by their name SERVER.tool:
`from agentfactory_tools import mcp; mcp.call("github.search_issues", {"query": "crash"})`. Speaks the broker protocol: a 4-byte big-endian length, then UTF-8 JSON; request
{"tool", "args"}, response {"ok", "result" | "error"}. Only the tools allocated to this subagent answer;
others raise ToolError. The socket path comes from $AGENTFACTORY_TOOLS_SOCKET.
"""

import json
import os
import socket
import struct

MAX_REQUEST_BYTES = 1 << 20
MAX_RESPONSE_BYTES = 8 << 20


class ToolError(RuntimeError):
    """The broker refused the call or the tool failed."""


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 16))
        if not chunk:
            raise ToolError("the tool broker closed the connection")
        buf += chunk
    return bytes(buf)


def call(tool, **args):
    """Call an allocated tool; returns its result dict."""
    return _request(tool, args)


def _request(tool, args):
    path = os.environ.get("AGENTFACTORY_TOOLS_SOCKET")
    if not path or not os.path.exists(path):
        raise ToolError(
            "no tools are available in this execution (no broker socket, or the broker closed it)"
        )
    body = json.dumps({"tool": tool, "args": args}, ensure_ascii=False).encode()
    if len(body) > MAX_REQUEST_BYTES:
        raise ToolError(f"tool request of {len(body)} bytes exceeds {MAX_REQUEST_BYTES}")
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(path)
            sock.sendall(struct.pack(">I", len(body)) + body)
            (length,) = struct.unpack(">I", _recv_exact(sock, 4))
            if length > MAX_RESPONSE_BYTES:
                raise ToolError(f"tool response of {length} bytes exceeds {MAX_RESPONSE_BYTES}")
            reply = json.loads(_recv_exact(sock, length))
    except OSError as exc:  # the broker closed the session (call limit, end of the execution)
        raise ToolError(f"the tool broker is unreachable ({type(exc).__name__})") from None
    if not reply.get("ok"):
        raise ToolError(reply.get("error", "tool call failed"))
    return reply.get("result", {})


def llm(prompt, system=None, **kw):
    """Ask the subagent model; returns the text of its answer."""
    args = dict(kw, prompt=prompt)
    if system is not None:
        args["system"] = system
    return call("llm", **args).get("text", "")


def web_fetch(url, **kw):
    """Fetch a URL through the host; returns a dict (status, content, ...)."""
    return call("web_fetch", url=url, **kw)


def web_search(query, k=5):
    """Search the web through the host; returns a list of results."""
    return call("web_search", query=query, k=k).get("results", [])


class _Mcp:
    """The MCP tools allocated to this subagent, named SERVER.tool (the servers run on the host)."""

    def call(self, tool, arguments=None, **kw):
        """Call MCP tool `tool` ("server.tool") with a dict of arguments (or keywords); returns the
        tool's structured result, or its text when it gives none. ToolError when the broker refuses the
        call (not allocated, arguments against the tool's schema) or the server fails."""
        if not isinstance(tool, str) or "." not in tool:
            raise ToolError(f"MCP tools are named SERVER.tool, not {str(tool)[:100]!r}")
        if arguments is not None and not isinstance(arguments, dict):
            raise ToolError("the arguments of an MCP tool are a dict")
        result = _request(tool, dict(arguments or {}, **kw))
        structured = result.get("structured")
        return structured if structured is not None else result.get("text", "")


mcp = _Mcp()
