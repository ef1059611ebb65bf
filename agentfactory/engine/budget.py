"""Run budgets: steps, tokens, cost and wall-clock time. One object per run, shared by every model call.

A run's `Budget` is the single limit check (in the manner of pydantic-ai's `UsageLimits`): the metered
provider of the orchestrator and the one behind the subagents' `llm` tool both call `check_request()`
before a request and `charge()` after it, so the spend of the subagents counts against the same limits
as the Meta-Agent's. The tool loop calls `exhausted()` before each model turn and each tool call and
`step()` for each of them, so `max_steps` bounds tool calls as well as turns, and the loop stops between
steps, never mid-write. It is thread-safe: the tool broker serves subagent calls from several threads.

A model call reserves its share before it is sent (`reserve()`): the request's input tokens, estimated
with the project's tokenizer, and an output cap cut to what is left, so calls in flight at the same time
(a subagent's threads) cannot together pass the token limit, and one huge prompt is refused before it
is sent. The cap is passed to the provider as the call's max_tokens. `release()` gives the reservation
back once the real usage is charged. Overshoot is therefore bounded by the tokenizer's estimation error
of the input, not by the number of calls in flight.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import field

from agentfactory.config import Budgets
from agentfactory.errors import BudgetExhausted
from agentfactory.llm.types import Usage
from agentfactory.records import record


@record(frozen=True)
class Reservation:
    """What one model call holds of the budget while it is in flight."""

    tokens: int
    cost_usd: float
    output_cap: int  # the call's max_tokens: what is left after its input, at most what it asked for


@record
class Budget:
    max_steps: int | None = None
    max_tokens: int | None = None
    max_cost: float | None = None
    max_time: float | None = None  # seconds of wall clock from the budget's creation
    steps: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    started: float = field(default_factory=time.monotonic)
    reserved_tokens: int = 0
    reserved_cost: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @classmethod
    def from_limits(cls, limits: Budgets) -> Budget:
        """A fresh budget (its clock starts now) with the limits of the settings' budgets group."""
        return cls(limits.max_steps, limits.max_tokens, limits.max_cost, limits.max_time)

    def charge(self, usage: Usage, cost_usd: float = 0.0) -> None:
        with self._lock:
            self.usage = self.usage + usage
            cost = float(cost_usd or 0.0)
            self.cost_usd += cost if math.isfinite(cost) and cost > 0 else 0.0

    def reserve(
        self, input_tokens: int, max_output: int, price: Callable[[int, int], float] | None = None
    ) -> Reservation:
        """Hold a model call's share of the budget before it is sent, or raise BudgetExhausted.

        `price(input_tokens, output_tokens)` estimates a call's cost in USD (for the cost limit)."""
        self.check_request()
        with self._lock:
            cap = max(1, int(max_output))
            if self.max_tokens is not None:
                left = self.max_tokens - self.usage.total_tokens - self.reserved_tokens - input_tokens
                if left < 1:
                    raise BudgetExhausted(
                        f"Budget exhausted: a model call of about {input_tokens:,} input tokens does not fit "
                        f"the token limit ({self.usage.total_tokens + self.reserved_tokens:,} of "
                        f"{self.max_tokens:,} tokens used or held by calls in flight)."
                    )
                cap = min(cap, left)
            cost = price(input_tokens, cap) if price is not None else 0.0
            if self.max_cost is not None and price is not None:
                left_cost = self.max_cost - self.cost_usd - self.reserved_cost
                input_cost = price(input_tokens, 0)
                if input_cost >= left_cost:
                    raise BudgetExhausted(
                        f"Budget exhausted: a model call of about {input_tokens:,} input tokens does not fit "
                        f"the cost limit (${self.cost_usd + self.reserved_cost:.4f} of ${self.max_cost:.2f} "
                        "spent or held by calls in flight)."
                    )
                if cost > left_cost:  # cut the output cap to what the money left pays for
                    cap = max(1, int(cap * (left_cost - input_cost) / max(cost - input_cost, 1e-12)))
                    cost = price(input_tokens, cap)
            reservation = Reservation(input_tokens + cap, cost, cap)
            self.reserved_tokens += reservation.tokens
            self.reserved_cost += reservation.cost_usd
            return reservation

    def release(self, reservation: Reservation) -> None:
        with self._lock:
            self.reserved_tokens -= reservation.tokens
            self.reserved_cost -= reservation.cost_usd

    def step(self) -> None:
        with self._lock:
            self.steps += 1

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def deadline(self) -> float | None:
        """The time.monotonic() value at which the run's wall clock ends, or None without a time limit."""
        return None if self.max_time is None else self.started + self.max_time

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

    def check_request(self) -> None:
        """Before any model call (orchestrator or subagent): tokens, cost and time, not steps."""
        reason = self.exhausted(steps=False)
        if reason:
            raise BudgetExhausted(f"Budget exhausted: {reason}.")
