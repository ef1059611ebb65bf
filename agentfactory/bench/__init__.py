"""The benchmark's data and checking half: task suites, checkers and the fixture server.

Public: `load_suite`, `Suite`, `Task`, `Check`, `check_task`, `CheckResult`, `FixtureServer`,
`prepare_task`, `PreparedTask`, `build_python_check`, `PythonCheckFiles`, `CORE_SUITE`.
"""

from __future__ import annotations

from pathlib import Path

from agentfactory.bench.checkers import (
    CheckResult,
    PythonCheckFiles,
    build_python_check,
    check_task,
    sandbox_runner,
)
from agentfactory.bench.fixtures import FixtureServer, PreparedTask, prepare_task
from agentfactory.bench.suite import Check, Suite, Task, load_suite


def _core_suite() -> Path:
    # The suites live beside the package in a source checkout (benchmarks/suites/core).
    return Path(__file__).resolve().parents[2] / "benchmarks" / "suites" / "core"


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
