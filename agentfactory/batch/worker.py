"""One batch task in its own process: `python -m agentfactory.batch.worker JOB.json [--parent-pipe]`.

The job file says what to run (task, input files, settings overrides, config file, folder); the worker
runs it with the Meta-Agent exactly as `agentfactory run` would and writes one JSON result next to the
job, atomically. A process of its own per task means a task that crashes, leaks or is killed takes no
other task with it; the driver sees a missing result and retries.

Two channels back to the driver besides the result:
- spend: after every model call the worker appends what the run has cost so far (`<result>.spend`,
  one JSON line per call), so the spend of a worker killed before its result is still counted.
- on a library clone (`batch --ray --remote`), each save is pushed as soon as it is made (SavePusher).
- the parent pipe (`--parent-pipe`): the worker's stdin is a pipe whose other end only the driver holds.
  When the driver dies, however it dies (SIGKILL included), the pipe reaches end-of-file and the worker
  interrupts its own run, which ends `interrupted` and saves nothing half-done; a resume runs it again.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentfactory.errors import AgentFactoryError

PARENT_PIPE = "--parent-pipe"
ORPHAN_GRACE_S = 60.0  # after the driver is gone, how long the interrupted run gets to end cleanly


class SpendLog:
    """`on_event` of the worker's run: after each model call, one line with the run's spend so far."""

    def __init__(self, path: Path | None):
        self.path = path
        self.cost_usd = 0.0
        self.tokens = 0
        self.calls = 0

    def __call__(self, event: dict[str, Any]) -> None:
        from agentfactory.events import MODEL_CALL
        from agentfactory.llm.types import Usage

        if event.get("type") != MODEL_CALL:
            return
        self.tokens += Usage.from_dict(event.get("usage")).total_tokens
        cost = event.get("cost_usd")
        self.cost_usd += cost if isinstance(cost, int | float) and not isinstance(cost, bool) else 0.0
        self.calls += 1
        if self.path is not None:
            line = _json_bytes({"calls": self.calls, "tokens": self.tokens, "cost_usd": self.cost_usd})
            with open(self.path, "ab") as fh:  # one small write per call: a torn last line is skipped
                fh.write(line + b"\n")


class SavePusher:
    """`on_event` of a run on a library clone (`batch --ray --remote`): after each save, push the clone
    at once, so the team has the version before the task ends. A refused push is left to the push with
    pull-rebase-retry after the task (agentfactory.batch.clones), which never loses the save."""

    def __init__(self, library: Path, remote: str):
        self.library = library
        self.remote = remote

    def __call__(self, event: dict[str, Any]) -> None:
        from agentfactory.events import LIBRARY_CHANGE

        if event.get("type") != LIBRARY_CHANGE or event.get("action") != "save":
            return
        from agentfactory.library import Library
        from agentfactory.library import rebase as sync

        library = Library(self.library)
        with contextlib.suppress(Exception):  # refused or unreachable: the push after the task deals with it
            sync.mark_synced(library, library.push(self.remote))


def _each(*callbacks: Any) -> Callable[[dict[str, Any]], None]:
    def call(event: dict[str, Any]) -> None:
        for callback in callbacks:
            callback(event)

    return call


def read_spend(path: Path) -> dict[str, Any]:
    """What a worker reported spending: {"tokens", "cost_usd", "calls"} of its last whole line (zeros
    when it reported nothing); a line whose numbers are not finite and non-negative is skipped."""
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError:
        lines = []
    for line in reversed(lines):
        try:
            data = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if isinstance(data, dict) and valid_row({**data, "id": "-", "status": "-"}):
            calls = data.get("calls")
            calls = calls if isinstance(calls, int) and not isinstance(calls, bool) else 0
            return {
                "tokens": data.get("tokens") or 0,
                "cost_usd": float(data.get("cost_usd") or 0.0),
                "calls": calls,
            }
    return {"tokens": 0, "cost_usd": 0.0, "calls": 0}


def run_job(job: dict[str, Any], on_event: Any = None) -> dict[str, Any]:
    """The result row of one job: what `results.jsonl` keeps for the task."""
    from agentfactory.config import load_settings
    from agentfactory.meta.agent import MetaAgent

    started = time.monotonic()
    row: dict[str, Any] = {"id": job["id"]}
    try:
        settings = load_settings(
            {**job.get("overrides", {})},
            cwd=Path(job["cwd"]),
            config_file=Path(job["config_file"]) if job.get("config_file") else None,
        )
        agent = MetaAgent(settings, on_event=on_event)
        result = agent.run(job["task"], input_files=[Path(p) for p in job.get("inputs", [])])
    except AgentFactoryError as exc:
        status = "config_error" if exc.exit_code == 3 else "task_failed"
        return {
            **row,
            "status": status,
            "reason": str(exc),
            "duration_s": round(time.monotonic() - started, 3),
        }
    except KeyboardInterrupt:
        return {**row, "status": "interrupted", "reason": "interrupted before the run started"}
    usage = result.usage
    sub = result.subagent_usage
    return {
        **row,
        "status": result.status,
        "answer": result.answer,
        "reason": result.reason,
        "run_id": result.run_id,
        "model": result.model,
        "tokens": usage.total_tokens + sub.total_tokens,
        "cost_usd": result.cost_usd,
        "model_calls": result.model_calls,
        "duration_s": result.duration_s,
        "created": list(result.created),
        "reused": list(result.reused),
        "saved": [list(pair) for pair in result.saved],
    }


def valid_row(row: Any, task_id: str | None = None) -> bool:
    """Whether `row` is a result row the driver may trust for its sums: an id and a status, and numbers
    that are finite and not negative (a tampered results.jsonl or a broken worker is skipped, never summed)."""
    import math

    if (
        not isinstance(row, dict)
        or not isinstance(row.get("id"), str)
        or not isinstance(row.get("status"), str)
    ):
        return False
    if task_id is not None and row["id"] != task_id:
        return False
    cost, tokens, saved = row.get("cost_usd", 0.0), row.get("tokens", 0), row.get("saved", [])
    if cost is not None and (
        isinstance(cost, bool) or not isinstance(cost, int | float) or not math.isfinite(cost) or cost < 0
    ):
        return False
    if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0):
        return False
    pairs = saved if isinstance(saved, list) else None
    return pairs is not None and all(
        isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], int) for p in pairs
    )


def write_result(path: Path, row: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(_json_bytes(row))
    os.replace(tmp, path)


Attempt = tuple[dict[str, Any] | None, str, dict[str, Any]]  # (row or None, how it died, what it spent)


def run_worker(
    job: dict[str, Any],
    attempt: int,
    work: Path,
    logs: Path,
    cwd: Path,
    track: Callable[[subprocess.Popen, bool], None] | None = None,
    module: str = "agentfactory.batch.worker",
) -> Attempt:
    """Run `job` in a worker process of its own (`python -m MODULE JOB --parent-pipe`): its result row,
    or None, how the process died and what it reported spending before. `track(proc, running)` is told
    when the process starts and ends (so it can be interrupted). The process's stdin is the parent pipe:
    closed when this process dies, so the worker never outlives its driver."""
    work.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    task_id = job["id"]
    job_file = work / f"{task_id}.{attempt}.json"
    result = work / f"{task_id}.{attempt}.result.json"
    spend = work / f"{task_id}.{attempt}.spend"
    for stale in (result, spend):  # a rerun of the batch (resume) writes its own
        stale.unlink(missing_ok=True)
    job_file.write_bytes(_json_bytes({**job, "result": str(result), "spend": str(spend)}))
    with open(logs / f"{task_id}.{attempt}.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, str(job_file), PARENT_PIPE],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            start_new_session=True,  # Ctrl-C reaches a worker only through its driver, once
        )
        if track:
            track(proc, True)
        try:
            code = proc.wait()
        finally:
            if track:
                track(proc, False)
            if proc.stdin:
                proc.stdin.close()
    try:
        row = json.loads(result.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        row = None
    if valid_row(row, task_id):
        return row, "", read_spend(spend)
    return None, f"signal {-code}" if code < 0 else f"exit code {code}", read_spend(spend)


def watch_parent() -> None:
    """Interrupt this process's run when the parent pipe (stdin) reaches end-of-file: the driver is gone.
    If the run has not ended `ORPHAN_GRACE_S` later, the process ends anyway."""
    import signal
    import threading

    def watch() -> None:
        try:
            # os.read, not sys.stdin: a thread blocked in a buffered read holds the buffer's lock, and the
            # interpreter aborts (SIGABRT) if it exits on an error meanwhile.
            while os.read(0, 65536):
                pass  # the driver never writes; anything it did is ignored
        except (OSError, ValueError):
            pass
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(ORPHAN_GRACE_S)
        os._exit(130)

    threading.Thread(target=watch, name="parent-pipe", daemon=True).start()


def _json_bytes(value: Any) -> bytes:
    from agentfactory.events import json_bytes

    return json_bytes(value)


def main(argv: list[str], run: Callable[..., dict[str, Any]] = run_job) -> int:
    """A worker process: `run(job, on_event=...)` (default: a Meta-Agent run), its row written as the
    job's result. Other runners (the bench's) use the same process protocol."""
    job_path = Path(argv[1])
    if PARENT_PIPE in argv[2:]:
        watch_parent()
    job = json.loads(job_path.read_text(encoding="utf-8"))
    on_event: Callable[[dict[str, Any]], None] = SpendLog(Path(job["spend"]) if job.get("spend") else None)
    if job.get("remote") and job.get("overrides", {}).get("library"):  # a run on a library clone
        on_event = _each(on_event, SavePusher(Path(job["overrides"]["library"]), job["remote"]))
    try:
        row = run(job, on_event=on_event)
    except KeyboardInterrupt:
        row = {"id": job["id"], "status": "interrupted", "reason": "interrupted"}
    write_result(Path(job["result"]), row)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
