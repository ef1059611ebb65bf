"""`run_subagent(final=true)`: a successful run answers the task with no further model turn.

A failing run, or one whose result holds NaN, comes back to the model as an ordinary trace; a
candidate run as final is saved as `finish` would save it.
"""

from __future__ import annotations

from agentfactory.meta.handlers import result_answer

from .conftest import COLUMN_SUM, call, make_env
from .test_failed_reuse import NAME, SKIP_BLANKS, install

TASK = "Total the amount column of the costs file."


def test_final_reuse_ends_the_run_with_the_result(tmp_path):
    # One earlier successful run is all this test has; tests/meta/test_final_earned.py covers maturity.
    env = make_env(tmp_path, final_min_runs=1)
    install(env)
    costs = env.file("costs.csv", "item,amount\nink,3\nlamp,4.5\n")
    inputs = {"path": "inputs/costs.csv", "column": "amount"}
    # The script has a second turn the run must never ask for.
    result = env.run(
        TASK,
        [call("run_subagent", name=NAME, inputs=inputs, final=True), call("finish", answer="unused")],
        [costs],
    )
    assert result.status == "success" and result.model_calls == 1
    assert result.answer == "total: 7.5\nrows: 2"
    assert result.reused == [NAME] and result.saved == []
    finished = [e for e in env.events(result) if e["type"] == "run_finished"]
    assert finished and finished[0]["status"] == "success"


def test_final_run_that_fails_returns_the_trace_and_continues(tmp_path):
    env = make_env(tmp_path)
    install(env)
    costs = env.file("costs.csv", "item,amount\nink,3\nbox,\nlamp,4\n")
    inputs = {"path": "inputs/costs.csv", "column": "amount"}
    result = env.run(
        TASK,
        [
            call("run_subagent", name=NAME, inputs=inputs, final=True),
            call("modify_subagent", name=NAME, edits=SKIP_BLANKS, reason="skip blank cells"),
            call("run_subagent", name=NAME, inputs=inputs),
            call("finish", answer="7.0", save=[NAME]),
        ],
        [costs],
    )
    assert result.status == "success" and result.answer == "7.0"
    assert result.model_calls == 4 and result.saved == [(NAME, 2)]
    trace = env.providers[1].requests[1][1][-1].tool_results[0]
    assert trace.is_error and "could not convert string to float" in trace.content


def test_final_result_with_nan_is_not_an_answer(tmp_path):
    env = make_env(tmp_path)
    install(env)
    costs = env.file("costs.csv", "item,amount\nink,nan\nlamp,4\n")
    inputs = {"path": "inputs/costs.csv", "column": "amount"}
    result = env.run(
        TASK,
        [
            call("run_subagent", name=NAME, inputs=inputs, final=True),
            call("finish", answer="the ink amount is not a number"),
        ],
        [costs],
    )
    assert result.model_calls == 2 and result.answer == "the ink amount is not a number"
    seen = env.providers[1].requests[1][1][-1].tool_results[0].content
    assert "Not final: the result holds NaN or infinite numbers." in seen


def test_final_candidate_is_saved(tmp_path):
    env = make_env(tmp_path)
    sales = env.file("sales.csv", "item,amount\npen,2.5\nbook,10\n")
    result = env.run(
        "Total the amount column of the sales file.",
        [
            call("create_subagent", name=NAME, description="Sum a CSV column.", code=COLUMN_SUM),
            call(
                "run_subagent",
                name=NAME,
                inputs={"path": "inputs/sales.csv", "column": "amount"},
                final=True,
            ),
        ],
        [sales],
    )
    assert result.status == "success" and result.answer == "total: 12.5\nrows: 2"
    assert result.saved == [(NAME, 1)]
    assert len(env.library.get(NAME).cases) == 1


def test_result_answer_prefers_the_answer_field():
    result = {"answer": "North sells most: 3983.71.", "values": {"north": 3983.71}}
    assert result_answer(result, ["totals.json"]) == "North sells most: 3983.71.\nFiles: totals.json"


def test_result_answer_lists_fields_then_files():
    answer = result_answer({"r_squared": 0.9, "top": "north", "values": {"a": 1}}, ["chart.png"])
    assert answer == 'r squared: 0.9\ntop: north\nvalues: {"a": 1}\nFiles: chart.png'
    assert result_answer({}, []) == "The subagent finished with an empty result."
