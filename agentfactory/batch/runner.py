"""The batch driver: tasks on N worker processes, results streamed to `batches/<id>/results.jsonl`.

Each task runs in a worker process of its own (`agentfactory.batch.worker`), at most `workers` at a
time. A row is appended to results.jsonl as each task ends. A worker that dies without a result (killed,
out of memory) is retried once, then its task is failed. `max_cost` bounds the whole batch: each task is
given a share of what is left as its own `max_cost`, so the shares never add up to more than the bound,
and no task starts once it is spent. Ctrl-C (KeyboardInterrupt in the driver) forwards SIGINT to the
running workers, whose runs end `interrupted` and save nothing half-done; `resume` skips every task with
a final row and runs the rest.

Workers share the project's library through its locks, as separate `agentfactory run` processes do.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from agentfactory.batch.tasks import BatchTask, LineProblem
from agentfactory.batch.worker import run_worker, valid_row
from agentfactory.errors import UsageError
from agentfactory.events import json_bytes

BATCH_ID = re.compile(r"[0-9]{8}-[0-9]{6}-[0-9a-f]{6}\Z")
# Rows with these statuses are not final: a resume runs their tasks again (and a task the batch's
# --max-cost cut short, see `_final`).
RERUN = frozenset({"interrupted", "not_run"})
RETRIES = 1  # extra attempts for a task whose worker died without a result
MIN_SHARE_USD = 1e-4  # below this, what is left of --max-cost cannot pay for a task
INTERRUPT_GRACE_S = 60.0  # after forwarding Ctrl-C, how long workers get to end their runs cleanly


@dataclass(frozen=True)
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


@dataclass
class Progress:
    total: int
    done: int = 0
    failed: int = 0
    running: int = 0
    tokens: int = 0
    cost_usd: float = 0.0


@dataclass
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
            "interrupted": self.interrupted,
            "budget_spent": self.budget_spent,
            "duration_s": round(self.duration_s, 3),
            "startup_s": round(self.startup_s, 3),
            **({"nodes": list(self.nodes.values())} if self.nodes else {}),
        }


def _final(row: dict[str, Any]) -> bool:
    """Whether a row settles its task: not interrupted, not skipped, not cut short by the batch's bound."""
    return row["status"] not in RERUN and not row.get("cut_by_batch")


def new_batch_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + secrets.token_hex(3)


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

    def _slot(self) -> None:
        while (picked := self._next()) is not None:
            task, share = picked
            row = self._run(task, share)
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

    def _run(self, task: BatchTask, share: float | None) -> dict[str, Any]:
        overrides = {**self.options.overrides, **task.overrides}
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
        }
        died = ""
        for attempt in range(1, RETRIES + 2):
            row, died = self.executor.execute(job, attempt)
            if row is not None:
                return {**row, "attempts": attempt}
            if self.stop.is_set():
                return {
                    "id": task.id,
                    "status": "interrupted",
                    "reason": f"worker ended ({died})",
                    "attempts": attempt,
                }
        return {
            "id": task.id,
            "status": "error",
            "reason": f"the worker died {RETRIES + 1} times without a result ({died}); its log: {self.folder / 'logs'}",
            "attempts": RETRIES + 1,
        }

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
        """Run every pending task; True when interrupted."""
        slots = [threading.Thread(target=self._slot, daemon=True) for _ in range(self.options.workers)]
        for slot in slots:
            slot.start()
        interrupted = False
        try:
            while any(slot.is_alive() for slot in slots):
                for slot in slots:
                    slot.join(timeout=0.2)
        except KeyboardInterrupt:
            interrupted = True
            self._interrupt(slots)
        for task in self.pending:  # never started: the batch was stopped or its budget is spent
            self._write({"id": task.id, "status": "not_run",
                         "reason": "the batch was interrupted" if interrupted else "the batch's --max-cost is spent"})  # fmt: skip
        self.pending.clear()
        return interrupted

    def _interrupt(self, slots: list[threading.Thread]) -> None:
        self.stop.set()
        self.executor.interrupt()
        deadline = time.monotonic() + INTERRUPT_GRACE_S
        try:
            for slot in slots:
                slot.join(timeout=max(0.0, deadline - time.monotonic()))
        except KeyboardInterrupt:
            pass  # a second Ctrl-C: stop waiting
        self.executor.kill()
        for slot in slots:
            slot.join(timeout=5)


class Executor(Protocol):
    """Where a task's worker runs: `execute` returns its row, or None and how the worker died."""

    def execute(self, job: dict[str, Any], attempt: int) -> tuple[dict[str, Any] | None, str]: ...

    def interrupt(self) -> None: ...

    def kill(self) -> None: ...


class LocalExecutor:
    """Worker processes on this machine."""

    def __init__(self, folder: Path, cwd: Path):
        self.folder = folder
        self.cwd = cwd
        self.lock = threading.Lock()
        self.procs: set[subprocess.Popen] = set()

    def execute(self, job: dict[str, Any], attempt: int) -> tuple[dict[str, Any] | None, str]:
        return run_worker(job, attempt, self.folder / "work", self.folder / "logs", self.cwd, self._track)

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
    else:
        batch_id = new_batch_id()
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
