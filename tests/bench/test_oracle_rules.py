"""The simulator's behaviour rules (agentfactory_bench.rules), each checked on a two-task suite run by
every method through the real harness, the real product loop and the local sandbox.

The suite: one capability, `column-total` (sum a column of a CSV), whose first draft assumes the
column is spelt `amount`; both tasks' files spell it `Amount`, so the draft's bug shows in every run.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from agentfactory_bench import load_suite, sim
from agentfactory_bench.harness import run_bench
from agentfactory_bench.rules import INSPECT_NAME, RULES, Rules

from agentfactory.config import Settings

CODE = '''"""Sum one numeric column of a CSV file.

Inputs: csv_path (str), column (str): the column, matched without regard to case.
Outputs: answer, total, rows.
"""

import csv


def _find(header, column):
    for name in header:
        if name.strip().lower() == column.lower():
            return name
    raise KeyError(f"no column {column!r} in {header}")


def run(csv_path, column="amount"):
    with open(csv_path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    col = _find(rows[0].keys(), column)
    total = round(sum(float(r[col]) for r in rows), 2)
    return {"answer": f"The total of {column} is {total} over {len(rows)} rows.", "total": total, "rows": len(rows)}
'''
CAPABILITY = {
    "name": "column-total",
    "description": "Sums one numeric column of a CSV file.",
    "entry": "column_total",
    "tools": [],
    "bug": {
        "about": "assumes the column is spelt exactly as asked (KeyError on 'Amount')",
        "edits": [{"old": "col = _find(rows[0].keys(), column)", "new": "col = column"}],
    },
}


def _task(task_id: str, batch: int, data: str, total: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": task_id,
        "batch": batch,
        "family": "totals",
        "text": f"What is the total amount in {data}?",
        "fixtures": {"files": [f"data/{data}"]},
        "check": [{"answer_contains": total}],
        "capabilities": ["column-total"],
        "inputs": {"column-total": {"csv_path": f"inputs/{data}", "column": "amount"}},
        **extra,
    }


def make_suite(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data/a.csv").write_text("day,Amount\n1,2.5\n2,4\n")
    (root / "data/b.csv").write_text("day,Amount\n1,10\n2,20\n3,30.5\n")
    cap = root / "capabilities/column-total"
    cap.mkdir(parents=True)
    (cap / "column_total.py").write_text(CODE)
    (cap / "capability.yaml").write_text(yaml.safe_dump(CAPABILITY, sort_keys=False))
    tasks = [_task("total-a", 1, "a.csv", "6.5"), _task("total-b", 2, "b.csv", "60.5", pair="total-a")]
    (root / "suite.yaml").write_text(yaml.safe_dump({"name": "two", "tasks": tasks}, sort_keys=False))
    return root


class Spy:
    """Every response of the simulated model: (method, task id, tool calls as (name, arguments))."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, list[tuple[str, dict[str, Any]]]]] = []
        self.method = ""

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original = sim.SimProvider.complete
        spy = self

        def complete(provider: Any, system: str, messages: Any, tools: Any = None, *a: Any, **k: Any):
            response = original(provider, system, messages, tools, *a, **k)
            served = sim.current()
            task = served.task.id if served else "?"
            spy.calls.append((spy.method, task, [(c.name, dict(c.arguments)) for c in response.tool_calls]))
            return response

        monkeypatch.setattr(sim.SimProvider, "complete", complete)

    def tool_calls(self, method: str, task: str) -> list[tuple[str, dict[str, Any]]]:
        return [c for m, t, calls in self.calls if m == method and t == task for c in calls]


def run_methods(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rules: Rules, **kwargs: Any):
    suite = load_suite(make_suite(tmp_path / "suite"))
    settings = Settings.from_keys(model="sim", sandbox="local", timeout_s=60)
    spy = Spy()
    spy.install(monkeypatch)
    results = {}
    for method in ("agentfactory", "react", "text-lessons"):
        spy.method = method
        results[method] = run_bench(
            suite, settings, methods=(method,), root=tmp_path / method, rules=rules, **kwargs
        )
    return suite, spy, results


