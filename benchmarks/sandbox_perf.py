"""Per-execution cost of the sandbox on the path a run uses, beside the broker-less path.

    PYTHONPATH=$PWD python benchmarks/sandbox_perf.py [--runs 15] [--backends docker,local] [--no-heavy]

"in a run" goes through the run's own execution code (`agentfactory.engine.execution.Executor.execute`,
what `run_subagent` calls): a tool broker bound to the execution's wall clock, the run's inputs/ and
outputs/ folders, its memory limit, `settle_trace`, the experience store's record, the trace file and
the execution event; the subagent has no tool allocated, as most have. The clock stops when `execute`
returns the trace, as the run's next step starts then: the experience record, the trace file and the
`subagent_execution` event are made after that by a background thread (`Database.later`,
`EventLog.later`), and settled, untimed, before the next execution.
A run executes a subagent one of two ways, both measured: a candidate it wrote this run ("a candidate
in a run", `Executor.execute_candidate`) and a library version it reuses ("a library version in a run",
`Executor.execute_version`); both go from their files in memory into the sandbox, without their cases
(`Subagent.runtime_files`), as validated when written or as the library read them. "broker-less" is the
bare request this script measured before (no broker, no folders, the code copied from a folder: the
candidate's folder, as a run executed it before). All three run the same subagent, a complete folder as
a run writes it and a library saves it (SKILL.md, cases, code): the in-run paths write one file fewer
into the sandbox, and read none. They are timed interleaved (one of each in turn), so a slow moment of the
machine falls on all; medians are printed with their ratio, and beside it the median of each round's own
ratio ("paired", what the regression test checks: the executions of a round run back to back) with its
95% bootstrap interval: where the interval holds 1.0 the machine cannot tell the two paths apart. The
interval is one run's: on a shared 2-core machine, runs at different moments have differed by more
(docker, the same code: paired 0.96 in one run, 1.05 in another), so compare runs, not one. Below the
table, each path's host CPU per execution (the calling thread's CPU time, `time.thread_time`): the
host's own work on the execution's path, which the sandbox's time does not blur, so what a run adds
to the sandbox's path and what it saves can be read from one run. The
docker figures use the pre-started pool and wait for it to be refilled before each timed execution (the
steady state between the model calls of a run), and so does the local backend for its one sandbox
started ahead. "pandas + matplotlib" is a subagent that imports both, builds a small DataFrame and a
figure, a library version on the in-run path.

Also importable: `subagent` / `run_executor` / `candidate` / `in_run` / `in_run_version` / `bare` / `settled` /
`interleaved` are what the regression test in tests/sandbox/test_perf_ratio.py times.
"""

from __future__ import annotations

import argparse
import operator
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentfactory.config import Settings
from agentfactory.engine.execution import Executor
from agentfactory.errors import SandboxError
from agentfactory.sandbox import ExecutionRequest, ToolBroker, echo_tool, get_backend

TRIVIAL = "def run(x):\n    return x + 1\n"
HEAVY = (
    "import matplotlib\n"
    "import matplotlib.pyplot as plt\n"
    "import pandas as pd\n\n\n"
    "def run(n):\n"
    "    df = pd.DataFrame({'a': range(n), 'b': range(n)})\n"
    "    fig, ax = plt.subplots()\n"
    "    ax.plot(df['a'], df['b'])\n"
    "    plt.close(fig)\n"
    "    return {'sum': int(df['a'].sum() + df['b'].sum()), 'backend': matplotlib.get_backend()}\n"
)


def subagent(folder: Path, name: str, source: str) -> tuple[Path, Any]:
    """A complete subagent folder (SKILL.md, cases, code: what a library saves) and the version a library
    reads from it (`agentfactory.library.Subagent`)."""
    from agentfactory.library.format import validate_folder
    from agentfactory.library.writing import build_subagent_folder

    path = build_subagent_folder(
        folder / "subagents", name=name, description=f"The {name} benchmark subagent.", code=source, version=1
    )
    return path, validate_folder(path)


