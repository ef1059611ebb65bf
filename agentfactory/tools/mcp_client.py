"""Client sessions to the MCP servers of agentfactory.toml, on the host, for one run (`McpHub`).

A server starts the first time the run needs it (its tool listing for the first message, or a call)
and is shared by every execution of the run; `close` stops them all at the run's end. The official SDK
is asynchronous and the run is not: the hub keeps one event loop in a thread of its own, where each
server is held open by a task until it is stopped or dies, and the run's threads (the broker's) wait on
futures with a deadline.

Everything a server sends is bounded: the start and the first listing by `startup_timeout`, a call by
the server's `timeout` and the caller's deadline, one stdio message by MAX_MESSAGE_BYTES (the SDK's
stdio reader keeps an unbounded line), non-JSON lines on stdout by MAX_BAD_LINES, its stderr by a tail
of STDERR_TAIL_CHARS, a call's result by MAX_RESULT_BYTES, a listing by MAX_TOOLS tools. A server that
breaks a bound is stopped and reported in one sentence (`McpServerError`); the run goes on without it.

The server's process gets its configured `env` over the SDK's minimal inherited environment (PATH,
HOME, ...), never the host's API keys; nothing of it reaches a sandbox: subagents reach a tool only
through the tool broker (agentfactory/tools/mcp.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import re
import signal
import subprocess
import threading
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import field
from typing import Any

from agentfactory.config_mcp import McpServerConfig
from agentfactory.errors import AgentFactoryError, import_extra
from agentfactory.records import record

MAX_MESSAGE_BYTES = 4 << 20  # one JSON-RPC message from a stdio server
MAX_BAD_LINES = 20  # non-JSON lines on a stdio server's stdout before it is stopped
MAX_RESULT_BYTES = 1 << 20  # one call's result as the subagent gets it
MAX_TOOLS = 500  # tools kept from one server's listing
MAX_LIST_PAGES = 20
STDERR_TAIL_CHARS = 2000
STOP_GRACE_S = 2.0
DESCRIPTION_CHARS = 1000
TOOL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
INSTALL_HINT = "MCP servers as tool skills"


class McpServerError(AgentFactoryError):
    """An MCP server that cannot serve: it failed to start, exited, hung, flooded or broke the protocol."""


class McpToolError(AgentFactoryError):
    """The server answered the call with a tool error (its `isError` result)."""


@record(frozen=True)
class McpTool:
    """One tool of one server, as its listing gave it (description cut, schema as sent)."""

    server: str
    name: str
    description: str
    input_schema: dict[str, Any]

    @property
    def qualified(self) -> str:  # what subagents call: NAME.tool
        return f"{self.server}.{self.name}"


@record
class _Server:
    config: McpServerConfig
    tools: list[McpTool] | None = None
    error: str | None = None  # why it cannot serve (set once)
    session: Any = None
    stopping: bool = False
    stderr: str = ""
    ready: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: asyncio.Event | None = None

    died: bool = False  # it failed while the run still used it (not stopped by the hub)

    on_died: Callable[[_Server], None] | None = None

    def fail(self, why: str) -> None:
        """Record why the server cannot serve (the first reason wins) and let its task stop it. Called
        on the hub's loop."""
        if self.error is None:
            self.error = why
            self.died = not self.stopping and self.tools is not None
            if self.died and self.on_died is not None:
                self.on_died(self)  # reported now, before its pending calls fail
        if self.stop is not None:
            self.stop.set()

    def stderr_note(self) -> str:
        tail = " ".join(self.stderr.split())[-300:]
        return f"; its stderr ends: {tail}" if tail else ""


