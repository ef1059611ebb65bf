"""The tool broker: serves tool calls from inside a sandbox over a Unix socket on the host.

API keys and network access stay in this process; the sandbox only holds a socket. Each execution gets
its own session (its own socket file) that answers only the tools allocated to that execution.

Wire protocol (both directions): a 4-byte big-endian length, then that many bytes of UTF-8 JSON.
Request: {"tool": str, "args": {...}}, at most 1 MiB and nested at most 64 levels. Response:
{"ok": true, "result": {...}} or {"ok": false, "error": str}, at most 8 MiB. Several requests may
follow each other on one connection. A malformed, oversized or too deeply nested frame is answered
with an error and closes the connection.

Whatever the subagent does, the host's memory for one session is bounded: at most `max_calls` calls
are served and recorded (each record with truncated fields), at most MAX_CONNECTIONS connections (one
thread each) are open at once, and frames are bounded in size and depth. The call after the limit is
answered with the refusal, one closing record notes the limit, and the session closes its socket and
connections: later calls are counted, never served nor recorded. `settle_trace` then gives the
execution the status `tool_limit`.
"""

from __future__ import annotations

import _thread
import contextlib
import dataclasses
import json
import math
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from agentfactory.sandbox.trace import INTERRUPTED, TOOL_LIMIT, ToolCallRecord, max_depth_exceeded

Handler = Callable[[dict[str, Any]], dict[str, Any]]

MAX_REQUEST_BYTES = 1 << 20
MAX_RESPONSE_BYTES = 8 << 20
MAX_FRAME_DEPTH = 64
# Containers in one request: each costs the host far more memory than its two bytes of JSON, so a 1 MiB
# frame of "[[],[],...]" would hold hundreds of MB across the open connections. Counted before decoding.
MAX_FRAME_CONTAINERS = 20_000
MAX_CONNECTIONS = 8
MAX_CALLS = 1000
ARG_PREVIEW_CHARS = 200
ERROR_CHARS = 1000
TOOL_NAME_CHARS = 100
MAX_USAGE_KEYS = 16
LIMIT_RECORD_TOOL = "(broker)"  # the tool name of the record that says the call limit closed the session


class FrameError(ValueError):
    """A request frame the broker does not decode: the message is the answer the client gets."""


def echo_tool(args: dict[str, Any]) -> dict[str, Any]:
    """Test tool: returns its arguments. Reports a fake usage so traces can be checked end to end."""
    return {"echo": args, "usage": {"input_tokens": 0, "output_tokens": 0}}


def read_frame(sock: socket.socket, limit: int, max_depth: int = MAX_FRAME_DEPTH) -> dict[str, Any] | None:
    """The next frame as a dict, None at a clean end of stream; FrameError for anything else."""
    header = _recv_exact(sock, 4)
    if header is None:
        return None
    (length,) = struct.unpack(">I", header)
    if length > limit:
        raise FrameError(f"request frame of {length} bytes exceeds the limit of {limit} bytes")
    body = _recv_exact(sock, length)
    if body is None:
        raise FrameError("connection closed mid-frame")
    return decode_frame(body, max_depth)


