"""Where a job folder's control parts live, measured: /dev/shm (the default when it has room) against the
temporary folder, on the bare docker request of benchmarks/sandbox_perf.py.

    PYTHONPATH=$PWD python benchmarks/job_folder_perf.py [--runs 100]

One backend, a pool of one: before each execution the folder for the *next* pooled container is set,
alternating, so consecutive executions use containers whose job folders were made in one place and the
other; each execution is classed by the folder its container actually had. Interleaved in one process,
so a slow moment of the machine falls on both; medians and the median of the pairs' ratios are printed.
Also the cost of creating one small file in each place (the runner writes four reports per execution,
the host the subagent's files).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from agentfactory.config import Settings
from agentfactory.errors import SandboxError
from agentfactory.sandbox import get_backend, jobdir

sys.path.insert(0, str(Path(__file__).parent))
import sandbox_perf  # noqa: E402 - the benchmark's own subagent and timing

MEMORY = jobdir.CONTROL_BASE
DISK = "disk (temporary folder)"


def file_create_us(base: str, n: int = 200) -> float:
    """Median microseconds to create, write and rename one small file in `base` (a report's way)."""
    folder = tempfile.mkdtemp(dir=base)
    times = []
    try:
        for i in range(n):
            start = time.perf_counter()
            tmp = os.path.join(folder, f"{i}.tmp")
            with open(tmp, "wb") as fh:
                fh.write(b"x" * 100)
            os.replace(tmp, os.path.join(folder, str(i)))
            times.append(time.perf_counter() - start)
    finally:
        for name in os.listdir(folder):
            os.unlink(os.path.join(folder, name))
        os.rmdir(folder)
    return 1e6 * statistics.median(times)


def measure(runs: int) -> dict[str, list[float]]:
    settings = Settings.from_keys(timeout_s=30)
    with tempfile.TemporaryDirectory() as tmp:
        code, _ = sandbox_perf.subagent(Path(tmp), "trivial", sandbox_perf.TRIVIAL)
        backend = get_backend(settings.sandbox, "docker", pool_size=1)
        used: list[str] = []
        finish = jobdir.JobDir.finish

        def noting(self, *args, **kwargs):
            used.append(MEMORY if str(self.root.parent) == MEMORY else DISK)
            return finish(self, *args, **kwargs)

        jobdir.JobDir.finish = noting
        bare = sandbox_perf.bare(backend, code, "trivial", {"x": 1})
        out: dict[str, list[float]] = {MEMORY: [], DISK: []}
        try:
            for i in range(runs + 3):
                # The next pooled container's folder: memory, or nowhere usable (the temporary folder).
                jobdir.CONTROL_BASE = MEMORY if i % 2 else "/nonexistent"
                backend.wait_pool()
                elapsed = sandbox_perf.timed(bare)
                if i >= 3:  # the first containers were made before the alternation
                    out[used[-1]].append(elapsed)
        finally:
            jobdir.JobDir.finish = finish
            jobdir.CONTROL_BASE = MEMORY
            backend.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="timed executions, half in each place")
    args = parser.parse_args(argv)
    if jobdir.control_base() != MEMORY:
        print(
            f"{MEMORY} is missing or has under {jobdir.CONTROL_MIN_FREE >> 30} GiB free: nothing to compare"
        )
        return 1
    print(f"one small file created: {MEMORY} {file_create_us(MEMORY):.0f} us, "
          f"{tempfile.gettempdir()} {file_create_us(tempfile.gettempdir()):.0f} us")  # fmt: skip
    try:
        times = measure(args.runs)
    except SandboxError as exc:
        print(f"docker: skipped ({exc})")
        return 1
    memory, disk = times[MEMORY], times[DISK]
    pairs = statistics.median(m / d for m, d in zip(memory, disk, strict=False))
    print(f"bare docker request, medians of {len(memory)} + {len(disk)} interleaved executions")
    print(f"  control parts in {MEMORY}: {1000 * statistics.median(memory):.2f} ms")
    print(f"  control parts on {DISK}: {1000 * statistics.median(disk):.2f} ms")
    print(f"  ratio of medians {statistics.median(memory) / statistics.median(disk):.3f}, paired {pairs:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
