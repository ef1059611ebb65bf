"""The gate's two measurements wired to the real components: stored cases run in the configured sandbox,
and successful runs counted in the experience store.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentfactory.config import Settings
from agentfactory.deploy.gate import CaseOutcome, CaseRunner, RunCounter
from agentfactory.deploy.source import SubagentSource

FIXTURES_DIR = "fixtures"  # input files of a subagent's cases, kept in its folder (see meta/context.py)


def sandbox_case_runner(
    settings: Settings, library: Any, progress: Callable[[str], None] | None = None
) -> CaseRunner:
    """Run every stored case of a subagent in the sandbox backend of `settings` and check it;
    `progress` hears one line per case."""

    def run_cases(source: SubagentSource) -> list[CaseOutcome]:
        from agentfactory.engine.gate import collect, run_case, tool_broker
        from agentfactory.sandbox import ExecutionRequest, get_backend

        backend = get_backend(settings)
        stack = contextlib.ExitStack()
        try:
            broker = tool_broker(settings, list(source.tools), stack)
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="af-deploy-")))
            code_dir = Path(library.export(source.name, source.version, tmp / "code"))
            outcomes: list[CaseOutcome] = []
            for index, case in enumerate(source.original.cases):
                workdir = tmp / f"case-{index + 1}"
                (workdir / "inputs").mkdir(parents=True)
                if (code_dir / FIXTURES_DIR).is_dir():
                    shutil.copytree(code_dir / FIXTURES_DIR, workdir / "inputs", dirs_exist_ok=True)

                def runner(c: Any, workdir: Path = workdir) -> Any:
                    request = ExecutionRequest(
                        code_dir=code_dir,
                        entry=source.module,  # the sandbox takes a module name
                        inputs=c.inputs,
                        workdir=workdir,
                        output_dir=workdir / "outputs",
                        timeout_s=settings.timeout_s,
                        memory_mb=settings.memory_mb,
                        tools=list(source.tools),
                        broker=broker,
                        run_id=f"deploy-{source.name}",
                        labels={"subagent": source.name, "purpose": "deploy-gate"},
                    )
                    return collect(backend.execute(request), workdir / "outputs")  # for pinned files

                outcome = run_case(runner, case, index, "stored")
                detail = "; ".join(outcome.failures[:2]) or outcome.status
                outcomes.append(CaseOutcome(index + 1, outcome.passed, detail))
                if progress is not None:
                    total = len(source.original.cases)
                    progress(f"  case {index + 1}/{total}: {'passed' if outcome.passed else 'failed'}")
            return outcomes
        finally:
            stack.close()
            close = getattr(backend, "close", None)
            if callable(close):
                with contextlib.suppress(Exception):
                    close()

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

        store = ExperienceStore.open(settings)
        if not store.exists:
            return 0  # nothing was ever recorded
        try:
            return int(store.successful_runs(name, version))
        finally:
            close = getattr(store, "close", None)
            if callable(close):
                close()

    return count
