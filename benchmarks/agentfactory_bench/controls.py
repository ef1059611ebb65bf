"""Negative controls: answers that solve nothing must fail every task's checks, or the suite is invalid.

Three controls run on every task: an empty answer with no output files, a generic refusal, and the task
text echoed back (no files either). Each check that is evidence of success (every kind but the guards
`answer_not_contains` and `file_not_contains`, which only forbid) must fail under each control, and so
must the task as a whole. A check that passes a control is vacuous: it would credit a method that did
nothing. Out-of-scope tasks get the same controls, so their checks verify a correct result; saying
"cannot" is credited only through an honest `task_failed`, which the harness counts.

`python` checks run in the sandbox, once per check for all three controls (the controls share the empty
outputs folder; only the answer differs). Nothing here writes outside the scratch folder it is given.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentfactory.errors import ValidationError
from agentfactory_bench.checkers import (
    CHECK_ENTRY,
    PythonCheckFiles,
    build_python_check,
    declarative_check,
    interpret_execution,
    local_origins_hidden,
)
from agentfactory_bench.suite import Suite, Task

GUARDS = ("answer_not_contains", "file_not_contains")
REFUSAL = (
    "I'm sorry, but I cannot complete this task. I was unable to access the data or tools it needs, so I "
    "could not produce the requested results or files."
)
# The fixture server's address as the echoed text shows it; checks see every loopback origin hidden.
_ECHO_BASE_URL = "http://127.0.0.1:8000"


def control_answers(task: Task) -> dict[str, str]:
    """The three controls' answers for `task`: name -> answer (none of them produces a file)."""
    return {"empty": "", "refusal": REFUSAL, "echo": task.render_text(_ECHO_BASE_URL)}


# Runs one python check for several answers over empty outputs: (passed, message) per answer.
ControlRunner = Callable[[PythonCheckFiles, list[str]], list[tuple[bool, str]]]

_MULTI_ENTRY = '''"""Runs a suite's python check once per answer: check(answer, outputs_dir, fixtures_dir)."""
import importlib.util
from pathlib import Path


def run(answers: list) -> dict:
    spec = importlib.util.spec_from_file_location("suite_check", Path(__file__).with_name("suite_check.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = []
    for answer in answers:
        try:
            outcome = module.check(answer, Path("inputs/outputs"), Path("inputs/fixtures"))
            passed, message = (outcome, "") if isinstance(outcome, bool) else outcome
        except Exception as exc:
            passed, message = False, f"{type(exc).__name__}: {exc}"
        out.append({"passed": bool(passed), "message": str(message)[:500]})
    return {"results": out}
'''


@dataclass(frozen=True)
class VacuousCheck:
    task: str
    control: str
    check: str  # the check kind, or "all checks" when only the task as a whole passed

    def sentence(self) -> str:
        return (
            f"task '{self.task}': check '{self.check}' passes the {self.control} negative control "
            f"({_WHAT[self.control]}), so it cannot tell a solved task from one that was not"
        )


_WHAT = {
    "empty": "an empty answer with no files",
    "refusal": "a generic refusal",
    "echo": "the task text echoed back",
}


def sandbox_control_runner(settings: Any, backend: Any = None) -> ControlRunner:
    """A ControlRunner over `backend`, or the configured sandbox backend (opened and closed per call)."""

    def run(files: PythonCheckFiles, answers: list[str]) -> list[tuple[bool, str]]:
        from agentfactory.sandbox import ExecutionRequest, get_backend

        runner = backend or get_backend(settings.sandbox)
        try:
            outcome = runner.execute(
                ExecutionRequest(
                    files.code_dir,
                    files.entry,
                    {"answers": answers},
                    workdir=files.workdir,
                    timeout_s=settings.sandbox.timeout_s,
                )
            )
        finally:
            if backend is None:
                runner.close()
        result = getattr(outcome, "result", None)
        if isinstance(result, dict) and isinstance(result.get("results"), list):
            return [(bool(r.get("passed")), str(r.get("message", ""))) for r in result["results"]]
        # The check could not even run: every control fails it, which is not vacuity.
        return [interpret_execution(outcome)] * len(answers)

    return run


def negative_controls(task: Task, python: ControlRunner | None, scratch: Path) -> list[VacuousCheck]:
    """The vacuous checks of `task`: each (control, check) where a check that is evidence passed."""
    answers = control_answers(task)
    empty = scratch / "empty-outputs"
    empty.mkdir(parents=True, exist_ok=True)
    found: list[VacuousCheck] = []
    passed_all: dict[str, bool] = {}
    python_results: dict[int, list[tuple[bool, str]]] = {}
    for index, check in enumerate(task.checks):
        if check.kind == "python":
            if python is None:
                raise ValidationError(
                    f"task '{task.id}' has a python check, and no sandbox was given to run its controls."
                )
            dest = Path(tempfile.mkdtemp(prefix="af-control-", dir=scratch))
            files = build_python_check(task, Path(check.arg), "", empty, dest)
            (files.code_dir / f"{CHECK_ENTRY}.py").write_text(_MULTI_ENTRY, encoding="utf-8")
            python_results[index] = python(files, [local_origins_hidden(a) for a in answers.values()])
    for control, answer in answers.items():
        shown = local_origins_hidden(answer)
        outcomes: list[bool] = []
        for index, check in enumerate(task.checks):
            if check.kind == "python":
                ok = python_results[index][list(answers).index(control)][0]
            else:
                ok = declarative_check(check, shown, empty)[0]
            outcomes.append(ok)
        passed_all[control] = all(outcomes)
        # "improving" in the answer is evidence when "getting worse" must be absent: an answer check
        # passed by the control is vacuous only if no answer guard of the task rejects the control.
        answer_guarded = any(
            not ok for ok, c in zip(outcomes, task.checks, strict=True) if c.kind == "answer_not_contains"
        )
        for ok, check in zip(outcomes, task.checks, strict=True):
            if not ok or check.kind in GUARDS:
                continue
            if check.kind.startswith("answer_") and answer_guarded:
                continue
            found.append(VacuousCheck(task.id, control, check.kind))
        if passed_all[control] and not any(v.control == control for v in found):
            found.append(VacuousCheck(task.id, control, "all checks"))
    return found


def validate_suite(suite: Suite, python: ControlRunner | None) -> int:
    """Run the negative controls on every task; ValidationError naming the first vacuous check, else
    the number of (task, control) pairs that were checked."""
    with tempfile.TemporaryDirectory(prefix="af-controls-") as tmp:
        for task in suite.tasks:
            found = negative_controls(task, python, Path(tmp) / task.id)
            if found:
                more = f" ({len(found) - 1} more in this task)" if len(found) > 1 else ""
                raise ValidationError(f"Suite {suite.name} is invalid: {found[0].sentence()}{more}.")
    return len(suite.tasks) * 3
