"""An execution in a run (the engine's Executor: broker session, run folders, trace file, event) costs
what the sandbox benchmark's broker-less execution costs, within 15%: a ratio, never an absolute time.
The executions are the benchmark's own (benchmarks/sandbox_perf.py), timed interleaved; the ratio is the
median of each round's ratio (the two executions of a round run back to back, so a slow moment of a
loaded machine falls on both). The sandboxes are started ahead without warm imports: both paths would get
the same interpreter, and the refills between rounds stay short."""

from __future__ import annotations

import importlib.util
import statistics
from pathlib import Path

import pytest

from agentfactory.config import SandboxSettings, Settings
from agentfactory.sandbox import ToolBroker, echo_tool

RUNS = 21
# On the run's path before the result: the run's inputs/ and outputs/ copied in and out, a broker session
# opened (while the sandbox starts) and closed (no thread: it serves from the first call), the started
# event (while the sandbox starts); the trace file and the subagent_execution event are made after the
# caller has the trace (EventLog.later). About 0.1 ms of host work on 5-10 ms. Measured on a 2-core machine
# shared with other jobs: at a load of 3-5, local 1.01-1.07 (paired) where the code before gave 1.01-1.31,
# docker 1.03-1.15; an idle machine gives about 1.02. A broker that closed on a 0.2 s tick made it about 2,
# a trace written and logged before the return 1.1-1.3. 1.15 catches such a change; the measurement is taken a
# second time when the first is above it, since a moment of heavy load can cover one but rarely two.
MAX_RATIO = 1.15
SETTINGS = SandboxSettings(timeout_s=30, preload="")


def _bench():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "sandbox_perf.py"
    spec = importlib.util.spec_from_file_location("sandbox_perf", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ratio(backend, tmp_path) -> float:
    bench = _bench()
    settings = Settings(sandbox=SETTINGS)  # the memory limit of the bare request: one pool serves both
    code = bench.write_subagent(tmp_path, "trivial", bench.TRIVIAL)
    broker = ToolBroker({"echo": echo_tool})
    executor = bench.run_executor(tmp_path, settings, backend, broker)
    before = bench.settled(executor, backend)
    bench.timed(bench.bare(backend, code, "trivial", {"x": 1}))  # first-use caches
    times = bench.interleaved(
        {
            "run": bench.in_run(executor, code, "trivial", {"x": 1}),
            "bare": bench.bare(backend, code, "trivial", {"x": 1}),
        },
        RUNS,
        before,
    )
    ratio = statistics.median(run / bare for run, bare in zip(times["run"], times["bare"], strict=True))
    print(f"ratio {ratio:.3f}")  # shown with -s
    return ratio


def _ratio_twice(backend, tmp_path) -> float:
    """The ratio, measured again (and the better kept) when the first is above MAX_RATIO."""
    ratio = _ratio(backend, tmp_path / "first")
    if ratio > MAX_RATIO:
        ratio = min(ratio, _ratio(backend, tmp_path / "second"))
    return ratio


def test_local_execution_in_a_run_costs_what_the_benchmark_path_costs(tmp_path):
    from agentfactory.sandbox.local import LocalBackend

    backend = LocalBackend(SETTINGS, pool_size=1)  # as get_backend gives it to a run
    try:
        ratio = _ratio_twice(backend, tmp_path)
    finally:
        backend.close()
    assert ratio <= MAX_RATIO, f"an execution in a run takes {ratio:.2f}x the broker-less path"


@pytest.mark.docker
def test_docker_pool_execution_in_a_run_costs_what_the_benchmark_path_costs(docker_client, tmp_path):
    from agentfactory.sandbox.docker_backend import DockerBackend

    backend = DockerBackend(SETTINGS, pool_size=2, client=docker_client)
    try:
        ratio = _ratio_twice(backend, tmp_path)
    finally:
        backend.close()
    assert ratio <= MAX_RATIO, f"an execution in a run takes {ratio:.2f}x the broker-less path"
