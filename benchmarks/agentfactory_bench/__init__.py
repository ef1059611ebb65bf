"""AgentFactory's benchmark (the `agentfactory-bench` distribution): task suites, checkers, the fixture
server, the baselines, the harness and the simulated model. It plugs into the product through entry
points (`agentfactory.providers`: `sim`; `agentfactory.commands`: `bench`, `demo`).

Public: `load_suite`, `Suite`, `Task`, `Check`, `check_task`, `CheckResult`, `FixtureServer`,
`prepare_task`, `PreparedTask`, `build_python_check`, `PythonCheckFiles`, `CORE_SUITE`.
"""

from __future__ import annotations

from pathlib import Path

from agentfactory_bench.checkers import (
    CheckResult,
    PythonCheckFiles,
    build_python_check,
    check_task,
    sandbox_runner,
)
from agentfactory_bench.fixtures import FixtureServer, PreparedTask, prepare_task
from agentfactory_bench.suite import Check, Suite, Task, load_suite


def _core_suite() -> Path:
    # Inside an installed wheel the suites are package data; in a source checkout (an editable install)
    # they live beside the package, in benchmarks/suites.
    here = Path(__file__).resolve().parent
    packaged = here / "suites" / "core"
    return packaged if packaged.is_dir() else here.parent / "suites" / "core"


CORE_SUITE = _core_suite()

__all__ = [
    "CORE_SUITE",
    "Check",
    "CheckResult",
    "FixtureServer",
    "PreparedTask",
    "PythonCheckFiles",
    "Suite",
    "Task",
    "build_python_check",
    "check_task",
    "load_suite",
    "prepare_task",
    "sandbox_runner",
]
