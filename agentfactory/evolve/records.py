"""What evolve plans, decides and reports: failing cases, plans, rounds, outcomes, the run's report.

Plain dataclasses and the rules that read them (the run's status from its outcomes). Nothing here runs,
writes or calls a model.
"""

from __future__ import annotations

import time
from dataclasses import asdict, field
from pathlib import Path
from typing import Any

from agentfactory.errors import UsageError
from agentfactory.library import Case
from agentfactory.records import record

ACCEPT_ALL = "all"  # every failing case shown to the model must pass
ACCEPT_MORE = "more"  # strictly more failing cases pass than before
DEFAULT_CANDIDATES = 5  # subagents evolved without names or --all
MAX_FAILING_CASES = 8  # distinct failing inputs taken per subagent, most recent first
SOURCE = "evolve"  # the source of evolve's gate decisions

# Verdicts that leave a subagent without the version evolve set out to make ("skipped" means there was
# nothing to do for it). One of them makes the evolve run a failed task and its exit code 1.
FAILED_VERDICTS = ("rejected", "refused", "error", "inconclusive", "budget_exhausted", "interrupted")
# Verdicts that stop the whole run: the subagents after it are not started.
STOPPING_VERDICTS = {"budget_exhausted": "budget_exhausted", "interrupted": "interrupted"}


@record
class FailingCase:
    """An input a subagent failed on, as a case to fix: inputs, what the output must satisfy if known."""

    inputs: dict[str, Any]
    expected: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    kind: str = ""  # error kind and input shape: failures of one kind are siblings
    error: str = ""
    run_id: str | None = None
    fixtures: Path | None = None  # the folder `inputs/...` paths in the inputs refer to
    held_out: bool = False  # hidden from the model, used in validation (the generalisation check)
    trace: Any = None  # the latest trace on the current version (recorded, then the fresh one)
    # From a run the user rated bad: the execution succeeded, but its result is the one to change.
    rated_bad: bool = False
    rejected_result: Any = None

    def case(self) -> Case:
        return Case(
            inputs=dict(self.inputs),
            expected=dict(self.expected),
            checks=dict(self.checks),
            run_id=self.run_id,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": self.inputs,
            "kind": self.kind,
            "error": self.error,
            "run_id": self.run_id,
            "held_out": self.held_out,
            "rated_bad": self.rated_bad,
        }


@record
class EvolvePlan:
    """What would be evolved and why: the dry run's answer and the loop's input."""

    name: str
    version: int
    failures: int
    last_failure_ts: float | None
    stored_cases: int
    failing: list[FailingCase]
    skipped: list[str] = field(default_factory=list)  # failures that cannot be replayed, and why
    rated_bad: int = 0  # of `failures`: successful executions in runs the user rated bad

    @property
    def why(self) -> str:
        if not self.failures and not self.failing:
            return f"no failures recorded since v{self.version}: nothing to fix"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.last_failure_ts or 0))
        kinds: dict[str, int] = {}
        for case in self.failing:
            kind = case.kind.split("|", 1)[0] or "failure"
            kinds[kind] = kinds.get(kind, 0) + 1
        shown = ", ".join(f"{k}×{n}" for k, n in kinds.items()) or "none replayable"
        held = sum(c.held_out for c in self.failing)
        rated = f" ({self.rated_bad} rated bad)" if self.rated_bad else ""
        text = f"{self.failures} failed execution(s){rated} of v{self.version}, last {when}; cases: {shown}"
        if held:
            text += f" ({held} held out)"
        if self.skipped:
            text += f"; {len(self.skipped)} not replayable"
        if not self.stored_cases:
            text += "; no stored cases"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "failures": self.failures,
            "last_failure_ts": self.last_failure_ts,
            "stored_cases": self.stored_cases,
            "failing_cases": [c.to_dict() for c in self.failing],
            "skipped": self.skipped,
            "rated_bad": self.rated_bad,
            "why": self.why,
        }


@record
class RoundRecord:
    round: int
    verdict: str  # accepted, rejected, inconclusive
    reason: str
    stored: tuple[int, int] = (0, 0)
    failing: tuple[int, int] = (0, 0)
    held_out: tuple[int, int] = (0, 0)


@record
class EvolveOutcome:
    name: str
    version_before: int | None
    version_after: int | None
    verdict: str  # accepted, skipped, or one of FAILED_VERDICTS
    reason: str
    passing_before: tuple[int, int] = (0, 0)  # (passing, total) over stored + failing + held-out cases
    passing_after: tuple[int, int] = (0, 0)
    held_out: tuple[int, int] = (0, 0)  # of the accepted revision
    rounds: list[RoundRecord] = field(default_factory=list)
    tokens: int = 0
    new_cases: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@record
class EvolveReport:
    run_id: str
    workspace: str
    model: str
    simulated: bool
    outcomes: list[EvolveOutcome]
    tokens: int = 0
    status: str = "success"  # the run's: success, task_failed, budget_exhausted, interrupted
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "outcomes": [o.to_dict() for o in self.outcomes]}


@record
class EvolveOptions:
    rounds: int = 3
    accept: str = ACCEPT_ALL
    hold_out: bool = True  # hold out one sibling of each failing kind that has two or more
    require_held_out: bool = False  # held-out cases are reported; with this they must pass too
    require_stored_cases: bool = True  # refuse subagents with no stored case (nothing guards them)
    lock_timeout_s: float = 5.0
    max_failing_cases: int = MAX_FAILING_CASES

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise UsageError("--rounds must be at least 1.")
        if self.accept not in (ACCEPT_ALL, ACCEPT_MORE):
            raise UsageError(f"--accept must be '{ACCEPT_ALL}' or '{ACCEPT_MORE}', not {self.accept!r}.")


def run_status(outcomes: list[EvolveOutcome]) -> tuple[str, str]:
    """The evolve run's status and reason: `budget_exhausted` or `interrupted` when a subagent's loop
    stopped on it, `success` when every subagent got an accepted version or had nothing to do, else
    `task_failed` with a reason that names the subagents left unchanged and why."""
    for outcome in outcomes:
        if outcome.verdict in STOPPING_VERDICTS:
            return STOPPING_VERDICTS[outcome.verdict], f"{outcome.name}: {outcome.reason}"[:2000]
    failed = [o for o in outcomes if o.verdict in FAILED_VERDICTS]
    if not failed:
        return "success", ""
    named = "; ".join(f"{o.name} {o.verdict} ({o.reason})" for o in failed)
    reason = f"no accepted version for {len(failed)} of {len(outcomes)} subagent(s): {named}"
    return "task_failed", reason[:2000]


def summary_line(outcomes: list[EvolveOutcome]) -> str:
    accepted = [o for o in outcomes if o.verdict == "accepted"]
    return f"{len(accepted)} of {len(outcomes)} subagent(s) evolved" + (
        ": " + ", ".join(f"{o.name} v{o.version_before}→v{o.version_after}" for o in accepted)
        if accepted
        else ""
    )
