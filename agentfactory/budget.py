"""Run budgets: steps, tokens and cost. Checked between steps, so a run never stops mid-write."""

from __future__ import annotations

from dataclasses import dataclass, field

from agentfactory.errors import BudgetExhausted
from agentfactory.llm.types import Usage


@dataclass
class Budget:
    max_steps: int | None = None
    max_tokens: int | None = None
    max_cost: float | None = None
    steps: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0

    def charge(self, usage: Usage, cost_usd: float = 0.0) -> None:
        self.usage = self.usage + usage
        self.cost_usd += cost_usd

    def step(self) -> None:
        self.steps += 1

    def exhausted(self) -> str | None:
        """The reason the budget is spent, or None. Called before starting the next step."""
        if self.max_steps is not None and self.steps >= self.max_steps:
            return f"step limit reached ({self.steps}/{self.max_steps} steps)"
        if self.max_tokens is not None and self.usage.total_tokens >= self.max_tokens:
            return f"token limit reached ({self.usage.total_tokens}/{self.max_tokens} tokens)"
        if self.max_cost is not None and self.cost_usd >= self.max_cost:
            return f"cost limit reached (${self.cost_usd:.4f}/${self.max_cost:.2f})"
        return None

    def check(self) -> None:
        reason = self.exhausted()
        if reason:
            raise BudgetExhausted(f"Budget exhausted: {reason}.")
