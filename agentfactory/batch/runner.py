"""The batch driver: tasks on N worker processes, results streamed to `batches/<id>/results.jsonl`.

Each task runs in a worker process of its own (`agentfactory.batch.worker`), at most `workers` at a
time. A row is appended to results.jsonl as each task ends. A worker that dies without a result (killed,
out of memory) is retried once, then its task is failed; what it reported spending before it died (one
line per model call) is added to the task's row, so the summary and `max_cost` count it. `max_cost`
bounds the whole batch: each task is given a share of what is left as its own `max_cost`, so the shares
never add up to more than the bound, and no task starts once it is spent. Ctrl-C, SIGTERM or SIGHUP
(KeyboardInterrupt in the driver) forwards SIGINT to the running workers, whose runs end `interrupted`
and save nothing half-done; a driver killed outright closes the workers' parent pipes and they interrupt
themselves. `resume` skips every task with a final row and runs the rest.

Workers share the project's library through its locks, as separate `agentfactory run` processes do.
Worker slot k runs its tasks as agent `<agent_id>.w<k>`, so each slot appends its experience records to
a file of its own (one writer per file: see agentfactory.library.experience_files).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import field, replace
from pathlib import Path
from typing import Any, Protocol

from agentfactory.batch import threads
from agentfactory.batch.tasks import BatchTask, LineProblem
from agentfactory.batch.worker import run_worker, valid_row
from agentfactory.errors import UsageError
from agentfactory.events import json_bytes, new_run_id
from agentfactory.records import record

BATCH_ID = re.compile(r"[0-9]{8}-[0-9]{6}-[0-9a-f]{6}\Z")
# Rows with these statuses are not final: a resume runs their tasks again (and a task the batch's
# --max-cost cut short, see `_final`).
RERUN = frozenset({"interrupted", "not_run"})
RETRIES = 1  # extra attempts for a task whose worker died without a result
MIN_SHARE_USD = 1e-4  # below this, what is left of --max-cost cannot pay for a task
INTERRUPT_GRACE_S = 60.0  # after forwarding Ctrl-C, how long workers get to end their runs cleanly


@record(frozen=True)
class BatchOptions:
    workers: int
    cwd: Path
    batches_dir: Path
    overrides: dict[str, Any] = field(default_factory=dict)  # settings for every task (the CLI's flags)
    config_file: Path | None = None
    max_cost: float | None = None
    resume: str | None = None
    ray: str | None = None  # "auto" or a cluster address: run the workers on Ray (agentfactory.batch.on_ray)
    # The configured limits (max_tokens, max_cost, max_steps, max_time): a task may lower, never raise them.
    limits: dict[str, float | None] = field(default_factory=dict)
    agent_id: str = "default"  # the configured agent id; worker slot k appends as `<agent_id>.w<k>`
    # --ray with --remote: each node works on a clone of this library remote (agentfactory.batch.clones)
    remote: str | None = None
    clones: Path | None = None  # where nodes keep their clones (default: ~/.cache/agentfactory/clones)


@record
class Progress:
    total: int
    done: int = 0
    failed: int = 0
    running: int = 0
    tokens: int = 0
    cost_usd: float = 0.0


@record
class BatchSummary:
    batch_id: str
    folder: Path
    rows: dict[str, dict[str, Any]]  # task id -> its final row (the last one written)
    problems: list[LineProblem]
    interrupted: bool = False
    budget_spent: bool = False
    duration_s: float = 0.0  # from the moment the workers could start (a Ray cluster's start-up excluded)
    startup_s: float = (
        0.0  # reading the results so far, joining or starting a Ray cluster, checking its nodes
    )
    nodes: dict[str, Any] = field(default_factory=dict)  # on Ray: each node's sandbox readiness

    @property
    def results(self) -> Path:
        return self.folder / "results.jsonl"

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows.values():
            counts[row["status"]] = counts.get(row["status"], 0) + 1
        return counts

    def unpushed(self) -> dict[str, dict[str, int]]:
        """On clones (--remote): per agent, the saves its clone holds that the remote lacks, as its last
        task left them (earlier batches' included)."""
        last: dict[str, dict[str, int]] = {}
        for row in self.rows.values():  # in the order the tasks ended; one clone runs one task at a time
            sync = row.get("sync")
            if isinstance(sync, dict) and isinstance(sync.get("agent_id"), str):
                pending = sync.get("unpushed") if not sync.get("pushed") else {}
                last[sync["agent_id"]] = pending if isinstance(pending, dict) else {}
        return {agent: names for agent, names in last.items() if names}

    def subagents(self) -> dict[str, int]:
        """Every subagent the batch created or revised, with the latest version it saved."""
        saved: dict[str, int] = {}
        for row in self.rows.values():
            for name, version in row.get("saved") or []:
                saved[name] = max(version, saved.get(name, 0))
        return dict(sorted(saved.items()))

    @property
    def exit_code(self) -> int:
        from agentfactory.errors import EXIT_BUDGET, EXIT_INTERRUPTED, EXIT_OK, EXIT_TASK_FAILED

        if self.interrupted:
            return EXIT_INTERRUPTED
        if self.budget_spent:
            return EXIT_BUDGET
        ok = all(row["status"] == "success" for row in self.rows.values()) and not self.problems
        return EXIT_OK if ok else EXIT_TASK_FAILED

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "results": str(self.results),
            "tasks": len(self.rows),
            "counts": self.counts(),
            "invalid_lines": [str(p) for p in self.problems],
            "tokens": sum(row.get("tokens") or 0 for row in self.rows.values()),
            "cost_usd": round(sum(row.get("cost_usd") or 0.0 for row in self.rows.values()), 6),
            "subagents": self.subagents(),
            **({"unpushed": self.unpushed()} if self.unpushed() else {}),
            "interrupted": self.interrupted,
            "budget_spent": self.budget_spent,
            "duration_s": round(self.duration_s, 3),
            "startup_s": round(self.startup_s, 3),
            **({"nodes": list(self.nodes.values())} if self.nodes else {}),
        }


