"""One overall deadline per model call, enforced on the wire, and a bound on what a reply may weigh.

HTTP client timeouts are per socket operation: a server that drips one byte just before each read timeout
keeps a call alive for ever. So every model call gets a `CallGuard` holding one monotonic deadline that
covers connecting, sending, waiting and reading the whole body, across every retry of that call.
`call_with_retry` opens one attempt at a time with `guard.attempt()`; during an attempt the HTTP client
built by `http_client()`:

- caps every per-operation timeout (connect, write, pool, read) at the time left,
- opens a fresh connection and registers its socket with the guard, whose watchdog timer shuts it down
  the moment the deadline passes (a blocked read then returns at once, whatever the server does),
- checks the deadline and a size cap (`MAX_REPLY_BYTES`) on every chunk of the body,
- asks for an uncompressed reply and refuses a compressed one, so the size cap is the size in memory.

Outside an attempt (no guard set) the client behaves like the SDK's default one. The guard lives in a
context variable, so concurrent calls from several threads each see their own.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from agentfactory.config import ModelSettings, check_call_timeout

__all__ = [
    "DEFAULT_CALL_TIMEOUT_S",
    "MAX_REPLY_BYTES",
    "CallGuard",
    "check_call_timeout",
    "http_client",
    "http_module",
]

MAX_REPLY_BYTES = 16 * 1024 * 1024  # a model reply is kilobytes; anything near this is hostile or broken
DEFAULT_CALL_TIMEOUT_S: float = ModelSettings.call_timeout_s  # for adapters built without settings

_current: contextvars.ContextVar[CallGuard | None] = contextvars.ContextVar(
    "agentfactory_call_guard", default=None
)


class DeadlinePassed(Exception):
    """Raised by `CallGuard.attempt()` when no time is left to start another attempt."""


# The end (time.monotonic()) of the run a model call belongs to: its wall clock (`--max-time`) cuts the
# call's own deadline. Set by the metered provider around each call; None when the run has no limit.
_run_end: contextvars.ContextVar[float | None] = contextvars.ContextVar("agentfactory_run_end", default=None)


@contextlib.contextmanager
def run_deadline(end: float | None) -> Iterator[None]:
    """Model calls inside this block end by `end` (a time.monotonic() value) at the latest."""
    token = _run_end.set(end)
    try:
        yield
    finally:
        _run_end.reset(token)


def cut_by_run(seconds: float) -> tuple[float, bool]:
    """A call's deadline cut to what is left of its run's wall clock, and whether the run's clock cut it."""
    end = _run_end.get()
    if end is None:
        return seconds, False
    left = end - time.monotonic()
    return (left, True) if left < seconds else (seconds, False)