def run_executor(root: Path, settings: Settings, backend: Any, broker: ToolBroker) -> Executor:
    """The execution path of a run (`agentfactory.engine.execution.Executor`, what `run_subagent` calls):
    the run's folders, a broker session bound to the execution's wall clock, `settle_trace`, the
    experience store a run opens (on its library: each record goes to the agent's experience file, then
    SQLite), the trace file and the `subagent_execution` event."""
    from agentfactory.engine.workspace import WorkspaceManager
    from agentfactory.events import EventLog
    from agentfactory.experience import ExperienceStore

    workspace = WorkspaceManager(root / "workspaces").create()
    log = EventLog(workspace.events_path, workspace.run_id)
    experience = ExperienceStore(root / "experience.db", library=root / "library")
    return Executor(
        settings=settings, workspace=workspace, backend=backend, log=log, broker=broker, experience=experience
    )


def candidate(executor: Executor, name: str, source: str) -> Any:
    """A candidate written in the run (`CandidateStore.write`: validated, its folder in the run's
    workspace), as the Meta-Agent's create_subagent makes it."""
    from agentfactory.engine.candidates import CandidateStore

    store = CandidateStore(executor.workspace, None, executor, executor.log)
    description = f"The {name} benchmark subagent."
    return store.write(name=name, description=description, code=source, tools=[], inputs_schema=None)


def in_run(executor: Executor, cand: Any, inputs: dict[str, Any]) -> Callable[[], Any]:
    """One execution of a candidate as a run does it (`run_subagent` -> `execute_candidate`)."""
    return lambda: executor.execute_candidate(cand, inputs)


def in_run_version(executor: Executor, sub: Any, inputs: dict[str, Any]) -> Callable[[], Any]:
    """One execution of a library version as a run reuses it (`run_subagent` -> `execute_version`)."""
    return lambda: executor.execute_version(sub, inputs)


def bare(backend: Any, code: Path, entry: str, inputs: dict[str, Any]) -> Callable[[], Any]:
    """One execution of the broker-less request of the sandbox's own benchmark."""
    return lambda: backend.execute(ExecutionRequest(code, entry, inputs, timeout_s=30))


def timed(execute: Callable[[], Any], cpu: list[float] | None = None) -> float:
    """The wall time of one execution; `cpu` gets the CPU time the calling thread spent on it (the
    host's own work on the execution's path: what the sandbox does is not in it)."""
    start, start_cpu = time.perf_counter(), time.thread_time()
    trace = execute()
    elapsed = time.perf_counter() - start
    if cpu is not None:
        cpu.append(time.thread_time() - start_cpu)
    if trace.status != "ok":
        raise SystemExit(f"benchmark execution failed: {trace.compact()}")
    return elapsed


def settled(executor: Executor, backend: Any) -> Callable[[], None]:
    """What runs untimed before each execution: the run's records of the one before are written (they
    are made after `execute` returns, while a run asks its model for the next step), and the backend
    waits for its pool (the steady state between a run's model calls)."""
    wait_pool = getattr(backend, "wait_pool", None)

    def settle() -> None:
        executor.log.flush()
        executor.experience.settle()
        if wait_pool is not None:
            wait_pool()

    return settle


def interleaved(
    executions: dict[str, Callable[[], Any]],
    runs: int,
    before: Callable | None = None,
    cpu: dict[str, list[float]] | None = None,
) -> dict[str, list[float]]:
    """Times each execution in turn, `runs` rounds, the order rotated every round (each kind takes each
    place alike); `before` runs untimed before each execution (waiting for the pool: the steady state
    between a run's model calls). `cpu` gets each kind's host CPU times (`timed`)."""
    out: dict[str, list[float]] = {name: [] for name in executions}
    names = list(executions)
    for round_ in range(runs):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:  # no kind always goes first
            if before is not None:
                before()
            out[name].append(timed(executions[name], None if cpu is None else cpu.setdefault(name, [])))
    return out


def _ms(values: list[float]) -> float:
    return 1000 * statistics.median(values)


def paired(
    times: list[float],
    anchor: list[float],
    resamples: int = 2000,
    compare: Callable[[float, float], float] = operator.truediv,
) -> tuple[float, float, float]:
    """The median of the rounds' own ratios (`compare`: another comparison of a round's two times),
    and its 95% bootstrap interval (rounds resampled, seeded)."""
    values = [compare(a, b) for a, b in zip(times, anchor, strict=True)]
    rng = random.Random(0)
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(resamples))
    return statistics.median(values), medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]


