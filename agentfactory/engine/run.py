"""Wiring of one run: workspace, event log, metered providers, budget, library, sandbox, tool broker.

`open_run` builds every part a run needs from settings (or takes injected ones), records the start,
and guarantees the end: `run_finished` is written, the broker and backend are closed, and the
experience store gets its row, whatever happens in between. Every orchestrator (the Meta-Agent,
evolve, the benchmark baselines) runs inside one; what it does there is its own policy.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import asdict, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentfactory import events as ev
from agentfactory.config import Settings
from agentfactory.engine.budget import Budget
from agentfactory.engine.execution import Executor
from agentfactory.engine.library_view import LibraryView
from agentfactory.engine.log import RunLog, RunMeter
from agentfactory.engine.workspace import Workspace, WorkspaceManager
from agentfactory.errors import (
    EXIT_BUDGET,
    EXIT_CONFIG,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TASK_FAILED,
    UsageError,
)
from agentfactory.llm.metered import MeteredProvider
from agentfactory.llm.models import output_tokens_for
from agentfactory.llm.types import ModelProvider, Usage
from agentfactory.records import record

if TYPE_CHECKING:
    from agentfactory.engine.candidates import CandidateStore

STATUS_EXIT = {
    "success": EXIT_OK,
    "task_failed": EXIT_TASK_FAILED,
    "budget_exhausted": EXIT_BUDGET,
    "interrupted": EXIT_INTERRUPTED,
    "config_error": EXIT_CONFIG,
}


@record
class RunResult:
    run_id: str
    status: str  # success, task_failed, budget_exhausted, interrupted, no_progress, provider_error
    answer: str | None
    reason: str = ""
    model: str = ""
    simulated: bool = False
    steps: int = 0
    model_calls: int = 0
    usage: Usage = field(default_factory=Usage)
    subagent_usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    created: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    saved: list[tuple[str, int]] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)
    output_files: list[str] = field(default_factory=list)
    workspace: str = ""
    duration_s: float = 0.0
    result: Any = None  # the subagent's own JSON result when the run was `MetaAgent.run_subagent`

    @property
    def exit_code(self) -> int:
        return STATUS_EXIT.get(self.status, EXIT_TASK_FAILED)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["usage"], data["subagent_usage"] = self.usage.to_dict(), self.subagent_usage.to_dict()
        data["total_tokens"] = self.usage.total_tokens + self.subagent_usage.total_tokens
        return data


@record
class Ledger:
    """What a run did to subagents, as its result and `run_finished` report it."""

    created: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    saved: list[tuple[str, int]] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)


@record
class OpenRun:
    """One run in progress: its parts, and `finish`, the one way it ends well."""

    settings: Settings
    task: str
    agent_id: str
    workspace: Workspace
    log: ev.EventLog
    budget: Budget  # every model call and tool step is checked against it
    provider: MeteredProvider  # the orchestrator's model
    subagent_provider: MeteredProvider  # behind the subagents' `llm` tool
    library: LibraryView
    executor: Executor
    experience: Any
    started: float
    model: str
    simulated: bool
    ledger: Ledger = field(default_factory=Ledger)
    finished: bool = False
    mcp_tools: Any = None  # tools/mcp.McpTools when agentfactory.toml declares MCP servers
    _candidates: CandidateStore | None = field(default=None, repr=False)

    @property
    def candidates(self) -> CandidateStore:
        """The run's candidate store, made when first used: a run that writes no subagent never
        imports it (nor the gate), which a run's start would otherwise pay before its first model call."""
        if self._candidates is None:
            from agentfactory.engine.candidates import CandidateStore

            self._candidates = CandidateStore(
                self.workspace, self.library, self.executor, self.log, self.task
            )
        return self._candidates

    def emit(self, type: str, **fields: Any) -> None:
        self.log.emit(type, **fields)

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        """Run a subagent in the sandbox: see `Executor.execute`."""
        return self.executor.execute(*args, **kwargs)

    def available_tools(self) -> list[str]:
        return self.executor.available_tools()

    def stop_mcp_servers(self) -> None:
        if self.mcp_tools is not None:
            with contextlib.suppress(Exception):
                self.mcp_tools.close()

    def finish(self, *, status: str, reason: str, answer: str | None, steps: int) -> RunResult:
        self.finished = True
        self.stop_mcp_servers()  # before run_finished: nothing of theirs is logged after it
        ledger = self.ledger
        self.emit(
            ev.RUN_FINISHED,
            status=status,
            reason=reason,
            answer=answer,
            steps=steps,
            created=ledger.created,
            reused=ledger.reused,
            saved=ledger.saved,
            rejected=ledger.rejected,
        )
        # The metered providers counted every call as it ended: their totals are the run's.
        meta, sub = self.provider, self.subagent_provider
        result = RunResult(
            run_id=self.workspace.run_id,
            status=status,
            answer=answer,
            reason=reason,
            model=self.model,
            simulated=self.simulated,
            steps=steps,
            model_calls=meta.calls + sub.calls,
            usage=meta.usage,
            subagent_usage=sub.usage,
            cost_usd=round(meta.cost_usd + sub.cost_usd, 6),
            created=list(ledger.created),
            reused=list(ledger.reused),
            saved=list(ledger.saved),
            rejected=dict(ledger.rejected),
            output_files=self.workspace.files(self.workspace.outputs),
            workspace=str(self.workspace.root),
            duration_s=round(time.time() - self.started, 3),
        )
        if self.experience is not None:
            self.experience.record_run_result(self, result)
        return result


