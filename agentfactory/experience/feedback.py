"""User feedback on a run, and what it changes for evolve.

A run rated bad (`agentfactory feedback RUN --bad`, or a score under BAD_SCORE_BELOW) marks the library
subagents it executed as evolve candidates: each input they ran on in that run becomes a failing case
whose recorded output is the one to change, even though the execution itself raised nothing.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from agentfactory.errors import UsageError
from agentfactory.experience.store import BAD_SCORE_BELOW, ExperienceStore
from agentfactory.records import record

LATEST = "latest"


@record
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


def feedback_run_id(store: ExperienceStore, workspaces: Any, ref: str) -> str:
    """The task run `ref` names for feedback: `latest` is the newest run the experience store holds (an
    evolve run, which rates nothing, is never it); an id or prefix is resolved against the workspaces.

    A run that exists but is not a task run in the store is refused with a sentence saying why.
    """
    if ref == LATEST:
        runs = store.runs() if store.exists else []
        if not runs:
            raise UsageError(
                f"No task run in the experience store {store.path} yet: feedback rates task runs "
                "(`agentfactory run`)."
            )
        return max(runs, key=lambda r: (r.started, r.run_id)).run_id
    run_id = workspaces.resolve_id(ref)
    if store.exists and store.get_run(run_id) is not None:
        return run_id
    try:
        workspace = workspaces.get(run_id)
    except UsageError:
        workspace = None  # not on disk either: the store's own sentence below says so
    if workspace is not None:
        from agentfactory.events import read_events

        # Evolve's own log (its task "evolve NAME...", its evolve_round events) is the one kind of run
        # that never records a run row.
        events = list(read_events(workspace.events_path))
        task = next((str(e.get("task") or "") for e in events if e.get("type") == "run_started"), "")
        if task.startswith("evolve ") and any(e.get("type") == "evolve_round" for e in events):
            raise UsageError(
                f"Run {run_id} is an evolve run, not a task run: feedback rates task runs (see "
                "`agentfactory runs list`); evolve's verdicts are in its events."
            )
        raise UsageError(
            f"Run {run_id} is not a task run in the experience store {store.path} (it did not finish, "
            "or recorded into another store): feedback rates finished task runs."
        )
    if not store.exists:
        raise UsageError(f"No run '{run_id}' in the experience store: {store.path} does not exist yet.")
    return run_id  # add_feedback names the missing run