def measure(
    backend_name: str, runs: int, heavy: bool, settings: Settings, root: Path, host_cpu: list | None = None
) -> list[tuple]:
    """Rows (measure, median ms, anchor name, anchor median ms, paired ratio and interval) for one
    backend; `host_cpu` gets (backend, the median host CPU in us of each path)."""
    kind = "docker pool" if backend_name == "docker" else "local"
    backend = get_backend(settings.sandbox, backend_name, pool_size=2) if backend_name == "docker" else None
    if backend is None:
        backend = get_backend(settings.sandbox, backend_name)
    broker = ToolBroker({"echo": echo_tool})
    _, saved = subagent(root, "trivial", TRIVIAL)
    rows = []
    executor = run_executor(root, settings, backend, broker)
    cand = candidate(executor, "trivial", TRIVIAL)  # the same subagent, written by the run
    before = settled(executor, backend)
    try:
        for _ in range(3):  # caches of the daemon, the page cache, the pool's first containers
            timed(bare(backend, cand.folder, "trivial", {"x": 1}))
        cpu: dict[str, list[float]] = {}
        times = interleaved(
            {
                "candidate": in_run(executor, cand, {"x": 1}),
                "library": in_run_version(executor, saved, {"x": 1}),
                "bare": bare(backend, cand.folder, "trivial", {"x": 1}),
            },
            runs,
            before,
            cpu,
        )
        bare_ms = _ms(times["bare"])
        for name, label in (("candidate", "a candidate"), ("library", "a library version")):
            row = (f"{kind}: {label} in a run", _ms(times[name]), f"{kind}: broker-less", bare_ms)
            rows.append((*row, paired(times[name], times["bare"])))
        if host_cpu is not None:
            labels = {"bare": "broker-less"}
            host_cpu.append(
                (kind, {labels.get(name, name): 1000 * _ms(values) for name, values in cpu.items()})
            )
        if heavy:
            _, sub = subagent(root, "heavy", HEAVY)
            timed(in_run_version(executor, sub, {"n": 10}))
            times = interleaved({"heavy": in_run_version(executor, sub, {"n": 10})}, runs, before)
            rows.append((f"{kind}: pandas + matplotlib in a run", _ms(times["heavy"]), "", None, None))
    finally:
        backend.close()
        executor.experience.close()
        executor.log.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed executions of each kind (default 15)")
    parser.add_argument("--backends", default="docker,local")
    parser.add_argument("--no-heavy", dest="heavy", action="store_false", help="skip pandas + matplotlib")
    args = parser.parse_args(argv)
    settings = Settings.from_keys(timeout_s=30)
    rows: list[tuple] = []
    host_cpu: list[tuple[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.backends.split(","):
            try:
                rows += measure(name.strip(), args.runs, args.heavy, settings, Path(tmp) / name, host_cpu)
            except SandboxError as exc:
                print(f"{name}: skipped ({exc})")
    print(f"sandbox per-execution wall time, medians of {args.runs} interleaved runs")
    head = f"{'measure':44} {'median ms':>10}   {'anchor':24} {'median ms':>10} {'ratio':>6} {'paired':>7}"
    print(f"{head}  95% interval")
    for measure_name, ms, anchor, anchor_ms, ratios in rows:
        tail = ""
        if anchor_ms:
            mid, low, high = ratios
            tail = f"   {anchor:24} {anchor_ms:10.1f} {ms / anchor_ms:6.3f} {mid:7.3f}  {low:.3f}-{high:.3f}"
        print(f"{measure_name:44} {ms:10.1f}{tail}")
    undecided = sum(1 for *_, ratios in rows if ratios and ratios[1] <= 1.0 <= ratios[2])
    if undecided:
        print(
            f"the paired interval holds 1.0 for {undecided} of the rows: at {args.runs} rounds this run "
            "cannot tell those paths apart; more --runs narrow it"
        )
    if host_cpu:
        print("host CPU of the calling thread per execution (medians, us; the sandbox's own work not in it)")
        for kind, cpu in host_cpu:
            print(f"  {kind}: " + ", ".join(f"{name} {us:.0f}" for name, us in cpu.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
