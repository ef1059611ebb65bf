"""What a suite declares for the simulated model: capabilities, inputs, llm answers, bugs, revisions.

Loading refuses, in one sentence naming the file and the task, a declaration the oracle could not use;
a task in scope that declares nothing loads but is listed by `Suite.undeclared()`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from agentfactory_bench import CORE_SUITE, load_suite

from agentfactory.errors import ValidationError

from .test_oracle_rules import make_suite


def _edit_suite(root: Path, change) -> None:
    raw = yaml.safe_load((root / "suite.yaml").read_text())
    change(raw)
    (root / "suite.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))


def _edit_capability(root: Path, change) -> None:
    path = root / "capabilities/column-total/capability.yaml"
    raw = yaml.safe_load(path.read_text())
    change(raw)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def test_the_capability_record(tmp_path):
    suite = load_suite(make_suite(tmp_path / "s"))
    cap = suite.capability("column-total")
    assert (cap.name, cap.entry, cap.tools, cap.filename) == (
        "column-total",
        "column_total",
        (),
        "column_total.py",
    )
    assert cap.description == "Sums one numeric column of a CSV file."
    assert "def run(csv_path" in cap.code and "col = column\n" in cap.draft()
    assert suite.task("total-a").capabilities == ("column-total",)
    with pytest.raises(KeyError, match="defines no capability 'nope'"):
        suite.capability("nope")


def test_undeclared_tasks_are_listed_not_refused(tmp_path):
    root = make_suite(tmp_path / "s")

    def strip(raw):
        for key in ("capabilities", "inputs"):
            raw["tasks"][1].pop(key)

    _edit_suite(root, strip)
    assert load_suite(root).undeclared() == ["total-b"]


@pytest.mark.parametrize(
    "change, needle",
    [
        (
            lambda raw: raw["tasks"][0].update(capabilities=["no-such-cap"], inputs={}),
            "needs capability 'no-such-cap'",
        ),
        (lambda raw: raw["tasks"][0].update(capabilities=["Column_Total"]), "kebab-case capability names"),
        (lambda raw: raw["tasks"][0]["inputs"].update(other={}), "'inputs' names 'other'"),
        (lambda raw: raw["tasks"][0].update(llm=[{"when": "", "answer": "x"}]), "each 'llm' entry needs"),
        (
            lambda raw: raw["tasks"][0].update(revise={"column-total": "v2"}),
            "'revise' names 'column-total: v2'",
        ),
        (lambda raw: raw.update(capabilities_from="../core"), "'capabilities_from' must name another suite"),
    ],
)
def test_bad_task_declarations_are_one_sentence(tmp_path, change, needle):
    root = make_suite(tmp_path / "s")
    _edit_suite(root, change)
    with pytest.raises(ValidationError, match=needle):
        load_suite(root)


@pytest.mark.parametrize(
    "change, needle",
    [
        (lambda raw: raw["bug"]["edits"][0].update(old="not in the code"), "an edit no longer applies"),
        (lambda raw: raw["bug"]["edits"][0].update(new=""), "non-empty 'new'"),
        (lambda raw: raw.update(entry="missing_module"), "missing_module.py is missing"),
        (lambda raw: raw.update(name="other-name"), "'name' must be the folder's name"),
        (lambda raw: raw.update(revisions={"v2": [{"old": "nope", "new": "x"}]}), None),
    ],
)
def test_bad_capabilities_are_one_sentence(tmp_path, change, needle):
    root = make_suite(tmp_path / "s")
    _edit_capability(root, change)
    if needle is None:  # a stale revision is refused when a task asks for it
        _edit_suite(root, lambda raw: raw["tasks"][1].update(revise={"column-total": "v2"}))
        needle = "an edit no longer applies"
    with pytest.raises(ValidationError, match=needle):
        load_suite(root)


def test_a_revision_is_the_reference_code_with_its_edits(tmp_path):
    root = make_suite(tmp_path / "s")
    edit = {"old": 'column="amount"', "new": 'column="Amount"'}
    _edit_capability(root, lambda raw: raw.update(revisions={"capitalised": [edit]}))
    _edit_suite(root, lambda raw: raw["tasks"][1].update(revise={"column-total": "capitalised"}))
    suite = load_suite(root)
    cap = suite.capability("column-total")
    assert cap.revised("capitalised") == cap.code.replace('column="amount"', 'column="Amount"')
    assert "col = column\n" in cap.draft("capitalised")  # the bug applies on top of the revision


@pytest.mark.parametrize("name", ["rephrased", "variants", "variants2", "variants3"])
def test_regression_suites_take_core_capabilities_and_declare_every_task(name):
    suite = load_suite(CORE_SUITE.parent / name)
    assert suite.undeclared() == []
    assert set(suite.capabilities) == set(load_suite(CORE_SUITE).capabilities)