class CallGuard:
    """The deadline of one model call and what its attempts learned about the reply."""

    def __init__(self, seconds: float, clock: Any = time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self.end = clock() + seconds
        self.fired = False  # the watchdog shut the call's sockets down
        self.reply_problem: str | None = None  # set when the transport refused the body (size, encoding)
        self._streams: list[Any] = []
        self._lock = threading.Lock()

    def remaining(self) -> float:
        return self.end - self._clock()

    @property
    def expired(self) -> bool:
        return self.fired or self.remaining() <= 0

    @contextlib.contextmanager
    def attempt(self) -> Iterator[None]:
        """One try of the call: the guard is current and the watchdog armed until the block ends."""
        remaining = self.remaining()
        if remaining <= 0:
            raise DeadlinePassed
        self.reply_problem = None
        token = _current.set(self)
        timer = threading.Timer(remaining, self._fire)
        timer.daemon = True
        timer.start()
        try:
            yield
        finally:
            timer.cancel()
            _current.reset(token)
            with self._lock:
                self._streams.clear()

    def watch(self, stream: Any) -> None:
        """Shut `stream` (an httpcore network stream) down when the deadline passes."""
        if stream is None:
            return
        with self._lock:
            self._streams.append(stream)
            fired = self.fired
        if fired:
            _shutdown(stream)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            streams = list(self._streams)
        for stream in streams:
            _shutdown(stream)


def _shutdown(stream: Any) -> None:
    # shutdown(), not close(): on Linux only shutdown wakes a thread blocked in recv() on the socket.
    try:
        sock = stream.get_extra_info("socket")
    except Exception:
        return
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def current_guard() -> CallGuard | None:
    return _current.get()


def http_module(client_class: type) -> Any:
    """The HTTP library (httpx or its successor httpx2) the SDK's client class is built on."""
    for klass in client_class.__mro__:
        top = klass.__module__.split(".", 1)[0]
        if top.startswith("httpx"):
            return importlib.import_module(top)
    raise TypeError(f"{client_class!r} is not an httpx client")  # pragma: no cover


def http_client(sdk: Any, timeout_s: float) -> Any:
    """An instance of the SDK's default HTTP client that honours the current call's `CallGuard`."""
    base = sdk.DefaultHttpxClient
    httpx = http_module(base)

    class GuardedStream(httpx.SyncByteStream):
        def __init__(self, inner: Any, guard: CallGuard):
            self._inner = inner
            self._guard = guard

        def __iter__(self) -> Iterator[bytes]:
            size = 0
            for chunk in self._inner:
                size += len(chunk)
                if size > MAX_REPLY_BYTES:
                    self._guard.reply_problem = f"the reply is larger than {MAX_REPLY_BYTES // 2**20} MiB"
                    raise httpx.ReadError(self._guard.reply_problem)
                if self._guard.expired:
                    raise httpx.ReadTimeout("the call deadline passed while the reply was arriving")
                yield chunk

        def close(self) -> None:
            self._inner.close()

    class GuardedClient(base):  # type: ignore[misc, valid-type]
        def send(self, request: Any, *, stream: bool = False, **kwargs: Any) -> Any:
            guard = current_guard()
            if guard is None:
                return super().send(request, stream=stream, **kwargs)
            remaining = guard.remaining()
            if remaining <= 0:
                raise httpx.ConnectTimeout("the call deadline passed before the request was sent")
            timeouts = dict(request.extensions.get("timeout") or {})
            for key in ("connect", "read", "write", "pool"):
                value = timeouts.get(key)
                timeouts[key] = remaining if value is None else min(float(value), remaining)
            request.extensions["timeout"] = timeouts
            outer_trace = request.extensions.get("trace")

            def trace(name: str, info: dict[str, Any]) -> None:
                # A new connection: watch its socket before the request is even written.
                if name.endswith((".connect_tcp.complete", ".start_tls.complete")):
                    guard.watch(info.get("return_value"))
                if outer_trace is not None:
                    outer_trace(name, info)

            request.extensions["trace"] = trace
            request.headers["accept-encoding"] = "identity"
            response = super().send(request, stream=True, **kwargs)
            guard.watch(response.extensions.get("network_stream"))  # a reused connection
            encoding = response.headers.get("content-encoding", "").strip().lower()
            if encoding not in ("", "identity"):
                response.close()
                guard.reply_problem = "the reply is compressed although an uncompressed one was asked for"
                raise httpx.DecodingError(guard.reply_problem, request=request)
            response.stream = GuardedStream(response.stream, guard)
            if not stream:
                try:
                    response.read()
                except BaseException:
                    response.close()
                    raise
            return response

    # No idle connection is kept: every attempt opens its own, so the watchdog always learns its socket
    # (a pooled connection's socket is out of reach until its headers have arrived). The price is one
    # handshake per model call, small beside the call itself. Redirects are not followed: the model APIs
    # never redirect a POST, and a redirect would carry the API key header wherever the server points.
    return GuardedClient(
        timeout=timeout_s,
        follow_redirects=False,
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=0),
    )
