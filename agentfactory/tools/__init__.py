"""Tool skills served to subagents by the host's tool broker: `llm`, `web_search`, `web_fetch`.

Each tool is a handler `(arguments: dict) -> dict` built from settings; `build_handlers` returns the
set for one run. Handlers run on the host, so API keys and network access stay outside the sandbox.
A result may carry a `usage` dict (token usage) that the broker records in the execution trace.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentfactory.config import Settings
from agentfactory.llm.types import ModelProvider
from agentfactory.tools.llm import LlmTool
from agentfactory.tools.web_fetch import WebFetchTool
from agentfactory.tools.web_search import WebSearchTool

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def build_handlers(settings: Settings, subagent_provider: ModelProvider | None) -> dict[str, Handler]:
    """The tool handlers of one run. `llm` is present only when a subagent model is available."""
    handlers: dict[str, Handler] = {
        "web_fetch": WebFetchTool(allow_loopback=settings.web_fetch_allow_loopback),
        "web_search": WebSearchTool.from_settings(settings),
    }
    if subagent_provider is not None:
        handlers["llm"] = LlmTool(
            subagent_provider, max_tokens_cap=settings.output_tokens_for(subagent_provider.spec)
        )
    return handlers


__all__ = ["Handler", "LlmTool", "WebFetchTool", "WebSearchTool", "build_handlers"]
