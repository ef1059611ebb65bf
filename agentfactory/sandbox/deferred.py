"""A run's backend, built while its first model call is out.

A run needs no sandbox before the model asks for an execution, yet building one costs the run's start
its imports (the Docker SDK, the sandbox's own modules) and the daemon's round trips. `DeferredBackend`
checks at once, without either, what a user must fix before a run may start (the daemon answers, the
image is there, the SDK is installed; bubblewrap for a local backend as root), so a workspace is never
made for nothing; the backend itself is built in a background thread that `prepare()` starts (the run
calls it as its first model call goes out, engine/log.py) and that the first execution waits for.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from agentfactory.errors import SandboxError
from agentfactory.sandbox.trace import ExecutionRequest, ExecutionTrace

PING_TIMEOUT_S = 30.0  # as the SDK's client is given (docker_daemon.connect)


class DeferredBackend:
    """The backend `make()` returns, made in a background thread from `prepare()`, or by the first call
    that needs it; its failure is raised there, as `make()` raised it."""

    def __init__(self, name: str, make: Callable[[], Any]):
        self.name = name
        self._make = make
        self._lock = threading.Lock()
        self._built = threading.Event()
        self._thread: threading.Thread | None = None
        self._backend: Any = None
        self._error: BaseException | None = None
        self._error_tb: Any = None  # the build's traceback of `_error`
        self._closed = False

    def prepare(self) -> None:
        """Start building the backend in the background (once). The backend built does its own work
        ahead as it is made (get_backend's backends: start_ahead)."""
        with self._lock:
            if self._thread is not None or self._closed:
                return
            self._thread = threading.Thread(target=self._build, name="sandbox-build", daemon=True)
            self._thread.start()

    def _build(self) -> None:
        try:
            backend = self._make()
        except BaseException as exc:  # noqa: BLE001 - raised where the backend is first needed
            self._error, self._error_tb = exc, exc.__traceback__
        else:
            self._backend = backend
        finally:
            self._built.set()

    def backend(self) -> Any:
        """The backend, once built (building it now if nothing asked before); its error otherwise, with
        the build's own traceback each time: raised again and again (a run's every execution), one
        error object would otherwise carry the frames of every raise before."""
        self.prepare()
        self._built.wait()
        if self._error is not None:
            raise self._error.with_traceback(self._error_tb)
        return self._backend

    @property
    def isolation(self) -> str:
        return self.backend().isolation

    def execute(self, req: ExecutionRequest) -> ExecutionTrace:
        if self._closed:
            raise SandboxError(f"This {self.name} backend was closed; get a new one with get_backend().")
        return self.backend().execute(req)

    def close(self) -> None:
        """Close the backend, waiting for it to be built if its building started (it may have started
        sandboxes ahead: they are removed with it)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is None:
            return
        self._built.wait()
        if self._backend is not None:
            self._backend.close()


def check_docker(socket_path: str, image: str) -> None:
    """What the docker backend's construction would refuse, asked without the SDK: the SDK is installed,
    the daemon answers on its Unix socket, the image is there. One SandboxError, the same sentence the
    backend gives (docker_daemon.py). A daemon not on a Unix socket (DOCKER_HOST=tcp://...) is not
    checked here: that backend is built at once (get_backend)."""
    from importlib.util import find_spec

    from agentfactory.sandbox.docker_daemon import image_missing, inspect_failed, missing_sdk, unreachable

    if find_spec("docker") is None:
        raise missing_sdk()
    if _get(socket_path, "/_ping") != 200:
        raise unreachable()
    status = _get(socket_path, f"/images/{quote(image, safe='/:')}/json")
    if status == 404:
        raise image_missing(image)
    if status != 200:
        raise inspect_failed(image, f"the daemon answered HTTP {status}")


def _get(path: str, url: str) -> int:
    """The HTTP status of `GET url` on the daemon's socket; SandboxError when it cannot be asked."""
    from agentfactory.sandbox.docker_daemon import permission_denied, unreachable

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(PING_TIMEOUT_S)
    try:
        sock.connect(path)
        sock.sendall(f"GET {url} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        head = b""
        while b"\r\n" not in head and len(head) < 256 and (chunk := sock.recv(256)):
            head += chunk  # the status line
    except PermissionError:
        raise permission_denied() from None
    except OSError:
        raise unreachable() from None
    finally:
        sock.close()
    parts = head.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise unreachable()
    return int(parts[1])