def decode_frame(body: bytes, max_depth: int = MAX_FRAME_DEPTH) -> dict[str, Any]:
    """Bounded JSON decoding: a nesting the parser cannot follow, or deeper than `max_depth`, is a
    FrameError (never a RecursionError in a broker thread). A frame with more containers than
    MAX_FRAME_CONTAINERS is refused before it is decoded (an upper count: brackets inside strings count)."""
    if body.count(b"[") + body.count(b"{") > MAX_FRAME_CONTAINERS:
        raise FrameError(f"request frame holds more than {MAX_FRAME_CONTAINERS:,} lists and objects")
    try:
        data = json.loads(body.decode("utf-8"))
    except RecursionError:
        raise FrameError(f"request frame is nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError:
        raise FrameError("request frame is not UTF-8") from None
    except ValueError as exc:
        raise FrameError(f"request frame is not valid JSON ({str(exc)[:200]})") from None
    if not isinstance(data, dict):
        raise FrameError("request frame is not a JSON object")
    if max_depth_exceeded(data, max_depth):
        raise FrameError(f"request frame is nested deeper than {max_depth} levels")
    return data


def write_frame(sock: socket.socket, data: dict[str, Any]) -> None:
    try:
        body = json.dumps(data, ensure_ascii=False, default=str).encode("utf-8", errors="replace")
    except (ValueError, TypeError, RecursionError) as exc:
        body = json.dumps(
            {"ok": False, "error": f"response not serialisable ({type(exc).__name__})"}
        ).encode()
    if len(body) > MAX_RESPONSE_BYTES:
        body = json.dumps({"ok": False, "error": f"response too large ({len(body)} bytes)"}).encode()
    sock.sendall(struct.pack(">I", len(body)) + body)


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 16))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


class ToolBroker:
    """Holds the tool handlers; opens one session per execution.

    A handler with a true attribute `takes_deadline` is called as `handler(args, deadline=...)`, the
    `time.monotonic()` instant its execution's wall clock ends (None when unknown), so a slow tool never
    holds a broker thread past the execution it serves.
    """

    def __init__(
        self,
        handlers: dict[str, Handler],
        max_calls: int = MAX_CALLS,
        timeout_s: float | None = None,
        resolver: Any = None,
    ):
        self.handlers = dict(handlers)
        self.max_calls = max_calls
        self.timeout_s = timeout_s  # the execution's wall clock, when this broker serves one execution
        # Tools known only once asked for (MCP servers' tools, tools/mcp.py): `get(name) -> handler | None`,
        # `problem(name) -> str | None`, `names() -> list[str]`.
        self.resolver = resolver
        self._bound: ToolBroker | None = None  # the last for_execution's broker

    def for_execution(self, timeout_s: float | None) -> ToolBroker:
        """The same tools, for one execution whose wall clock is `timeout_s`: its sessions end their
        tool calls' deadlines there."""
        bound = self._bound  # a run's executions mostly share one wall clock: its broker is reused
        if bound is None or bound.timeout_s != timeout_s:
            bound = ToolBroker(self.handlers, self.max_calls, timeout_s, self.resolver)
            bound.handlers = self.handlers  # shared, not copied: one set of tools per run
            self._bound = bound
        return bound

    def handler(self, tool: str) -> Handler | None:
        """The handler of `tool`: a fixed one, else the resolver's."""
        found = self.handlers.get(tool)
        if found is None and self.resolver is not None:
            found = self.resolver.get(tool)
        return found

    def tool_names(self) -> list[str]:
        """The fixed tools and the resolver's tools known so far."""
        extra = self.resolver.names() if self.resolver is not None else []
        return sorted({*self.handlers, *extra})

    def tool_problem(self, tool: str) -> str | None:
        """None when `tool` can be allocated; else why not, in a clause."""
        if tool in self.handlers:
            return None
        if self.resolver is not None:
            return self.resolver.problem(tool)
        return f"unknown tool skill {tool}"

    def open_session(
        self,
        socket_path: Path,
        allowed: Iterable[str],
        start: bool = True,
        listener: socket.socket | None = None,
    ) -> BrokerSession:
        """A session listening at `socket_path` (on `listener`, bound there by `listen` ahead, if given).
        `start=False`: the socket listens (a client's connection waits in its backlog) but calls are
        served only once `start()` runs: a backend, once it handed the job over, starts it when the first
        client connects (`connect_fd`), so an execution that calls no tool never starts a thread."""
        deadline = None
        if self.timeout_s is not None and math.isfinite(self.timeout_s):
            deadline = time.monotonic() + max(0.0, self.timeout_s)
        path = socket_path if isinstance(socket_path, Path) else Path(socket_path)
        return BrokerSession(self, path, set(allowed), deadline=deadline, start=start, listener=listener)

    def close(self) -> None:
        """Nothing to release: each session closes itself (the backend closes it after its execution).
        Present so owners can close a broker like their other resources."""


