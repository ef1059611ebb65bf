"""Experience store figures: write latency (one process and four at once), stats and report time.

Run: python benchmarks/perf_experience.py [--executions 2000]
Prints medians and p95 of one record_execution call, rows/s with 4 concurrent writer processes, the
time of stats() and the --all report over the recorded history, and what a run's execution record costs
the run's path on a store kept in a library (as a run opens it: the agent's experience file, then
SQLite): written before the execution returns (`record_subagent_execution`) against handed to the
background (`record_subagent_execution_later`), interleaved, the queue made untimed between records
(a run asks its model for the next step meanwhile). Uses temporary files; touches nothing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agentfactory.experience import ExecutionRecord, ExperienceStore, RunRecord
from agentfactory.experience.recording import SubagentExecution
from agentfactory.report import render_all_report

WRITER = """
import sys, time
from pathlib import Path
from agentfactory.experience import ExecutionRecord, ExperienceStore
store = ExperienceStore(Path(sys.argv[1]), timeout_s=60)
for i in range(int(sys.argv[3])):
    store.record_execution(ExecutionRecord.build(run_id=sys.argv[2], agent_id=sys.argv[2], subagent=f"s{i % 20}",
        version=1, inputs={"i": i}, success=i % 4 != 0, error_kind=None if i % 4 else "KeyError"))
"""


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = ExperienceStore(Path(tmp) / "one.sqlite")
        latencies = []
        for i in range(args.executions):
            record = ExecutionRecord.build(
                run_id=f"r{i // 10}",
                agent_id="a",
                subagent=f"s{i % 50}",
                version=1,
                inputs={"rows": [i], "n": i % 3},
                success=i % 5 != 0,
                error_kind=None if i % 5 else "ValueError",
            )
            start = time.perf_counter()
            store.record_execution(record)
            latencies.append((time.perf_counter() - start) * 1000)
        for i in range(args.executions // 10):
            store.record_run(
                RunRecord(
                    run_id=f"r{i}",
                    agent_id=f"agent-{i % 3}",
                    task=f"task {i}",
                    status="success",
                    success=i % 7 != 0,
                    input_tokens=10_000 - i,
                    subagents_created=[f"s{i % 50}"] if i < 50 else [],
                    subagents_saved=[f"s{i % 50}"] if i < 50 else [],
                    subagents_reused=[f"s{(i * 7) % 50}"] if i >= 50 else [],
                    started=1_700_000_000 + i,
                )
            )
        print(
            f"record_execution, 1 process, {args.executions} rows: median {statistics.median(latencies):.2f} ms, "
            f"p95 {pct(latencies, 0.95):.2f} ms"
        )
        start = time.perf_counter()
        store.stats(window=20)
        print(
            f"stats() over {args.executions} executions / {args.executions // 10} runs: "
            f"{(time.perf_counter() - start) * 1000:.1f} ms"
        )
        start = time.perf_counter()
        html = render_all_report(store, window=20)
        print(f"report --all: {(time.perf_counter() - start) * 1000:.1f} ms, {len(html):,} bytes")

        path, per = Path(tmp) / "team.sqlite", args.executions // 4
        start = time.perf_counter()
        procs = [
            subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"agent-{n}", str(per)])
            for n in range(4)
        ]
        codes = [p.wait() for p in procs]
        elapsed = time.perf_counter() - start
        rows = ExperienceStore(path).count_executions()
        print(
            f"4 writer processes x {per}: {rows} of {4 * per} rows present, exit codes {codes}, "
            f"{rows / elapsed:,.0f} rows/s including interpreter start-up ({elapsed:.2f} s)"
        )

        run_path(Path(tmp), min(args.executions, 500))


def run_path(tmp: Path, n: int) -> None:
    """The run's path: a record written at once against one handed to the background."""
    store = ExperienceStore(tmp / "run.sqlite", library=tmp / "library", agent_id="bench")
    times: dict[str, list[float]] = {"written at once": [], "handed to the background": []}
    for i in range(n + 5):
        execution = SubagentExecution(
            run_id=f"run-{i // 10}", agent_id="bench", task="Total the amount column.", subagent="totals",
            version=1, inputs={"path": "inputs/a.csv", "i": i}, status="ok", error=None, duration_s=0.01,
        )  # fmt: skip
        now = i % 2 == 0
        start = time.perf_counter()
        if now:
            store.record_subagent_execution(execution)
        else:
            store.record_subagent_execution_later(execution)
        elapsed = (time.perf_counter() - start) * 1000
        store.settle()  # untimed: made while the run's next model call is out
        if i >= 5:  # the first records create the library's files
            times["written at once" if now else "handed to the background"].append(elapsed)
    store.close()
    for name, values in times.items():
        print(
            f"a run's execution record, library store, {name}: median {statistics.median(values):.3f} ms, "
            f"p95 {pct(values, 0.95):.3f} ms"
        )


if __name__ == "__main__":
    main()
