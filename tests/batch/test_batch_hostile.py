"""A batch's inputs and its own files are checked like a command line's: a task names files beside it and
never raises a configured limit, and a tampered results.jsonl is skipped, never summed or trusted."""

from __future__ import annotations

import json
import os
from pathlib import Path

from agentfactory.batch import BatchOptions, read_tasks, run_batch


def _write(path: Path, lines: list) -> Path:
    path.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return path


def test_inputs_outside_the_batch_folder_are_refused(tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "data.csv").write_text("a\n1\n")
    os.symlink("/etc/passwd", folder / "link.csv")
    tasks, problems = read_tasks(
        _write(
            folder / "tasks.jsonl",
            [
                {"id": "ok", "task": "x", "inputs": ["data.csv"]},
                {"id": "abs", "task": "x", "inputs": ["/etc/passwd"]},
                {"id": "up", "task": "x", "inputs": ["../../../../etc/passwd"]},
                {"id": "link", "task": "x", "inputs": ["link.csv"]},
                {"id": "proc", "task": "x", "inputs": ["/proc/self/environ"]},
                '{"id": "huge", "task": "x", "max_steps": ' + "9" * 5000 + "}",
            ],
        )
    )
    assert [t.id for t in tasks] == ["ok"] and tasks[0].inputs == ((folder / "data.csv").resolve(),)
    said = {p.id or f"line {p.line}": p.message for p in problems}
    assert "relative to the batch file's folder" in said["abs"] and "relative" in said["proc"]
    assert "outside the batch file's folder" in said["up"] and "outside" in said["link"]
    assert "not JSON" in said["line 6"]


class _Recorder:
    """An executor that runs nothing: it records each job and answers with a fixed cost, cut to the job's
    own max_cost as a run's budget would cut it."""

    def __init__(self, cost: float = 0.0):
        self.jobs: list[dict] = []
        self.cost = cost

    def execute(self, job, attempt):
        self.jobs.append(job)
        bound = job["overrides"].get("max_cost", self.cost)
        status = "success" if self.cost <= bound else "budget_exhausted"
        return (
            {
                "id": job["id"],
                "status": status,
                "cost_usd": min(self.cost, bound),
                "tokens": 10,
                "saved": [],
            },
            "",
            {},
        )

    def interrupt(self):
        pass

    def kill(self):
        pass


def _options(tmp_path: Path, **kw) -> BatchOptions:
    return BatchOptions(workers=1, cwd=tmp_path, batches_dir=tmp_path / "batches", **kw)


def test_a_task_lowers_a_configured_limit_but_never_raises_it(tmp_path):
    path = _write(
        tmp_path / "tasks.jsonl",
        [{"id": "low", "task": "x", "max_cost": 0.5, "max_steps": 3}, {"id": "high", "task": "x", "max_cost": 1e6, "max_steps": 100000}],
    )  # fmt: skip
    tasks, problems = read_tasks(path)
    recorder = _Recorder()
    options = _options(tmp_path, limits={"max_cost": 1.0, "max_steps": 10, "max_tokens": None})
    run_batch(path, tasks, problems, options, executor=recorder)
    by_id = {job["id"]: job["overrides"] for job in recorder.jobs}
    assert by_id["low"]["max_cost"] == 0.5 and by_id["low"]["max_steps"] == 3
    assert by_id["high"]["max_cost"] == 1.0 and by_id["high"]["max_steps"] == 10


def test_a_resume_counts_everything_spent_and_keeps_the_batchs_bound(tmp_path):
    path = _write(tmp_path / "tasks.jsonl", [{"id": f"t{i}", "task": "x"} for i in range(6)])
    tasks, problems = read_tasks(path)
    first = run_batch(path, tasks[:2], problems, _options(tmp_path, max_cost=1.0), executor=_Recorder(0.3))
    results = first.folder / "results.jsonl"
    # Interrupted attempts cost money too, and a tampered row is skipped, not summed (nor a traceback).
    with open(results, "a") as fh:
        fh.write(json.dumps({"id": "t2", "status": "interrupted", "cost_usd": 0.3}) + "\n")
        fh.write(json.dumps({"id": "t3", "status": "success", "cost_usd": -100}) + "\n")
        fh.write(json.dumps({"id": "t4", "status": "success", "cost_usd": "0.5", "tokens": "many"}) + "\n")
    recorder = _Recorder(0.3)
    again = run_batch(path, tasks, problems, _options(tmp_path, resume=first.batch_id), executor=recorder)
    spent = sum(r.get("cost_usd") or 0 for r in map(json.loads, results.read_text().splitlines()) if isinstance(r.get("cost_usd"), float) and r["cost_usd"] >= 0)  # fmt: skip
    assert spent <= 1.0 + 1e-9  # 0.6 before, 0.3 interrupted: what is left pays for at most one more
    assert again.budget_spent and again.exit_code == 4
    assert {job["id"] for job in recorder.jobs} <= {"t2", "t3", "t4", "t5"}


def test_an_executor_that_breaks_leaves_its_task_accounted_for(tmp_path):
    class Broken(_Recorder):
        def execute(self, job, attempt):
            if job["id"] == "t1":
                raise OSError("the input file vanished")
            return super().execute(job, attempt)

    path = _write(tmp_path / "tasks.jsonl", [{"id": f"t{i}", "task": "x"} for i in range(3)])
    tasks, problems = read_tasks(path)
    summary = run_batch(path, tasks, problems, _options(tmp_path), executor=Broken())
    assert summary.counts() == {"success": 2, "error": 1} and summary.exit_code == 1
    assert "OSError: the input file vanished" in summary.rows["t1"]["reason"]
