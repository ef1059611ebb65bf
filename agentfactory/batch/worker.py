"""One batch task in its own process: `python -m agentfactory.batch.worker JOB.json`.

The job file says what to run (task, input files, settings overrides, config file, folder); the worker
runs it with the Meta-Agent exactly as `agentfactory run` would and writes one JSON result next to the
job, atomically. A process of its own per task means a task that crashes, leaks or is killed takes no
other task with it; the driver sees a missing result and retries.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentfactory.errors import AgentFactoryError


def run_job(job: dict[str, Any]) -> dict[str, Any]:
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
        result = MetaAgent(settings).run(job["task"], input_files=[Path(p) for p in job.get("inputs", [])])
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


def run_worker(
    job: dict[str, Any],
    attempt: int,
    work: Path,
    logs: Path,
    cwd: Path,
    track: Callable[[subprocess.Popen, bool], None] | None = None,
) -> tuple[dict[str, Any] | None, str]:
    """Run `job` in a worker process of its own: its result row, or None and how the process died.
    `track(proc, running)` is told when the process starts and ends (so it can be interrupted)."""
    work.mkdir(parents=True, exist_ok=True)
    logs.mkdir(parents=True, exist_ok=True)
    task_id = job["id"]
    job_file = work / f"{task_id}.{attempt}.json"
    result = work / f"{task_id}.{attempt}.result.json"
    job_file.write_bytes(_json_bytes({**job, "result": str(result)}))
    with open(logs / f"{task_id}.{attempt}.log", "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "agentfactory.batch.worker", str(job_file)],
            stdin=subprocess.DEVNULL,
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
    try:
        row = json.loads(result.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        row = None
    if valid_row(row, task_id):
        return row, ""
    return None, f"signal {-code}" if code < 0 else f"exit code {code}"


def _json_bytes(value: Any) -> bytes:
    from agentfactory.events import json_bytes

    return json_bytes(value)


def main(argv: list[str]) -> int:
    job_path = Path(argv[1])
    job = json.loads(job_path.read_text(encoding="utf-8"))
    try:
        row = run_job(job)
    except KeyboardInterrupt:
        row = {"id": job["id"], "status": "interrupted", "reason": "interrupted"}
    write_result(Path(job["result"]), row)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
