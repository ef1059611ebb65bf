import json
import os
import signal
import subprocess
import sys
import time

from agentfactory import events as ev
from agentfactory.engine.budget import Budget
from agentfactory.errors import BudgetExhausted
from agentfactory.llm.types import Usage


def test_events_round_trip_and_summary(tmp_path):
    log = ev.EventLog(tmp_path / "events.jsonl", "r1")
    log.strict = False  # partial events by hand: the summary must cope with any log
    log.emit(ev.RUN_STARTED, task="t", model="sim", simulated=True)
    log.emit(
        ev.MODEL_CALL,
        role="orchestrator",
        step=1,
        usage={"input_tokens": 10, "output_tokens": 5},
        cost_usd=0.5,
    )
    log.emit(
        ev.MODEL_CALL,
        role="subagent",
        usage={"input_tokens": 3, "output_tokens": 2, "cache_read_tokens": 4},
        cost_usd=0.25,
    )
    log.emit(ev.TOOL_CALL, tool="finish")
    log.emit(ev.RUN_FINISHED, status="success", steps=1, answer="42")
    log.close()
    s = ev.summarize_run(tmp_path)
    assert s.status == "success" and s.answer == "42" and s.simulated
    assert s.usage == Usage(13, 7, 4, 0)
    assert s.orchestrator_usage == Usage(10, 5) and s.subagent_usage == Usage(3, 2, 4, 0)
    assert s.cost_usd == 0.75 and s.model_calls == 2 and s.tool_calls == 1


def test_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({"type": "a", "run_id": "r"}) + "\n" + '{"type": "b", "ru')
    assert [e["type"] for e in ev.read_events(path)] == ["a"]


WRITER = """
import sys
from agentfactory.events import EventLog
log = EventLog(sys.argv[1], "killed")
i = 0
while True:
    log.emit("model_call", role="orchestrator", i=i, usage={"input_tokens": 1, "output_tokens": 1},
             padding="x" * 3000)
    i += 1
"""


def test_event_log_survives_a_killed_process(tmp_path):
    path = tmp_path / "events.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(path)])
    deadline = time.time() + 10
    while time.time() < deadline and (not path.exists() or path.stat().st_size < 500_000):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    raw = path.read_bytes()
    complete = raw[: raw.rfind(b"\n") + 1].splitlines()
    assert len(complete) > 10
    for line in complete:
        json.loads(line)  # every complete line parses
    events = list(ev.read_events(path))
    assert [e["i"] for e in events] == list(range(len(events)))


def test_budget_limits():
    b = Budget(max_steps=2)
    assert b.exhausted() is None
    b.step()
    b.step()
    assert "step limit" in b.exhausted()
    b = Budget(max_tokens=100)
    b.charge(Usage(90, 20))
    assert "token limit" in b.exhausted()
    b = Budget(max_cost=1.0)
    b.charge(Usage(), 1.5)
    try:
        b.check_request()
    except BudgetExhausted as exc:
        assert "cost limit" in str(exc)
    else:
        raise AssertionError("budget not enforced")


def test_unexpected_failure_still_writes_run_finished(tmp_path):
    from agentfactory.config import load_settings
    from agentfactory.meta.agent import MetaAgent

    class Broken:
        spec, simulated = "broken", False

        def complete(self, *args, **kwargs):
            raise RuntimeError("provider bug")

    settings = load_settings({"sandbox": "local", "model": "broken"}, env={}, cwd=tmp_path)
    try:
        MetaAgent(settings, provider=Broken()).run("do something")
    except RuntimeError:
        pass
    else:
        raise AssertionError("the unexpected error was swallowed")
    (run_dir,) = (tmp_path / "workspaces").iterdir()
    summary = ev.summarize_run(run_dir)
    assert summary.status == "error"


def test_an_event_made_later_keeps_the_moment_it_was_asked_for(tmp_path):
    """`emit_later`: a background thread writes the event, with the time of the call, not of the write."""
    log = ev.EventLog(tmp_path / "events.jsonl", "r")
    with log.order:  # the background thread cannot write it while we hold the log
        before = time.time()
        log.emit_later(ev.EXECUTION_STARTED, subagent="s", version=1, revision=None, execution=1)
        after = time.time()
        time.sleep(0.3)
    log.emit(ev.RUN_FINISHED, status="success", reason="", answer="a")
    log.close()
    started, finished = ev.read_events(tmp_path / "events.jsonl")
    assert started["type"] == "execution_started" and finished["type"] == "run_finished"
    assert before - 1e-6 <= started["ts"] <= after + 1e-6
    assert finished["ts"] >= after + 0.3
