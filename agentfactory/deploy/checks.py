"""The gate's two measurements wired to the real components: stored cases run in the configured sandbox,
and successful runs counted in the experience store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentfactory.config import Settings
from agentfactory.deploy.gate import CaseOutcome, CaseRunner, RunCounter
from agentfactory.deploy.source import SubagentSource


def sandbox_case_runner(settings: Settings, progress: Callable[[str], None] | None = None) -> CaseRunner:
    """Run every stored case of a subagent in the sandbox backend of `settings` and check it, through
    the engine's case runner (the library's gate runs them the same way); `progress` hears one line per
    case."""

    def run_cases(source: SubagentSource) -> list[CaseOutcome]:
        from agentfactory.engine.gate import run_subagent_cases

        total = len(source.original.cases)

        def heard(outcome: Any) -> None:
            if progress is not None:
                progress(f"  case {outcome.index + 1}/{total}: {'passed' if outcome.passed else 'failed'}")

        report = run_subagent_cases(settings, source.original, purpose="deploy-gate", on_case=heard)
        return [
            CaseOutcome(o.index + 1, o.passed, "; ".join(o.failures[:2]) or o.status) for o in report.outcomes
        ]

    return run_cases


def experience_run_counter(settings: Settings) -> RunCounter:
    """Successful recorded runs of a subagent, from the experience store beside the library.

    Task runs only, of the exported version (or one with its code), recorded by this agent or an agent
    it trusts (see `ExperienceStore.successful_runs`): a run that failed or that the user rated bad does
    not count, and neither do validation executions (gates, evolve), direct runs (MCP) or pulled rows of
    untrusted agents. The gate's own case runs go straight to the sandbox backend and are never recorded.
    """

    def count(name: str, version: int | None = None) -> int:
        from agentfactory.experience.store import ExperienceStore

        store = ExperienceStore.open(settings.paths, settings.policy)
        if not store.exists:
            return 0  # nothing was ever recorded
        try:
            return int(store.successful_runs(name, version))
        finally:
            close = getattr(store, "close", None)
            if callable(close):
                close()

    return count
