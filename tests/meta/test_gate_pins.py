"""Through a scripted run: a case recorded from a run pins the output file's content and the shape of a
large value, so a hollow revision (empty CSV, empty list, same names) is refused by the gate."""

from __future__ import annotations

from pathlib import Path

from .conftest import call, make_env

SQUARES = '''"""Write the squares of 1..n to outputs/squares.csv and return them.

Inputs:
- n (int): how many squares
Outputs:
- squares (list): the squares
"""
import csv


def run(n: int) -> dict:
    rows = [(i, i * i) for i in range(1, n + 1)]
    with open("outputs/squares.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["i", "square"])
        writer.writerows(rows)
    return {"squares": [s for _, s in rows], "count": n}
'''

# The revision an attacker (or a careless edit) proposes: same keys, same file name, nothing in them.
HOLLOW = SQUARES.replace(
    '        writer.writerow(["i", "square"])\n        writer.writerows(rows)\n', "        pass\n"
).replace('return {"squares": [s for _, s in rows], "count": n}', 'return {"squares": [], "count": n}')


def test_an_empty_csv_and_an_empty_list_do_not_pass_a_case_recorded_from_a_run(tmp_path: Path) -> None:
    env = make_env(tmp_path)
    first = env.run(
        "Squares of 1..1500 as a CSV",
        [
            call("create_subagent", name="squares-csv", description="Squares to a CSV.", code=SQUARES),
            call("run_subagent", name="squares-csv", inputs={"n": 1500}),
            call("finish", answer="done", save=["squares-csv"]),
        ],
    )
    assert first.saved == [("squares-csv", 1)]
    (case,) = env.library.get("squares-csv").cases
    assert case.expected == {"count": 1500}
    assert case.checks["summaries"]["squares"]["length"] == 1500
    assert case.checks["files"] == ["squares.csv"]  # readers that know no pins still check the name
    pin = case.checks["file_pins"]["squares.csv"]
    assert pin["head"] == "i,square" and pin["lines"] == 1501 and pin["size"] > 10_000

    second = env.run(
        "Squares of 1..3 as a CSV",
        [
            call("modify_subagent", name="squares-csv", code=HOLLOW, reason="faster"),
            call("run_subagent", name="squares-csv", inputs={"n": 3}),
            call("finish", answer="done", save=["squares-csv"]),
        ],
    )
    assert second.saved == []
    reason = second.rejected["squares-csv"]
    assert "stored case 1" in reason and "squares: got 0 items, expected 1500" in reason
    assert env.library.get("squares-csv").version == 1
