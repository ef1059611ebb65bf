"""What to evolve and why: candidates from the experience store, their failing cases, held-out siblings.

No model call, no execution, nothing written: the dry run shows exactly this. Only usage counts as
evidence (the store keeps evolve's and the gates' validation executions apart), and only evidence about
a subagent's current version.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from agentfactory.config import Settings
from agentfactory.errors import UsageError
from agentfactory.evolve.forensics import recover_failure
from agentfactory.evolve.records import DEFAULT_CANDIDATES, EvolveOptions, EvolvePlan, FailingCase
from agentfactory.library import Library


class Planner:
    """`plan(names)`: the subagents to evolve with their failing cases, read from `store` (None: no
    experience store yet) and the runs' workspaces."""

    def __init__(self, settings: Settings, library: Library, store: Any, options: EvolveOptions):
        self.settings = settings
        self.library = library
        self.store = store
        self.options = options

    def plan(self, names: list[str] | None = None, all_: bool = False) -> list[EvolvePlan]:
        if not self.library.exists():
            raise UsageError(f"No subagent library at {self.library.path}; run a task first.")
        store = self.store
        if not names:
            if store is None:
                return []
            names = self._candidates(store, all_)
        plans = []
        for name in dict.fromkeys(names):
            sub = self.library.get(name)  # an unknown name is one clear UsageError
            records = store.failures_since(name, sub.version) if store is not None else []
            records = [r for r in records if r.version == sub.version]
            bad = self.rated_bad(name, sub.version) if store is not None else []
            failing, skipped = self.failing_from_records(name, records, bad)
            plans.append(
                EvolvePlan(
                    name=name,
                    version=sub.version,
                    failures=len(records) + len(bad),
                    last_failure_ts=max((r.ts for r in records + bad), default=None),
                    stored_cases=len(sub.cases),
                    failing=failing,
                    skipped=skipped,
                    rated_bad=len(bad),
                )
            )
        return plans

    def _candidates(self, store: Any, all_: bool) -> list[str]:
        current = {info.name: info.version for info in self.library.list()}
        ranked = [c for c in store.evolve_candidates(current_versions=current) if c.name in current]
        names = [c.name for c in ranked]
        # Subagents of runs the user rated bad, when that evidence is about their current version.
        for name in dict.fromkeys(r.subagent for r in store.rated_bad()):
            if name in current and name not in names and self.rated_bad(name, current[name]):
                names.append(name)
        return names if all_ else names[:DEFAULT_CANDIDATES]

    def rated_bad(self, name: str, version: int) -> list[Any]:
        """Successful executions of `version` in runs the user rated bad. A run that wrote the subagent
        ran it as an unsaved candidate: those count for the version that run saved."""
        saved_by = {v.run_id for v in self.library.history(name) if v.version == version and v.run_id}
        return [
            r
            for r in self.store.rated_bad(name)
            if r.version == version or (r.version is None and r.run_id in saved_by)
        ]

    def plan_for(self, name: str, failing: list[FailingCase]) -> EvolvePlan:
        """A plan from failing cases given directly (tests, benchmarks, a caller that knows them)."""
        sub = self.library.get(name)
        return EvolvePlan(name, sub.version, len(failing), time.time(), len(sub.cases), list(failing))

    def failing_from_records(
        self, name: str, records: list[Any], rated_bad: list[Any] | None = None
    ) -> tuple[list[FailingCase], list[str]]:
        """Failing cases from experience records; inputs and traces come from the runs' event logs."""
        latest: dict[str, Any] = {}
        for record in sorted([*records, *(rated_bad or [])], key=lambda r: r.ts):  # the latest input wins
            latest[record.inputs_digest] = record
        chosen = sorted(latest.values(), key=lambda r: r.ts, reverse=True)[: self.options.max_failing_cases]
        cases, skipped = [], []
        for record in reversed(chosen):
            found = recover_failure(Path(self.settings.paths.workspaces), name, record, record.success)
            if isinstance(found, str):
                skipped.append(found)
                continue
            cases.append(found)
        if self.options.hold_out:
            assign_held_out(cases)
        return cases, skipped


def assign_held_out(cases: list[FailingCase]) -> None:
    """In each kind with two or more failing inputs, hide the most recent one from the model."""
    by_kind: dict[str, list[FailingCase]] = {}
    for case in cases:
        by_kind.setdefault(case.kind, []).append(case)
    for siblings in by_kind.values():
        if len(siblings) >= 2:
            siblings[-1].held_out = True
