"""AgentFactory's benchmark (the `agentfactory-bench` distribution): task suites, checkers, the fixture
server, the baselines, the harness and the simulated model. It plugs into the product through entry
points (`agentfactory.providers`: `sim`; `agentfactory.commands`: `bench`, `demo`).

Public: `load_suite`, `Suite`, `Task`, `Check`, `check_task`, `CheckResult`, `FixtureServer`,
`prepare_task`, `PreparedTask`, `build_python_check`, `PythonCheckFiles`, `CORE_SUITE`.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

# name -> module that defines it, imported on first access (PEP 562): the product loads this package
# to list `bench` and `demo` in `agentfactory --help`, which needs none of the checkers, fixtures or suites.
_LAZY = {
    "CheckResult": "agentfactory_bench.checkers",
    "PythonCheckFiles": "agentfactory_bench.checkers",
    "build_python_check": "agentfactory_bench.checkers",
    "check_task": "agentfactory_bench.checkers",
    "sandbox_runner": "agentfactory_bench.checkers",
    "FixtureServer": "agentfactory_bench.fixtures",
    "PreparedTask": "agentfactory_bench.fixtures",
    "prepare_task": "agentfactory_bench.fixtures",
    "Check": "agentfactory_bench.suite",
    "Suite": "agentfactory_bench.suite",
    "Task": "agentfactory_bench.suite",
    "load_suite": "agentfactory_bench.suite",
}

if TYPE_CHECKING:
    from agentfactory_bench.checkers import (
        CheckResult,
        PythonCheckFiles,
        build_python_check,
        check_task,
        sandbox_runner,
    )
    from agentfactory_bench.fixtures import FixtureServer, PreparedTask, prepare_task
    from agentfactory_bench.suite import Check, Suite, Task, load_suite


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'agentfactory_bench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
