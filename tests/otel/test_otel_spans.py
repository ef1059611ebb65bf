"""OpenTelemetry export of runs: spans and GenAI attributes checked with the SDK's in-memory exporter, on
a scripted run in the real local sandbox; off by default, with no OpenTelemetry import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import StatusCode  # noqa: E402

from agentfactory import otel  # noqa: E402
from agentfactory.config import load_settings  # noqa: E402
from agentfactory.llm import ScriptedProvider  # noqa: E402
from agentfactory.llm.types import ModelResponse, ToolCall, Usage  # noqa: E402
from agentfactory.meta.agent import MetaAgent  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
UPPER = '''"""Upper-case a text.

Purpose: the text in capitals.
Inputs: text (str).
Outputs: upper (str).
Limitations: none.
"""


def run(text: str) -> dict:
    return {"upper": text.upper()}
'''


def turn(tool: str, usage: Usage, **arguments: Any) -> ModelResponse:
    return ModelResponse(
        text="", tool_calls=[ToolCall(id=f"c-{tool}", name=tool, arguments=arguments)], usage=usage, model="m",
        stop_reason="tool_use",
    )  # fmt: skip


@pytest.fixture
def exporter():
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    otel.configure(provider)
    yield memory
    otel.configure(None)


def _run(tmp_path: Path, script: list[Any]):
    settings = load_settings(
        {"library": "lib", "workspaces": "ws", "sandbox": "local", "model": "scripted", "timeout_s": 30},
        env={},
        cwd=tmp_path,
    )
    return MetaAgent(settings, provider=ScriptedProvider(script)).run("Upper-case 'abc' and keep the tool.")


def test_a_run_exports_one_trace_with_genai_spans(tmp_path: Path, exporter: InMemorySpanExporter) -> None:
    usage = Usage(input_tokens=100, output_tokens=20, cache_read_tokens=300, cache_write_tokens=50)
    script = [
        turn("create_subagent", usage, name="upper-text", description="Upper-case a text.", code=UPPER),
        turn("run_subagent", usage, name="upper-text", inputs={"text": "abc"}),
        turn("finish", usage, answer="ABC", save=["upper-text"]),
    ]
    result = _run(tmp_path, script)
    assert result.status == "success", result.reason
    spans = exporter.get_finished_spans()
    by_name: dict[str, list[Any]] = {}
    for span in spans:
        by_name.setdefault(span.name, []).append(span)

    (root,) = by_name["invoke_agent agentfactory"]
    assert root.parent is None
    assert root.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert root.attributes["gen_ai.conversation.id"] == result.run_id
    assert root.attributes["agentfactory.status"] == "success"
    # One trace, every span linked to the run id.
    assert {s.context.trace_id for s in spans} == {root.context.trace_id}
    assert {s.attributes["agentfactory.run_id"] for s in spans} == {result.run_id}

    chats = by_name["chat scripted"]
    assert len(chats) == 3
    chat = chats[0]
    assert chat.parent.span_id == root.context.span_id
    assert chat.attributes["gen_ai.operation.name"] == "chat"
    assert chat.attributes["gen_ai.provider.name"] == "scripted"
    assert chat.attributes["gen_ai.usage.input_tokens"] == 450  # cached tokens included, as the spec says
    assert chat.attributes["gen_ai.usage.output_tokens"] == 20
    assert chat.attributes["gen_ai.usage.cache_read.input_tokens"] == 300
    assert chat.attributes["gen_ai.usage.cache_creation.input_tokens"] == 50
    assert chat.attributes["gen_ai.response.finish_reasons"] == ("tool_use",)
    assert "agentfactory.cost_usd" in chat.attributes

    tools = {s.attributes["gen_ai.tool.name"]: s for s in spans if s.name.startswith("execute_tool ")}
    assert set(tools) == {"create_subagent", "run_subagent", "finish"}
    assert all(s.attributes["gen_ai.operation.name"] == "execute_tool" for s in tools.values())

    (execution,) = by_name["invoke_agent upper-text"]
    assert execution.parent.span_id == tools["run_subagent"].context.span_id
    assert execution.attributes["agentfactory.execution.status"] == "ok"
    assert execution.status.status_code != StatusCode.ERROR

    (change,) = by_name["library save upper-text"]
    assert change.parent.span_id == tools["finish"].context.span_id
    assert change.attributes["agentfactory.subagent.version"] == 1
    # Spans sit inside the run's time.
    assert all(root.start_time <= s.start_time <= s.end_time <= root.end_time for s in spans)


def test_a_failing_execution_and_a_failed_run_are_error_spans(
    tmp_path: Path, exporter: InMemorySpanExporter
) -> None:
    usage = Usage(input_tokens=10, output_tokens=5)
    broken = UPPER.replace("text.upper()", "text.upper() + 1")
    script = [
        turn("create_subagent", usage, name="upper-text", description="Upper-case a text.", code=broken),
        turn("run_subagent", usage, name="upper-text", inputs={"text": "abc"}),
        turn("finish", usage, answer="", status="failed", reason="it crashed"),
    ]
    result = _run(tmp_path, script)
    assert result.status == "task_failed"
    spans = {s.name: s for s in exporter.get_finished_spans()}
    execution = spans["invoke_agent upper-text"]
    assert execution.status.status_code == StatusCode.ERROR
    assert execution.attributes["error.type"].startswith("TypeError")
    root = spans["invoke_agent agentfactory"]
    assert (
        root.status.status_code == StatusCode.ERROR
        and root.attributes["agentfactory.status"] == "task_failed"
    )


def test_off_by_default_imports_no_opentelemetry(tmp_path: Path) -> None:
    """A whole scripted run with no OTLP environment: no observer, no opentelemetry module loaded."""
    code = f"""