class McpHub:
    """The run's MCP servers, started lazily; thread-safe. `on_event(server, status, message)` hears
    each start, failure and exit (a message is one sentence for the user)."""

    def __init__(
        self,
        servers: Mapping[str, McpServerConfig],
        on_event: Callable[[str, str, str], None] | None = None,
    ):
        self._servers = {name: _Server(cfg) for name, cfg in servers.items()}
        for srv in self._servers.values():
            srv.on_died = lambda srv: self._event(srv, "exited", self._stopped(srv) + ".")
        self._on_event = on_event
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    @property
    def names(self) -> list[str]:
        return list(self._servers)

    def config(self, server: str) -> McpServerConfig | None:
        srv = self._servers.get(server)
        return srv.config if srv else None

    def listed(self) -> list[McpTool]:
        """The tools of the servers started so far (no server is started)."""
        return [t for srv in self._servers.values() for t in (srv.tools or [])]

    # -- start -------------------------------------------------------------------------------------

    def tools(self, server: str) -> list[McpTool]:
        """The tools of `server`, starting it the first time; McpServerError when it cannot serve."""
        srv = self._servers.get(server)
        if srv is None:
            raise McpServerError(f"No MCP server named '{server}' is configured in agentfactory.toml.")
        with srv.lock:  # one start per server, whoever asks first
            if not srv.ready.is_set():
                self._start(srv)
        if srv.error is not None and srv.tools is None:
            raise McpServerError(srv.error)
        return list(srv.tools or [])

    def _start(self, srv: _Server) -> None:
        cfg = srv.config
        if cfg.missing:
            self._failed(
                srv, f"its settings refer to ${cfg.missing[0]}, which is not set: set it and run again"
            )
            return
        loop = self._ensure_loop()
        if loop is None:
            self._failed(srv, "the run is over")
            return
        future = asyncio.run_coroutine_threadsafe(self._keep(srv), loop)
        if not srv.ready.wait(cfg.startup_timeout_s + STOP_GRACE_S + 1):
            srv.error = srv.error or f"it did not start within {cfg.startup_timeout_s:g} s"
            future.cancel()
        if srv.tools is None:
            self._failed(srv, srv.error or "it did not start")
        else:
            self._event(srv, "started", f"MCP server '{cfg.name}' started with {len(srv.tools)} tools.")

    def _failed(self, srv: _Server, why: str) -> None:
        srv.error = srv.error or why
        message = f"MCP server '{srv.config.name}' ({srv.config.describe()}) could not start: {srv.error}."
        srv.error = message
        srv.ready.set()
        self._event(srv, "failed", message)

    def _event(self, srv: _Server, status: str, message: str) -> None:
        if self._on_event is not None and not self._closed:  # nothing is reported after the run's end
            with contextlib.suppress(Exception):
                self._on_event(srv.config.name, status, message)

    def _ensure_loop(self) -> asyncio.AbstractEventLoop | None:
        with self._lock:
            if self._closed:
                return None
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=self._loop.run_forever, name="mcp-client", daemon=True)
                self._thread.start()
            return self._loop

    async def _keep(self, srv: _Server) -> None:
        """Hold `srv` open until it is stopped or dies (one task: the SDK's contexts are entered and
        left in the same task)."""
        mcp = import_extra("mcp", "mcp", INSTALL_HINT)
        anyio = import_extra("anyio", "mcp", INSTALL_HINT)
        srv.stop = asyncio.Event()
        cfg = srv.config
        try:
            async with contextlib.AsyncExitStack() as stack:
                streams = bounded_stdio(srv) if cfg.command else _http_streams(cfg)
                read, write = await stack.enter_async_context(streams)
                session = await stack.enter_async_context(mcp.ClientSession(read, write))
                with anyio.fail_after(cfg.startup_timeout_s):
                    await session.initialize()
                    tools = await _list_tools(session, cfg.name)
                srv.tools, srv.session = tools, session
                srv.ready.set()
                await srv.stop.wait()
        except BaseException as exc:  # noqa: BLE001 - every way a server ends is reported, none raised
            if isinstance(_leaf(exc), TimeoutError) and srv.tools is None:
                srv.fail(f"it did not answer its initialisation within {cfg.startup_timeout_s:g} s")
            else:
                srv.fail(_why(exc))
        finally:
            srv.session = None
            srv.ready.set()

    # -- calls ---------------------------------------------------------------------------------------

    def call(self, server: str, tool: str, arguments: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """Call `tool` of `server`; {"text", "structured"}. McpServerError when the server cannot answer
        (or not in time), McpToolError when the tool reports an error."""
        self.tools(server)
        srv = self._servers[server]
        name = f"{server}.{tool}"
        session, loop = srv.session, self._loop
        if session is None or loop is None:
            raise McpServerError(self._stopped(srv))
        timeout_s = max(0.01, min(timeout_s, srv.config.timeout_s))
        future = asyncio.run_coroutine_threadsafe(_call(session, tool, arguments, timeout_s), loop)
        try:
            result = future.result(timeout_s + STOP_GRACE_S)
        except (TimeoutError, concurrent.futures.TimeoutError):
            future.cancel()
            raise McpServerError(
                f"MCP server '{server}' did not answer {name} within {timeout_s:g} s"
            ) from None
        except concurrent.futures.CancelledError:
            raise McpServerError(self._stopped(srv)) from None
        except Exception as exc:  # noqa: BLE001 - the server's failure, said in one sentence
            if srv.error:
                raise McpServerError(self._stopped(srv)) from None
            raise McpServerError(f"MCP server '{server}' failed on {name}: {_why(exc)}") from None
        return _result(result, server, name)

    def _stopped(self, srv: _Server) -> str:
        return f"MCP server '{srv.config.name}' stopped serving: {srv.error or 'the run is over'}"

    # -- stop ----------------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop every server (each gets its stdin closed, then a kill after STOP_GRACE_S) and the loop."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None:
            return
        for srv in self._servers.values():
            srv.stopping = True
            if srv.stop is not None:
                loop.call_soon_threadsafe(srv.stop.set)
        tasks = asyncio.run_coroutine_threadsafe(_drain(), loop)
        with contextlib.suppress(Exception):
            tasks.result(STOP_GRACE_S * 3 + 2)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(5)
        if not loop.is_running():
            with contextlib.suppress(Exception):
                loop.close()


async def _drain() -> None:
    """Wait for the servers' tasks to leave their contexts (their processes are stopped there)."""
    current = asyncio.current_task()
    pending = [t for t in asyncio.all_tasks() if t is not current]
    if pending:
        await asyncio.wait(pending, timeout=STOP_GRACE_S * 3)


async def _call(session: Any, tool: str, arguments: dict[str, Any], timeout_s: float) -> Any:
    import anyio

    with anyio.fail_after(timeout_s):
        return await session.call_tool(tool, arguments)


async def _list_tools(session: Any, server: str) -> list[McpTool]:
    from mcp import types as mcp_types

    tools: list[McpTool] = []
    cursor = None
    for _ in range(MAX_LIST_PAGES):
        params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
        page = await session.list_tools(params=params)
        for tool in page.tools:
            if len(tools) >= MAX_TOOLS:
                return tools
            schema = tool.input_schema if isinstance(tool.input_schema, dict) else {}
            if not TOOL_NAME.match(tool.name or "") or not _usable_schema(schema):
                continue  # a name the broker could not route, or a schema it could not check against
            description = " ".join((tool.description or "").split())[:DESCRIPTION_CHARS]
            tools.append(McpTool(server, tool.name, description, schema))
        cursor = page.next_cursor
        if not cursor:
            break
    return tools


def _usable_schema(schema: dict[str, Any]) -> bool:
    """An object schema that is a valid JSON schema (the broker validates each call against it)."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if schema.get("type") != "object":
        return False
    try:
        Draft202012Validator.check_schema(schema)
    except (SchemaError, RecursionError, TypeError, ValueError):
        return False
    return True


def _result(result: Any, server: str, name: str) -> dict[str, Any]:
    parts = []
    for block in getattr(result, "content", None) or []:
        kind = getattr(block, "type", "?")
        parts.append(block.text if kind == "text" else f"[{kind} content omitted]")
    text = "\n".join(parts)
    if getattr(result, "is_error", False):
        raise McpToolError(f"{name} reported an error: {text[:1000] or '(no message)'}")
    out = {"text": text, "structured": getattr(result, "structured_content", None)}
    try:
        size = len(json.dumps(out, ensure_ascii=False, default=str).encode("utf-8", errors="replace"))
    except (TypeError, ValueError, RecursionError):
        raise McpServerError(
            f"MCP server '{server}' answered {name} with a result that is not JSON"
        ) from None
    if size > MAX_RESULT_BYTES:
        raise McpServerError(
            f"MCP server '{server}' answered {name} with {size:,} bytes; the limit is {MAX_RESULT_BYTES:,}"
        )
    return out


def _leaf(exc: BaseException) -> BaseException:
    """The first exception inside `exc`'s groups (anyio wraps failures in exception groups)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _why(exc: BaseException) -> str:
    """The innermost cause of `exc` in a clause."""
    exc = _leaf(exc)
    if isinstance(exc, FileNotFoundError):
        return f"its command was not found ({exc.filename or exc})"
    if isinstance(exc, PermissionError):
        return f"its command cannot be run ({exc.strerror})"
    text = " ".join(str(exc).split())[:300]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# -- transports ------------------------------------------------------------------------------------------


def _http_streams(cfg: McpServerConfig) -> Any:
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    @contextlib.asynccontextmanager
    async def streams() -> AsyncIterator[Any]:
        async with (
            create_mcp_http_client(headers=dict(cfg.headers)) as http,
            streamable_http_client(cfg.url or "", http_client=http) as (read, write),
        ):
            yield read, write

    return streams()


@contextlib.asynccontextmanager
async def bounded_stdio(srv: _Server) -> AsyncIterator[Any]:
    """The SDK's stdio transport with bounds: a message over MAX_MESSAGE_BYTES, more than MAX_BAD_LINES
    non-JSON lines, or the end of stdout stops the server and records why; stderr keeps a short tail.
    The process has its own session, so stopping it stops what it started."""
    import anyio
    from mcp import types as mcp_types
    from mcp.client.stdio import get_default_environment
    from mcp.shared.message import SessionMessage

    cfg = srv.config
    process = await anyio.open_process(
        [cfg.command or "", *cfg.args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=str(cfg.cwd) if cfg.cwd else None,
        env={**get_default_environment(), **dict(cfg.env)},
        start_new_session=True,
    )
    leaving = False  # set as the transport stops the process: its end is then no failure
    read_writer, read_stream = anyio.create_memory_object_stream(16)
    write_stream, write_reader = anyio.create_memory_object_stream(16)

    async def stdout_reader() -> None:
        buffer = bytearray()
        bad = 0
        try:
            async with read_writer:
                async for chunk in process.stdout:
                    buffer += chunk
                    while (end := buffer.find(b"\n")) >= 0:
                        line = bytes(buffer[:end]).strip()
                        del buffer[: end + 1]
                        if not line:
                            continue
                        try:
                            message = mcp_types.jsonrpc_message_adapter.validate_json(line, by_name=False)
                        except ValueError:
                            bad += 1
                            if bad > MAX_BAD_LINES:
                                srv.fail(
                                    f"it wrote more than {MAX_BAD_LINES} lines that are not JSON-RPC to stdout"
                                )
                                return
                            continue
                        await read_writer.send(SessionMessage(message))
                    if len(buffer) > MAX_MESSAGE_BYTES:
                        srv.fail(f"it sent a message over {MAX_MESSAGE_BYTES:,} bytes")
                        return
                if not (srv.stopping or leaving):
                    code = None
                    with anyio.move_on_after(1):
                        code = await process.wait()
                    srv.fail(f"it exited (code {code}){srv.stderr_note()}")
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            if not (srv.stopping or leaving):
                srv.fail(f"its output ended{srv.stderr_note()}")

    async def stdin_writer() -> None:
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            async with write_reader:
                async for message in write_reader:
                    data = message.message.model_dump_json(by_alias=True, exclude_unset=True) + "\n"
                    await process.stdin.send(data.encode("utf-8"))

    async def stderr_reader() -> None:
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            async for chunk in process.stderr:
                srv.stderr = (srv.stderr + chunk.decode("utf-8", errors="replace"))[-STDERR_TAIL_CHARS:]

    async with anyio.create_task_group() as tg:
        tg.start_soon(stdout_reader)
        tg.start_soon(stdin_writer)
        tg.start_soon(stderr_reader)
        try:
            yield read_stream, write_stream
        finally:
            leaving = True
            with anyio.CancelScope(shield=True):
                # A server that broke a bound gets no grace: it is killed at once.
                await _stop_process(process, 0.0 if srv.error else STOP_GRACE_S)
            tg.cancel_scope.cancel()


async def _stop_process(process: Any, grace_s: float) -> None:
    """Close stdin, give the server `grace_s` to leave, then kill its process group."""
    import anyio

    with contextlib.suppress(Exception):
        await process.stdin.aclose()
    if grace_s > 0:
        with anyio.move_on_after(grace_s):
            await process.wait()
    # Always: what the server started in its group goes with it.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with anyio.move_on_after(STOP_GRACE_S), contextlib.suppress(Exception):
        await process.aclose()  # waits for the exit and releases the pipes before the loop closes
