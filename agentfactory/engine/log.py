"""A run's event log with its live view, and the meter that records the run's model calls in it.

`RunLog` writes `events.jsonl` and hands each event to a live view when one watches. `RunMeter` is the
`CallMeter` the run gives its metered providers: it turns each model call into the `model_call_started`
/ `model_call` events and, when the live view wants it, each streamed piece into a live-only
`model_stream` notice. Providers never write the log themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentfactory import events as ev
from agentfactory.llm.metered import ModelCall
from agentfactory.llm.types import StreamEvent


class RunLog(ev.EventLog):
    """An event log that also hands each event to a live view (`on_event(event dict)`), and each logged
    event to the run's observers (OpenTelemetry export: they see what the log keeps, never a live view's
    notices)."""

    def __init__(self, path: Path, run_id: str, on_event: Any = None, observers: list[Any] | None = None):
        super().__init__(path, run_id)
        self.on_event = on_event
        self.observers = list(observers or [])

    def emit(self, type: str, *, ts: float | None = None, **fields: Any) -> dict[str, Any]:
        with self.order:  # observers see the events in the log's order, those made later (`later`) too
            event = super().emit(type, ts=ts, **fields)
            for observer in self.observers:
                observer(event)
            if self.on_event is not None:
                self.on_event(event)
        return event

    @property
    def observed(self) -> bool:
        return self.on_event is not None

    @property
    def on_terminal(self) -> bool:
        """Whether the view shows progress on a terminal (where streaming is worth it)."""
        return bool(getattr(self.on_event, "on_terminal", False))

    def notify(self, type: str, **fields: Any) -> dict[str, Any]:
        event = super().notify(type, **fields)
        if self.on_event is not None:
            self.on_event(event)
        return event


class RunMeter:
    """Records metered model calls in a run's event log (see `agentfactory.llm.metered.CallMeter`).

    `stream`: the `stream` setting, "auto" (stream when the live view is on a terminal), "on" or "off".
    The subagents' calls never stream: nobody reads them live. `first_call` is called once, as the
    run's first model call goes out.
    """

    def __init__(self, log: ev.EventLog, stream: str = "auto", first_call: Callable[[], None] | None = None):
        self.log = log
        self.stream = stream
        self.first_call = first_call

    def started(self, call: ModelCall) -> None:
        self.log.emit(
            ev.MODEL_CALL_STARTED, model=call.model, role=call.role, call=call.number, **_step(call)
        )
        hook, self.first_call = self.first_call, None
        if hook is not None:  # what the run starts while the model thinks (the sandbox's work ahead)
            hook()

    def finished(self, call: ModelCall) -> None:
        response = call.response
        assert response is not None
        self.log.emit(
            ev.MODEL_CALL,
            model=call.model,
            role=call.role,
            usage=response.usage.to_dict(),
            cost_usd=response.cost_usd,
            latency_s=call.latency_s,
            stop_reason=response.stop_reason,
            simulated=response.simulated,
            call=call.number,
            **_step(call),
        )

    def wants_stream(self, role: str) -> bool:
        if self.stream == "off" or role == ev.SUBAGENT or not self.log.observed:
            return False
        return self.stream == "on" or self.log.on_terminal

    def streamed(self, call: ModelCall, event: StreamEvent) -> None:
        self.log.notify(
            ev.MODEL_STREAM,
            call=call.number,
            role=call.role,
            kind=event.kind,
            text=event.text,
            tool=event.tool,
            output_tokens=event.output_tokens,
            **_step(call),
        )


def _step(call: ModelCall) -> dict[str, int]:
    return {"step": call.step} if call.step is not None else {}