import sys
from agentfactory.config import load_settings
from agentfactory.llm import ScriptedProvider
from agentfactory.meta.agent import MetaAgent
settings = load_settings({{"library": "lib", "workspaces": "ws", "sandbox": "local", "model": "scripted"}},
                         env={{}}, cwd={str(tmp_path)!r})
script = [{{"tool_calls": [{{"name": "finish", "arguments": {{"answer": "done"}}}}]}}]
result = MetaAgent(settings, provider=ScriptedProvider(script)).run("Say done.")
assert result.status == "success", result.reason
loaded = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
print("loaded:", loaded)
"""
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "loaded: []" in run.stdout


def test_enabled_only_by_the_otlp_environment() -> None:
    assert not otel.enabled({})
    assert otel.enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert otel.enabled({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"})
    assert not otel.enabled(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}
    )
    assert not otel.enabled({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_TRACES_EXPORTER": "none"})


def test_a_faulty_tracer_never_breaks_the_run(tmp_path: Path) -> None:
    class Broken:
        def get_tracer(self, name: str) -> Broken:
            return self

        def start_span(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("tracer down")

    otel.configure(Broken())
    try:
        result = _run(tmp_path, [{"tool_calls": [{"name": "finish", "arguments": {"answer": "done"}}]}])
    finally:
        otel.configure(None)
    assert result.status == "success", result.reason
    events = (Path(result.workspace) / "events.jsonl").read_text().splitlines()
    assert '"run_finished"' in events[-1]


def test_the_otlp_environment_exports_to_a_collector(tmp_path: Path) -> None:
    """A run in a fresh process with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a collector on 127.0.0.1:
    the spans arrive over OTLP/HTTP when the process ends."""
    import http.server
    import threading

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    received: list[bytes] = []

    class Collector(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append((self.path, body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    code = f"""
from agentfactory.config import load_settings
from agentfactory.llm import ScriptedProvider
from agentfactory.meta.agent import MetaAgent
settings = load_settings({{"library": "lib", "workspaces": "ws", "sandbox": "local", "model": "scripted"}},
                         env={{}}, cwd={str(tmp_path)!r})
script = [{{"tool_calls": [{{"name": "finish", "arguments": {{"answer": "done"}}}}]}}]
print(MetaAgent(settings, provider=ScriptedProvider(script)).run("Say done.").run_id)
"""
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO),
        "HOME": str(tmp_path),
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_port}",
        "OTEL_SERVICE_NAME": "af-test",
    }
    try:
        run = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
        )
    finally:
        server.shutdown()
        server.server_close()
    assert run.returncode == 0, run.stderr
    run_id = run.stdout.strip().splitlines()[-1]
    assert [path for path, _ in received] == ["/v1/traces"]
    request = ExportTraceServiceRequest.FromString(received[0][1])
    (resource_spans,) = request.resource_spans
    service = {a.key: a.value.string_value for a in resource_spans.resource.attributes}["service.name"]
    names = sorted(s.name for scope in resource_spans.scope_spans for s in scope.spans)
    assert service == "af-test"
    assert names == ["chat scripted", "execute_tool finish", "invoke_agent agentfactory"]
    run_ids = {
        a.value.string_value
        for scope in resource_spans.scope_spans
        for s in scope.spans
        for a in s.attributes
        if a.key == "agentfactory.run_id"
    }
    assert run_ids == {run_id}
