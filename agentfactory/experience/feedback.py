"""User feedback on a run, and what it changes for evolve.

A run rated bad (`agentfactory feedback RUN --bad`, or a score under BAD_SCORE_BELOW) marks the library
subagents it executed as evolve candidates: each input they ran on in that run becomes a failing case
whose recorded output is the one to change, even though the execution itself raised nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agentfactory.errors import UsageError
from agentfactory.experience.store import BAD_SCORE_BELOW, ExperienceStore


@dataclass
class FeedbackResult:
    run_id: str
    score: float | None
    note: str | None
    bad: bool
    subagents: list[str] = field(default_factory=list)  # made eligible for evolve by a bad rating

    def to_dict(self) -> dict[str, object]:
        return {"run_id": self.run_id, "score": self.score, "note": self.note, "bad": self.bad,
                "evolve_candidates": self.subagents}  # fmt: skip


def record_feedback(
    store: ExperienceStore, run_id: str, *, score: float | None, note: str | None, bad: bool = False
) -> FeedbackResult:
    """Record feedback; `bad` is a score of 0. Returns the subagents the rating made evolve candidates."""
    if bad:
        if score is not None and score >= BAD_SCORE_BELOW:
            raise UsageError(f"--bad means a score of 0; it cannot go with --score {score:g}.")
        score = 0.0 if score is None else score
    store.add_feedback(run_id, score=score, note=note)
    rated_bad = score is not None and score < BAD_SCORE_BELOW
    names: list[str] = []
    if rated_bad:
        names = sorted({r.subagent for r in store.rated_bad() if r.run_id == run_id})
        names += sorted({r.subagent for r in store.executions(run_id=run_id) if not r.success} - set(names))
    return FeedbackResult(run_id, score, note, rated_bad, names)
