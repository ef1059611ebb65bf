"""Failed reuse: a saved subagent fails on new inputs, the model modifies it, the regression gate decides.

A revision that breaks a stored case is refused (library unchanged, reason in RunResult.rejected); a
correct one becomes the next version with the stored cases plus the new ones.
"""

from __future__ import annotations

from .conftest import COLUMN_SUM, call, make_env

NAME = "column-sum"
SKIP_BLANKS = [
    {
        "old": "float(row[column]) for row in rows)",
        "new": "float(row[column]) for row in rows if row[column].strip())",
    }
]
# Also copes with blanks, but rounds every cell: the stored case (2.5 + 10 = 12.5) breaks.
ROUND_CELLS = [
    {
        "old": "float(row[column]) for row in rows)",
        "new": "round(float(row[column] or 0)) for row in rows)",
    }
]


def install(env, file_name: str = "sales.csv"):
    sales = env.file(file_name, "item,amount\npen,2.5\nbook,10\n")
    result = env.run(
        "Total the amount column of the sales file.",
        [
            call(
                "create_subagent",
                name=NAME,
                description="Sum a numeric column of a CSV file.",
                code=COLUMN_SUM,
            ),
            call("run_subagent", name=NAME, inputs={"path": f"inputs/{file_name}", "column": "amount"}),
            call("finish", answer="12.5", save=[NAME]),
        ],
        [sales],
    )
    assert result.saved == [(NAME, 1)], result
    return result


def revise_and_finish(env, edits, reason, file_name: str = "costs.csv"):
    costs = env.file(file_name, "item,amount\nink,3\nbox,\nlamp,4\n")
    inputs = {"path": f"inputs/{file_name}", "column": "amount"}
    return env.run(
        "Total the amount column of the costs file.",
        [
            call("run_subagent", name=NAME, inputs=inputs),
            call("modify_subagent", name=NAME, edits=edits, reason=reason),
            call("run_subagent", name=NAME, inputs=inputs),
            call("finish", answer="7.0", save=[NAME]),
        ],
        [costs],
    )


def test_failed_reuse_gate_refuses_regression_then_saves_fix(tmp_path):
    env = make_env(tmp_path)
    install(env)
    lib = env.library
    head = lib.head()

    refused = revise_and_finish(env, ROUND_CELLS, "blank cells count as zero")
    assert refused.status == "success"  # the task was answered; only the save was refused
    assert refused.reused == [NAME] and refused.saved == []
    reason = refused.rejected[NAME]
    assert reason.startswith("1 of 2 cases fail: stored case 1 (ok):")
    assert "12.5" in reason
    # The first reuse failed with the subagent's own line; the model saw it.
    first_trace = env.providers[1].requests[1][1][-1].tool_results[0].content
    assert "status: error" in first_trace and "ValueError: could not convert string to float" in first_trace
    assert 'File "column_sum.py", line 14, in' in first_trace
    # Library untouched; the refusal is recorded with the broken case.
    assert lib.head() == head and [v.version for v in lib.history(NAME)] == [1]
    assert lib.get(NAME).code == COLUMN_SUM
    changes = [e for e in env.events(refused) if e["type"] == "library_change"]
    assert [(e["action"], e["source"], e["base_version"]) for e in changes] == [("rejected", "run", 1)]
    assert changes[0]["cases"] == {"stored": [0, 1], "new": [1, 1]}
    finish = [e for e in env.events(refused) if e["type"] == "tool_call"][-1]
    assert "regression gate refused it" in finish["result"]

    accepted = revise_and_finish(env, SKIP_BLANKS, "blank cells are skipped")
    assert accepted.status == "success" and accepted.rejected == {}
    assert accepted.saved == [(NAME, 2)]
    v2 = lib.get(NAME)
    assert v2.version == 2 and v2.parent_version == 1 and "if row[column].strip()" in v2.code
    assert [(c.inputs["path"], c.expected) for c in v2.cases] == [
        ("inputs/sales.csv", {"total": 12.5, "rows": 2}),
        ("inputs/costs.csv", {"total": 7.0, "rows": 3}),
    ]
    assert "blank cells are skipped" in v2.skill_md
    assert [v.version for v in lib.history(NAME)] == [1, 2]
    assert lib.get(NAME, 1).code == COLUMN_SUM  # the old version stays in the history
    changes = [e for e in env.events(accepted) if e["type"] == "library_change"]
    assert sorted((e["action"], e.get("version")) for e in changes) == [("accepted", 2), ("save", 2)]
    gate = next(e for e in changes if e["action"] == "accepted")
    assert gate["cases"] == {"stored": [1, 1], "new": [1, 1]} and gate["broken"] == []


def test_fix_with_same_input_file_name_keeps_each_case_with_its_own_file(tmp_path):
    """Runs often name their input the same (data.csv); a revision's new case must not replace the
    stored case's file, or the gate judges the revision against the wrong data."""
    env = make_env(tmp_path)
    install(env, "data.csv")
    accepted = revise_and_finish(env, SKIP_BLANKS, "blank cells are skipped", "data.csv")
    assert accepted.rejected == {} and accepted.saved == [(NAME, 2)], accepted.rejected
    v2 = env.library.get(NAME)
    assert [c.expected for c in v2.cases] == [{"total": 12.5, "rows": 2}, {"total": 7.0, "rows": 3}]
    stored, new = (c.inputs["path"] for c in v2.cases)
    assert stored == "inputs/data.csv" and new.startswith("inputs/data-") and new.endswith(".csv")
    fixtures = env.library.path / NAME / "fixtures"
    assert (fixtures / "data.csv").read_text() == "item,amount\npen,2.5\nbook,10\n"
    assert (fixtures / new.removeprefix("inputs/")).read_text() == "item,amount\nink,3\nbox,\nlamp,4\n"
