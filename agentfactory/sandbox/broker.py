"""The tool broker: serves tool calls from inside a sandbox over a Unix socket on the host.

API keys and network access stay in this process; the sandbox only holds a socket. Each execution gets
its own session (its own socket file) that answers only the tools allocated to that execution; every
call, refused or not, becomes a ToolCallRecord in the trace.

Wire protocol (both directions): a 4-byte big-endian length, then that many bytes of UTF-8 JSON.
Request: {"tool": str, "args": {...}}, at most 1 MiB. Response: {"ok": true, "result": {...}} or
{"ok": false, "error": str}, at most 8 MiB. Several requests may follow each other on one connection.
A malformed or oversized frame closes the connection.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from agentfactory.sandbox.trace import ToolCallRecord

Handler = Callable[[dict[str, Any]], dict[str, Any]]

MAX_REQUEST_BYTES = 1 << 20
MAX_RESPONSE_BYTES = 8 << 20
MAX_CONNECTIONS = 8
ARG_PREVIEW_CHARS = 200


def echo_tool(args: dict[str, Any]) -> dict[str, Any]:
    """Test tool: returns its arguments. Reports a fake usage so traces can be checked end to end."""
    return {"echo": args, "usage": {"input_tokens": 0, "output_tokens": 0}}


def read_frame(sock: socket.socket, limit: int) -> dict[str, Any] | None:
    header = _recv_exact(sock, 4)
    if header is None:
        return None
    (length,) = struct.unpack(">I", header)
    if length > limit:
        raise ValueError(f"frame of {length} bytes exceeds {limit}")
    body = _recv_exact(sock, length)
    if body is None:
        raise ValueError("connection closed mid-frame")
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("frame is not a JSON object")
    return data


def write_frame(sock: socket.socket, data: dict[str, Any]) -> None:
    body = json.dumps(data, ensure_ascii=False, default=str).encode()
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
    """Holds the tool handlers; opens one session per execution."""

    def __init__(self, handlers: dict[str, Handler], max_calls: int = 1000):
        self.handlers = dict(handlers)
        self.max_calls = max_calls

    def open_session(self, socket_path: Path, allowed: Iterable[str]) -> BrokerSession:
        return BrokerSession(self, Path(socket_path), set(allowed))


class BrokerSession:
    """A listening socket for one execution; `records` fills as calls arrive. Close it when done."""

    def __init__(self, broker: ToolBroker, socket_path: Path, allowed: set[str]):
        self.broker = broker
        self.path = socket_path
        self.allowed = allowed
        self.records: list[ToolCallRecord] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._conns: list[socket.socket] = []
        if socket_path.exists() or socket_path.is_symlink():
            socket_path.unlink()
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(socket_path))
        os.chmod(socket_path, 0o666)  # the sandbox user differs from ours; the folder guards access
        self._sock.listen(MAX_CONNECTIONS)
        self._sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._accept_loop, name="tool-broker", daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                if len(self._conns) >= MAX_CONNECTIONS:
                    conn.close()
                    continue
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(None)
            while not self._closed.is_set():
                try:
                    req = read_frame(conn, MAX_REQUEST_BYTES)
                except (ValueError, UnicodeDecodeError):
                    return
                if req is None:
                    return
                write_frame(conn, self._call(req))
        except OSError:
            return
        finally:
            conn.close()
            # The limit is on connections open at once: a closed one frees its place (clients may
            # connect once per call, so never pruning would refuse every call after the eighth).
            with self._lock:
                if conn in self._conns:
                    self._conns.remove(conn)

    def _call(self, req: dict[str, Any]) -> dict[str, Any]:
        tool = str(req.get("tool", ""))[:100]
        args = req.get("args") if isinstance(req.get("args"), dict) else {}
        preview = json.dumps(args, ensure_ascii=False, default=str)
        if len(preview) > ARG_PREVIEW_CHARS:
            preview = preview[:ARG_PREVIEW_CHARS] + "…"
        start = time.monotonic()
        with self._lock:
            count = len(self.records)
        if count >= self.broker.max_calls:
            error = f"call limit of {self.broker.max_calls} tool calls per execution reached"
        elif tool not in self.allowed:
            error = f"tool '{tool}' is not allocated to this subagent"
        elif tool not in self.broker.handlers:
            error = f"tool '{tool}' has no handler on the host"
        else:
            error = None
        if error:
            self._record(ToolCallRecord(tool, preview, False, error, {}, 0.0))
            return {"ok": False, "error": error}
        try:
            out = self.broker.handlers[tool](args)
            if not isinstance(out, dict):
                raise TypeError(f"handler returned {type(out).__name__}, not a dict")
            usage = out.pop("usage", None) or {}
            self._record(ToolCallRecord(tool, preview, True, None, dict(usage), _since(start)))
            return {"ok": True, "result": out}
        except Exception as exc:  # a handler failure is the subagent's tool error, not ours
            message = f"{type(exc).__name__}: {exc}"[:1000]
            self._record(ToolCallRecord(tool, preview, False, message, {}, _since(start)))
            return {"ok": False, "error": message}

    def _record(self, record: ToolCallRecord) -> None:
        with self._lock:
            self.records.append(record)

    def close(self) -> list[ToolCallRecord]:
        self._closed.set()
        self._sock.close()
        with self._lock:
            for conn in self._conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        self._thread.join(timeout=1)
        with contextlib.suppress(OSError):
            self.path.unlink()
        with self._lock:
            return list(self.records)


def _since(start: float) -> float:
    return round(time.monotonic() - start, 6)
