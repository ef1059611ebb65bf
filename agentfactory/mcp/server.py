"""The MCP server (official `mcp` SDK 2.x, low-level API): four tools and each SKILL.md as a resource.

Every call is checked against its tool's JSON schema and a size bound before anything runs, executed in
a worker thread (at most `MAX_PARALLEL` at once; more wait their turn) and answered with one tool result:
an expected failure (bad arguments, an unknown name, a refused save) is a tool error with one clear
sentence, an unexpected one is a tool error too, logged to stderr, and the server keeps serving.
Standard output carries only the protocol.

Transports: stdio (default), or streamable HTTP bound to 127.0.0.1. Any other address (another
loopback address such as 127.0.0.2 included) needs a bearer token from the environment
(`AGENTFACTORY_MCP_TOKEN`), which every request must then carry. On every loopback address the Host and
Origin headers are checked (DNS rebinding), and on every address a request body over `MAX_BODY_BYTES` is
answered 413 without reading more of it than that.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
import socket
import sys
from pathlib import Path
from typing import Any

from agentfactory.config import Settings
from agentfactory.errors import AgentFactoryError, ConfigError, UsageError
from agentfactory.mcp.service import (
    MAX_CASES,
    MAX_CODE_CHARS,
    MAX_DESCRIPTION_CHARS,
    MAX_FILE_NAME,
    MAX_INPUT_FILES,
    MAX_LIMIT,
    MAX_QUERY_CHARS,
    Answer,
    LibraryService,
    error,
)

log = logging.getLogger("agentfactory.mcp")

SERVER_NAME = "agentfactory"
TOKEN_ENV = "AGENTFACTORY_MCP_TOKEN"
MIN_TOKEN_CHARS = 24
MAX_ARGUMENTS_BYTES = 12 << 20  # one call's arguments as JSON (input files travel inside them)
# One HTTP request body: the arguments plus the JSON-RPC envelope and the escaping JSON may add.
MAX_BODY_BYTES = MAX_ARGUMENTS_BYTES + (1 << 20)
# The addresses served without a token: only this machine's default loopback names.
DEFAULT_HOSTS = ("127.0.0.1", "::1", "localhost")
MAX_PARALLEL = 4  # calls executing at once; the rest wait (each may hold a sandbox)
MCP_PATH = "/mcp"
SKILL_URI = "agentfactory://subagents/{name}/SKILL.md"
_SKILL_URI = re.compile(r"agentfactory://subagents/([a-z0-9-]{1,64})/SKILL\.md")
INSTALL_HINT = "pip install 'agentfactory[mcp]'"

_NAME = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$"}
_VERSION = {"type": "integer", "minimum": 1}
_FILE = {
    "type": "object",
    "description": "One input file, copied into the run's inputs/ (the subagent reads inputs/NAME): its "
    "content as `text` or `base64`, or (stdio only) a `path` on this machine.",
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": MAX_FILE_NAME},
        "text": {"type": "string"},
        "base64": {"type": "string"},
        "path": {"type": "string", "maxLength": 4096},
    },
    "additionalProperties": False,
}
_CASE = {
    "type": "object",
    "properties": {
        "inputs": {"type": "object"},
        "expected": {"type": "object"},
        "tolerance": {"type": "number", "minimum": 0},
        "checks": {"type": "object"},
        "name": {"type": "string", "maxLength": 200},
        "description": {"type": "string", "maxLength": 1000},
    },
    "required": ["inputs"],
    "additionalProperties": False,
}

TOOLS: dict[str, dict[str, Any]] = {
    "search_subagents": {
        "description": "Search the AgentFactory library of tested Python subagents for ones that fit a task "
        "(name, version, description, signature, success rate).",
        "schema": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 5},
            },
            "required": ["query"],
            "additionalProperties": False,
        },
    },
    "view_subagent": {
        "description": "Show one library subagent: its SKILL.md, its code with line numbers and a summary "
        "of its regression cases.",
        "schema": {
            "type": "object",
            "properties": {"name": _NAME, "version": _VERSION},
            "required": ["name"],
            "additionalProperties": False,
        },
    },
    "run_subagent": {
        "description": "Run a library subagent's run(**inputs) in the sandbox (never on the host). Returns "
        "its JSON result, the compact execution trace when it fails, and its output files (small ones "
        "embedded; all written under the run's outputs folder, whose path the answer gives).",
        "schema": {
            "type": "object",
            "properties": {
                "name": _NAME,
                "inputs": {"type": "object", "description": "Keyword arguments of run()."},
                "files": {"type": "array", "items": _FILE, "maxItems": MAX_INPUT_FILES},
                "version": _VERSION,
            },
            "required": ["name"],
            "additionalProperties": False,
        },
    },
    "save_subagent": {
        "description": "Contribute a subagent to the library: a Python module defining run(**inputs) -> "
        "dict, with a docstring, and regression cases ({inputs, expected}). Its cases run in the sandbox "
        "and it is saved only if every one passes; for an existing name it is a revision and must also "
        "pass every stored case. The answer says `saved vN`, or which case failed with its trace.",
        "schema": {
            "type": "object",
            "properties": {
                "name": _NAME,
                "description": {"type": "string", "minLength": 1, "maxLength": MAX_DESCRIPTION_CHARS},
                "code": {"type": "string", "minLength": 1, "maxLength": MAX_CODE_CHARS},
                "cases": {"type": "array", "items": _CASE, "minItems": 1, "maxItems": MAX_CASES},
                "tools": {"type": "array", "items": {"type": "string", "maxLength": 64}, "maxItems": 10},
                "inputs_schema": {"type": "object", "description": "JSON schema of run()'s inputs."},
                "files": {
                    "type": "array",
                    "items": _FILE,
                    "maxItems": MAX_INPUT_FILES,
                    "description": "Input files the cases read (inputs/NAME), kept as the subagent's fixtures.",
                },
            },
            "required": ["name", "description", "code", "cases"],
            "additionalProperties": False,
        },
    },
}


def _require_sdk() -> None:
    try:
        import mcp.server.lowlevel  # noqa: F401
    except ImportError:
        raise ConfigError(f"`agentfactory mcp` needs the mcp SDK 2.x: {INSTALL_HINT}") from None


def check_arguments(name: str, arguments: Any) -> str | None:
    """Why these arguments cannot be given to tool `name`, or None."""
    import jsonschema

    tool = TOOLS.get(name)
    if tool is None:
        return f"Unknown tool {name!r}; this server offers {', '.join(TOOLS)}."
    if not isinstance(arguments, dict):
        return "The arguments must be a JSON object."
    try:
        size = len(json.dumps(arguments, ensure_ascii=False, default=str).encode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError):
        return "The arguments cannot be read as JSON."
    if size > MAX_ARGUMENTS_BYTES:
        return f"The arguments are {size:,} bytes; the limit is {MAX_ARGUMENTS_BYTES:,}."
    try:
        jsonschema.Draft202012Validator(tool["schema"]).validate(arguments)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "arguments"
        return f"Invalid arguments for {name} at {where[:100]}: {_schema_message(exc)}"
    except RecursionError:
        return "The arguments are nested too deeply."
    return None


_LIMITS = {
    "maxLength": "is too long: at most {} characters",
    "maxItems": "has too many items: at most {}",
    "minLength": "is too short: at least {} characters",
    "minItems": "should be non-empty (at least {} items)",
    "maximum": "is too large: at most {}",
    "minimum": "is too small: at least {}",
}


def _schema_message(exc: Any) -> str:
    """The schema error without echoing a huge value back."""
    template = _LIMITS.get(exc.validator)
    if template is not None:
        return template.format(exc.validator_value)
    return exc.message if len(exc.message) <= 300 else f"does not satisfy '{exc.validator}'"


def call(service: LibraryService, name: str, arguments: dict[str, Any]) -> Answer:
    """One tool call, synchronously (the server runs it in a worker thread)."""
    problem = check_arguments(name, arguments)
    if problem:
        return error(problem)
    try:
        return getattr(service, name)(**arguments)
    except AgentFactoryError as exc:
        return error(str(exc))
    except Exception as exc:  # a bug must not take the server down: the caller gets it as a tool error
        log.exception("tool %s failed", name)
        return error(f"Internal error in {name}: {type(exc).__name__}: {str(exc)[:300]}")


def _content(answer: Answer) -> list[Any]:
    import base64

    from mcp import types

    blocks: list[Any] = [types.TextContent(type="text", text=answer.text)]
    for f in answer.files:
        uri = Path(f.path).as_uri()
        if f.text is not None:
            contents: Any = types.TextResourceContents(uri=uri, text=f.text, mime_type="text/plain")
        else:
            blob = base64.b64encode(f.data).decode("ascii")
            contents = types.BlobResourceContents(uri=uri, blob=blob, mime_type="application/octet-stream")
        blocks.append(types.EmbeddedResource(type="resource", resource=contents))
    return blocks


def build_server(service: LibraryService) -> Any:
    """The low-level MCP server over `service`."""
    _require_sdk()
    import anyio
    from mcp import types
    from mcp.server.lowlevel import Server

    from agentfactory import __version__

    limiter = anyio.CapacityLimiter(MAX_PARALLEL)

    async def list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(
            tools=[
                types.Tool(name=name, description=tool["description"], input_schema=tool["schema"])
                for name, tool in TOOLS.items()
            ]
        )

    async def call_tool(ctx: Any, params: Any) -> Any:
        arguments = params.arguments if params.arguments is not None else {}
        answer = await anyio.to_thread.run_sync(call, service, params.name, arguments, limiter=limiter)
        return types.CallToolResult(
            content=_content(answer),
            structured_content=_json_safe(answer.structured),
            is_error=answer.is_error,
        )

    async def list_resources(ctx: Any, params: Any) -> Any:
        infos = await anyio.to_thread.run_sync(service.skills, limiter=limiter)
        return types.ListResourcesResult(
            resources=[
                types.Resource(
                    uri=SKILL_URI.format(name=info.name),
                    name=info.name,
                    description=info.description,
                    mime_type="text/markdown",
                )
                for info in infos
            ]
        )

    async def read_resource(ctx: Any, params: Any) -> Any:
        from mcp.shared.exceptions import MCPError

        match = _SKILL_URI.fullmatch(str(params.uri))
        if match is None:
            raise MCPError(code=-32002, message=f"Unknown resource {str(params.uri)[:200]!r}.")
        try:
            text = await anyio.to_thread.run_sync(service.skill_md, match.group(1), limiter=limiter)
        except AgentFactoryError as exc:
            raise MCPError(code=-32002, message=str(exc)) from None
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=str(params.uri), text=text, mime_type="text/markdown")]
        )

    return Server(
        SERVER_NAME,
        version=__version__,
        instructions="A library of tested, versioned Python subagents: search it, view one, run one in "
        "the sandbox, or save your own code with regression cases.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_read_resource=read_resource,
    )


def _json_safe(data: dict[str, Any]) -> dict[str, Any]:
    from agentfactory.events import json_bytes

    return json.loads(json_bytes(data))


# ----------------------------------------------------------------------------- transports


def serve_stdio(settings: Settings) -> None:
    _require_sdk()
    import anyio
    from mcp.server.stdio import stdio_server

    service = LibraryService(settings, allow_paths=True)
    server = build_server(service)

    async def main() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    log.info("serving the library %s over stdio", settings.paths.library)
    try:
        anyio.run(main)
    finally:
        service.close()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def http_token(host: str, env: dict[str, str] | None = None) -> str | None:
    """The bearer token HTTP requests must carry: required on every address but the default loopback
    names (DEFAULT_HOSTS), honoured on those when set. 127.0.0.2 is loopback too, but nothing says only
    this user's processes reach it the way they expect of 127.0.0.1, so it is treated like any other."""
    if env is None:
        from agentfactory.config import read_credentials  # config reads the environment, nothing else

        env = dict(read_credentials())
    token = env.get(TOKEN_ENV) or None
    if host not in DEFAULT_HOSTS and token is None:
        reach = "other processes and users" if is_loopback(host) else "other machines"
        raise ConfigError(
            f"Serving on {host} makes the library reachable from {reach}: set {TOKEN_ENV} to a "
            f"random token of at least {MIN_TOKEN_CHARS} characters (clients send it as `Authorization: "
            "Bearer ...`), or leave --host out to bind 127.0.0.1."
        )
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(
            f"{TOKEN_ENV} is too short: use a random token of at least {MIN_TOKEN_CHARS} characters."
        )
    return token


