"""A run's backend is checked at once and built while its first model call is out (sandbox/deferred.py):
the checks give the sentences the backend itself gives, with real daemons and real sockets; the build
happens once, in the background, and its failure reaches the execution that needs it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import traceback
from pathlib import Path

import pytest

from agentfactory.config import SandboxSettings
from agentfactory.errors import MissingSandboxExtra, SandboxError
from agentfactory.sandbox import ExecutionRequest, get_backend
from agentfactory.sandbox.deferred import DeferredBackend

ROOT = Path(__file__).resolve().parents[2]


def _eager_error(settings: SandboxSettings) -> str:
    with pytest.raises(SandboxError) as caught:
        get_backend(settings, pool_size=0).close()
    return str(caught.value)


def _deferred_error(settings: SandboxSettings) -> str:
    with pytest.raises(SandboxError) as caught:
        get_backend(settings, start_ahead=False)
    return str(caught.value)


def test_no_daemon_at_the_socket_is_refused_at_once_with_the_backends_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/docker.sock")
    settings = SandboxSettings(backend="docker")
    deferred = _deferred_error(settings)
    assert deferred == _eager_error(settings)
    assert deferred.startswith(f"Docker is not reachable at unix://{tmp_path}/docker.sock")


def _serve(path: Path, replies: list[bytes]) -> tuple[threading.Thread, list[bytes]]:
    """A Unix socket at `path` answering one connection per reply, then closed; and what it was sent."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(4)
    server.settimeout(30)
    seen: list[bytes] = []

    def loop() -> None:
        with server:
            for reply in replies:
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                with conn:
                    seen.append(conn.recv(4096))
                    conn.sendall(reply)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    return thread, seen


@pytest.mark.parametrize(
    "reply", [b"", b"garbage\r\n", b"HTTP/1.1 500 Internal Server Error\r\n\r\n", b"HTTP/1.1 2", b"x" * 300]
)
def test_a_socket_that_is_no_docker_daemon_is_refused(tmp_path, monkeypatch, reply: bytes):
    path = tmp_path / "d.sock"
    server, _ = _serve(path, [reply])
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    message = _deferred_error(SandboxSettings(backend="docker"))
    assert message.startswith(f"Docker is not reachable at unix://{path}")
    server.join(10)


def test_a_missing_image_is_refused_at_once_naming_it(tmp_path, monkeypatch):
    path = tmp_path / "d.sock"
    ping, missing = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK", b"HTTP/1.1 404 Not Found\r\n\r\n{}"
    server, seen = _serve(path, [ping, missing])
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    message = _deferred_error(SandboxSettings(backend="docker", image="no-such/sandbox:v1"))
    server.join(10)
    assert message.startswith("The sandbox image no-such/sandbox:v1 is missing")
    assert seen[0].startswith(b"GET /_ping HTTP/1.0\r\n")
    assert seen[1].startswith(b"GET /images/no-such/sandbox:v1/json HTTP/1.0\r\n")


def test_an_image_the_daemon_cannot_inspect_is_refused_with_its_answer(tmp_path, monkeypatch):
    path = tmp_path / "d.sock"
    ping, broken = b"HTTP/1.1 200 OK\r\n\r\nOK", b"HTTP/1.1 500 Internal Server Error\r\n\r\n{}"
    server, _ = _serve(path, [ping, broken])
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    message = _deferred_error(SandboxSettings(backend="docker", image="sandbox:v1"))
    server.join(10)
    assert message == "Docker could not inspect the image sandbox:v1: the daemon answered HTTP 500."


def test_a_daemon_over_tcp_is_checked_by_building_the_backend(monkeypatch):
    """No raw check there (TLS, SSH): the backend is built at once, and the SDK's error is the backend's."""
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # discard port: nothing listens
    settings = SandboxSettings(backend="docker")
    assert _deferred_error(settings) == _eager_error(settings)
    assert _deferred_error(settings).startswith("Docker is not reachable at tcp://127.0.0.1:9")


def test_a_missing_image_on_the_real_daemon_gives_the_backends_sentence(docker_client):
    settings = SandboxSettings(backend="docker", image="agentfactory-no-such-image:never")
    assert _deferred_error(settings) == _eager_error(settings)