def worker_agent_id(base: str, slot: int, host: str | None = None) -> str:
    """The agent id of worker slot `slot`: one experience file per slot (and per host on Ray clones)."""
    parts = [base[:60] or "default"]
    if host:
        parts.append(re.sub(r"[^A-Za-z0-9-]+", "-", host).strip("-")[:32] or "host")
    return ".".join([*parts, f"w{slot}"])


def _final(row: dict[str, Any]) -> bool:
    """Whether a row settles its task: not interrupted, not skipped, not cut short by the batch's bound."""
    return row["status"] not in RERUN and not row.get("cut_by_batch")


def _lines(results: Path) -> list[dict[str, Any]]:
    """Every valid row of results.jsonl, in order. A torn last line (the driver was killed while
    writing) and rows that are not what the driver writes (a tampered file) are skipped."""
    if not results.is_file():
        return []
    rows = []
    for line in results.read_bytes().decode("utf-8", "replace").split("\n"):
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if valid_row(row):
            rows.append(row)
    return rows


def read_rows(results: Path) -> dict[str, dict[str, Any]]:
    """Task id -> its last row."""
    return {row["id"]: row for row in _lines(results)}


def spent_so_far(results: Path) -> float:
    """What every row of the batch so far cost, attempts interrupted or cut short included."""
    return sum(row.get("cost_usd") or 0.0 for row in _lines(results))


