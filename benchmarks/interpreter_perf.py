"""Which interpreter of a sandbox started ahead serves a subagent, measured: the child the runner forked
before the preload (code of the standard library and its own files) against the one forked after it,
with numpy, pandas and matplotlib imported (any other code).

    PYTHONPATH=$PWD python benchmarks/interpreter_perf.py [--runs 41] [--backends docker,local]

The same trivial subagent twice, as a library version in a run (the path of benchmarks/sandbox_perf.py):
once as written, once with `import numpy` added, which sends it to the warm child (runner._needs_warm);
numpy is already imported there, so the line itself costs a dictionary lookup. Timed interleaved in one
process, the pool refilled before each execution; medians, and the median of each round's own difference
with its 95% bootstrap interval. The warm child's exit, which the execution waits for, unmaps what the
preload mapped: that is most of the difference.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from agentfactory.config import Settings
from agentfactory.errors import SandboxError
from agentfactory.sandbox import ToolBroker, echo_tool, get_backend

sys.path.insert(0, str(Path(__file__).parent))
import sandbox_perf  # noqa: E402 - the benchmark's own subagent, run path and timing

WARM = "import numpy  # noqa: F401 - beyond the standard library: the warm child serves it\n"


def measure(backend_name: str, runs: int, root: Path) -> tuple[float, float, tuple[float, float, float]]:
    """(cold median ms, warm median ms, the paired difference warm - cold with its interval)."""
    settings = Settings.from_keys(timeout_s=30)  # 512 MB: warm from base.PRELOAD_MIN_MB
    options = {"pool_size": 2} if backend_name == "docker" else {}
    backend = get_backend(settings.sandbox, backend_name, **options)
    executor = sandbox_perf.run_executor(root, settings, backend, ToolBroker({"echo": echo_tool}))
    _, cold = sandbox_perf.subagent(root, "stdlib-only", sandbox_perf.TRIVIAL)
    _, warm = sandbox_perf.subagent(root, "imports-numpy", WARM + sandbox_perf.TRIVIAL)
    try:
        kinds = {
            "cold": sandbox_perf.in_run_version(executor, cold, {"x": 1}),
            "warm": sandbox_perf.in_run_version(executor, warm, {"x": 1}),
        }
        for execute in kinds.values():  # the daemon's and the page cache's first use
            sandbox_perf.timed(execute)
        times = sandbox_perf.interleaved(kinds, runs, sandbox_perf.settled(executor, backend))
    finally:
        backend.close()
        executor.experience.close()
        executor.log.close()
    ms = {name: 1000 * statistics.median(values) for name, values in times.items()}
    paired_ms = sandbox_perf.paired(times["warm"], times["cold"], compare=lambda a, b: 1000 * (a - b))
    return ms["cold"], ms["warm"], paired_ms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=41, help="timed executions of each kind (default 41)")
    parser.add_argument("--backends", default="docker,local")
    args = parser.parse_args(argv)
    print(f"one execution in a run by the serving interpreter, medians of {args.runs} interleaved rounds")
    print(f"{'backend':10} {'cold ms':>8} {'warm ms':>8} {'warm - cold, paired ms':>24}  95% interval")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.backends.split(","):
            name = name.strip()
            try:
                cold, warm, (mid, low, high) = measure(name, args.runs, Path(tmp) / name)
            except SandboxError as exc:
                print(f"{name}: skipped ({exc})")
                continue
            print(f"{name:10} {cold:8.2f} {warm:8.2f} {mid:24.2f}  {low:.2f} to {high:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