ALWAYS = replace(RULES, bug_rate=1.0)


@pytest.fixture(scope="module")
def always_bug(tmp_path_factory: pytest.TempPathFactory):
    monkeypatch = pytest.MonkeyPatch()
    try:
        yield run_methods(tmp_path_factory.mktemp("always"), monkeypatch, ALWAYS)
    finally:
        monkeypatch.undo()


def _writes(calls: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """The code of every fresh write of the capability (a subagent created, a file written)."""
    return [
        a.get("code") or a.get("content")
        for name, a in calls
        if (name == "create_subagent" and a["name"] == "column-total")
        or (name == "write_file" and a["path"] == "column_total.py")
    ]


def _final_code(calls: list[tuple[str, dict[str, Any]]]) -> str:
    code = _writes(calls)[0]
    for name, a in calls:
        if name in ("modify_subagent", "edit_file"):
            for edit in a["edits"]:
                code = code.replace(edit["old"], edit["new"], 1)
    return code


def test_every_method_solves_both_tasks(always_bug):
    _, _, results = always_bug
    for method, result in results.items():
        assert [(r.task_id, r.status, r.success) for r in result.rows] == [
            ("total-a", "success", True),
            ("total-b", "success", True),
        ], method


def test_same_reference_code_whatever_the_method(always_bug):
    suite, spy, _ = always_bug
    reference = suite.capability("column-total").code
    for method in ("agentfactory", "react", "text-lessons"):
        assert _final_code(spy.tool_calls(method, "total-a")) == reference, method
    # ReAct's script is the code the Meta-Agent's subagent holds, byte for byte
    assert _writes(spy.tool_calls("react", "total-a")) == _writes(spy.tool_calls("agentfactory", "total-a"))


def test_same_inspection_before_any_new_code(always_bug):
    _, spy, _ = always_bug
    inspections = {}
    for method in ("agentfactory", "react", "text-lessons"):
        calls = spy.tool_calls(method, "total-a")
        first_write = next(i for i, (n, a) in enumerate(calls) if n in ("create_subagent", "write_file")
                           and a.get("name") != INSPECT_NAME)  # fmt: skip
        inspect = [
            a["code"]
            for n, a in calls[:first_write]
            if (n == "create_subagent" and a["name"] == INSPECT_NAME) or (n == "run_code" and "code" in a)
        ]
        assert len(inspect) == 1, method
        assert "inputs/a.csv" in inspect[0]
        inspections[method] = inspect[0]
    assert len(set(inspections.values())) == 1  # the same inspection code for every method
    # reusing writes no new code, so the Meta-Agent does not inspect in batch 2
    assert not [a for n, a in spy.tool_calls("agentfactory", "total-b") if n == "create_subagent"]


def test_same_mistakes_fixed_with_an_edit(always_bug):
    suite, spy, _ = always_bug
    cap = suite.capability("column-total")
    draft = cap.draft()
    for method, task in (("agentfactory", "total-a"), ("react", "total-a"), ("react", "total-b")):
        calls = spy.tool_calls(method, task)
        assert _writes(calls) == [draft], (method, task)  # one fresh write, with the declared bug
        fixes = [a for n, a in calls if n in ("modify_subagent", "edit_file")]
        assert fixes == [fixes[0]] and "code" not in fixes[0]  # fixed once, by edits, not a rewrite
        assert fixes[0]["edits"] == [{"old": "col = column", "new": "col = _find(rows[0].keys(), column)"}]


def test_the_seeded_draw_is_the_same_for_every_method_and_near_its_rate():
    rules = Rules(bug_rate=0.5, seed=7)
    draws = [rules.has_bug(f"task-{i}", "cap") for i in range(2000)]
    assert 0.45 < sum(draws) / len(draws) < 0.55
    assert draws == [rules.has_bug(f"task-{i}", "cap") for i in range(2000)]  # no method, no state
    assert not any(rules.has_bug(f"task-{i}", "cap", warned=True) for i in range(100))
    assert not any(Rules(bug_rate=0.0).has_bug(f"task-{i}", "cap") for i in range(100))


def test_react_keeps_files_within_a_task_and_starts_each_task_with_nothing(always_bug):
    _, spy, _ = always_bug
    for task in ("total-a", "total-b"):
        calls = spy.tool_calls("react", task)
        names = [n for n, _ in calls]
        assert names.count("write_file") == 1  # written once; fixed in place, run again by path
        assert names.count("edit_file") == 1
        runs = [a for n, a in calls if n == "run_code" and "path" in a]
        assert len(runs) == 2 and all(a["path"] == "column_total.py" for a in runs)
    # batch 2 starts from nothing: it inspects and writes again (no library)
    assert _writes(spy.tool_calls("react", "total-b"))


def test_text_lessons_warned_by_a_lesson_avoid_the_bug(always_bug):
    suite, spy, results = always_bug
    assert _writes(spy.tool_calls("text-lessons", "total-b")) == [suite.capability("column-total").code]


def test_meta_agent_reuses_the_match_and_views_it_first(always_bug):
    _, spy, results = always_bug
    calls = spy.tool_calls("agentfactory", "total-b")
    assert [n for n, _ in calls] == ["view_subagent", "run_subagent", "finish"] or [n for n, _ in calls] == [
        "view_subagent",
        "run_subagent",
    ]
    assert results["agentfactory"].rows[1].reused == ["column-total"]


def test_no_view_before_reuse_skips_the_view(tmp_path, monkeypatch):
    _, spy, results = run_methods(tmp_path, monkeypatch, ALWAYS, view_before_reuse=False)
    calls = spy.tool_calls("agentfactory", "total-b")
    assert "view_subagent" not in [n for n, _ in calls]
    assert [n for n, _ in calls][0] == "run_subagent" and calls[0][1].get("final") is True
    assert all(r.success for r in results["agentfactory"].rows)


def test_llm_answers_come_from_the_declarations(tmp_path):
    root = make_suite(tmp_path / "suite")
    raw = yaml.safe_load((root / "suite.yaml").read_text())
    raw["tasks"][0]["llm"] = [
        {"when": "Post: great", "answer": "positive"},
        {"when": "Post: great coffee maker, broke", "answer": "negative"},
        {"when": ["in 2 sentences", "battery"], "answer": "short"},
    ]
    (root / "suite.yaml").write_text(yaml.safe_dump(raw))
    suite = load_suite(root)
    served = sim.Serving(suite.task("total-a"), suite)
    assert served.llm_answer("Classify.\n\nPost: great") == "positive"
    assert served.llm_answer("Classify.\n\nPost: great coffee maker, broke") == "negative"  # most specific
    assert served.llm_answer("Summarise in 2 sentences: battery storage") == "short"
    assert served.llm_answer("Summarise in 4 sentences: battery storage") is None
    provider = sim.SimProvider()
    from agentfactory.llm.types import Message

    with sim.serving(suite.task("total-a"), suite):
        assert provider.complete("", [Message.user("Post: great")]).text == "positive"
    assert provider.complete("", [Message.user("Post: great")]).text == "I have no answer to this prompt."


def test_run_on_text_that_is_not_a_suite_task_fails_honestly(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from agentfactory.cli import app

    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["run", "say hi", "--model", "sim", "--sandbox", "local", "--json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "task_failed"
    events = (tmp_path / "workspaces" / data["run_id"] / "events.jsonl").read_text().splitlines()
    assert json.loads(events[-1])["type"] == "run_finished"


def test_run_on_a_core_suite_task_text_is_served(tmp_path, monkeypatch):
    from agentfactory_bench import CORE_SUITE
    from typer.testing import CliRunner

    from agentfactory.cli import app

    suite = load_suite(CORE_SUITE)
    task = suite.task("program-slugify")
    monkeypatch.chdir(tmp_path)
    args = ["run", task.text, "--model", "sim", "--sandbox", "local", "--json"]
    for f in task.files:
        args += ["--input", str(f)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "success"
