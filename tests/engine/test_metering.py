from __future__ import annotations

import threading

import pytest

from agentfactory.config import Settings
from agentfactory.engine.log import RunMeter
from agentfactory.events import EventLog, read_events, summarize
from agentfactory.llm import Message, MeteredProvider, ScriptedProvider, Usage


def test_events_sum_to_totals_and_cost_is_set(tmp_path):
    usages = [Usage(1000, 200, 5000, 300), Usage(800, 100, 6000, 0), Usage(50, 10)]
    model = ScriptedProvider([{"text": f"r{i}", "usage": u.to_dict()} for i, u in enumerate(usages)])
    model.spec = "anthropic:claude-sonnet-4-6"  # price these calls as that model
    with EventLog(tmp_path / "events.jsonl", "run-1") as log:
        metered = MeteredProvider(model, Settings().models, RunMeter(log))
        for step, _ in enumerate(usages, start=1):
            response = metered.complete("sys", [Message.user("hi")], step=step)
            assert response.cost_usd > 0
            assert response.latency_s >= 0
    logged = list(read_events(tmp_path / "events.jsonl"))
    # Each call is logged when it starts and when it ends, numbered alike.
    assert [e["type"] for e in logged] == ["model_call_started", "model_call"] * 3
    assert [e["call"] for e in logged] == [1, 1, 2, 2, 3, 3]
    events = [e for e in logged if e["type"] == "model_call"]
    assert [e["step"] for e in events] == [1, 2, 3]
    assert all(e["role"] == "orchestrator" and e["simulated"] is True for e in events)
    assert all(e["model"] == "anthropic:claude-sonnet-4-6" for e in events)
    total = Usage()
    for event in events:
        total = total + Usage.from_dict(event["usage"])
    assert total == metered.usage == usages[0] + usages[1] + usages[2]
    assert sum(e["cost_usd"] for e in events) == pytest.approx(metered.cost_usd)
    assert metered.calls == 3
    summary = summarize(events)
    assert summary.usage == metered.usage and summary.steps == 3


def test_thread_safe_totals_with_subagent_role(tmp_path):
    model = ScriptedProvider([{"text": "x", "usage": {"input_tokens": 10, "output_tokens": 1}}] * 400)
    with EventLog(tmp_path / "events.jsonl", "run-2") as log:
        metered = MeteredProvider(model, Settings().models, RunMeter(log), role="subagent")
        threads = [
            threading.Thread(target=lambda: [metered.complete("", []) for _ in range(100)]) for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    logged = list(read_events(tmp_path / "events.jsonl"))
    events = [e for e in logged if e["type"] == "model_call"]
    assert len(events) == metered.calls == 400 and len(logged) == 800
    assert sorted(e["call"] for e in events) == list(range(1, 401))  # unique numbers across threads
    assert metered.usage == Usage(4000, 400)
    summary = summarize(events)
    assert summary.subagent_usage == metered.usage
    assert all("step" not in e for e in events)


def test_step_attribute_and_no_log():
    metered = MeteredProvider(ScriptedProvider([{"text": "a"}]), Settings().models)
    metered.step = 7
    assert metered.complete("", [Message.user("hi")]).text == "a"
    assert metered.calls == 1 and metered.usage.input_tokens > 0
    assert metered.spec == "scripted" and metered.simulated is True
