"""An execution in a run (the engine's Executor: broker session, run folders, trace file, event) costs
what the sandbox benchmark's broker-less execution costs, within 15%: a ratio, never an absolute time.
Both ways a run executes a subagent are held to it: a candidate it wrote, and a library version it
reuses, each from its files in memory (a version written to a temporary folder and copied from there
took 1.8x). So is the host CPU a run's execution spends on the run's thread, within 15% too.
The executions are the benchmark's own (benchmarks/sandbox_perf.py), timed interleaved; each ratio is
the median of each round's ratio (the executions of a round run back to back, so a slow moment of a
loaded machine falls on all). The sandboxes are started ahead without warm imports: all paths would get
the same interpreter, and the refills between rounds stay short."""

from __future__ import annotations

import importlib.util
import statistics
from pathlib import Path

import pytest

from agentfactory.config import SandboxSettings, Settings
from agentfactory.sandbox import ToolBroker, echo_tool

RUNS = 31
# On the run's path before the result: the run's inputs/ and outputs/ copied in and out, a broker session
# opened (while the sandbox starts) and closed (no thread: it serves from the first call), the started
# event (while the sandbox starts); the trace file and the subagent_execution event are made after the
# caller has the trace (EventLog.later). That is about 0.1 ms of host work on ~5 ms, less than the
# broker-less path's copy of a folder: on an idle 2-core machine, sandbox_perf --runs 301 gives 0.97-0.98
# (paired), docker and local. Earlier code, on the same machine shared with other jobs at a load of 3-5:
# local 1.01-1.31, docker 1.03-1.15. A broker that closed on a 0.2 s tick made it about 2, a trace written
# and logged before the return 1.1-1.3. 1.15 catches such a change; the measurement is taken a second time
# when the first is above it, since a moment of heavy load can cover one but rarely two.
MAX_RATIO = 1.15
# The host's own CPU on the execution's path (the calling thread's CPU time), which the sandbox's time
# does not blur: a run's path writes the code from memory, where the broker-less one copies a folder, and
# leaves its records to a background thread, so it costs the host less: 0.88-0.99 of the broker-less
# path's, docker and local. The experience record written before the return again makes it 2.0-2.2
# (and the wall-time ratio 1.3-1.4).
MAX_CPU_RATIO = 1.15
SETTINGS = SandboxSettings(timeout_s=30, preload="")


def _bench():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "sandbox_perf.py"
    spec = importlib.util.spec_from_file_location("sandbox_perf", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ratios(backend, tmp_path) -> dict[str, float]:
    bench = _bench()
    settings = Settings(sandbox=SETTINGS)  # the memory limit of the bare request: one pool serves both
    _, saved = bench.subagent(tmp_path, "trivial", bench.TRIVIAL)
    broker = ToolBroker({"echo": echo_tool})
    executor = bench.run_executor(tmp_path, settings, backend, broker)
    cand = bench.candidate(executor, "trivial", bench.TRIVIAL)
    before = bench.settled(executor, backend)
    bench.timed(bench.bare(backend, cand.folder, "trivial", {"x": 1}))  # first-use caches
    cpu: dict[str, list[float]] = {}
    times = bench.interleaved(
        {
            "candidate": bench.in_run(executor, cand, {"x": 1}),
            "library": bench.in_run_version(executor, saved, {"x": 1}),
            "bare": bench.bare(backend, cand.folder, "trivial", {"x": 1}),
        },
        RUNS,
        before,
        cpu,
    )
    ratios = {
        name: statistics.median(run / bare for run, bare in zip(times[name], times["bare"], strict=True))
        for name in ("candidate", "library")
    }
    for name in ("candidate", "library"):
        ratios[f"{name} host CPU"] = statistics.median(cpu[name]) / statistics.median(cpu["bare"])
    print(" ".join(f"{name} {ratio:.3f}" for name, ratio in ratios.items()))  # shown with -s
    return ratios


def _bound(name: str) -> float:
    return MAX_CPU_RATIO if name.endswith("host CPU") else MAX_RATIO


def _ratios_twice(backend, tmp_path) -> dict[str, float]:
    """The ratios, measured again (and the better of each kept) when one is above its bound."""
    ratios = _ratios(backend, tmp_path / "first")
    if any(ratio > _bound(name) for name, ratio in ratios.items()):
        again = _ratios(backend, tmp_path / "second")
        ratios = {name: min(ratio, again[name]) for name, ratio in ratios.items()}
    return ratios


def _check(ratios: dict[str, float]) -> None:
    for name, ratio in ratios.items():
        assert ratio <= _bound(name), f"{name}: a run's execution takes {ratio:.2f}x the broker-less path's"


def test_local_execution_in_a_run_costs_what_the_benchmark_path_costs(tmp_path):
    from agentfactory.sandbox.local import LocalBackend

    backend = LocalBackend(SETTINGS, pool_size=1)  # as get_backend gives it to a run
    try:
        ratios = _ratios_twice(backend, tmp_path)
    finally:
        backend.close()
    _check(ratios)


@pytest.mark.docker
def test_docker_pool_execution_in_a_run_costs_what_the_benchmark_path_costs(docker_client, tmp_path):
    from agentfactory.sandbox.docker_backend import DockerBackend

    backend = DockerBackend(SETTINGS, pool_size=2, client=docker_client)
    try:
        ratios = _ratios_twice(backend, tmp_path)
    finally:
        backend.close()
    _check(ratios)
