"""The sandbox's live output hook, on both backends: lines arrive while the subagent runs, bounded on the
host whatever the subagent prints, and the trace is the same with or without a listener."""

from __future__ import annotations

import textwrap
import threading
import time
from pathlib import Path

import pytest

from agentfactory.config import Settings
from agentfactory.sandbox import ExecutionRequest, get_backend
from agentfactory.sandbox.live_output import HOST_MAX_BYTES

TICKS = """
import time


def run(n=3):
    for i in range(n):
        print("tick", i, flush=True)
        time.sleep(0.3)
    return {"n": n}
"""

FLOOD = """
import sys


def run():
    line = "x" * 999 + "\\n"
    for _ in range(10_000):  # 10 MB, far past every bound
        sys.stdout.write(line)
    return {"done": True}
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


def _backend(name: str):
    if name == "docker":
        pytest.importorskip("docker")
        try:
            return get_backend(Settings.from_keys(sandbox="docker").sandbox, pool_size=0)
        except Exception as exc:  # noqa: BLE001
            pytest.skip(f"docker unavailable: {exc}")
    return get_backend(Settings.from_keys(sandbox="local").sandbox)


BACKENDS = ["local", pytest.param("docker", marks=pytest.mark.docker)]


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_lines_arrive_while_the_subagent_runs(tmp_path, backend_name):
    backend = _backend(backend_name)
    got: list[tuple[float, str, str]] = []
    lock = threading.Lock()

    def on_output(stream: str, line: str) -> None:
        with lock:
            got.append((time.monotonic(), stream, line))

    try:
        trace = backend.execute(_request(tmp_path, TICKS, on_output, n=3))
        ended = time.monotonic()
    finally:
        backend.close()
    assert trace.status == "ok" and trace.result == {"n": 3}
    assert [(s, line) for _, s, line in got] == [("stdout", f"tick {i}") for i in range(3)]
    assert ended - got[0][0] > 0.5  # the first line came while the subagent was still running
    assert trace.stdout == "tick 0\ntick 1\ntick 2\n"  # the trace keeps its own copy, unchanged


@pytest.mark.parametrize("backend_name", BACKENDS)
def test_a_flood_is_bounded_on_the_host(tmp_path, backend_name):
    backend = _backend(backend_name)
    got: list[str] = []
    try:
        trace = backend.execute(_request(tmp_path, FLOOD, lambda s, line: got.append(line)))
    finally:
        backend.close()
    assert trace.status == "ok", trace.compact()
    assert sum(len(line) + 1 for line in got) <= HOST_MAX_BYTES
    assert 0 < len(got) <= HOST_MAX_BYTES // 1000
    assert trace.stdout_bytes == 10_000 * 1000  # the runner still counted everything


def test_no_listener_no_forwarding(tmp_path):
    """Without on_output the runner copies nothing: the job says so."""
    import json

    from agentfactory.sandbox.jobdir import JobDir, SandboxPaths

    paths = SandboxPaths("/c", "/w", "/ctl", "/r", "/b", "/report")
    jd = JobDir()
    try:
        plain_job = json.loads(jd.job(_request(tmp_path, TICKS), paths))
        watched_job = json.loads(jd.job(_request(tmp_path, TICKS, lambda s, line: None), paths))
    finally:
        jd.remove()
    assert plain_job["forward_bytes"] == 0 and watched_job["forward_bytes"] > 0


def test_host_bound_holds_even_if_the_runner_ignores_its_own():
    """The runner is inside the sandbox: the host pump bounds what it hands on by itself, keeps draining
    (so a writer never blocks) and cuts a line that never ends."""
    from agentfactory.sandbox.live_output import MAX_LINE_CHARS, LinePump

    drained = []

    def chunks():
        yield b"y" * (5 * MAX_LINE_CHARS)  # one line with no newline, longer than a shown line
        yield b"\n"
        for i in range(10_000):
            drained.append(i)
            yield b"x" * 999 + b"\n"

    got: list[str] = []
    pump = LinePump(chunks(), lambda s, line: got.append(line))
    pump.join()
    assert len(drained) == 10_000
    assert sum(len(line) + 1 for line in got) <= HOST_MAX_BYTES + len(got)
    assert max(len(line) for line in got) <= MAX_LINE_CHARS
    assert got[0] == "y" * MAX_LINE_CHARS
