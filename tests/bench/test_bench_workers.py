"""`bench --workers N`: the tasks within a batch run on worker processes through the batch driver, batch
1 ends before batch 2 starts, and the figures match a one-worker run's when no task of a batch could
have reused another's work."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from agentfactory_bench import CORE_SUITE, load_suite
from agentfactory_bench.harness import run_bench

from agentfactory.config import load_settings
from agentfactory.errors import UsageError
from agentfactory.events import read_events

TASKS = ("price-vol-acme", "regress-study", "price-vol-globex", "regress-ads")  # two families x two batches


@pytest.fixture(scope="module")
def four_tasks(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("suite") / "four"
    shutil.copytree(CORE_SUITE, folder)
    data = yaml.safe_load((folder / "suite.yaml").read_text())
    data["name"] = "four"
    data["tasks"] = [t for t in data["tasks"] if t["id"] in TASKS]
    (folder / "suite.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return folder


def _bench(suite: Path, root: Path, workers: int):
    settings = load_settings({"model": "sim", "sandbox": "local"}, env={}, cwd=root)
    return run_bench(
        load_suite(suite), settings, methods=("agentfactory",), root=root / "runs", workers=workers
    )


def _span(root: Path, row) -> tuple[float, float]:
    events = list(read_events(root / "runs" / row.workspace / "events.jsonl"))
    return events[0]["ts"], events[-1]["ts"]


def test_bench_workers_run_a_batch_side_by_side_and_batch_1_before_batch_2(four_tasks, tmp_path):
    result = _bench(four_tasks, tmp_path / "two", workers=2)
    assert [r.task_id for r in result.rows] == list(TASKS)  # the suite's order, whatever ended first
    assert all(r.success for r in result.rows), [(r.task_id, r.check) for r in result.rows]
    spans = {r.task_id: _span(tmp_path / "two", r) for r in result.rows}
    first, second = [spans[t] for t in TASKS[:2]], [spans[t] for t in TASKS[2:]]
    assert max(end for _, end in first) <= min(start for start, _ in second)  # batch 1, then batch 2
    (a_start, a_end), (b_start, b_end) = first
    assert a_start < b_end and b_start < a_end  # the two tasks of batch 1 ran at the same time
    # Through the batch driver: each batch's results.jsonl holds one row per task.
    for number, ids in ((1, TASKS[:2]), (2, TASKS[2:])):
        lines = tmp_path / "two" / "runs" / "agentfactory" / "batches" / f"batch-{number}" / "results.jsonl"
        assert sorted(json.loads(x)["id"] for x in lines.read_text().splitlines()) == sorted(ids)
    # Batch 2 reuses what batch 1 saved, as in a one-worker run, with the same outcome per task.
    one = _bench(four_tasks, tmp_path / "one", workers=1)
    shape = lambda rows: [(r.task_id, r.status, r.success, r.model_calls, r.reused, r.created) for r in rows]  # noqa: E731
    assert shape(result.rows) == shape(one.rows)
    assert {r.task_id: r.reused for r in result.rows}["price-vol-globex"] == ["price-volatility"]


def test_bench_workers_out_of_range_is_a_usage_error(four_tasks, tmp_path):
    with pytest.raises(UsageError, match="--workers must be between 1 and 256"):
        _bench(four_tasks, tmp_path, workers=0)
