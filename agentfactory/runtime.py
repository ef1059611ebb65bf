"""Wiring of one run: workspace, event log, metered providers, library, sandbox backend, tool broker.

`open_run` builds every component a run needs from settings (or takes injected ones), records the
start, and guarantees the end: `run_finished` is written, the broker and backend are closed, and the
experience store gets its row, whatever happens in between.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentfactory import events as ev
from agentfactory.config import Settings
from agentfactory.events import summarize
from agentfactory.llm.types import ModelProvider


class _TeeLog(ev.EventLog):
    """An event log that also hands each event to a live view."""

    def __init__(self, path: Path, run_id: str, on_event: Any):
        super().__init__(path, run_id)
        self.on_event = on_event

    def emit(self, type: str, **fields: Any) -> dict[str, Any]:
        event = super().emit(type, **fields)
        if self.on_event is not None:
            self.on_event(event)
        return event

    @property
    def observed(self) -> bool:
        return self.on_event is not None

    @property
    def on_terminal(self) -> bool:
        """Whether the view shows progress on a terminal (where streaming is worth it)."""
        return bool(getattr(self.on_event, "on_terminal", False))

    def notify(self, type: str, **fields: Any) -> dict[str, Any]:
        event = super().notify(type, **fields)
        if self.on_event is not None:
            self.on_event(event)
        return event


@dataclass
class OpenRun:
    ctx: Any
    provider: Any
    subagent_provider: Any
    started: float
    model: str
    simulated: bool
    finished: bool = False
    budget: Any = None  # the run's Budget: every model call and tool step is checked against it

    def finish(self, *, status: str, reason: str, answer: str | None, steps: int):
        from agentfactory.meta.agent import RunResult

        self.finished = True
        ctx = self.ctx
        ctx.emit(
            ev.RUN_FINISHED,
            status=status,
            reason=reason,
            answer=answer,
            steps=steps,
            created=ctx.created,
            reused=ctx.reused,
            saved=ctx.saved,
            rejected=ctx.rejected,
        )
        summary = summarize(ev.read_events(ctx.workspace.events_path), run_id=ctx.workspace.run_id)
        outputs = ctx.workspace.files(ctx.workspace.outputs)
        result = RunResult(
            run_id=ctx.workspace.run_id,
            status=status,
            answer=answer,
            reason=reason,
            model=self.model,
            simulated=self.simulated,
            steps=steps,
            model_calls=summary.model_calls,
            usage=summary.orchestrator_usage,
            subagent_usage=summary.subagent_usage,
            cost_usd=summary.cost_usd,
            created=list(ctx.created),
            reused=list(ctx.reused),
            saved=list(ctx.saved),
            rejected=dict(ctx.rejected),
            output_files=outputs,
            workspace=str(ctx.workspace.root),
            duration_s=round(time.time() - self.started, 3),
        )
        if ctx.experience is not None:
            ctx.experience.record_run_result(ctx, result)
        return result


def _change_fields(change: Any) -> dict[str, Any]:
    if isinstance(change, dict):
        return change
    return {k: getattr(change, k) for k in ("name", "version", "commit") if hasattr(change, k)}


def check_inputs(input_files: list[Path]) -> None:
    """Refuse missing files and clashing names before a workspace exists, so a refusal leaves nothing."""
    from agentfactory.errors import UsageError

    seen: dict[str, Path] = {}
    for path in map(Path, input_files):
        if not path.is_file():
            raise UsageError(f"Input file {path} does not exist or is not a regular file.")
        if path.name in seen:
            raise UsageError(
                f"Input files {seen[path.name]} and {path} have the same name; inputs/ keeps one file a "
                "name, so rename one of them."
            )
        seen[path.name] = path


def _metered(
    provider: ModelProvider, settings: Settings, log: ev.EventLog, role: str, budget: Any = None
) -> Any:
    from agentfactory.llm.metered import MeteredProvider

    return MeteredProvider(provider, settings, log, role=role, budget=budget)


@contextlib.contextmanager
def open_run(
    settings: Settings,
    task: str,
    input_files: list[Path],
    *,
    run_id: str | None = None,
    provider: ModelProvider | None = None,
    subagent_provider: ModelProvider | None = None,
    library: Any = None,
    backend: Any = None,
    experience: Any = None,
    on_event: Any = None,
) -> Iterator[OpenRun]:
    from agentfactory.budget import Budget
    from agentfactory.library import Library
    from agentfactory.llm.registry import get_provider
    from agentfactory.meta.context import RunContext
    from agentfactory.sandbox import ToolBroker, get_backend
    from agentfactory.tools import build_handlers
    from agentfactory.workspace import WorkspaceManager

    # Everything that can fail on configuration fails here, before a workspace exists.
    model = settings.resolved_model()
    base_provider = provider or get_provider(model, settings, thinking_budget=settings.thinking_budget)
    base_sub = subagent_provider or (
        # thinking_budget is the Meta-Agent's: the subagents' `llm` calls do not think.
        get_provider(settings.resolved_subagent_model(), settings)
        if settings.subagent_model or settings.thinking_budget
        else base_provider
    )
    library = library or Library(settings.library)
    library.ensure()
    if experience is None:
        from agentfactory.experience import ExperienceStore

        experience = ExperienceStore.open(settings)
    check_inputs(input_files)
    own_backend = backend is None
    backend = backend or get_backend(settings)

    workspace = WorkspaceManager(settings.workspaces).create(run_id)
    for path in input_files:
        workspace.add_input(Path(path))
    log = _TeeLog(workspace.events_path, workspace.run_id, on_event)
    # One budget for the run: the Meta-Agent's calls and the subagents' `llm` calls are charged to it,
    # and its wall clock (max_time) starts now.
    budget = Budget.from_settings(settings)
    meta_provider = _metered(base_provider, settings, log, ev.ORCHESTRATOR, budget)
    sub_provider = _metered(base_sub, settings, log, ev.SUBAGENT, budget)
    broker = ToolBroker(build_handlers(settings, sub_provider))
    simulated = bool(getattr(base_provider, "simulated", False))
    ctx = RunContext(
        settings=settings,
        library=library,
        workspace=workspace,
        backend=backend,
        log=log,
        task=task,
        broker=broker,
        experience=experience,
        agent_id=settings.agent_id,
        budget=budget,
    )
    ctx.emit(
        ev.RUN_STARTED,
        task=task,
        model=getattr(base_provider, "spec", model),
        agent_id=settings.agent_id,
        simulated=simulated,
        sandbox=settings.sandbox,
        library=str(settings.library),
        library_head=library.head(),
        inputs=[p.name for p in workspace.inputs.iterdir()],
    )
    started = time.time()
    run = OpenRun(
        ctx,
        meta_provider,
        sub_provider,
        started,
        getattr(base_provider, "spec", model),
        simulated,
        budget=budget,
    )
    try:
        yield run
    except BaseException as exc:
        if not run.finished:  # an unexpected failure still ends the log with the run's status
            ctx.emit(
                ev.RUN_FINISHED, status="error", reason=f"{type(exc).__name__}: {exc}"[:500], answer=None
            )
        raise
    finally:
        if own_backend:
            with contextlib.suppress(Exception):
                backend.close()
        log.close()
