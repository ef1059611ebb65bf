"""The shape the engine redesign promises, measured with scripts/imports.py over the code's own imports:
no import cycle (module level or lazy) through the engine or the Meta-Agent, an engine that imports
nothing of the Meta-Agent, a provider wrapper that never writes the event log, and files of a readable
size. And the script itself reports what it should on a package made for it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from agentfactory.config import Settings
from agentfactory.llm import ScriptedProvider
from agentfactory.llm.metered import MeteredProvider, ModelCall
from agentfactory.llm.types import Message, StreamEvent

ROOT = Path(__file__).resolve().parents[2]
MINE = ("agentfactory.engine", "agentfactory.meta", "agentfactory.llm.metered")


def _script():
    spec = importlib.util.spec_from_file_location("imports_script", ROOT / "scripts" / "imports.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def modules():
    return _script().load(ROOT)


def test_no_import_cycle_runs_through_the_engine_or_the_meta_agent(modules):
    script = _script()
    graph = {m.name: m.eager | m.lazy for m in modules.values()}  # lazy imports count too
    cycles = [c for c in script.cycles(graph) if any(name.startswith(MINE) for name in c)]
    assert cycles == []
    assert "agentfactory.runtime" not in modules  # the old wiring module is gone, not re-exported


def test_the_engine_knows_no_meta_agent_and_meta_is_policy_only(modules):
    engine = {m.name: m for m in modules.values() if m.name.startswith("agentfactory.engine")}
    reached = {t for m in engine.values() for t in m.eager | m.lazy}
    assert not [t for t in reached if t.startswith(("agentfactory.meta", "agentfactory.evolve"))]
    meta = sorted(m.name for m in modules.values() if m.name.startswith("agentfactory.meta."))
    # The Meta-Agent, its tools' handlers, its skills, and its policy on final answers.
    assert meta == [
        "agentfactory.meta.agent",
        "agentfactory.meta.final",
        "agentfactory.meta.handlers",
        "agentfactory.meta.skills",
    ]


def test_no_engine_or_meta_file_is_over_600_lines(modules):
    big = {m.name: m.lines for m in modules.values() if m.name.startswith(MINE) and m.lines > 600}
    assert big == {}


def test_the_metered_provider_reports_to_its_meter_and_imports_no_event_log(modules):
    metered = modules["agentfactory.llm.metered"]
    assert "agentfactory.events" not in metered.eager | metered.lazy

    class Meter:
        def __init__(self) -> None:
            self.heard: list[tuple[str, int, object]] = []

        def started(self, call: ModelCall) -> None:
            self.heard.append(("started", call.number, call.response))

        def finished(self, call: ModelCall) -> None:
            self.heard.append(("finished", call.number, call.response.usage.output_tokens))

        def wants_stream(self, role: str) -> bool:
            return True

        def streamed(self, call: ModelCall, event: StreamEvent) -> None:
            self.heard.append(("streamed", call.number, event.kind))

    meter = Meter()
    item = {"text": "hi", "usage": {"input_tokens": 5, "output_tokens": 2}, "stream": True}
    provider = MeteredProvider(ScriptedProvider([item]), Settings().models, meter, role="orchestrator")
    provider.complete("system", [Message.user("task")], step=3)
    assert meter.heard[0] == ("started", 1, None)
    assert meter.heard[-1] == ("finished", 1, 2)
    assert {h[0] for h in meter.heard[1:-1]} == {"streamed"}
    assert provider.calls == 1 and provider.usage.output_tokens == 2


def test_the_script_reports_module_cycles_lazy_cycles_and_sizes(tmp_path):
    pkg = tmp_path / "agentfactory"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from agentfactory import b\n")
    (pkg / "b.py").write_text("import agentfactory.a\n")
    (pkg / "c.py").write_text("def f():\n    from agentfactory.sub import d\n    return d\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "d.py").write_text(
        "from typing import TYPE_CHECKING\nimport agentfactory.c\nif TYPE_CHECKING:\n    import agentfactory.a\n"
    )
    out = _script().report(tmp_path)
    sections = dict(part.split("\n", 1) for part in out.split("\n## ")[1:])
    assert next(k for k in sections if k.startswith("Module import cycles, module level")).endswith(": 1")
    assert "agentfactory.a <-> agentfactory.b" in out
    lazy = next(k for k in sections if k.startswith("Module import cycles closed only by lazy"))
    assert lazy.endswith(": 1") and "agentfactory.c <-> agentfactory.sub.d" in sections[lazy]
    # The import under TYPE_CHECKING never runs: no arrow from sub to a.
    assert "agentfactory.sub -> agentfactory.a" not in out
    assert "agentfactory.sub -> agentfactory.c" in out
