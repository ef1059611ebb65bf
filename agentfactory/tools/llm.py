"""The `llm` tool skill: a subagent's model call, made on the host with the subagent model.

The provider is the run's metered subagent provider: it checks the run's budget before the call and
charges it after, so a spent budget refuses the call (the subagent gets a ToolError saying so).
"""

from __future__ import annotations

from typing import Any

from agentfactory.llm.types import Message, ModelProvider


class LlmTool:
    def __init__(self, provider: ModelProvider, max_tokens_cap: int = 8192):
        self.provider = provider
        self.max_tokens_cap = max_tokens_cap

    def __call__(self, args: dict[str, Any]) -> dict[str, Any]:
        prompt = str(args.get("prompt", ""))
        if not prompt.strip():
            raise ValueError("llm needs a non-empty prompt")
        system = args.get("system") or ""
        try:
            asked = int(args.get("max_tokens", 1024) or 1024)
        except (TypeError, ValueError):
            raise ValueError("max_tokens must be a whole number") from None
        max_tokens = max(1, min(asked, self.max_tokens_cap))
        response = self.provider.complete(str(system), [Message.user(prompt)], [], max_tokens=max_tokens)
        return {
            "text": response.text,
            "model": response.model,
            "usage": response.usage.to_dict(),
            "cost_usd": response.cost_usd,
        }
