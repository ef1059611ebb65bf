"""Run budgets: steps, tokens, cost and wall-clock time. One object per run, shared by every model call.

A run's `Budget` is the single limit check (in the manner of pydantic-ai's `UsageLimits`): the metered
provider of the orchestrator and the one behind the subagents' `llm` tool both call `check_request()`
before a request and `charge()` after it, so the spend of the subagents counts against the same limits
as the Meta-Agent's. The tool loop calls `exhausted()` before each model turn and each tool call and
`step()` for each of them, so `max_steps` bounds tool calls as well as turns, and the loop stops between
steps, never mid-write. It is thread-safe: the tool broker serves subagent calls from several threads.

Overshoot is bounded: a call is refused once the limit is reached, so a run spends at most the calls
already in flight when it crossed the limit (one for the orchestrator, at most the broker's connection
limit for one execution's subagent calls).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

from agentfactory.errors import BudgetExhausted
from agentfactory.llm.types import Usage


@dataclass
class Budget:
    max_steps: int | None = None
    max_tokens: int | None = None
    max_cost: float | None = None
    max_time: float | None = None  # seconds of wall clock from the budget's creation
    steps: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def from_settings(cls, settings: object) -> Budget:
        return cls(
            getattr(settings, "max_steps", None),
            getattr(settings, "max_tokens", None),
            getattr(settings, "max_cost", None),
            getattr(settings, "max_time", None),
        )

    def charge(self, usage: Usage, cost_usd: float = 0.0) -> None:
        with self._lock:
            self.usage = self.usage + usage
            cost = float(cost_usd or 0.0)
            self.cost_usd += cost if math.isfinite(cost) and cost > 0 else 0.0

    def step(self) -> None:
        with self._lock:
            self.steps += 1

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def remaining_time(self) -> float | None:
        """Seconds left on the run's wall clock, or None when there is no time limit."""
        if self.max_time is None:
            return None
        return max(0.0, self.max_time - self.elapsed())

    def exhausted(self, *, steps: bool = True) -> str | None:
        """The reason the budget is spent, or None. `steps=False` leaves the step count out (a model
        call inside a step already taken, a subagent's `llm` call)."""
        with self._lock:
            if steps and self.max_steps is not None and self.steps >= self.max_steps:
                return f"step limit reached ({self.steps}/{self.max_steps} steps)"
            if self.max_tokens is not None and self.usage.total_tokens >= self.max_tokens:
                return f"token limit reached ({self.usage.total_tokens}/{self.max_tokens} tokens)"
            if self.max_cost is not None and self.cost_usd >= self.max_cost:
                return f"cost limit reached (${self.cost_usd:.4f}/${self.max_cost:.2f})"
        if self.max_time is not None and self.elapsed() >= self.max_time:
            return f"time limit reached ({self.elapsed():.1f}/{self.max_time:g} s)"
        return None

    def check(self) -> None:
        reason = self.exhausted()
        if reason:
            raise BudgetExhausted(f"Budget exhausted: {reason}.")

    def check_request(self) -> None:
        """Before any model call (orchestrator or subagent): tokens, cost and time, not steps."""
        reason = self.exhausted(steps=False)
        if reason:
            raise BudgetExhausted(f"Budget exhausted: {reason}.")
