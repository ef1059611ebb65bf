"""A real subagent library in a temporary folder, with recorded runs, for the deploy tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from agentfactory.config import Settings, load_settings
from agentfactory.experience.records import ExecutionRecord, RunRecord
from agentfactory.experience.store import ExperienceStore
from agentfactory.library import Library, build_subagent_folder

NAME = "num-stats"
DESCRIPTION = (
    "Compute the mean, count and largest value of a list of numbers, optionally scaled. "
    "Use when a task needs quick summary statistics of numeric values."
)
# Standard library only, so the exported package installs in a fresh virtual environment offline.
CODE = '''"""Summary statistics of a list of numbers.

Purpose:
Mean, count and largest value of the numbers, each multiplied by `scale` first.

Inputs:
- numbers (list[float]): the values
- scale (float): factor applied to every value first

Outputs:
- mean (float): arithmetic mean of the scaled values
- count (int): how many values there are
- max (float): the largest scaled value

Limitations:
An empty list raises StatisticsError.
"""

import statistics


def run(numbers: list[float], scale: float = 1.0) -> dict:
    print("computing")  # a stray print: the exports must keep it off their JSON/protocol output
    values = [x * scale for x in numbers]
    return {"mean": statistics.fmean(values), "count": len(values), "max": max(values)}
'''
CASES = [
    {"inputs": {"numbers": [1, 2, 3]}, "expected": {"mean": 2.0, "count": 3, "max": 3}},
    {"inputs": {"numbers": [1.5, 2.5], "scale": 0.1}, "expected": {"mean": 0.2, "count": 2, "max": 0.25}},
]
INPUTS_SCHEMA = {
    "type": "object",
    "properties": {
        "numbers": {"type": "array", "items": {"type": "number"}, "description": "the values"},
        "scale": {"type": "number", "default": 1.0, "description": "factor applied to every value first"},
    },
    "required": ["numbers"],
    "additionalProperties": False,
}


@dataclass
class Env:
    root: Path
    library: Library
    settings: Settings

    def save(self, name: str, code: str, cases: list[dict], description: str = DESCRIPTION, **kw) -> None:
        folder = build_subagent_folder(
            self.root / "work", name=name, description=description, code=code, cases=cases, **kw
        )
        self.library.save(folder)

    def record_runs(self, name: str, count: int, version: int = 1) -> None:
        """`count` successful task runs of this agent, each executing `name` at `version` once."""
        agent = self.settings.policy.agent_id
        with ExperienceStore.open(self.settings.paths, self.settings.policy) as store:
            for i in range(count):
                run_id = f"run-{name}-{version}-{i}"
                store.record_execution(
                    ExecutionRecord(
                        run_id=run_id, agent_id=agent, subagent=name, version=version, success=True
                    )
                )
                store.record_run(
                    RunRecord(run_id=run_id, agent_id=agent, task="t", status="success", success=True)
                )

    def cli_args(self) -> list[str]:
        return ["--library", str(self.library.path), "--sandbox", "local"]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Env:
    """A library holding `num-stats` v1 (two passing cases) with three successful recorded runs."""
    monkeypatch.chdir(tmp_path)  # no agentfactory.toml around; default --out lands in tmp_path
    for var in (
        "AGENTFACTORY_DEPLOY_MIN_RUNS",
        "AGENTFACTORY_SANDBOX",
        "AGENTFACTORY_LIBRARY",
        "AGENTFACTORY_CONFIG",
    ):
        monkeypatch.delenv(var, raising=False)
    settings = load_settings(
        overrides={"library": tmp_path / "lib", "sandbox": "local"}, env={}, cwd=tmp_path
    )
    library = Library(settings.paths.library)
    e = Env(tmp_path, library, settings)
    e.save(
        NAME, CODE, CASES, inputs_schema=INPUTS_SCHEMA, limitations="An empty list raises StatisticsError."
    )
    e.record_runs(NAME, 3)
    return e
