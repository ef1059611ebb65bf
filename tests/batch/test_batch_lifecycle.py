"""A batch's workers and its driver: what a killed worker spent is counted, workers never outlive their
driver (SIGKILL, SIGTERM, SIGHUP), and each worker slot appends to an experience file of its own."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentfactory.library import experience_files
from tests.batch.test_batch import batch, project, rows, tasks_file


def _workers(root: Path) -> dict[int, str]:
    """pid -> job file of the batch worker processes of the project at `root`. A child a worker is
    starting (between its fork and its exec) shows the worker's command line too: it is left out."""
    found, parents = {}, {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"agentfactory.batch.worker" in cmdline:
            job = next(
                (p.decode() for p in cmdline if p.endswith(b".json") and str(root).encode() in p), None
            )
            if job:
                found[int(proc.name)] = job
                with contextlib.suppress(OSError, ValueError):
                    parents[int(proc.name)] = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
    return {pid: job for pid, job in found.items() if parents.get(pid) not in found}


def _wait(predicate, timeout: float = 120.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _start(root: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "agentfactory", "batch", "tasks.jsonl", "--json", *args],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("AGENTFACTORY_")},
    )


def _spend_lines(root: Path, name: str) -> int:
    files = list(root.glob(f"batches/*/work/{name}"))
    return len(files[0].read_bytes().splitlines()) if files else 0


def test_what_a_killed_worker_spent_counts_in_its_row_and_the_summary(tmp_path):
    # Each model call costs 1,100 tokens x $10/M = $0.011; a whole task makes three calls.
    root = project(tmp_path, pause=30.0, price=10.0)
    tasks_file(root, 1)
    driver = _start(root, "--workers", "1")
    _wait(lambda: _spend_lines(root, "t00.1.spend") >= 2, what="two model calls of attempt 1")
    (pid,) = _workers(root)
    project(tmp_path, pause=0.0, price=10.0)  # the retry does not sleep
    os.kill(pid, signal.SIGKILL)  # inside the subagent's run, after two paid model calls
    stdout, stderr = driver.communicate(timeout=300)
    assert driver.returncode == 0, stderr[-3000:]
    summary = json.loads(stdout)
    (row,) = rows(root, summary["batch_id"])
    assert row["status"] == "success" and row["attempts"] == 2
    assert row["lost_attempts"] == {"tokens": 2200, "cost_usd": pytest.approx(0.022)}
    assert row["tokens"] == 3300 + 2200 and row["cost_usd"] == pytest.approx(0.033 + 0.022)
    assert summary["cost_usd"] == pytest.approx(0.055) and summary["tokens"] == 5500


def test_a_killed_workers_spend_comes_off_the_retrys_share_of_max_cost(tmp_path):
    root = project(tmp_path, pause=30.0, price=10.0)
    tasks_file(root, 1)
    driver = _start(root, "--workers", "1", "--max-cost", "0.05")
    _wait(lambda: _spend_lines(root, "t00.1.spend") >= 2, what="two model calls of attempt 1")
    (pid,) = _workers(root)
    project(tmp_path, pause=0.0, price=10.0)
    os.kill(pid, signal.SIGKILL)
    stdout, stderr = driver.communicate(timeout=300)
    summary = json.loads(stdout)
    # $0.022 lost; the retry may spend $0.028 of the $0.05, not enough for its three calls ($0.033).
    assert driver.returncode == 4, stderr[-3000:]
    assert summary["cost_usd"] <= 0.05 + 1e-9 and summary["budget_spent"] is True
    (row,) = rows(root, summary["batch_id"])
    assert row["status"] == "budget_exhausted" and row["lost_attempts"]["cost_usd"] == pytest.approx(0.022)


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM, signal.SIGHUP])
def test_workers_never_outlive_their_driver_and_resume_finishes_their_tasks(tmp_path, how):
    root = project(tmp_path, pause=60.0)
    tasks_file(root, 3)
    driver = _start(root, "--workers", "2")
    _wait(lambda: len(_workers(root)) == 2, what="two workers")
    for task in ("t00", "t01"):
        _wait(lambda task=task: _spend_lines(root, f"{task}.1.spend") >= 2, what=f"{task} in its subagent")
    workers = _workers(root)
    started = time.monotonic()
    driver.send_signal(how)
    stdout, stderr = driver.communicate(timeout=120)
    _wait(lambda: not (set(_workers(root)) & set(workers)), timeout=60, what="the workers to end")
    assert time.monotonic() - started < 60  # they ended on their own, long before their subagents' sleep
    for job in workers.values():  # each run ended `interrupted`, its event log whole
        result = json.loads(Path(job.replace(".json", ".result.json")).read_text())
        assert result["status"] == "interrupted", result
        events = Path(root / "ws" / result["run_id"] / "events.jsonl").read_text().splitlines()
        assert json.loads(events[-1])["type"] == "run_finished"
    batch_id = next(root.glob("batches/*")).name
    if how == signal.SIGKILL:
        assert driver.returncode == -signal.SIGKILL
    else:  # asked to end: the driver ends the batch as Ctrl-C does
        assert driver.returncode == 130, stderr[-3000:]
        summary = json.loads(stdout)
        assert summary["interrupted"] is True and summary["counts"].get("success", 0) == 0
        assert "Traceback" not in stderr
    project(tmp_path, pause=0.0)
    out = batch(root, "--workers", "2", "--resume", batch_id)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout)["counts"] == {"success": 3}


def test_each_worker_slot_appends_to_an_experience_file_of_its_own(tmp_path):
    root = project(tmp_path)
    tasks_file(root, 4)
    out = batch(root, "--workers", "2")
    assert out.returncode == 0, out.stderr[-3000:]
    names = sorted(p.name for p in experience_files.local_files(root / "lib"))
    assert names == ["default.w1.jsonl", "default.w2.jsonl"]
    written = rows(root, json.loads(out.stdout)["batch_id"])
    text = {n: (root / "lib" / "experience" / n).read_text() for n in names}
    for row in written:  # every run's records are in exactly one slot's file
        assert sum(row["run_id"] in t for t in text.values()) == 1


BREAKING_WORKER = r"""
import sys
from agentfactory.batch.worker import main

def boom(job, on_event):
    raise RuntimeError("a bug in the runner")

sys.exit(main(sys.argv, run=boom))
"""


def test_a_worker_ending_on_an_error_exits_with_it_instead_of_aborting(tmp_path):
    # Its parent-pipe watcher blocks reading stdin; a buffered read there made the interpreter abort
    # (SIGABRT, "could not acquire lock for <stdin>") when the process ended on an uncaught error.
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"id": "t1", "result": str(tmp_path / "row.json")}))
    proc = subprocess.Popen(
        [sys.executable, "-c", BREAKING_WORKER, str(job), "--parent-pipe"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:  # stdin stays open, as the driver keeps it: the worker must end on its own
        err = proc.stderr.read()
        proc.wait(timeout=120)
    finally:
        proc.stdin.close()
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == 1, err[-2000:]
    assert b"RuntimeError: a bug in the runner" in err and b"Fatal Python error" not in err
