"""Whether a subagent's result may end the run as its answer (`run_subagent(final=true)`).

A final answer skips the model's last look at the result, so it has to be earned: the reused subagent is
mature and the result looks like the results it is known for. Mature means the library version has
stored cases (the library admits a version only through its own successful runs or the regression gate,
so every stored case passes) and the experience store records at least `final_min_runs` earlier task
runs in which this version (or one with its code) succeeded, recorded by this agent or an agent it
trusts (experience.trust: pulled rows rank search results, they never make a result final). The result
must have the shape of its cases: the same keys, each of the same JSON type. Anything short of that
sends the result back to the model for one turn, with the reason.
`final_answers = false` turns final answers off entirely (the benchmark's "final off" figures).

This module decides; it never executes, saves or emits anything except the one decision event.
"""

from __future__ import annotations

from typing import Any

from agentfactory.config import RunPolicy
from agentfactory.library.cases import Case, json_type
from agentfactory.records import record


@record(frozen=True)
class FinalVerdict:
    used: bool
    reason: str = ""  # why the result is not final; empty when it is

    def note(self) -> str:
        """The line added to the tool result when the result goes back to the model."""
        return f"Not final: {self.reason}. Check the result, then finish." if not self.used else ""


def _json_type(value: Any) -> str:
    """The case's JSON type of `value`, integers as numbers: 2 and 2.0 are the same JSON number."""
    kind = json_type(value)
    return "number" if kind == "integer" else kind


def case_shape(case: Case) -> dict[str, str | None]:
    """Key -> JSON type of the results a case stands for (None where only the key's presence is known)."""
    shape: dict[str, str | None] = {key: _json_type(value) for key, value in case.expected.items()}
    for key, kind in (case.checks.get("types") or {}).items():
        shape[key] = "number" if kind == "integer" else kind
    for key, summary in (case.checks.get("summaries") or {}).items():
        kind = summary.get("type") if isinstance(summary, dict) else None
        shape[key] = ("number" if kind == "integer" else kind) if isinstance(kind, str) else None
    for key in case.checks.get("keys") or []:
        shape.setdefault(key, None)
    return shape


def shape_problem(result: Any, cases: list[Case]) -> str | None:
    """None when `result` has the keys and types of one of the cases' results, else why not."""
    if not isinstance(result, dict):
        return f"the result is a {type(result).__name__}, not an object like its cases' results"
    problems = []
    for case in cases:
        shape = case_shape(case)
        if set(result) != set(shape):
            missing, extra = sorted(set(shape) - set(result)), sorted(set(result) - set(shape))
            parts = ([f"lacks {missing}"] if missing else []) + ([f"adds {extra}"] if extra else [])
            problems.append(f"the result {' and '.join(parts)} compared with its stored cases")
            continue
        wrong = [k for k, kind in shape.items() if kind is not None and _json_type(result[k]) != kind]
        if not wrong:
            return None
        key = wrong[0]
        problems.append(f"output key {key!r} is a {_json_type(result[key])}, its cases have a {shape[key]}")
    return problems[0] if problems else "it has no stored cases to compare the result with"


def prior_successful_runs(experience: Any, name: str, run_id: str, version: int | None = None) -> int:
    """Earlier task runs in which `name` (at `version`) succeeded, as trusted agents recorded them (the
    experience store's count, this run left out)."""
    return int(experience.successful_runs(name, version, exclude_run=run_id))


def decide(policy: RunPolicy, experience: Any, run_id: str, sub: Any | None, result: Any) -> FinalVerdict:
    """Whether the successful result of `sub` (a library version; None for a candidate of this run)
    becomes the answer. A candidate keeps the behaviour `final` always had: it is saved and answers."""
    if not policy.final_answers:
        return FinalVerdict(False, "final answers are turned off (setting final_answers)")
    if sub is None:
        return FinalVerdict(True)
    if not sub.cases:
        return FinalVerdict(False, f"'{sub.name}' v{sub.version} has no stored cases, so it is not mature")
    needed = int(policy.final_min_runs)
    runs = 0 if experience is None else prior_successful_runs(experience, sub.name, run_id, sub.version)
    if runs < needed:
        return FinalVerdict(
            False,
            f"'{sub.name}' has {runs} earlier successful runs, fewer than the {needed} a final answer "
            "needs (setting final_min_runs)",
        )
    problem = shape_problem(result, list(sub.cases))
    if problem:
        return FinalVerdict(False, problem)
    return FinalVerdict(True)
