"""Retrieval ranking follows the store: a subagent that keeps failing sinks, a new one is not buried."""

from __future__ import annotations

from pathlib import Path

from agentfactory.experience import ExecutionRecord, ExperienceStore
from agentfactory.library import Library, build_subagent_folder

CODE = '''"""{purpose}

Inputs:
- path (str): CSV file

Outputs:
- total (float): the sum
"""


def run(path: str) -> dict:
    return {{"total": 0.0}}
'''


def _save(library: Library, tmp: Path, name: str, description: str) -> None:
    folder = build_subagent_folder(
        tmp / "src" / name, name=name, description=description, code=CODE.format(purpose=description)
    )
    library.save(folder, run_id="r0")


def test_ranking_changes_after_failures(tmp_path: Path, store: ExperienceStore):
    library = Library(tmp_path / "lib")
    library.ensure()
    _save(library, tmp_path, "csv-column-sum", "Sum a numeric column of a CSV file.")
    _save(library, tmp_path, "csv-sum-columns", "Sum a numeric column of a CSV file and report totals.")
    query = "sum a numeric column of a csv file"

    def ranking() -> list[str]:
        return [h.name for h in library.search(query, k=5, success_rates=store.success_rates())]

    before = ranking()
    assert set(before) == {"csv-column-sum", "csv-sum-columns"}
    leader, other = before
    for i in range(8):
        store.record_execution(
            ExecutionRecord.build(
                run_id=f"r{i}",
                agent_id="a",
                subagent=leader,
                version=1,
                inputs={"path": "inputs/x.csv"},
                success=False,
                error_kind="KeyError",
            )
        )
    assert ranking() == [other, leader]

    # A brand-new subagent with no record is not buried below one with a mixed record.
    _save(library, tmp_path, "csv-sum-tool", "Sum a numeric column of a CSV file.")
    for i in range(4):
        store.record_execution(
            ExecutionRecord.build(
                run_id=f"s{i}",
                agent_id="a",
                subagent=other,
                version=1,
                inputs={"path": "x"},
                success=i % 2 == 0,
            )
        )
    assert ranking().index("csv-sum-tool") < ranking().index(leader)