def check_inputs(input_files: list[Path]) -> None:
    """Refuse missing files and clashing names before a workspace exists, so a refusal leaves nothing."""
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


def _providers(
    settings: Settings, model: str, provider: ModelProvider | None, subagent: ModelProvider | None
) -> tuple[ModelProvider, ModelProvider]:
    """The orchestrator's model and the one behind the subagents' `llm` tool (injected or configured)."""
    from agentfactory.llm.registry import get_provider

    models, keys = settings.models, settings.credentials
    base = provider or get_provider(model, models, env=keys, thinking_budget=models.thinking_budget)
    if subagent is not None:
        return base, subagent
    # thinking_budget is the Meta-Agent's: the subagents' `llm` calls do not think.
    if settings.models.subagent_model or settings.models.thinking_budget:
        return base, get_provider(settings.resolved_subagent_model(), models, env=keys)
    return base, base


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
    from agentfactory.library import Library
    from agentfactory.sandbox import ToolBroker, get_backend
    from agentfactory.tools import build_handlers

    # Everything that can fail on configuration fails here, before a workspace exists.
    model = settings.resolved_model()
    base_provider, base_sub = _providers(settings, model, provider, subagent_provider)
    library = library or Library(settings.paths.library)
    library.ensure()
    if experience is None:
        from agentfactory.experience import ExperienceStore

        experience = ExperienceStore.open(settings.paths, settings.policy)
    check_inputs(input_files)
    own_backend = backend is None
    backend = backend or get_backend(settings.sandbox, start_ahead=False)  # prepared at the first call

    workspace = WorkspaceManager(settings.paths.workspaces).create(run_id)
    for path in input_files:
        workspace.add_input(Path(path))
    from agentfactory.otel import run_observers  # imports no OpenTelemetry unless tracing is on

    log = RunLog(workspace.events_path, workspace.run_id, on_event, run_observers())
    meter = RunMeter(log, settings.models.stream, first_call=getattr(backend, "prepare", None))
    # One budget for the run: the Meta-Agent's calls and the subagents' `llm` calls are charged to it,
    # and its wall clock (max_time) starts now.
    budget = Budget.from_limits(settings.budgets)
    meta_provider = MeteredProvider(
        base_provider, settings.models, meter, role=ev.ORCHESTRATOR, budget=budget
    )
    sub_provider = MeteredProvider(base_sub, settings.models, meter, role=ev.SUBAGENT, budget=budget)
    cap = output_tokens_for(settings.models.max_output_tokens, sub_provider.spec)
    mcp_tools = None
    if settings.tools.mcp_servers:  # the MCP client (asyncio, ssl) is imported only when servers are declared
        from agentfactory.tools.mcp import mcp_tools_for

        mcp_tools = mcp_tools_for(settings.tools, log)
    broker = ToolBroker(
        build_handlers(settings.tools, settings.credentials, sub_provider, cap), resolver=mcp_tools
    )
    simulated = bool(getattr(base_provider, "simulated", False))
    spec = getattr(base_provider, "spec", model)
    view = LibraryView(library, experience)
    executor = Executor(
        settings=settings,
        workspace=workspace,
        backend=backend,
        log=log,
        task=task,
        agent_id=settings.policy.agent_id,
        broker=broker,
        experience=experience,
        budget=budget,
    )
    log.emit(
        ev.RUN_STARTED,
        task=task,
        model=spec,
        agent_id=settings.policy.agent_id,
        simulated=simulated,
        sandbox=settings.sandbox.backend,
        library=str(settings.paths.library),
        library_head=library.head(),
        inputs=[p.name for p in workspace.inputs.iterdir()],
    )
    run = OpenRun(
        settings=settings,
        task=task,
        agent_id=settings.policy.agent_id,
        workspace=workspace,
        log=log,
        budget=budget,
        provider=meta_provider,
        subagent_provider=sub_provider,
        library=view,
        executor=executor,
        experience=experience,
        started=time.time(),
        model=spec,
        simulated=simulated,
        mcp_tools=mcp_tools,
    )
    try:
        yield run
    except BaseException as exc:
        run.stop_mcp_servers()
        if not run.finished:  # an unexpected failure still ends the log with the run's status
            log.emit(
                ev.RUN_FINISHED, status="error", reason=f"{type(exc).__name__}: {exc}"[:500], answer=None
            )
        raise
    finally:
        run.stop_mcp_servers()  # the run's MCP servers stop with it, whatever happened
        if own_backend:
            with contextlib.suppress(Exception):
                backend.close()
        for observer in log.observers:
            with contextlib.suppress(Exception):
                observer.close()
        log.close()
