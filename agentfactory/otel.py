"""OpenTelemetry traces of runs, following the GenAI semantic conventions: an observer of the event log.

A run already emits every step as an event (run, model calls, tool calls, subagent executions, library
changes); `SpanObserver` turns them into spans of one trace: `invoke_agent agentfactory` for the run,
`chat <model>` per model call (gen_ai.* usage with cache tokens, cost), `execute_tool <tool>` per
Meta-Agent tool call, `invoke_agent <subagent>` per execution in the sandbox, `library <action>` per
library change; every span carries `agentfactory.run_id`.

Off by default and free when off: `run_observers()` reads two environment variables and imports nothing
from OpenTelemetry unless the standard OTLP environment (`OTEL_EXPORTER_OTLP_ENDPOINT` or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set; the exporter then reads the rest of `OTEL_EXPORTER_OTLP_*`
itself. An observer never raises into the run: a telemetry fault costs the trace, not the run.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any


def _log() -> Any:
    import logging  # for a warning or a failed span only: a run without tracing does not import it

    return logging.getLogger("agentfactory.otel")


ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
INSTALL_HINT = "pip install 'agentfactory[otel]'"
TRACER_NAME = "agentfactory"
PREVIEW_CHARS = 500

_provider: Any = None  # the TracerProvider runs export to (set by `configure`, or built on first use)
_provider_lock = threading.Lock()
_warned = False

Observer = Callable[[dict[str, Any]], None]


def enabled(env: Mapping[str, str] | None = None) -> bool:
    """Whether runs export traces: an OTLP endpoint is configured and the SDK is not disabled."""
    env = os.environ if env is None else env
    if _provider is not None:
        return True
    if str(env.get("OTEL_SDK_DISABLED", "")).strip().lower() == "true":
        return False
    if str(env.get("OTEL_TRACES_EXPORTER", "")).strip().lower() == "none":
        return False
    return any(env.get(var) for var in ENDPOINT_VARS)


def configure(tracer_provider: Any) -> None:
    """Export runs' spans to `tracer_provider` (an SDK TracerProvider), whatever the environment says;
    None returns to the environment's choice. For applications that set up OpenTelemetry themselves,
    and for tests (the SDK's in-memory exporter)."""
    global _provider
    with _provider_lock:
        _provider = tracer_provider


def _tracer() -> Any | None:
    global _provider, _warned
    with _provider_lock:
        if _provider is None:
            try:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
                from opentelemetry.sdk.resources import Resource
                from opentelemetry.sdk.trace import TracerProvider
                from opentelemetry.sdk.trace.export import BatchSpanProcessor
            except ImportError:
                if not _warned:
                    _log().warning("OTLP export is configured but OpenTelemetry is missing: %s", INSTALL_HINT)
                    _warned = True
                return None
            name = os.environ.get("OTEL_SERVICE_NAME") or "agentfactory"
            provider = TracerProvider(resource=Resource.create({"service.name": name}))
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            _provider = provider
        return _provider.get_tracer(TRACER_NAME)


def run_observers() -> list[Observer]:
    """The observers a run's event log feeds: a SpanObserver when tracing is on, else none."""
    if not enabled():
        return []
    tracer = _tracer()
    return [SpanObserver(tracer)] if tracer is not None else []


def _ns(event: dict[str, Any]) -> int:
    return int(float(event.get("ts") or 0) * 1e9)


def _provider_name(model: str) -> str:
    return model.split(":", 1)[0] if ":" in model else model


def _clip(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return text[:PREVIEW_CHARS]


class SpanObserver:
    """Events of one run in, spans out. Thread-safe (executions and their model calls run in threads)."""

    def __init__(self, tracer: Any):
        self.tracer = tracer
        self.run_id = ""
        self.root: Any = None
        self.models: dict[tuple[str, Any], Any] = {}  # (role, call) -> open chat span
        self.tools: list[tuple[Any, Any]] = []  # open (step/tool key, span), innermost last
        self.executions: dict[Any, Any] = {}  # execution number -> open span
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> None:
        try:
            with self._lock:
                handler = getattr(self, "_on_" + str(event.get("type")), None)
                if handler is not None:
                    handler(event)
        except Exception:  # telemetry never breaks a run
            _log().debug("span for %s failed", event.get("type"), exc_info=True)

    # -- helpers ---------------------------------------------------------------------------------

    def _context(self, parent: Any) -> Any:
        from opentelemetry import trace

        return trace.set_span_in_context(parent) if parent is not None else None

    def _start(self, name: str, event: dict[str, Any], parent: Any, attributes: dict[str, Any]) -> Any:
        from opentelemetry.trace import SpanKind

        attributes = {k: v for k, v in attributes.items() if v is not None}
        attributes["agentfactory.run_id"] = self.run_id or str(event.get("run_id") or "")
        return self.tracer.start_span(
            name,
            context=self._context(parent if parent is not None else self.root),
            kind=SpanKind.CLIENT if name.startswith("chat") else SpanKind.INTERNAL,
            attributes=attributes,
            start_time=_ns(event),
        )

    def _end(self, span: Any, event: dict[str, Any], error: str | None = None) -> None:
        from opentelemetry.trace import Status, StatusCode

        if error:
            span.set_attribute("error.type", error[:200])
            span.set_status(Status(StatusCode.ERROR, error[:500]))
        span.end(end_time=_ns(event))

    def _innermost_execution(self) -> Any:
        return next(reversed(self.executions.values()), None)

    def _innermost_tool(self) -> Any:
        return self.tools[-1][1] if self.tools else None

    # -- the run ---------------------------------------------------------------------------------

    def _on_run_started(self, event: dict[str, Any]) -> None:
        self.run_id = str(event.get("run_id") or "")
        model = str(event.get("model") or "")
        self.root = self._start(
            "invoke_agent agentfactory",
            event,
            None,
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": "agentfactory",
                "gen_ai.conversation.id": self.run_id,
                "gen_ai.request.model": model or None,
                "gen_ai.provider.name": _provider_name(model) if model else None,
                "agentfactory.task": _clip(event.get("task") or ""),
                "agentfactory.sandbox": event.get("sandbox"),
                "agentfactory.simulated": bool(event.get("simulated")),
            },
        )

    def _on_run_finished(self, event: dict[str, Any]) -> None:
        if self.root is None:
            return
        status = str(event.get("status") or "")
        for span in [*self.models.values(), *(s for _, s in self.tools), *self.executions.values()]:
            self._end(span, event, "run ended")  # anything still open ends with the run
        self.models.clear()
        self.tools.clear()
        self.executions.clear()
        self.root.set_attribute("agentfactory.status", status)
        self.root.set_attribute("agentfactory.steps", int(event.get("steps") or 0))
        error = None if status == "success" else (f"{status}: {event.get('reason') or ''}".strip(": "))
        self._end(self.root, event, error)
        self.root = None

    def close(self) -> None:
        """End whatever is still open (a run that died before `run_finished`)."""
        with self._lock:
            if self.root is not None:
                import time

                self._on_run_finished({"ts": time.time(), "status": "error", "reason": "run ended abruptly"})

    # -- model calls -----------------------------------------------------------------------------

    def _chat_attributes(self, event: dict[str, Any]) -> dict[str, Any]:
        model = str(event.get("model") or "")
        return {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": _provider_name(model),
            "gen_ai.request.model": model.split(":", 1)[-1],
            "agentfactory.role": event.get("role"),
            "agentfactory.step": event.get("step"),
        }

    def _chat_parent(self, event: dict[str, Any]) -> Any:
        # A subagent's `llm` call belongs to the execution that made it.
        return self._innermost_execution() if event.get("role") == "subagent" else None

    def _on_model_call_started(self, event: dict[str, Any]) -> None:
        model = str(event.get("model") or "").split(":", 1)[-1]
        span = self._start(f"chat {model}", event, self._chat_parent(event), self._chat_attributes(event))
        self.models[(str(event.get("role")), event.get("call"))] = span

    def _on_model_call(self, event: dict[str, Any]) -> None:
        span = self.models.pop((str(event.get("role")), event.get("call")), None)
        if span is None:  # no start event: the span covers the call's latency
            start = dict(event, ts=float(event.get("ts") or 0) - float(event.get("latency_s") or 0))
            model = str(event.get("model") or "").split(":", 1)[-1]
            span = self._start(f"chat {model}", start, self._chat_parent(event), self._chat_attributes(event))
        usage = event.get("usage") or {}
        read, write = int(usage.get("cache_read_tokens") or 0), int(usage.get("cache_write_tokens") or 0)
        attributes = {
            "gen_ai.response.model": str(event.get("model") or "").split(":", 1)[-1],
            # input_tokens includes the cached ones, as the conventions ask; the cache parts beside it.
            "gen_ai.usage.input_tokens": int(usage.get("input_tokens") or 0) + read + write,
            "gen_ai.usage.output_tokens": int(usage.get("output_tokens") or 0),
            "gen_ai.usage.cache_read.input_tokens": read,
            "gen_ai.usage.cache_creation.input_tokens": write,
            "gen_ai.response.finish_reasons": [str(event.get("stop_reason") or "")],
            "agentfactory.cost_usd": float(event.get("cost_usd") or 0.0),
            "agentfactory.simulated": bool(event.get("simulated")),
        }
        for key, value in attributes.items():
            span.set_attribute(key, value)
        self._end(span, event)

    # -- tool calls ------------------------------------------------------------------------------

    def _on_tool_call_started(self, event: dict[str, Any]) -> None:
        tool = str(event.get("tool") or "")
        span = self._start(
            f"execute_tool {tool}",
            event,
            None,
            {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": tool,
                "gen_ai.tool.type": "function",
                "agentfactory.step": event.get("step"),
                "agentfactory.arguments": _clip(event.get("arguments") or ""),
            },
        )
        self.tools.append(((event.get("step"), tool), span))

    def _on_tool_call(self, event: dict[str, Any]) -> None:
        key = (event.get("step"), str(event.get("tool") or ""))
        found = next((i for i in range(len(self.tools) - 1, -1, -1) if self.tools[i][0] == key), None)
        if found is None:
            return
        _, span = self.tools.pop(found)
        span.set_attribute("agentfactory.result", _clip(event.get("result") or ""))
        self._end(span, event, "tool error" if event.get("is_error") else None)

    # -- subagent executions ---------------------------------------------------------------------

    def _on_execution_started(self, event: dict[str, Any]) -> None:
        name = str(event.get("subagent") or "")
        span = self._start(
            f"invoke_agent {name}",
            event,
            self._innermost_tool(),  # inside the Meta-Agent's run_subagent (or finish's gate) call
            {
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": name,
                "agentfactory.subagent.version": event.get("version"),
                "agentfactory.subagent.revision": event.get("revision"),
                "agentfactory.execution": event.get("execution"),
            },
        )
        self.executions[event.get("execution")] = span

    def _on_subagent_execution(self, event: dict[str, Any]) -> None:
        span = self.executions.pop(event.get("execution"), None)
        if span is None:
            return
        status = str(event.get("status") or "")
        span.set_attribute("agentfactory.execution.status", status)
        span.set_attribute("agentfactory.execution.duration_s", float(event.get("duration_s") or 0.0))
        span.set_attribute("agentfactory.execution.tool_calls", int(event.get("tool_calls") or 0))
        error = event.get("error") or {}
        detail = f"{error.get('type') or status}: {error.get('message') or ''}" if status != "ok" else None
        self._end(span, event, detail)

    # -- library changes -------------------------------------------------------------------------

    def _on_library_change(self, event: dict[str, Any]) -> None:
        action = str(event.get("action") or "change")
        span = self._start(
            f"library {action} {event.get('subagent') or ''}".strip(),
            event,
            self._innermost_tool(),
            {
                "agentfactory.library.action": action,
                "agentfactory.subagent": event.get("subagent"),
                "agentfactory.subagent.version": event.get("version"),
                "agentfactory.subagent.base_version": event.get("base_version"),
                "agentfactory.library.commit": event.get("commit"),
                "agentfactory.library.reason": _clip(event.get("reason") or "") or None,
            },
        )
        self._end(span, event, "rejected by the regression gate" if action == "rejected" else None)
