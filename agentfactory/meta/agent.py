"""The Meta-Agent: proactive retrieval, then a tool-calling loop over the meta skills.

The loop is the whole policy of the framework in one screen: ask the model, validate each tool call,
dispatch it to a meta skill, return the result as delimited data, stop on `finish`, on a budget, or on
a model that stops making progress. Everything else (what a skill does, how a subagent runs, how a
save is validated) is one call away.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from agentfactory.budget import Budget
from agentfactory.config import Settings, load_settings
from agentfactory.errors import (
    EXIT_BUDGET,
    EXIT_CONFIG,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TASK_FAILED,
    UsageError,
)
from agentfactory.llm.types import ModelProvider, Usage
from agentfactory.meta.context import RunContext
from agentfactory.meta.handlers import MetaSkills, dispatch
from agentfactory.meta.loop import run_tool_loop
from agentfactory.meta.skills import meta_tools

MAX_TASK_CHARS = 100_000
MAX_OFFERED = 3  # library matches offered in the first message
OFFER_RELATIVE_SCORE = 0.5

_templates = Environment(
    loader=PackageLoader("agentfactory.meta", "prompts"),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
)

STATUS_EXIT = {
    "success": EXIT_OK,
    "task_failed": EXIT_TASK_FAILED,
    "budget_exhausted": EXIT_BUDGET,
    "interrupted": EXIT_INTERRUPTED,
    "config_error": EXIT_CONFIG,
}


@dataclass
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


def system_prompt() -> str:
    return _templates.get_template("system.j2").render().strip()


class MetaAgent:
    """`MetaAgent(settings).run(task) -> RunResult`. Components can be injected for tests and the bench."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        provider: ModelProvider | None = None,
        subagent_provider: ModelProvider | None = None,
        library: Any = None,
        backend: Any = None,
        experience: Any = None,
        on_event: Any = None,
    ):
        self.settings = settings or load_settings()
        self._provider = provider
        self._subagent_provider = subagent_provider
        self._library = library
        self._backend = backend
        self._experience = experience
        self.on_event = on_event  # optional callback(event dict) for live views

    def run(self, task: str, input_files: list[Path] | None = None, run_id: str | None = None) -> RunResult:
        task = check_task(task)
        from agentfactory.runtime import open_run  # wiring of providers, sandbox and broker

        with open_run(
            self.settings,
            task,
            input_files or [],
            run_id=run_id,
            provider=self._provider,
            subagent_provider=self._subagent_provider,
            library=self._library,
            backend=self._backend,
            experience=self._experience,
            on_event=self.on_event,
        ) as run:
            return self._loop(run.ctx, run.provider, run)

    def run_subagent(
        self,
        name: str,
        inputs: dict[str, Any] | None = None,
        *,
        version: int | None = None,
        input_files: list[Path] | None = None,
        run_id: str | None = None,
    ) -> RunResult:
        """Run one library subagent on `inputs` in the sandbox, without asking the model.

        The execution path of the Meta-Agent's `run_subagent` tool, recorded as a run of its own
        (workspace, event log, experience store). `input_files` are copied into the run's inputs/,
        where the subagent reads them (`inputs/NAME`). Status `success` when the execution succeeded,
        else `task_failed` with the trace's status as the reason; `result` holds the subagent's result.
        """
        from agentfactory.library import Library
        from agentfactory.meta.handlers import result_answer
        from agentfactory.runtime import open_run

        library = self._library or Library(self.settings.library)
        sub = library.get(name, version)  # an unknown name or version: one UsageError, nothing written
        with open_run(
            self.settings,
            f"run subagent {sub.name} v{sub.version}",
            input_files or [],
            run_id=run_id,
            provider=self._provider,
            subagent_provider=self._subagent_provider,
            library=library,
            backend=self._backend,
            experience=self._experience,
            on_event=self.on_event,
        ) as run:
            trace = MetaSkills(run.ctx).execute_library(sub, dict(inputs or {}))
            if trace.status == "ok":
                status, reason = "success", ""
                answer = result_answer(trace.result, list(trace.output_files))
            else:
                status, answer = "task_failed", None
                reason = f"{sub.name} v{sub.version} ended with status {trace.status}"
                if trace.error:
                    reason += f" ({trace.error.get('type', 'Error')}: {trace.error.get('message', '')})"
            result = run.finish(status=status, reason=reason[:500], answer=answer, steps=0)
            result.result = trace.result
            return result

    def _loop(self, ctx: RunContext, provider: Any, run: Any) -> RunResult:
        skills = MetaSkills(ctx)
        budget = run.budget or Budget.from_settings(self.settings)
        result = run_tool_loop(
            provider,
            system_prompt(),
            self._first_message(ctx),
            meta_tools(),
            lambda name, args: dispatch(skills, name, args),
            budget,
            ctx.emit,
            self.settings.max_output_tokens,
        )
        return run.finish(
            status=result.status, reason=result.reason, answer=result.answer, steps=result.steps
        )

    def _first_message(self, ctx: RunContext) -> str:
        matches = []
        rates = ctx.success_rates() or {}
        hits = ctx.search(ctx.task[:2000], MAX_OFFERED)
        # Offer only matches near the best one: weak matches cost tokens on every step of the run.
        best = max((h.score for h in hits), default=0.0)
        for hit in (h for h in hits if h.score >= OFFER_RELATIVE_SCORE * best):
            runs, ok = rates.get(hit.name, (0, 0))
            matches.append(
                {
                    "name": hit.name,
                    "version": hit.version,
                    "description": hit.description,
                    "signature": hit.signature,
                    "success": f"{ok}/{runs} ok" if runs else "",
                }
            )
        files = ctx.workspace.files(ctx.workspace.inputs)
        return (
            _templates.get_template("first_message.j2")
            .render(task=ctx.task, input_files=files, matches=matches)
            .strip()
        )


def check_task(task: str) -> str:
    if not isinstance(task, str):
        raise UsageError(f"The task must be text, not {type(task).__name__}.")
    if not task or not task.strip():
        raise UsageError('The task is empty: say what you want done, e.g. agentfactory run "...".')
    try:
        task.encode("utf-8")
    except UnicodeEncodeError as exc:  # undecodable bytes (argv decodes them to lone surrogates)
        code = ord(task[exc.start])
        what = f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"character U+{code:04X}"
        raise UsageError(
            f"The task is not valid UTF-8 text ({what} at position {exc.start}): give it in UTF-8."
        ) from None
    if len(task) > MAX_TASK_CHARS:
        raise UsageError(
            f"The task is {len(task):,} characters; the limit is {MAX_TASK_CHARS:,}. Put long "
            "material in a file and pass it with --input."
        )
    return task.strip()
