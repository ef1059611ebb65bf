"""The regression gate: a revision replaces a saved subagent only if it passes every stored case.

Each case is executed in the sandbox and checked on its own; there is no averaging. A sandbox error
during a case is neither a pass nor a fail: it is retried, and if it persists the gate reports it and
refuses. The gate is shared by `finish` during a run and by `agentfactory evolve`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agentfactory import events as ev
from agentfactory.library import Case, check_case

MAX_EXPECTED_CHARS = 4000
SANDBOX_RETRIES = 2

# A case runner executes one case's inputs and returns the execution trace.
CaseRunner = Callable[[Case], Any]


@dataclass
class CaseOutcome:
    index: int
    origin: str  # "stored" or "new"
    passed: bool
    failures: list[str] = field(default_factory=list)
    status: str = "ok"
    trace: Any = None


@dataclass
class GateReport:
    outcomes: list[CaseOutcome]

    @property
    def passed(self) -> bool:
        return bool(self.outcomes) and all(o.passed for o in self.outcomes)

    def counts(self, origin: str | None = None) -> tuple[int, int]:
        chosen = [o for o in self.outcomes if origin is None or o.origin == origin]
        return sum(o.passed for o in chosen), len(chosen)

    @property
    def sandbox_errors(self) -> list[CaseOutcome]:
        """Cases whose execution failed in the sandbox itself even after retries: neither pass nor fail."""
        return [o for o in self.outcomes if o.status == "sandbox_error"]

    def broken(self, origin: str | None = None) -> list[CaseOutcome]:
        return [o for o in self.outcomes if not o.passed and (origin is None or o.origin == origin)]

    def reason(self) -> str:
        if not self.outcomes:
            return "no case to validate against"
        broken = [o for o in self.outcomes if not o.passed]
        if not broken:
            return "all cases pass"
        parts = []
        for o in broken[:3]:
            detail = "; ".join(o.failures[:2]) or o.status
            parts.append(f"{o.origin} case {o.index + 1} ({o.status}): {detail}")
        more = f" and {len(broken) - 3} more" if len(broken) > 3 else ""
        return f"{len(broken)} of {len(self.outcomes)} cases fail: " + " | ".join(parts) + more


def case_from_run(inputs: dict[str, Any], result: dict[str, Any], output_files: list[str]) -> Case:
    """A regression case recorded from a successful execution: small values exact, large ones by key."""
    expected, keys = {}, []
    for key, value in (result or {}).items():
        if len(json.dumps(value, default=str)) <= MAX_EXPECTED_CHARS:
            expected[key] = value
        else:
            keys.append(key)
    checks: dict[str, Any] = {}
    if keys:
        checks["keys"] = keys
    if output_files:
        checks["files"] = sorted(output_files)
    return Case(inputs=dict(inputs), expected=expected, checks=checks)


def run_gate(runner: CaseRunner, stored: list[Case], new: list[Case]) -> GateReport:
    outcomes = []
    for origin, cases in (("stored", stored), ("new", new)):
        for index, case in enumerate(cases):
            outcomes.append(run_case(runner, case, index, origin))
    return GateReport(outcomes)


def run_case(runner: CaseRunner, case: Case, index: int = 0, origin: str = "stored") -> CaseOutcome:
    for _attempt in range(SANDBOX_RETRIES + 1):
        trace = runner(case)
        if trace.status != "sandbox_error":
            break
    if trace.status != "ok":
        message = ""
        if trace.error:
            message = f"{trace.error.get('type', '')}: {trace.error.get('message', '')}".strip(": ")
        return CaseOutcome(index, origin, False, [message or trace.status], trace.status, trace)
    check = check_case(case, trace.result, list(trace.output_files))
    return CaseOutcome(index, origin, check.passed, list(check.failures), trace.status, trace)


BROKEN_IN_RECORD = 5  # broken cases described in one gate record
TRACE_IN_RECORD = 800  # characters of each broken case's compact trace kept in the record


def record_gate_decision(
    emit: Callable[..., Any],
    *,
    subagent: str,
    base_version: int | None,
    accepted: bool,
    reason: str,
    report: GateReport | None = None,
    version: int | None = None,
    source: str = "run",
    **extra: Any,
) -> None:
    """The one record of a gate decision (a `library_change` event, action accepted or rejected).

    Shared by `finish` during a run (source "run") and `agentfactory evolve` (source "evolve"), so both
    leave the same trail: per-origin case counts and, for each broken case, its failures and trace.
    """
    fields: dict[str, Any] = {
        "action": "accepted" if accepted else "rejected",
        "subagent": subagent,
        "base_version": base_version,
        "source": source,
        "reason": reason,
    }
    if version is not None:
        fields["version"] = version
    if report is not None:
        origins = dict.fromkeys(o.origin for o in report.outcomes)
        fields["cases"] = {origin: list(report.counts(origin)) for origin in origins}
        fields["broken"] = [
            {
                "origin": o.origin,
                "case": o.index + 1,
                "status": o.status,
                "failures": o.failures[:3],
                "trace": _compact(o.trace),
            }
            for o in report.broken()[:BROKEN_IN_RECORD]
        ]
    emit(ev.LIBRARY_CHANGE, **fields, **extra)


def _compact(trace: Any) -> str:
    if trace is None or not hasattr(trace, "compact"):
        return ""
    return trace.compact(max_chars=TRACE_IN_RECORD)
