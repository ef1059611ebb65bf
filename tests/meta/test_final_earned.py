"""`final: true` is earned: a reused subagent's result ends the run only when the subagent is mature
(stored cases, `final_min_runs` earlier successful runs) and the result has its cases' shape; otherwise
the result goes back to the model for one turn, with the reason, and a `final_decision` event says so.
"""

from __future__ import annotations

from agentfactory.events import FINAL_DECISION

from .conftest import call, make_env

NAME = "column-total"
# The result's shape depends on the data: blank cells give a different set of keys, a `text` column a
# total of another type. Its stored case (clean numbers) has {"total": number, "rows": number}.
SHAPED = '''"""Total one column of a CSV file.

Purpose: the sum of a numeric column of a CSV file with a header row.
Inputs: path (str), column (str).
Outputs: total (float), rows (int).
Limitations: blank cells give a note instead of a total.
"""
import csv


def run(path: str, column: str) -> dict:
    with open(path, newline="", encoding="utf-8") as fh:
        cells = [row[column] for row in csv.DictReader(fh)]
    if any(not cell.strip() for cell in cells):
        return {"total": None, "note": "blank cells"}
    if column == "text":
        return {"total": " ".join(cells), "rows": len(cells)}
    return {"total": sum(float(cell) for cell in cells), "rows": len(cells)}
'''
TASK = "Total the amount column of the costs file."


def install(env):
    sales = env.file("sales.csv", "item,amount\npen,2.5\nbook,10\n")
    result = env.run(
        "Total the amount column of the sales file.",
        [
            call("create_subagent", name=NAME, description="Total a CSV column.", code=SHAPED),
            call("run_subagent", name=NAME, inputs={"path": "inputs/sales.csv", "column": "amount"}),
            call("finish", answer="12.5", save=[NAME]),
        ],
        [sales],
    )
    assert result.saved == [(NAME, 1)], result


def reuse(env, content: str, column: str = "amount"):
    """Run the stored subagent as final on `content`; a second scripted turn answers if asked."""
    costs = env.file("costs.csv", content)
    inputs = {"path": "inputs/costs.csv", "column": column}
    return env.run(
        TASK,
        [call("run_subagent", name=NAME, inputs=inputs, final=True), call("finish", answer="checked")],
        [costs],
    )


def decisions(env, result):
    return [e for e in env.events(result) if e["type"] == FINAL_DECISION]


def seen_by_model(env) -> str:
    return env.providers[-1].requests[1][1][-1].tool_results[0].content


def test_final_refused_for_an_immature_subagent(tmp_path):
    env = make_env(tmp_path)  # default final_min_runs: 3
    install(env)
    result = reuse(env, "item,amount\nink,3\nlamp,4\n")
    assert result.status == "success" and result.model_calls == 2 and result.answer == "checked"
    assert "Not final: 'column-total' has 1 earlier successful runs, fewer than the 3" in seen_by_model(env)
    [decision] = decisions(env, result)
    assert decision["used"] is False and decision["version"] == 1 and "fewer than the 3" in decision["reason"]


def test_final_refused_for_a_result_with_other_keys(tmp_path):
    env = make_env(tmp_path, final_min_runs=1)
    install(env)
    result = reuse(env, "item,amount\nink,3\nbox,\n")
    assert result.model_calls == 2 and result.answer == "checked"
    seen = seen_by_model(env)
    assert "Not final: the result lacks ['rows'] and adds ['note'] compared with its stored cases" in seen
    assert [d["used"] for d in decisions(env, result)] == [False]


def test_final_refused_for_a_result_with_other_types(tmp_path):
    env = make_env(tmp_path, final_min_runs=1)
    install(env)
    result = reuse(env, "item,text\nink,blue\nlamp,red\n", column="text")
    assert result.model_calls == 2
    assert "Not final: output key 'total' is a string, its cases have a number" in seen_by_model(env)


def test_final_used_for_a_mature_subagent(tmp_path):
    env = make_env(tmp_path, final_min_runs=2)
    install(env)
    second = reuse(env, "item,amount\nink,3\nlamp,4\n")  # one earlier run: not yet final
    assert second.model_calls == 2 and second.status == "success"
    third = reuse(env, "item,amount\nink,3\nlamp,4.5\n")
    assert third.status == "success" and third.model_calls == 1
    assert third.answer == "total: 7.5\nrows: 2"
    assert [d["used"] for d in decisions(env, third)] == [True]


def test_final_answers_off_refuses_even_a_mature_subagent(tmp_path):
    env = make_env(tmp_path, final_min_runs=0, final_answers=False)
    install(env)
    result = reuse(env, "item,amount\nink,3\nlamp,4\n")
    assert result.model_calls == 2
    assert "Not final: final answers are turned off (setting final_answers)" in seen_by_model(env)
