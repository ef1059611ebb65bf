"""Accounting for every model call the framework makes.

`MeteredProvider` wraps any provider: each `complete()` is timed, costed from the price table and
recorded as a `model_call` event; running totals (`usage`, `cost_usd`, `calls`) are kept. With a run's
`Budget` it is also where the run's limits are enforced for every model call: the budget is checked
before the request (a spent budget raises BudgetExhausted and nothing is sent) and charged after it, the
same for the orchestrator and for the subagents' `llm` tool. It is thread-safe because the tool broker serves subagent `llm` calls from several threads at once.
It never changes what the model said.

It is also where streaming is decided: the wrapped provider gets an `on_stream` callback only when
someone watches the run (a live view) and `settings.stream` says so ("auto": the view is on a terminal;
"on"; "off"). Each StreamEvent becomes a live-only `model_stream` notice, never written to the log;
usage is read from the finished response only, streamed or not.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

# events.py imports llm.types, so this module reaches events only through the package at call time.
from agentfactory import events as _events
from agentfactory.config import Settings
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

if TYPE_CHECKING:
    from agentfactory.budget import Budget
    from agentfactory.events import EventLog


class MeteredProvider:
    """A provider that times, costs, counts and logs the calls of the provider it wraps."""

    def __init__(
        self,
        provider: ModelProvider,
        settings: Settings,
        log: EventLog | None = None,
        role: str = "orchestrator",
        budget: Budget | None = None,
    ):
        self.provider = provider
        self.budget = budget
        self.settings = settings
        self.log = log
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
        if self.log is not None:
            extra = {"step": step} if step is not None else {}
            self.log.emit(
                _events.MODEL_CALL_STARTED, model=self.provider.spec, role=self.role, call=number, **extra
            )
        started = time.perf_counter()
        streamed = self._stream_to(number, step, on_stream)
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
        response.cost_usd = cost_usd(response.usage, self.provider.spec, self.settings)
        response.simulated = bool(response.simulated or self.provider.simulated)
        with self._lock:
            self.usage = self.usage + response.usage
            self.cost_usd += response.cost_usd
            self.calls += 1
            self.latency_s += latency
        if self.budget is not None:
            self.budget.charge(response.usage, response.cost_usd)
        if self.log is not None:
            fields = {
                "model": self.provider.spec,
                "role": self.role,
                "usage": response.usage.to_dict(),
                "cost_usd": response.cost_usd,
                "latency_s": latency,
                "stop_reason": response.stop_reason,
                "simulated": response.simulated,
                "call": number,
            }
            if step is not None:
                fields["step"] = step
            self.log.emit(_events.MODEL_CALL, **fields)
        return response

    def _price(self, input_tokens: int, output_tokens: int) -> float:
        usage = Usage(input_tokens=input_tokens, output_tokens=output_tokens)
        return cost_usd(usage, self.provider.spec, self.settings)

    def streams(self) -> bool:
        """Whether calls of this provider stream: someone watches and the `stream` setting agrees."""
        mode = getattr(self.settings, "stream", "auto")
        if mode == "off" or self.role == _events.SUBAGENT or self.log is None or not self.log.observed:
            return False
        return mode == "on" or bool(getattr(self.log, "on_terminal", False))

    def _stream_to(
        self, number: int, step: int | None, caller: StreamCallback | None
    ) -> StreamCallback | None:
        """The callback handed to the provider, or None when nobody wants the stream."""
        log = self.log if self.streams() else None
        if log is None and caller is None:
            return None

        def on_stream(event: StreamEvent) -> None:
            # Display only: a broken observer never breaks the call.
            try:
                if caller is not None:
                    caller(event)
                if log is not None:
                    extra = {"step": step} if step is not None else {}
                    log.notify(
                        _events.MODEL_STREAM,
                        call=number,
                        role=self.role,
                        kind=event.kind,
                        text=event.text,
                        tool=event.tool,
                        output_tokens=event.output_tokens,
                        **extra,
                    )
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
