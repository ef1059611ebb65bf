"""`agentfactory batch`: a stream of tasks on worker processes, with the scripted model and a real
(local) sandbox, through the command line as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agentfactory.library import Library

SLEEPY = '''"""Upper-case a text after a pause.

Purpose: the text in capitals, after `pause` seconds.
Inputs: text (str), pause (float).
Outputs: upper (str).
Limitations: none.
"""
import time


def run(text: str, pause: float = 0.0) -> dict:
    time.sleep(pause)
    return {"upper": text.upper()}
'''


def call(tool: str, **arguments: Any) -> dict[str, Any]:
    return {
        "tool_calls": [{"name": tool, "arguments": arguments}],
        "usage": {"input_tokens": 1000, "output_tokens": 100},
    }


def script(pause: float = 0.0) -> list[dict[str, Any]]:
    """Every task: write (or, when another worker saved it first, reuse) `upper`, run it, save it."""
    return [
        call("create_subagent", name="upper", description="Upper-case a text.", code=SLEEPY),
        call("run_subagent", name="upper", inputs={"text": "abc", "pause": pause}),
        call("finish", answer="ABC", save=["upper"]),
    ]


def project(tmp_path: Path, pause: float = 0.0, price: float = 0.0) -> Path:
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps(script(pause)))
    (tmp_path / "agentfactory.toml").write_text(
        f'model = "scripted:{replies}"\nsandbox = "local"\nlibrary = "lib"\nworkspaces = "ws"\ntimeout_s = 60\n'
        f'[prices."{replies}"]\ninput = {price}\noutput = {price}\n'
    )
    return tmp_path


def tasks_file(root: Path, n: int, extra: list[str] | None = None) -> Path:
    lines = [json.dumps({"id": f"t{i:02d}", "task": f"Upper-case abc ({i})"}) for i in range(n)]
    path = root / "tasks.jsonl"
    path.write_text("\n".join(lines + (extra or [])) + "\n")
    return path


def batch(root: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "agentfactory", "batch", "tasks.jsonl", "--json", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={k: v for k, v in os.environ.items() if not k.startswith("AGENTFACTORY_")},
    )


def rows(root: Path, batch_id: str) -> list[dict[str, Any]]:
    text = (root / "batches" / batch_id / "results.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def test_twenty_tasks_on_two_workers_are_all_accounted_for_and_one_library_holds_their_saves(tmp_path):
    root = project(tmp_path)
    tasks_file(root, 20)
    out = batch(root, "--workers", "2")
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout)
    assert summary["tasks"] == 20 and summary["counts"] == {"success": 20}
    written = rows(root, summary["batch_id"])
    assert sorted(r["id"] for r in written) == [f"t{i:02d}" for i in range(20)]
    assert len({r["run_id"] for r in written}) == 20
    assert all(r["status"] == "success" and r["answer"] == "ABC" and r["tokens"] > 0 for r in written)
    library = Library(root / "lib")
    latest = library.get("upper")
    assert summary["subagents"] == {"upper": latest.version}
    # Saves from two processes never lost a version: the versions are 1..N with no gap, and the latest
    # holds every case any version had (cases only accumulate).
    versions = sorted(v.version for v in library.history("upper"))
    assert versions == list(range(1, latest.version + 1))
    every_case = {
        json.dumps(c.inputs, sort_keys=True) for v in versions for c in library.get("upper", v).cases
    }
    assert {json.dumps(c.inputs, sort_keys=True) for c in latest.cases} == every_case


def test_two_batches_on_one_library_at_once_both_finish_and_lose_no_save(tmp_path):
    root = project(tmp_path)
    tasks_file(root, 6)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTFACTORY_")}
    command = [sys.executable, "-m", "agentfactory", "batch", "tasks.jsonl", "--json", "--workers", "2"]
    procs = [
        subprocess.Popen(
            command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    outs = [proc.communicate(timeout=600) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], [err[-2000:] for _, err in outs]
    summaries = [json.loads(out) for out, _ in outs]
    assert summaries[0]["batch_id"] != summaries[1]["batch_id"]  # each its own results folder
    for summary in summaries:
        assert summary["counts"] == {"success": 6}
        assert sorted(r["id"] for r in rows(root, summary["batch_id"])) == [f"t{i:02d}" for i in range(6)]
    library = Library(root / "lib")
    latest = library.get("upper")
    assert sorted(v.version for v in library.history("upper")) == list(range(1, latest.version + 1))


def test_bad_lines_are_reported_with_their_number_and_the_rest_run(tmp_path):
    root = project(tmp_path)
    tasks_file(
        root,
        2,
        extra=[
            "{not json",
            json.dumps({"id": "t00", "task": "a second t00"}),
            json.dumps({"id": "needs-file", "task": "x", "inputs": ["missing.csv"]}),
            json.dumps({"id": "bad-budget", "task": "x", "max_cost": -1}),
            json.dumps(["a", "list"]),
        ],
    )
    out = batch(root, "--workers", "2")
    assert out.returncode == 1, out.stderr[-3000:]
    summary = json.loads(out.stdout)
    assert summary["counts"] == {"success": 2, "invalid": 2}
    problems = "\n".join(summary["invalid_lines"])
    assert "line 3: not JSON" in problems
    assert "line 4 (t00): the id is already used on line 1" in problems
    assert "line 5 (needs-file): input file 'missing.csv' does not exist" in problems
    assert "line 6 (bad-budget)" in problems and "max_cost" in problems
    assert "line 7: not a JSON object" in problems
    assert "Traceback" not in out.stderr


def _kill_worker_of(root: Path, task_id: str, attempt: int) -> threading.Thread:
    """Kill the worker running `task_id` (attempt `attempt`) once its subagent is running."""
    job = f"{task_id}.{attempt}.json"

    def killer() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for proc in Path("/proc").iterdir():
                try:
                    cmdline = (proc / "cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                if (
                    any(part.endswith(job.encode()) for part in cmdline)
                    and b"agentfactory.batch.worker" in cmdline
                ):
                    time.sleep(1.0)  # inside the run, the subagent sleeping
                    os.kill(int(proc.name), signal.SIGKILL)
                    return
            time.sleep(0.05)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    return thread


def test_a_killed_worker_is_retried_once(tmp_path):
    root = project(tmp_path, pause=3.0)
    tasks_file(root, 2)
    killer = _kill_worker_of(root, "t01", 1)
    out = batch(root, "--workers", "2")
    killer.join(timeout=5)
    assert out.returncode == 0, out.stderr[-3000:]
    by_id = {r["id"]: r for r in rows(root, json.loads(out.stdout)["batch_id"])}
    assert by_id["t01"]["status"] == "success" and by_id["t01"]["attempts"] == 2
    assert by_id["t00"]["attempts"] == 1


def test_a_worker_killed_twice_fails_its_task_and_the_others_finish(tmp_path):
    root = project(tmp_path, pause=3.0)
    tasks_file(root, 2)
    first, second = _kill_worker_of(root, "t01", 1), _kill_worker_of(root, "t01", 2)
    out = batch(root, "--workers", "2")
    first.join(timeout=5), second.join(timeout=5)
    assert out.returncode == 1, out.stderr[-3000:]
    by_id = {r["id"]: r for r in rows(root, json.loads(out.stdout)["batch_id"])}
    assert by_id["t01"]["status"] == "error" and "died 2 times" in by_id["t01"]["reason"]
    assert by_id["t00"]["status"] == "success"
    Library(root / "lib").get("upper")  # the library is readable and holds the finished task's save


def test_ctrl_c_ends_running_tasks_interrupted_and_resume_finishes_the_rest(tmp_path):
    root = project(tmp_path, pause=2.0)
    tasks_file(root, 6)
    driver = subprocess.Popen(
        [sys.executable, "-m", "agentfactory", "batch", "tasks.jsonl", "--json", "--workers", "2"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(root.glob("batches/*/results.jsonl")):
        time.sleep(0.05)
    time.sleep(0.5)  # the next two tasks are running
    driver.send_signal(signal.SIGINT)
    stdout, stderr = driver.communicate(timeout=120)
    assert driver.returncode == 130, stderr[-3000:]
    first = json.loads(stdout)
    assert first["interrupted"] is True
    statuses = {r["id"]: r["status"] for r in rows(root, first["batch_id"])}
    assert set(statuses.values()) <= {"success", "interrupted", "not_run"} and "success" in statuses.values()
    assert set(statuses.values()) & {"interrupted", "not_run"}
    done_before = {i for i, s in statuses.items() if s == "success"}

    out = batch(root, "--workers", "2", "--resume", first["batch_id"])
    assert out.returncode == 0, out.stderr[-3000:]
    summary = json.loads(out.stdout)
    assert summary["batch_id"] == first["batch_id"] and summary["counts"] == {"success": 6}
    again = [r for r in rows(root, first["batch_id"]) if r["id"] in done_before and r["status"] == "success"]
    assert len(again) == len(done_before)  # a task done before the interrupt did not run twice


def test_max_cost_bounds_the_whole_batch(tmp_path):
    # Each task's three model calls cost 3 x 1,100 tokens x $10/M = $0.033.
    root = project(tmp_path, price=10.0)
    tasks_file(root, 8)
    out = batch(root, "--workers", "2", "--max-cost", "0.1")
    assert out.returncode == 4, out.stderr[-3000:]
    summary = json.loads(out.stdout)
    assert summary["budget_spent"] is True and summary["cost_usd"] <= 0.1
    assert summary["counts"].get("not_run", 0) >= 1
    resumed = batch(root, "--workers", "2", "--max-cost", "1", "--resume", summary["batch_id"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads(resumed.stdout)["counts"] == {"success": 8}


def test_a_missing_batch_file_or_unknown_resume_id_is_one_sentence(tmp_path):
    root = project(tmp_path)
    out = batch(root)
    assert out.returncode == 2 and "No such batch file" in out.stderr and "Traceback" not in out.stderr
    tasks_file(root, 1)
    out = batch(root, "--resume", "20260101-000000-abcdef")
    assert out.returncode == 2 and "No batch 20260101-000000-abcdef" in out.stderr
    out = batch(root, "--resume", "../../etc")
    assert out.returncode == 2 and "is not a batch id" in out.stderr


@pytest.mark.parametrize("workers", ["0", "999"])
def test_workers_out_of_range_is_a_usage_error(tmp_path, workers):
    root = project(tmp_path)
    tasks_file(root, 1)
    out = batch(root, "--workers", workers)
    assert out.returncode == 2 and "--workers must be between 1 and 256" in out.stderr
