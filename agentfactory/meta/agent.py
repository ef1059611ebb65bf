"""The Meta-Agent: proactive retrieval, then a tool-calling loop over the meta skills.

The loop is the whole policy of the framework in one screen: ask the model, validate each tool call,
dispatch it to a meta skill, return the result as delimited data, stop on `finish`, on a budget, or on
a model that stops making progress. Everything else (what a skill does, how a subagent runs, how a
save is validated) is one call away.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentfactory.config import Settings, load_settings
from agentfactory.engine.loop import run_tool_loop
from agentfactory.engine.run import OpenRun, RunResult, open_run
from agentfactory.engine.templates import prompt_text, prompt_texts
from agentfactory.errors import UsageError
from agentfactory.llm.types import ModelProvider
from agentfactory.meta.handlers import CODE_TOOLS, MetaSkills, dispatch, result_answer
from agentfactory.meta.skills import meta_tools

if TYPE_CHECKING:
    pass

MAX_TASK_CHARS = 100_000
MAX_OFFERED = 3  # library matches offered in the first message
OFFER_RELATIVE_SCORE = 0.5
MAX_MCP_OFFERED = 5  # MCP tools offered in the first message


def system_prompt() -> str:
    return prompt_text("agentfactory.meta", "system.md").strip()


def first_message(
    task: str, input_files: list[str], matches: list[dict[str, Any]], mcp_tools: list[str]
) -> str:
    """The run's first message (prompts/first_message.toml): the task, its input files, the library's
    matches (dicts of name, version, description, signature and success) and the MCP tools offered."""
    texts = prompt_texts("agentfactory.meta", "first_message.toml")
    if matches:
        lines = "".join(
            texts["match"].format(
                name=m["name"],
                version=m["version"],
                description=m["description"],
                signature=m["signature"],
                success=texts["success"].format(success=m["success"]) if m["success"] else "",
            )
            for m in matches
        )
        offered = texts["matches"].format(lines=lines)
    else:
        offered = texts["no_matches"]
    tools = "".join(texts["mcp_tool"].format(line=line) for line in mcp_tools)
    return (
        texts["message"]
        .format(
            task=task,
            input_files=texts["input_files"].format(files=", ".join(input_files)) if input_files else "",
            matches=offered,
            mcp_tools=texts["mcp_tools"].format(lines=tools) if mcp_tools else "",
        )
        .strip()
    )


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
            return self._loop(run)

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
        from agentfactory.experience.records import DIRECT
        from agentfactory.library import Library

        library = self._library or Library(self.settings.paths.library)
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
            # Recorded as a direct run: the caller chose the inputs and nobody judged the result, so it
            # is shown in statistics but earns no trust (final answers, deploy maturity).
            trace = MetaSkills(run).execute_library(sub, dict(inputs or {}), kind=DIRECT)
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

    def _loop(self, run: OpenRun) -> RunResult:
        skills = MetaSkills(run)
        result = run_tool_loop(
            run.provider,
            system_prompt(),
            self._first_message(run),
            meta_tools(mcp=run.mcp_tools is not None),
            lambda name, args: dispatch(skills, name, args),
            run.budget,
            run.emit,
            self.settings.models.max_output_tokens,
            code_tools=CODE_TOOLS,
        )
        return run.finish(
            status=result.status, reason=result.reason, answer=result.answer, steps=result.steps
        )

    def _first_message(self, run: OpenRun) -> str:
        matches = []
        rates = run.library.success_rates() or {}
        hits = run.library.search(run.task[:2000], MAX_OFFERED)
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
        files = run.workspace.files(run.workspace.inputs)
        return first_message(run.task, files, matches, offered_mcp_tools(run))


def offered_mcp_tools(run: OpenRun) -> list[str]:
    """The MCP tools that fit the task, one line each (name, arguments, description): only the best few
    near the best match, never every tool of every server."""
    if run.mcp_tools is None:
        return []
    found = run.mcp_tools.search(run.task[:2000], MAX_MCP_OFFERED)
    best = max((m.score for m in found), default=0.0)
    return [m.line for m in found if m.score >= OFFER_RELATIVE_SCORE * best]


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
