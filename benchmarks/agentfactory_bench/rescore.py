"""`bench --rescore DIR`: re-check a finished (or recorded) bench run offline, with no model.

DIR is a bench output folder (bench.json and runs/). Each task row's answer and status are read back
from its run's event log and its output files from the run's workspace, and the suite's current checks
decide again (python checks in the sandbox). Token and cost figures stay as recorded. The result is
written to DIR/rescored/ beside the original, which is left as it was.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from agentfactory.config import Settings
from agentfactory.errors import UsageError
from agentfactory.events import read_events
from agentfactory_bench.checkers import check_task, sandbox_runner
from agentfactory_bench.harness import BenchResult, TaskRow, _solved
from agentfactory_bench.suite import Suite, load_suite

RUNS_DIR = "runs"


def _finished(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "events.jsonl"
    if not path.is_file():
        return {}
    last: dict[str, Any] = {}
    for event in read_events(path):
        if event.get("type") == "run_finished":
            last = event
    return last


def rescore(out: Path, settings: Settings, suite: Suite | None = None, backend: Any = None) -> BenchResult:
    """The bench result in `out`, every task checked again from its logged answer and output files."""
    out = Path(out)
    source = out / "bench.json"
    try:
        data = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UsageError(
            f"{source} is missing or not JSON: pass the --out (or --record) folder of a bench run."
        ) from None
    if suite is None:
        if not data.get("suite_path"):
            raise UsageError(f"{source} does not name its suite: pass --suite.")
        suite = load_suite(data["suite_path"])
    known = {f.name for f in fields(TaskRow)}
    root = out / RUNS_DIR
    rows = []
    runner = sandbox_runner(settings, backend)
    for raw in data.get("tasks", []):
        row = TaskRow(**{k: v for k, v in raw.items() if k in known})
        try:
            task = suite.task(row.task_id)
        except KeyError:
            raise UsageError(f"Task '{row.task_id}' of {source} is not in suite {suite.name}.") from None
        run_dir = (root / row.workspace).resolve()
        if not run_dir.is_relative_to(root.resolve()):  # a edited bench.json must not point elsewhere
            raise UsageError(f"Task '{row.task_id}' of {source} names a workspace outside {root}.")
        finished = _finished(run_dir)
        status = finished.get("status", "missing")
        answer = finished.get("answer") or ""
        scratch = run_dir.parent.parent / "rescore" / row.task_id
        scratch.mkdir(parents=True, exist_ok=True)
        check = check_task(task, answer, run_dir / "outputs", python_runner=runner, scratch_dir=scratch)
        row.status, row.check = status, check.details
        row.success = _solved(task, status, check.passed)
        rows.append(row)
    return BenchResult(
        data.get("model", ""),
        data.get("model") == "sim",
        data.get("suite", suite.name),
        rows,
        root,
        data.get("price_model", ""),
        data.get("suite_path", str(suite.path)),
    )