def listen(socket_path: Path) -> socket.socket:
    """A socket listening at `socket_path`, for a session (a sandbox started ahead binds its own early)."""
    if socket_path.exists() or socket_path.is_symlink():
        socket_path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(socket_path))
        os.chmod(socket_path, 0o666)  # the sandbox user differs from ours; the folder guards access
        sock.listen(MAX_CONNECTIONS)
    except BaseException:
        sock.close()
        raise
    return sock


_NOT_SERVING = threading.Event()  # the `limit_reached` of a session not serving yet: never set


class BrokerSession:
    """A listening socket for one execution; `records` fills as calls arrive. Close it when done.

    `calls` counts the calls served (refusals included), `refused_after_limit` the calls that arrived
    after the limit closed the session; `limit_reached` is set then.
    """

    def __init__(
        self,
        broker: ToolBroker,
        socket_path: Path,
        allowed: set[str],
        deadline: float | None = None,
        start: bool = True,
        listener: socket.socket | None = None,
    ):
        self.broker = broker
        self.path = socket_path
        self.allowed = allowed
        self.deadline = deadline
        self.records: list[ToolCallRecord] = []
        self.calls = 0
        self.refused_after_limit = 0
        # Never set before `start` (only a served call sets it), so a session that serves no call (most
        # executions) makes no event of its own: `start` gives it one.
        self.limit_reached = _NOT_SERVING
        self._lock = threading.Lock()
        self._closed = False  # set once, by close(); the threads serving calls read it
        self._conns: list[socket.socket] = []
        self._sock = listener if listener is not None else listen(socket_path)
        # A blocking accept, woken at once by `_stop_listening` (shutdown makes it fail), so closing a
        # session costs no tick of a timeout.
        self._started = False
        self._loop_done: threading.Event | None = None
        if start:
            self.start()

    def start(self) -> None:
        """Serve calls (once; never after close)."""
        with self._lock:
            if self._started or self._closed:
                return
            self._started = True
            self.limit_reached = threading.Event()
            self._loop_done = threading.Event()
        # A bare thread: threading.Thread.start waits until the new thread runs, which on a loaded
        # machine costs the execution milliseconds; this one starts while the sandbox does.
        _thread.start_new_thread(self._accept_loop, ())

    @property
    def accepting(self) -> bool:
        """Whether the accept loop runs."""
        return self._loop_done is not None and not self._loop_done.is_set()

    @property
    def started(self) -> bool:
        """Whether a thread was ever started to serve calls."""
        return self._started

    def connect_fd(self) -> int:
        """The listening socket's descriptor while no thread serves it (-1 after `start` or `close`): it
        reads ready once a client connects. A backend waiting for its sandbox selects on it and calls
        `start()` then, so an execution that calls no tool costs no thread, nor its wake-up at close;
        the first call waits in the backlog the moment it takes the host to see it."""
        if self._started or self._closed:
            return -1
        return self._sock.fileno()

    def start_if_connected(self, ready: list[int]) -> None:
        """`start()` when `connect_fd()` is among the descriptors `select` found ready."""
        fd = self.connect_fd()
        if fd >= 0 and fd in ready:
            self.start()

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait for the accept loop's end (after close); True once it ended or never started."""
        return self._loop_done is None or self._loop_done.wait(timeout_s)

    # -- connections ------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        try:
            self._accept()
        finally:
            assert self._loop_done is not None
            self._loop_done.set()
            # Closed here, by the only thread that uses it: close() never waits for this thread, and
            # the descriptor is never closed under a running accept (nor reused while one runs).
            with contextlib.suppress(OSError):
                self._sock.close()

    def _accept(self) -> None:
        while not self._closed and not self.limit_reached.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:  # shut down by close() or by the call limit
                return
            with self._lock:
                if len(self._conns) >= MAX_CONNECTIONS or self.limit_reached.is_set():
                    conn.close()
                    continue
                self._conns.append(conn)
            try:
                threading.Thread(
                    target=self._serve, args=(conn,), name="tool-broker-conn", daemon=True
                ).start()
            except RuntimeError:  # no thread to be had: the call is refused by closing its connection
                self._drop(conn)

    def _serve(self, conn: socket.socket) -> None:
        # Nothing a client sends may raise out of this thread (a traceback on the host's stderr).
        try:
            conn.settimeout(None)
            while not self._closed:
                try:
                    req = read_frame(conn, MAX_REQUEST_BYTES)
                except FrameError as exc:
                    reply = self._refuse_frame(str(exc))
                    if reply is not None:
                        write_frame(conn, reply)
                    return
                if req is None:
                    return
                reply = self._call(req)
                if reply is None:  # past the limit: no answer, the connection closes
                    return
                write_frame(conn, reply)
                if self.limit_reached.is_set():
                    return
        except Exception:  # a broken pipe, a reset: the client's problem, not the host's
            return
        finally:
            if self.limit_reached.is_set():
                self._drop_others(conn)
            self._drop(conn)

    def _drop(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            conn.close()
        # The limit is on connections open at once: a closed one frees its place (clients may
        # connect once per call, so never pruning would refuse every call after the eighth).
        with self._lock:
            if conn in self._conns:
                self._conns.remove(conn)

    # -- calls ------------------------------------------------------------------------------------

    def _admit(self) -> str | None:
        """Count one call. Returns None to serve it, "limit" for the call that reaches the limit (it is
        answered, then the session closes), "closed" past the limit (counted only)."""
        with self._lock:
            if self.limit_reached.is_set():
                self.refused_after_limit += 1
                return "closed"
            if self.calls >= self.broker.max_calls:
                self.limit_reached.set()
                return "limit"
            self.calls += 1
            return None

    def _limit_error(self) -> str:
        return (
            f"call limit of {self.broker.max_calls} tool calls per execution reached; the tool session "
            "is closed and later calls are refused"
        )

    def _trip(self) -> dict[str, Any]:
        error = self._limit_error()
        self._record(ToolCallRecord(LIMIT_RECORD_TOOL, "", False, error, {}, 0.0))
        # Stop listening: later connections cost the host nothing. The open ones are dropped once
        # this call has its answer (`_drop_others`).
        self._stop_listening()
        with contextlib.suppress(OSError):
            self.path.unlink()
        return {"ok": False, "error": error}

    def _stop_listening(self) -> None:
        """Refuse new connections and wake the accept loop at once: on Linux, shutting down a listening
        socket makes a blocked (or later) accept() fail, where close() alone would leave it blocked. The
        accept thread closes the descriptor itself as it ends."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def _drop_others(self, conn: socket.socket) -> None:
        with self._lock:
            others = [c for c in self._conns if c is not conn]
        for other in others:
            with contextlib.suppress(OSError):
                other.shutdown(socket.SHUT_RDWR)

    def _refuse_frame(self, error: str) -> dict[str, Any] | None:
        admitted = self._admit()
        if admitted == "closed":
            return None
        if admitted == "limit":
            return self._trip()
        self._record(ToolCallRecord("(invalid frame)", "", False, error[:ERROR_CHARS], {}, 0.0))
        return {"ok": False, "error": error}

    def _call(self, req: dict[str, Any]) -> dict[str, Any] | None:
        admitted = self._admit()
        if admitted == "closed":
            return None
        if admitted == "limit":
            return self._trip()
        tool = str(req.get("tool", ""))[:TOOL_NAME_CHARS]
        args = req.get("args") if isinstance(req.get("args"), dict) else {}
        preview = _preview(args)
        start = time.monotonic()
        handler = self.broker.handler(tool) if tool in self.allowed else None
        if tool not in self.allowed:
            error = f"tool '{tool}' is not allocated to this subagent"
        elif handler is None:
            error = f"tool '{tool}' has no handler on the host"
        elif self.deadline is not None and start >= self.deadline:
            error = "the execution's wall-clock limit is reached; no more tool calls"
        elif problem := _argument_problem(handler, req.get("args")):
            error = f"tool '{tool}' was not called: its arguments do not match its schema ({problem})"
        else:
            error = None
        if error or handler is None:
            self._record(ToolCallRecord(tool, preview, False, error, {}, 0.0))
            return {"ok": False, "error": error}
        try:
            if getattr(handler, "takes_deadline", False):
                out = handler(args, deadline=self.deadline)
            else:
                out = handler(args)
            if not isinstance(out, dict):
                raise TypeError(f"handler returned {type(out).__name__}, not a dict")
            usage = _usage(out.pop("usage", None))
            self._record(ToolCallRecord(tool, preview, True, None, usage, _since(start)))
            return {"ok": True, "result": out}
        except Exception as exc:  # a handler failure is the subagent's tool error, not ours
            message = f"{type(exc).__name__}: {exc}"[:ERROR_CHARS]
            self._record(ToolCallRecord(tool, preview, False, message, {}, _since(start)))
            return {"ok": False, "error": message}

    def _record(self, record: ToolCallRecord) -> None:
        with self._lock:
            if len(self.records) <= self.broker.max_calls:  # the calls served, and the closing note
                self.records.append(record)

    def close(self, unlink: bool = True) -> list[ToolCallRecord]:
        """Stop serving (no call is answered after) and return the records. `unlink=False` leaves the
        socket file, closed, to its owner: a backend whose job folder's removal takes it."""
        with self._lock:
            self._closed = True
            started = self._started
        if not started:  # no thread ever served a call (so none recorded one): close the socket here
            with contextlib.suppress(OSError):
                self._sock.close()
            if unlink:
                with contextlib.suppress(OSError):
                    self.path.unlink()
            return list(self.records)
        self._stop_listening()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if unlink:
            with contextlib.suppress(OSError):
                self.path.unlink()
        with self._lock:
            records = list(self.records)
            refused = self.refused_after_limit
        if refused and records and records[-1].tool == LIMIT_RECORD_TOOL:
            note = records[-1]
            records[-1] = dataclasses.replace(
                note, error=f"{note.error}; {refused} later call(s) were refused and not recorded"
            )
        return records


def settle_trace(trace: Any) -> Any:
    """Give an execution whose tool session hit the call limit the status `tool_limit`, whatever the
    subagent made of its refused calls afterwards (it may catch the errors and return normally)."""
    calls = getattr(trace, "tool_calls", None) or []
    note = next((c for c in reversed(calls) if c.tool == LIMIT_RECORD_TOOL), None)
    if note is None or trace.status in (TOOL_LIMIT, INTERRUPTED):
        return trace
    frames = (trace.error or {}).get("frames", []) if isinstance(trace.error, dict) else []
    trace.status = TOOL_LIMIT
    trace.error = {
        "type": "ToolCallLimit",
        "message": note.error or "tool call limit reached",
        "frames": frames,
    }
    return trace


def _argument_problem(handler: Handler, args: Any) -> str | None:
    """Why `args` break the schema of a tool skill (tools.ToolSkill.check_arguments), None when they
    match or the handler declares no schema (test tools)."""
    check = getattr(handler, "check_arguments", None)
    return check(args) if check is not None else None


def _preview(args: dict[str, Any]) -> str:
    try:
        text = json.dumps(args, ensure_ascii=False, default=str)
    except (ValueError, TypeError, RecursionError):
        text = "(arguments not serialisable)"
    return text if len(text) <= ARG_PREVIEW_CHARS else text[:ARG_PREVIEW_CHARS] + "…"


def _usage(raw: Any) -> dict[str, Any]:
    """A handler's usage report, kept to a few numeric fields (it ends up in the trace)."""
    if not isinstance(raw, dict):
        return {}
    out: dict[str, Any] = {}
    for key, value in list(raw.items())[:MAX_USAGE_KEYS]:
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            out[str(key)[:64]] = value
    return out


def _since(start: float) -> float:
    return round(time.monotonic() - start, 6)
