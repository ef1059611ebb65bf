"""Per-execution overhead of a trivial subagent: docker cold (container per run), docker fast path
(pre-started pool), local; p50 and p95 over N runs; plus throughput with 2 concurrent executions.

    python benchmarks/sandbox_perf.py [--runs 50]

The fast-path figure waits for the pool to be refilled before each timed run (as between the model calls
of a real run); the throughput figures show the back-to-back rate, where the refill is the bottleneck.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from agentfactory.config import Settings
from agentfactory.errors import SandboxError
from agentfactory.sandbox import ExecutionRequest, get_backend


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _time(backend, req, runs: int, before=None) -> list[float]:
    out = []
    for _ in range(runs):
        if before:
            before()
        start = time.perf_counter()
        trace = backend.execute(req)
        out.append(time.perf_counter() - start)
        assert trace.status == "ok", trace.compact()
    return out


def _throughput(backend, req, total: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        traces = list(pool.map(lambda _: backend.execute(req), range(total)))
    assert all(t.status == "ok" for t in traces)
    return total / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    settings = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp)
        (code / "trivial.py").write_text("def run(x):\n    return x + 1\n")
        req = ExecutionRequest(code, "trivial", {"x": 1}, timeout_s=30)
        rows = []
        local = get_backend(settings, "local")
        rows.append(("local", _time(local, req, args.runs)))
        thr_local = _throughput(local, req, args.runs)
        try:
            cold = get_backend(settings, "docker", pool_size=0)
        except SandboxError as exc:
            print(f"docker skipped: {exc}")
            cold = None
        if cold is not None:
            _time(cold, req, 2)  # warm the daemon's caches
            rows.append(("docker cold (no pool)", _time(cold, req, args.runs)))
            thr_cold = _throughput(cold, req, 20)
            cold.close()
            fast = get_backend(settings, "docker", pool_size=2)
            fast.wait_pool()
            rows.append(("docker fast path (pool)", _time(fast, req, args.runs, before=fast.wait_pool)))
            fast.wait_pool()
            thr_fast = _throughput(fast, req, 20)
            fast.close()
    print(f"per-execution wall time of a trivial subagent, {args.runs} runs each")
    print(f"{'backend':28} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
    for name, values in rows:
        print(
            f"{name:28} {1000 * statistics.median(values):8.1f} {1000 * _pct(values, 0.95):8.1f}"
            f" {1000 * statistics.mean(values):8.1f}"
        )
    print("throughput, 2 concurrent executions (executions/s)")
    print(f"  local: {thr_local:.1f}")
    if cold is not None:
        print(f"  docker cold: {thr_cold:.1f}")
        print(f"  docker pool (2 pre-started, back to back): {thr_fast:.1f}")


if __name__ == "__main__":
    main()
