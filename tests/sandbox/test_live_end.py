"""A live view stops at the runner's end marker: a watched execution never waits for its sandbox to stop,
loses no line, and nothing the subagent prints can end the view."""

from __future__ import annotations

import textwrap
import threading
from pathlib import Path

import pytest

from agentfactory.config import SandboxSettings
from agentfactory.sandbox import ExecutionRequest

BACKENDS = ["local", pytest.param("docker", marks=pytest.mark.docker)]
TICKS = """
import time


def run(n=3):
    for i in range(n):
        print("tick", i, flush=True)
        time.sleep(0.3)
    return {"n": n}
"""


def _request(tmp_path: Path, code: str, on_output=None, **inputs) -> ExecutionRequest:
    code_dir = tmp_path / "code"
    code_dir.mkdir(exist_ok=True)
    (code_dir / "sub.py").write_text(textwrap.dedent(code))
    (tmp_path / "work" / "inputs").mkdir(parents=True, exist_ok=True)
    return ExecutionRequest(
        code_dir=code_dir, entry="sub", inputs=inputs, workdir=tmp_path / "work",
        output_dir=tmp_path / "out", timeout_s=60, on_output=on_output,
    )  # fmt: skip


def _pump_of(chunks, marker=None):
    from agentfactory.sandbox.live_output import LinePump

    gate = threading.Event()

    def gated():
        gate.wait(10)  # the marker is expected before the first byte arrives, as a backend sets it
        yield from chunks

    got: list[str] = []
    pump = LinePump(gated(), lambda s, line: got.append(line))
    if marker is not None:
        pump.expect_end(marker)
    gate.set()
    return pump, got


def test_the_pump_stops_at_the_end_marker_even_split_over_chunks():
    from agentfactory.sandbox.live_output import end_marker

    marker = end_marker(b"t" * 32)
    stream = b"one\ntwo\n" + marker + b"never shown\n"
    chunks = [stream[i : i + 5] for i in range(0, len(stream), 5)]  # the marker lands across chunks
    after: list[bytes] = []

    def tracked():
        yield from chunks
        after.append(b"read past the marker")

    pump, got = _pump_of(tracked(), marker)
    assert pump.wait_end(5)
    pump.join()
    assert got == ["one", "two"] and after == []


def test_a_forged_marker_does_not_end_the_view():
    """The subagent does not hold the token: a marker of another token is only printed text."""
    from agentfactory.sandbox.live_output import end_marker

    forged = end_marker(b"f" * 32)
    pump, got = _pump_of(iter([b"a\n", forged, b"\nb\n"]), end_marker(b"t" * 32))
    assert not pump.wait_end(0.5)
    pump.join()
    assert got[0] == "a" and got[-1] == "b"  # the forged bytes were shown as text, and what followed


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_a_watched_execution_does_not_wait_for_the_sandbox_to_stop(
    tmp_path, backend_name, monkeypatch, request
):
    """Once the runner reported, the host takes its lines up to the end marker and leaves the sandbox's
    end to the reaper: no stop of the sandbox on the execution's thread, no line lost."""
    from agentfactory.sandbox import docker_backend, local

    stops: list[str] = []
    main = threading.current_thread()
    real_killpg, real_stop = local._killpg, docker_backend.DockerBackend._stop_container

    def killpg(pid):
        if threading.current_thread() is main:
            stops.append("killpg")
        real_killpg(pid)

    def stop_container(self, slot):
        stops.append("stop_container")
        real_stop(self, slot)

    monkeypatch.setattr(local, "_killpg", killpg)
    monkeypatch.setattr(docker_backend.DockerBackend, "_stop_container", stop_container)
    if backend_name == "docker":
        backend = docker_backend.DockerBackend(
            SandboxSettings(backend="docker"), pool_size=1, client=request.getfixturevalue("docker_client")
        )
    else:
        backend = local.LocalBackend(SandboxSettings(backend="local"), pool_size=1)
    got: list[str] = []
    try:
        assert backend.wait_pool(120)
        trace = backend.execute(_request(tmp_path, TICKS, lambda s, line: got.append(line), n=2))
    finally:
        backend.close()
    assert trace.status == "ok", trace.compact()
    assert got == ["tick 0", "tick 1"]
    assert stops == []
