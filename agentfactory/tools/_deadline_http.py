"""The HTTP transport of `web_fetch`: every socket operation bounded by the fetch's one deadline.

Kept apart from `web_fetch` so that httpx and httpcore are imported at the first fetch, not by every run
that merely allows the tool.
"""

from __future__ import annotations

import time
from typing import Any

import httpcore
import httpx

from agentfactory.tools.web_fetch import _Deadline


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake ends by the fetch's deadline, so a server
    dripping one byte a second cannot keep a fetch alive past it (per-read timeouts alone would)."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: _Deadline):
        self.inner = inner
        self.deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.inner.read(max_bytes, self.deadline.left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.inner.write(buffer, self.deadline.left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self.inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None):
        left = self.deadline.left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self.inner.start_tls(ssl_context, server_hostname, left), self.deadline)

    def get_extra_info(self, info: str) -> Any:
        return self.inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, deadline: _Deadline):
        self.inner = httpcore.SyncBackend()
        self.deadline = deadline

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # noqa: ANN001
        left = self.deadline.left(timeout, httpcore.ConnectTimeout)
        stream = self.inner.connect_tcp(host, port, left, local_address, socket_options)
        return _DeadlineStream(stream, self.deadline)

    def connect_unix_socket(self, path, timeout=None, socket_options=None):  # noqa: ANN001
        raise httpcore.ConnectError("web_fetch does not connect to Unix sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, max(0.0, self.deadline.at - time.monotonic())))


class DeadlineTransport(httpx.HTTPTransport):
    def __init__(self, deadline: _Deadline):
        super().__init__(trust_env=False)
        # httpx builds its pool without a network backend parameter: this one bounds every socket
        # operation by the fetch's deadline.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=1,
            network_backend=_DeadlineBackend(deadline),
        )