def test_without_the_docker_sdk_the_run_is_refused_naming_the_extra(tmp_path):
    code = (
        "import importlib.util, sys\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *a: None if name == 'docker' else real(name, *a)\n"
        "from agentfactory.config import SandboxSettings\n"
        "from agentfactory.errors import MissingSandboxExtra\n"
        "from agentfactory.sandbox import get_backend\n"
        "try:\n"
        "    get_backend(SandboxSettings(backend='docker'), start_ahead=False)\n"
        "except MissingSandboxExtra as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert "pip install 'agentfactory[docker]', or pass --sandbox local." in out.stdout, out.stderr
    assert issubclass(MissingSandboxExtra, SandboxError)


def test_the_check_imports_neither_the_sdk_nor_the_backend(docker_client):
    code = (
        "import json, sys\n"
        "from agentfactory.config import SandboxSettings\n"
        "from agentfactory.sandbox import get_backend\n"
        "backend = get_backend(SandboxSettings(backend='docker'), start_ahead=False)\n"
        "before = [m for m in ('docker', 'requests', 'agentfactory.sandbox.docker_backend') if m in sys.modules]\n"
        "backend.prepare()\n"
        "isolation = backend.isolation\n"
        "after = [m for m in ('docker', 'agentfactory.sandbox.docker_backend') if m in sys.modules]\n"
        "backend.close()\n"
        "print(json.dumps([before, after, isolation]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    before, after, isolation = json.loads(out.stdout)
    assert before == [] and after == ["docker", "agentfactory.sandbox.docker_backend"]
    assert "docker" in isolation


def test_local_as_root_without_bubblewrap_is_refused_at_once(monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("the refusal is root's")
    monkeypatch.setenv("PATH", "/nonexistent")
    settings = SandboxSettings(backend="local")
    deferred = _deferred_error(settings)
    assert deferred == _eager_error(settings)
    assert deferred.startswith("--sandbox local refuses to run subagents as root without bubblewrap")


class _Made:
    """A stand-in backend counting what is asked of it."""

    name = "fake"
    isolation = "none"

    def __init__(self) -> None:
        self.closed = 0
        self.executed: list[ExecutionRequest] = []

    def execute(self, req: ExecutionRequest):
        self.executed.append(req)
        return "trace"

    def close(self) -> None:
        self.closed += 1


def test_the_backend_is_built_once_in_the_background():
    made: list[_Made] = []
    threads: list[str] = []

    def make() -> _Made:
        threads.append(threading.current_thread().name)
        made.append(_Made())
        return made[-1]

    backend = DeferredBackend("fake", make)
    assert made == []  # nothing before prepare() or a use
    backend.prepare()
    backend.prepare()
    req = ExecutionRequest(Path("."), "x", {})
    assert backend.execute(req) == "trace" and backend.execute(req) == "trace"
    assert len(made) == 1 and threads == ["sandbox-build"]
    assert len(made[0].executed) == 2
    backend.close()
    assert made[0].closed == 1
    with pytest.raises(SandboxError, match="was closed"):
        backend.execute(req)


def test_an_execution_without_prepare_builds_the_backend_itself():
    made: list[_Made] = []
    backend = DeferredBackend("fake", lambda: made.append(_Made()) or made[-1])
    assert backend.execute(ExecutionRequest(Path("."), "x", {})) == "trace"
    assert len(made) == 1
    backend.close()
    assert made[0].closed == 1


def test_closing_a_backend_never_built_builds_nothing():
    made: list[_Made] = []
    backend = DeferredBackend("fake", lambda: made.append(_Made()) or made[-1])
    backend.close()
    backend.prepare()  # too late: closed
    assert made == []


def test_a_build_that_fails_fails_each_execution_with_its_error():
    def make():
        raise SandboxError("Docker could not start a sandbox container: no space left.")

    backend = DeferredBackend("docker", make)
    backend.prepare()
    depths = []
    for _ in range(3):
        with pytest.raises(SandboxError, match="no space left") as info:
            backend.execute(ExecutionRequest(Path("."), "x", {}))
        depths.append(len(traceback.extract_tb(info.value.__traceback__)))
    # The build's frames and this raise's, each time: the traceback does not grow from one to the next.
    assert depths[0] == depths[1] == depths[2], depths
    assert traceback.extract_tb(info.value.__traceback__)[-1].name == "make"
    backend.close()  # nothing to close


def test_closing_waits_for_a_build_under_way_and_closes_what_it_built():
    release = threading.Event()
    made: list[_Made] = []

    def make() -> _Made:
        release.wait(10)
        made.append(_Made())
        return made[-1]

    backend = DeferredBackend("fake", make)
    backend.prepare()
    threading.Timer(0.2, release.set).start()
    backend.close()
    assert len(made) == 1 and made[0].closed == 1
