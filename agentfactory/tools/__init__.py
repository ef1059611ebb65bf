"""Tool skills served to subagents by the host's tool broker: `llm`, `web_search`, `web_fetch`.

A tool skill is one record, `ToolSkill`: its name, the JSON schema of its arguments (from its
skills/tools/<name>/SKILL.md, the same text the model reads) and its handler `(arguments: dict) -> dict`
built from the tools group of the settings (`Settings.tools`) and the credentials. The broker checks every call against the schema of the called tool before the
handler runs (`check_arguments`): a call that breaks it gets the reason back and is recorded as failed.
`build_handlers` returns the set for one run. Handlers run on the host, so API keys and network access
stay outside the sandbox. A result may carry a `usage` dict that the broker records in the trace.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from agentfactory.config import ToolSettings
from agentfactory.llm.types import ModelProvider
from agentfactory.llm.validation import schema_problem
from agentfactory.records import record
from agentfactory.skill_tiers import load_tier
from agentfactory.tools.llm import LlmTool
from agentfactory.tools.web_fetch import WebFetchTool
from agentfactory.tools.web_search import WebSearchTool

Handler = Callable[..., dict[str, Any]]
MAX_PROBLEM_CHARS = 300  # the reason a call was refused quotes the subagent's values: kept short


@record(frozen=True)
class ToolSkill:
    """One tool skill: name, argument schema and handler. Called like its handler."""

    name: str  # what subagents call, e.g. "web_fetch"
    description: str
    schema: dict[str, Any]
    handler: Handler

    @property
    def takes_deadline(self) -> bool:  # the broker passes the execution's deadline to such handlers
        return bool(getattr(self.handler, "takes_deadline", False))

    def check_arguments(self, args: Any) -> str | None:
        """None when `args` match the schema; else why not, in a clause."""
        if not isinstance(args, dict):
            return f"the arguments must be a JSON object, not {type(args).__name__}"
        problem = schema_problem(self.schema, args)
        if problem is None:
            return None
        return problem if len(problem) <= MAX_PROBLEM_CHARS else problem[:MAX_PROBLEM_CHARS] + "…"

    def __call__(self, args: dict[str, Any], deadline: float | None = None) -> dict[str, Any]:
        if self.takes_deadline:
            return self.handler(args, deadline=deadline)
        return self.handler(args)


def tool_skill(name: str, handler: Handler) -> ToolSkill:
    """The record of tool `name` (its SKILL.md under skills/tools/) around `handler`."""
    skill = load_tier("tools")[name]
    return ToolSkill(skill.tool_name, skill.description, skill.schema, handler)


def build_handlers(
    tools: ToolSettings,
    credentials: Mapping[str, str],
    subagent_provider: ModelProvider | None,
    llm_output_cap: int | None = None,
) -> dict[str, ToolSkill]:
    """The tool skills of one run. `llm` is present only when a subagent model is available; its calls
    ask for at most `llm_output_cap` tokens (`llm.models.output_tokens_for` of its model)."""
    handlers = {
        "web_fetch": tool_skill("web_fetch", WebFetchTool(allow_loopback=tools.web_fetch_allow_loopback)),
        "web_search": tool_skill("web_search", WebSearchTool.from_settings(tools, credentials)),
    }
    if subagent_provider is not None:
        tool = (
            LlmTool(subagent_provider)
            if llm_output_cap is None
            else LlmTool(subagent_provider, llm_output_cap)
        )
        handlers["llm"] = tool_skill("llm", tool)
    return handlers


__all__ = ["Handler", "LlmTool", "ToolSkill", "WebFetchTool", "WebSearchTool", "build_handlers", "tool_skill"]