async def _refuse(send: Any, status: int, body: bytes, *headers: tuple[bytes, bytes]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BearerGuard:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <token>`."""

    def __init__(self, app: Any, token: str):
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(given, self.expected):
                body = b'{"error": "missing or wrong bearer token"}'
                await _refuse(send, 401, body, (b"www-authenticate", b"Bearer"))
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes is answered 413, and no more than `limit` bytes
    of it (plus the one chunk that crossed the limit) are ever read.

    A declared Content-Length over the limit is refused before reading anything; a chunked body is read
    up to the limit, then handed on as one piece. The SDK's own limit, where it has one, is not relied on:
    this is the server's bound whatever SDK version is installed."""

    def __init__(self, app: Any, limit: int = MAX_BODY_BYTES):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = b'{"error": "request body too large"}'
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _refuse(send, 400, b'{"error": "invalid Content-Length"}')
                return
            if size > self.limit:
                await _refuse(send, 413, too_large)
                return
        body = bytearray()
        pending: list[Any] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                pending.append(message)  # a disconnect: handed on as it came
                break
            body += message.get("body", b"")
            if len(body) > self.limit:
                await _refuse(send, 413, too_large)
                return
            if not message.get("more_body", False):
                break
        pending.insert(0, {"type": "http.request", "body": bytes(body), "more_body": False})

        async def replay() -> Any:
            return pending.pop(0) if pending else await receive()

        await self.app(scope, replay, send)


def transport_security(host: str) -> Any:
    """Host/Origin checks (DNS rebinding) on every loopback address, the one bound among those allowed;
    off loopback the bearer token is the guard."""
    from mcp.server.transport_security import TransportSecuritySettings

    if not is_loopback(host):
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    names = ["127.0.0.1", "localhost", "[::1]"]
    bound = f"[{host}]" if ":" in host else host
    if bound not in names:
        names.append(bound)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{n}:*" for n in names],
        allowed_origins=[f"http://{n}:*" for n in names],
    )


def http_app(settings: Settings, host: str, token: str | None) -> Any:
    import inspect

    server = build_server(LibraryService(settings, allow_paths=False))
    options: dict[str, Any] = {"transport_security": transport_security(host)}
    if "max_request_body_size" in inspect.signature(server.streamable_http_app).parameters:
        options["max_request_body_size"] = MAX_BODY_BYTES  # the SDK's own bound, where it has one, agrees
    app = server.streamable_http_app(streamable_http_path=MCP_PATH, host=host, **options)
    app = BodyLimit(app, MAX_BODY_BYTES)
    # The token is checked first: a caller without it gets 401 before any body is read.
    return BearerGuard(app, token) if token else app


def serve_http(settings: Settings, host: str = "127.0.0.1", port: int = 8765) -> None:
    _require_sdk()
    import uvicorn

    token = http_token(host)
    app = http_app(settings, host, token)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise UsageError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}.") from None
    sock.listen(128)
    bound = sock.getsockname()[1]
    where = f"[{host}]" if family == socket.AF_INET6 else host
    # The one line a supervisor (or a test) reads to find the port when --port 0 was given.
    print(f"agentfactory mcp: listening on http://{where}:{bound}{MCP_PATH}", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])
