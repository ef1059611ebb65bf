"""Accounting for every model call the framework makes.

`MeteredProvider` wraps any provider: each `complete()` is timed, costed from the price table and
reported to its `CallMeter` (the run supplies one that writes `model_call` events); running totals
(`usage`, `cost_usd`, `calls`) are kept, and they are the run's totals: nobody re-reads a log for them. With a run's
`Budget` it is also where the run's limits are enforced for every model call: the budget is checked
before the request (a spent budget raises BudgetExhausted and nothing is sent) and charged after it, the
same for the orchestrator and for the subagents' `llm` tool. It is thread-safe because the tool broker serves subagent `llm` calls from several threads at once.
It never changes what the model said.

The wrapped provider gets an `on_stream` callback only when the meter wants the stream (someone
watches the run live and the `stream` setting agrees) or the caller passes one; usage is read from the
finished response only, streamed or not. This module never writes an event log itself.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Protocol

from agentfactory.config import ModelSettings
from agentfactory.llm.pricing import cost_usd
from agentfactory.llm.tokens import count_request_tokens
from agentfactory.llm.transport import run_deadline
from agentfactory.llm.types import (
    Message,
    ModelProvider,
    ModelResponse,
    StreamCallback,
    StreamEvent,
    ToolSpec,
    Usage,
)
from agentfactory.records import record

if TYPE_CHECKING:
    from agentfactory.engine.budget import Budget


@record
class ModelCall:
    """One metered model call, as its meter hears of it: at the start (no response yet) and at the end."""

    number: int  # 1, 2, ... per metered provider: pairs the start with its end
    role: str  # "orchestrator" or "subagent"
    model: str
    step: int | None
    response: ModelResponse | None = None
    latency_s: float = 0.0


class CallMeter(Protocol):
    """Where a metered provider reports its calls (the run records them as events)."""

    def started(self, call: ModelCall) -> None: ...

    def finished(self, call: ModelCall) -> None: ...

    def wants_stream(self, role: str) -> bool:
        """Whether replies of this role should stream (someone watches them live)."""
        ...

    def streamed(self, call: ModelCall, event: StreamEvent) -> None: ...


class MeteredProvider:
    """A provider that times, costs and counts the calls of the provider it wraps, and reports each to
    its meter."""

    def __init__(
        self,
        provider: ModelProvider,
        models: ModelSettings,
        meter: CallMeter | None = None,
        role: str = "orchestrator",
        budget: Budget | None = None,
    ):
        self.provider = provider
        self.budget = budget
        self.models = models  # prices for the cost; the tool loop reads its context window here
        self.meter = meter
        self.role = role
        self.step: int | None = None  # the caller's current step, stamped on events when set
        self.usage = Usage()
        self.cost_usd = 0.0
        self.calls = 0
        self.latency_s = 0.0
        self._lock = threading.Lock()
        self._started = 0  # numbers `model_call_started` and its `model_call` alike (the `call` field)

    @property
    def spec(self) -> str:
        return self.provider.spec

    @property
    def simulated(self) -> bool:
        return bool(self.provider.simulated)

    def complete(
        self,
        system: str,
        messages: list[Message],
        tools: list[ToolSpec] | None = None,
        max_tokens: int = 4096,
        *,
        step: int | None = None,
        on_stream: StreamCallback | None = None,
    ) -> ModelResponse:
        reservation = None
        if self.budget is not None:  # hold this call's share first: calls in flight cannot pass the limit
            reservation = self.budget.reserve(
                count_request_tokens(system, messages, tools), max_tokens, self._price
            )
            max_tokens = reservation.output_cap
        step = self.step if step is None else step
        with self._lock:
            self._started += 1
            number = self._started
        call = ModelCall(number, self.role, self.provider.spec, step)
        if self.meter is not None:
            self.meter.started(call)
        started = time.perf_counter()
        streamed = self._stream_to(call, on_stream)
        # The run's wall clock (--max-time) also ends a call still waiting on the provider.
        end = self.budget.deadline() if self.budget is not None else None
        try:
            with run_deadline(end):
                if streamed is None:
                    response = self.provider.complete(system, messages, tools, max_tokens)
                else:
                    response = self.provider.complete(system, messages, tools, max_tokens, on_stream=streamed)
        finally:
            if reservation is not None:
                self.budget.release(reservation)  # the real usage is charged below
        latency = round(time.perf_counter() - started, 6)
        response.latency_s = latency
        response.cost_usd = cost_usd(response.usage, self.provider.spec, self.models)
        response.simulated = bool(response.simulated or self.provider.simulated)
        with self._lock:
            self.usage = self.usage + response.usage
            self.cost_usd += response.cost_usd
            self.calls += 1
            self.latency_s += latency
        if self.budget is not None:
            self.budget.charge(response.usage, response.cost_usd)
        if self.meter is not None:
            call.response, call.latency_s = response, latency
            self.meter.finished(call)
        return response

    def _price(self, input_tokens: int, output_tokens: int) -> float:
        usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens)
        return cost_usd(usage, self.provider.spec, self.models)

    def streams(self) -> bool:
        """Whether calls of this provider stream to the meter (someone watches them live)."""
        return self.meter is not None and self.meter.wants_stream(self.role)

    def _stream_to(self, call: ModelCall, caller: StreamCallback | None) -> StreamCallback | None:
        """The callback handed to the provider, or None when nobody wants the stream."""
        meter = self.meter if self.streams() else None
        if meter is None and caller is None:
            return None

        def on_stream(event: StreamEvent) -> None:
            # Display only: a broken observer never breaks the call.
            try:
                if caller is not None:
                    caller(event)
                if meter is not None:
                    meter.streamed(call, event)
            except Exception:  # noqa: BLE001
                pass

        return on_stream

    def __getattr__(self, name: str) -> object:
        # Anything else (a scripted model's `remaining`, an adapter's `model`) comes from the wrapped one.
        if name == "provider":
            raise AttributeError(name)
        return getattr(self.provider, name)

    def totals(self) -> dict[str, object]:
        """A consistent snapshot of the running totals."""
        with self._lock:
            return {
                "calls": self.calls,
                "usage": self.usage.to_dict(),
                "cost_usd": round(self.cost_usd, 8),
                "latency_s": round(self.latency_s, 6),
            }
