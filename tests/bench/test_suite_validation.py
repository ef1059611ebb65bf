"""Suite-format validation: every problem is one clear sentence naming the file, the task and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from agentfactory_bench import load_suite

from agentfactory.errors import ValidationError


def make_suite(folder: Path, tasks: list[dict], **top) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "data").mkdir(exist_ok=True)
    (folder / "data" / "a.csv").write_text("x,y\n1,2\n")
    (folder / "suite.yaml").write_text(yaml.safe_dump({"name": "t", "tasks": tasks, **top}))
    return folder


def task(**over) -> dict:
    base = {
        "id": "t1",
        "batch": 1,
        "text": "Do it with a.csv",
        "fixtures": {"files": ["data/a.csv"]},
        "check": [{"answer_contains": "done"}],
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def error_of(tmp_path: Path, tasks: list[dict], **top) -> str:
    with pytest.raises(ValidationError) as info:
        load_suite(make_suite(tmp_path / "s", tasks, **top))
    message = str(info.value)
    assert "\n" not in message and message.endswith((".", "'", ")"))
    return message


def test_a_valid_suite_loads(tmp_path):
    suite = load_suite(make_suite(tmp_path / "s", [task(), task(id="t2", batch=2, pair="t1")]))
    assert [t.id for t in suite.batch(1)] == ["t1"] and suite.task("t2").pair == "t1"
    assert suite.task("t1").files[0].name == "a.csv"


@pytest.mark.parametrize(
    ("tasks", "top", "needle"),
    [
        ([task(colour="red")], {}, "task 't1' has unknown key 'colour'"),
        ([task(text=None)], {}, "task 't1' needs a non-empty 'text'"),
        ([task(text="   ")], {}, "task 't1' needs a non-empty 'text'"),
        ([task(batch=3)], {}, "task 't1': 'batch' must be 1 or 2, got 3"),
        ([task(batch=True)], {}, "'batch' must be 1 or 2"),
        ([task(), task()], {}, "task id 't1' appears twice"),
        ([task(), task(id="t2", batch=2)], {}, "task 't2' is in batch 2 but has no 'pair'"),
        ([task(), task(id="t2", batch=2, pair="nope")], {}, "task 't2' has pair 'nope', which is not a task"),
        (
            [task(), task(id="t2", batch=2, pair="t3"), task(id="t3", batch=2, pair="t1")],
            {},
            "has pair 't3', which is not a batch-1 task",
        ),
        ([task(pair="t1")], {}, "task 't1' is in batch 1 and must not have a 'pair'"),
        (
            [task(fixtures={"files": ["data/missing.csv"]})],
            {},
            "fixtures.files file 'data/missing.csv' does not exist",
        ),
        ([task(fixtures={"files": ["../escape.csv"]})], {}, "must be a path inside the suite folder"),
        ([task(fixtures={"pictures": ["data/a.csv"]})], {}, "fixtures has unknown key 'pictures'"),
        ([task(check=[{"answer_smells": "x"}])], {}, "unknown checker kind 'answer_smells'"),
        ([task(check=[])], {}, "task 't1' needs a non-empty 'check' list"),
        ([task(check=[{"answer_number": {"value": 1}}])], {}, "needs 'tolerance' or 'rel_tolerance'"),
        (
            [task(check=[{"answer_number": {"value": "x", "tolerance": 1}}])],
            {},
            "field 'value' must be a number",
        ),
        (
            [task(check=[{"csv_columns": {"file": "a.csv"}}])],
            {},
            "check 'csv_columns' is missing field 'columns'",
        ),
        (
            [task(check=[{"json_equals": {"file": "a", "value": 1, "colour": 2}}])],
            {},
            "check 'json_equals' has unknown field 'colour'",
        ),
        ([task(check=[{"answer_regex": "(unclosed"}])], {}, "'answer_regex' is not a valid regex"),
        (
            [task(check=[{"python": "checks/none.py"}])],
            {},
            "fixtures.check.python file 'checks/none.py' does not exist",
        ),
        ([task(id="Bad Id")], {}, "task #1 needs an 'id' of lowercase letters"),
        (
            [task(text="Open {base_url}/x.html")],
            {},
            "uses {base_url} in 'text' but no task declares fixtures.pages",
        ),
        ([task()], {"version": 2}, "unknown top-level key 'version'"),
    ],
)
def test_each_problem_gets_one_clear_sentence(tmp_path, tasks, top, needle):
    message = error_of(tmp_path, tasks, **top)
    assert needle in message
    assert "suite.yaml" in message


def test_missing_folder_file_and_bad_yaml(tmp_path):
    with pytest.raises(ValidationError, match="does not exist"):
        load_suite(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValidationError, match="needs a suite.yaml"):
        load_suite(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "suite.yaml").write_text("tasks: [\n  - id: x\n")
    with pytest.raises(ValidationError, match="is not valid YAML at line"):
        load_suite(bad)
    (bad / "suite.yaml").write_text("tasks: []\n")
    with pytest.raises(ValidationError, match="needs a non-empty 'tasks' list"):
        load_suite(bad)


def test_duplicate_input_names_are_refused(tmp_path):
    folder = make_suite(tmp_path / "s", [task()])
    (folder / "other").mkdir()
    (folder / "other" / "a.csv").write_text("x\n")
    (folder / "suite.yaml").write_text(
        yaml.safe_dump({"tasks": [task(fixtures={"files": ["data/a.csv", "other/a.csv"]})]})
    )
    with pytest.raises(ValidationError, match="two files named 'a.csv'"):
        load_suite(folder)