class _Driver:
    def __init__(self, tasks: list[BatchTask], options: BatchOptions, folder: Path, done: dict[str, dict[str, Any]],
                 on_progress: Callable[[Progress], None] | None, executor: Executor):  # fmt: skip
        self.options = options
        self.folder = folder
        self.rows = dict(done)
        self.pending = [t for t in tasks if t.id not in done or not _final(done[t.id])]
        self.progress = Progress(total=len(tasks))
        for row in self.rows.values():
            if _final(row):
                self._count(row)
        self.on_progress = on_progress or (lambda p: None)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.executor = executor
        self.allocated = 0.0  # of max_cost, held by running tasks
        self.spent = spent_so_far(folder / "results.jsonl")
        self.budget_spent = False

    def _count(self, row: dict[str, Any]) -> None:
        self.progress.done += 1
        self.progress.failed += row["status"] != "success"
        self.progress.tokens += row.get("tokens") or 0
        self.progress.cost_usd += row.get("cost_usd") or 0.0

    # -- scheduling ------------------------------------------------------------------------------

    def _next(self) -> tuple[BatchTask, float | None] | None:
        """The next task and its share of the batch's max_cost; None when nothing may start."""
        with self.lock:
            if self.stop.is_set() or self.budget_spent or not self.pending:
                return None
            share = None
            if self.options.max_cost is not None:
                left = self.options.max_cost - self.spent - self.allocated
                idle = max(1, self.options.workers - self.progress.running)
                share = left / idle
                if share < MIN_SHARE_USD:
                    self.budget_spent = True
                    return None
                self.allocated += share
            task = self.pending.pop(0)
            self.progress.running += 1
            self.on_progress(self.progress)
            return task, share

    def _slot(self, slot: int) -> None:
        while (picked := self._next()) is not None:
            task, share = picked
            try:
                row = self._run(task, share, slot)
            except Exception as exc:  # an executor that broke: the task is still accounted for
                row = {"id": task.id, "status": "error", "reason": f"the batch could not run it ({type(exc).__name__}: {str(exc)[:300]})"}  # fmt: skip
            if (
                share is not None
                and row["status"] == "budget_exhausted"
                and share < task.overrides.get("max_cost", share + 1)
            ):
                # What was left of the batch's bound could not pay for this task: the bound is spent,
                # and a resume (with a larger bound) runs the task again.
                row["cut_by_batch"] = True
            with self.lock:
                if row.get("cut_by_batch"):
                    self.budget_spent = True
                self.progress.running -= 1
                if share is not None:
                    self.allocated -= share
                self.spent += row.get("cost_usd") or 0.0
                self._write(row)
                self.on_progress(self.progress)

    def _run(self, task: BatchTask, share: float | None, slot: int = 1) -> dict[str, Any]:
        overrides = {**self.options.overrides, **task.overrides}
        overrides["agent_id"] = worker_agent_id(self.options.agent_id, slot)
        for key, limit in self.options.limits.items():
            if key in task.overrides and limit is not None:
                overrides[key] = min(task.overrides[key], limit)
        if share is not None:
            overrides["max_cost"] = min(share, overrides.get("max_cost", share))
        job = {
            "id": task.id,
            "task": task.task,
            "inputs": [str(p) for p in task.inputs],
            "overrides": overrides,
            "cwd": str(self.options.cwd),
            "config_file": str(self.options.config_file) if self.options.config_file else None,
            "worker": slot,
            "agent_base": self.options.agent_id,
        }
        if self.options.remote:
            job["remote"] = self.options.remote
            job["clones"] = str(self.options.clones) if self.options.clones else None
        died = ""
        lost = {"tokens": 0, "cost_usd": 0.0}  # what attempts that died spent

        def counted(row: dict[str, Any], attempt: int) -> dict[str, Any]:
            row = {**row, "attempts": attempt}
            if lost["cost_usd"] or lost["tokens"]:
                row["tokens"] = (row.get("tokens") or 0) + lost["tokens"]
                row["cost_usd"] = (row.get("cost_usd") or 0.0) + lost["cost_usd"]
                row["lost_attempts"] = dict(lost)
            return row

        for attempt in range(1, RETRIES + 2):
            row, died, spent = self.executor.execute(job, attempt)
            if row is not None:
                return counted(row, attempt)
            lost["tokens"] += spent.get("tokens") or 0
            lost["cost_usd"] += spent.get("cost_usd") or 0.0
            if self.stop.is_set():
                return counted(
                    {"id": task.id, "status": "interrupted", "reason": f"worker ended ({died})"}, attempt
                )
            if share is not None:  # the retry gets what the dead attempt left of the task's share
                left = min(share, overrides.get("max_cost", share)) - lost["cost_usd"]
                if left < MIN_SHARE_USD:
                    return counted(
                        {"id": task.id, "status": "budget_exhausted", "reason": f"the worker died ({died}) "
                         "after spending its share of the batch's --max-cost"}, attempt)  # fmt: skip
                job["overrides"] = {**overrides, "max_cost": left}
        return counted(
            {
                "id": task.id,
                "status": "error",
                "reason": f"the worker died {RETRIES + 1} times without a result ({died}); its log: {self.folder / 'logs'}",
            },
            RETRIES + 1,
        )

    def _write(self, row: dict[str, Any]) -> None:
        self.rows[row["id"]] = row
        if _final(row):
            self._count(row)
        with open(self.folder / "results.jsonl", "ab") as fh:
            fh.write(json_bytes(row) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())

    # -- the whole batch ---------------------------------------------------------------------------

    def run(self) -> bool:
        """Run every pending task; True when interrupted (Ctrl-C, SIGTERM or SIGHUP)."""
        slots = [threads.start(self._slot, k) for k in range(1, self.options.workers + 1)]
        interrupted = False
        try:
            with _stop_signals_interrupt():
                threads.wait_all(slots)
        except KeyboardInterrupt:
            interrupted = True
            self._interrupt(slots)
        for task in self.pending:  # never started: the batch was stopped or its budget is spent
            self._write({"id": task.id, "status": "not_run",
                         "reason": "the batch was interrupted" if interrupted else "the batch's --max-cost is spent"})  # fmt: skip
        self.pending.clear()
        return interrupted

    def _interrupt(self, slots: list[threading.Event]) -> None:
        self.stop.set()
        self.executor.interrupt()
        with contextlib.suppress(KeyboardInterrupt):  # a second Ctrl-C: stop waiting
            threads.wait_all(slots, INTERRUPT_GRACE_S)
        self.executor.kill()
        threads.wait_all(slots, 5)


@contextlib.contextmanager
def _stop_signals_interrupt() -> Any:
    """SIGTERM and SIGHUP stop the batch as Ctrl-C does (a KeyboardInterrupt in the main thread), so a
    driver that is asked to end leaves interrupted rows, not running orphans. Only in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    sigs = [s for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    previous = {s: signal.signal(s, stop) for s in sigs}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


class Executor(Protocol):
    """Where a task's worker runs: `execute` returns its row (or None), how the worker died, and what it
    reported spending (`{"tokens", "cost_usd"}`, counted when it died without a row)."""

    def execute(
        self, job: dict[str, Any], attempt: int
    ) -> tuple[dict[str, Any] | None, str, dict[str, Any]]: ...

    def interrupt(self) -> None: ...

    def kill(self) -> None: ...


class LocalExecutor:
    """Worker processes on this machine."""

    def __init__(self, folder: Path, cwd: Path):
        self.folder = folder
        self.cwd = cwd
        self.lock = threading.Lock()
        self.procs: set[subprocess.Popen] = set()

    module = "agentfactory.batch.worker"  # what each worker process runs (`python -m MODULE JOB`)

    def execute(self, job: dict[str, Any], attempt: int) -> tuple[dict[str, Any] | None, str, dict[str, Any]]:
        return run_worker(
            job, attempt, self.folder / "work", self.folder / "logs", self.cwd, self._track, self.module
        )

    def _track(self, proc: subprocess.Popen, running: bool) -> None:
        with self.lock:
            (self.procs.add if running else self.procs.discard)(proc)

    def interrupt(self) -> None:
        self._signal(signal.SIGINT)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        with self.lock:
            for proc in self.procs:
                with contextlib.suppress(OSError):
                    proc.send_signal(sig)


def run_tasks(
    tasks: list[BatchTask],
    options: BatchOptions,
    folder: Path,
    executor: Executor,
    on_progress: Callable[[Progress], None] | None = None,
) -> tuple[dict[str, dict[str, Any]], bool]:
    """Run `tasks` on `executor` with the batch's driver (slots, retries, --max-cost, interrupts), rows
    streamed to `folder`/results.jsonl: (task id -> row, interrupted). For callers with executors of
    their own, such as the bench."""
    (folder / "logs").mkdir(parents=True, exist_ok=True)
    driver = _Driver(tasks, options, folder, {}, on_progress, executor)
    interrupted = driver.run()
    return driver.rows, interrupted


def run_batch(
    tasks_file: Path,
    tasks: list[BatchTask],
    problems: list[LineProblem],
    options: BatchOptions,
    on_progress: Callable[[Progress], None] | None = None,
    executor: Executor | None = None,
) -> BatchSummary:
    """Run (or resume) a batch; results stream to its folder's results.jsonl."""
    started = time.monotonic()
    if options.workers < 1:
        raise UsageError("--workers must be at least 1.")
    if options.resume:
        if not BATCH_ID.match(options.resume):
            raise UsageError(f"'{options.resume[:80]}' is not a batch id (like 20261130-051200-ab12cd).")
        batch_id = options.resume
        folder = options.batches_dir / batch_id
        if not (folder / "batch.json").is_file():
            raise UsageError(f"No batch {batch_id} in {options.batches_dir}.")
        done = read_rows(folder / "results.jsonl")
        if options.max_cost is None:  # the bound the batch was started with still holds
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stored = json.loads((folder / "batch.json").read_text(encoding="utf-8")).get("max_cost")
                if isinstance(stored, int | float) and not isinstance(stored, bool) and stored > 0:
                    options = replace(options, max_cost=float(stored))
        stored_remote = None
        with contextlib.suppress(OSError, ValueError, AttributeError):
            stored_remote = json.loads((folder / "batch.json").read_text(encoding="utf-8")).get("remote")
        if isinstance(stored_remote, str) and stored_remote and options.remote is None:
            # Named, never taken from the file: a batch.json is no authority on where a library is pushed.
            raise UsageError(
                f"Batch {batch_id} ran on clones of a library remote; resume it with --ray and --remote "
                f"(it was {stored_remote[:200]!r})."
            )
    else:
        batch_id = new_run_id()  # a batch id has a run id's shape (BATCH_ID)
        folder = options.batches_dir / batch_id
        folder.mkdir(parents=True)
        shutil.copyfile(tasks_file, folder / "tasks.jsonl")
        (folder / "batch.json").write_bytes(
            json_bytes(
                {
                    "batch_id": batch_id,
                    "tasks_file": str(tasks_file),
                    "workers": options.workers,
                    "max_cost": options.max_cost,
                    "overrides": options.overrides,
                    "remote": options.remote,
                    "clones": str(options.clones) if options.clones else None,
                }
            )  # fmt: skip
        )
        done = {}
    (folder / "logs").mkdir(exist_ok=True)
    for problem in problems:  # a bad line with an id is accounted for under it
        if problem.id and problem.id not in {t.id for t in tasks} and problem.id not in done:
            done[problem.id] = {"id": problem.id, "status": "invalid", "reason": str(problem)}
            with open(folder / "results.jsonl", "ab") as fh:
                fh.write(json_bytes(done[problem.id]) + b"\n")
    nodes: dict[str, Any] = {}
    if options.remote and not options.ray:
        raise UsageError("--remote is for --ray: local workers share the project's library.")
    if executor is None and options.ray:
        from agentfactory.batch.on_ray import RayExecutor

        executor = RayExecutor(options.ray, folder, options.overrides.get("sandbox", "docker"), options.cwd)
        nodes = executor.nodes
    executor = executor or LocalExecutor(folder, options.cwd)
    startup_s, started = time.monotonic() - started, time.monotonic()
    try:
        driver = _Driver(tasks, options, folder, done, on_progress, executor)
        interrupted = driver.run()
    finally:
        close = getattr(executor, "close", None)
        if close:
            close()
    wanted = {t.id for t in tasks} | {p.id for p in problems if p.id}
    return BatchSummary(
        batch_id=batch_id,
        folder=folder,
        rows={k: v for k, v in driver.rows.items() if k in wanted},
        problems=problems,
        interrupted=interrupted,
        budget_spent=driver.budget_spent,
        duration_s=time.monotonic() - started,
        startup_s=startup_s,
        nodes=nodes,
    )
