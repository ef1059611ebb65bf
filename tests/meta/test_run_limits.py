"""Run limits that hold whatever the model and the subagents do: one budget for the Meta-Agent's and the
subagents' model calls, `--max-steps` over tool calls, the run's wall clock (`--max-time`), and the
tool broker's call limit, with a real sandbox and scripted models."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from agentfactory.config import Prices
from agentfactory.engine.budget import Budget
from agentfactory.errors import EXIT_BUDGET, EXIT_USAGE, BudgetExhausted
from agentfactory.llm import ScriptedProvider
from agentfactory.llm.metered import MeteredProvider
from agentfactory.meta.agent import MetaAgent

from .conftest import UPPER, call, make_env
from .test_bad_input import cli, one_line_error, script_file

SMALL = {"input_tokens": 100, "output_tokens": 100}


def turn(tool: str, **arguments) -> dict:
    """One orchestrator turn with a fixed, small usage (so the limits below are the subagents')."""
    return {**call(tool, **arguments), "usage": SMALL}


ASK_MANY = '''"""Ask the model many times.

Purpose: count how many questions the model answers.
Inputs: n (int).
Outputs: answered (int), refused (int), last (str).
Limitations: none.
"""
from agentfactory_tools import ToolError, llm


def run(n: int) -> dict:
    answered = refused = 0
    last = ""
    for i in range(n):
        try:
            llm(f"question {i}")
            answered += 1
        except ToolError as exc:
            refused += 1
            last = str(exc)
    return {"answered": answered, "refused": refused, "last": last[:300]}
'''

SLEEPY = '''"""Sleep a long time.

Purpose: wait.
Inputs: none.
Outputs: slept (bool).
Limitations: slow.
"""
import time


def run() -> dict:
    time.sleep(60)
    return {"slept": True}
'''

FLOOD = '''"""Call a tool many times.

Purpose: flood the tool broker.
Inputs: n (int).
Outputs: refused (int), last (str).
Limitations: hostile.
"""
from agentfactory_tools import ToolError, web_fetch


def run(n: int) -> dict:
    refused = 0
    last = ""
    for _ in range(n):
        try:
            web_fetch("http://10.0.0.1/")
        except ToolError as exc:
            refused += 1
            last = str(exc)
    return {"refused": refused, "last": last[:300]}
'''


def ask_many_script(n: int) -> list[dict]:
    return [
        turn("create_subagent", name="ask-many", description="Ask the model.", code=ASK_MANY, tools=["llm"]),
        turn("run_subagent", name="ask-many", inputs={"n": n}),
        turn("finish", answer="done"),
    ]


def subagent_model(tokens_each: int, calls: int = 200) -> ScriptedProvider:
    half = tokens_each // 2
    return ScriptedProvider(
        [{"text": "an answer", "usage": {"input_tokens": half, "output_tokens": half}}] * calls
    )


def executions(env, result) -> list[dict]:
    return [e for e in env.events(result) if e["type"] == "subagent_execution"]


def last_result(env, result) -> dict:
    trace = Path(result.workspace) / executions(env, result)[-1]["trace"]
    return json.loads(trace.read_text())["result"]


# ---- the subagents' model spend is the run's ------------------------------------------------------


def test_subagent_llm_tokens_count_against_the_run_token_budget(tmp_path):
    env = make_env(tmp_path, max_tokens=20_000)
    sub = subagent_model(10_000)
    result = env.run("Ask many questions", ask_many_script(50), subagent_provider=sub)

    assert result.status == "budget_exhausted" and result.exit_code == EXIT_BUDGET
    assert result.reason.startswith("token limit reached (20400/20000 tokens)")
    # 400 orchestrator tokens, then two subagent calls of 10,000 reach the limit; the third is refused
    # before the subagent model is asked, and so are the 47 after it.
    assert sub.remaining == 198
    out = last_result(env, result)
    assert out["answered"] == 2 and out["refused"] == 48
    assert "Budget exhausted: token limit reached" in out["last"]
    assert result.subagent_usage.total_tokens == 20_000
    events = env.events(result)
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "budget_exhausted"
    assert result.answer is None  # the finish turn never came


def test_subagent_llm_cost_counts_against_the_run_cost_budget(tmp_path):
    # $1 per million tokens: one subagent call of 10,000 tokens costs $0.01.
    env = make_env(tmp_path, max_cost=0.01, prices={"scripted": Prices(1.0, 1.0)})
    sub = subagent_model(10_000)
    result = env.run("Ask many questions", ask_many_script(20), subagent_provider=sub)

    assert result.status == "budget_exhausted" and result.exit_code == EXIT_BUDGET
    assert result.reason.startswith("cost limit reached")
    assert sub.remaining == 199  # one call spent the budget; none after it reached the model
    assert last_result(env, result)["answered"] == 1


def test_cli_subagent_spend_under_max_tokens_and_max_cost_ends_budget_exhausted(tmp_path, monkeypatch):
    """The reported case: --max-tokens 20000 --max-cost 0.01, a subagent asking its model in a loop."""
    model = script_file(tmp_path, ask_many_script(500))
    sub_path = tmp_path / "sub.json"
    sub_path.write_text(
        json.dumps([{"text": "x", "usage": {"input_tokens": 5000, "output_tokens": 5000}}] * 600)
    )
    out = cli(
        tmp_path,
        monkeypatch,
        "Ask many questions",
        "--model",
        model,
        "--subagent-model",
        f"scripted:{sub_path}",
        "--max-tokens",
        "20000",
        "--max-cost",
        "0.01",
        "--json",
    )
    assert out.exit_code == EXIT_BUDGET, out.output
    data = json.loads(out.stdout)
    assert data["status"] == "budget_exhausted" and "token limit reached" in data["reason"]
    assert data["subagent_usage"]["input_tokens"] + data["subagent_usage"]["output_tokens"] <= 30_000
    events = [json.loads(line) for line in (tmp_path / "ws" / data["run_id"] / "events.jsonl").open()]
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "budget_exhausted"


# ---- max_steps bounds tool calls ------------------------------------------------------------------


def test_max_steps_bounds_the_tool_calls_of_one_turn(tmp_path):
    env = make_env(tmp_path, max_steps=5)
    sixty = {
        "tool_calls": [
            {"name": "run_subagent", "arguments": {"name": "upper-text", "inputs": {"text": f"t{i}"}}}
            for i in range(60)
        ],
        "usage": SMALL,
    }
    script = [
        turn("create_subagent", name="upper-text", description="Upper-case a text.", code=UPPER),
        sixty,
        turn("finish", answer="done"),
    ]
    result = env.run("Upper-case sixty texts", script)

    assert result.status == "budget_exhausted" and result.exit_code == EXIT_BUDGET
    assert result.reason == "step limit reached (5/5 steps)" and result.steps == 5
    # Step 1 created the candidate; the second turn's model call is step 2 and pays for its first
    # tool call, the next three take steps 3 to 5, and the other 56 are not run.
    assert len(executions(env, result)) == 4
    assert env.providers[0].remaining == 1


# ---- the run's wall clock ---------------------------------------------------------------------------


def test_cli_max_time_caps_an_execution_and_ends_the_run_cleanly(tmp_path, monkeypatch):
    model = script_file(
        tmp_path,
        [
            call("create_subagent", name="sleepy", description="Sleep.", code=SLEEPY),
            call("run_subagent", name="sleepy", inputs={}),
            call("finish", answer="done"),
        ],
    )
    started = time.monotonic()
    out = cli(
        tmp_path, monkeypatch, "Sleep", "--model", model, "--timeout", "30", "--max-time", "4", "--json"
    )
    elapsed = time.monotonic() - started

    assert out.exit_code == EXIT_BUDGET, out.output
    data = json.loads(out.stdout)
    assert data["status"] == "budget_exhausted" and data["reason"].startswith("time limit reached")
    assert elapsed < 15, elapsed  # not the 30 s of --timeout, nor the 60 s the subagent asked for
    events = [json.loads(line) for line in (tmp_path / "ws" / data["run_id"] / "events.jsonl").open()]
    run_exec = [e for e in events if e["type"] == "subagent_execution"]
    assert [e["status"] for e in run_exec] == ["timeout"]
    assert run_exec[0]["duration_s"] < 4.5  # capped by what was left of the run's 4 s
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "budget_exhausted"


def test_max_time_is_checked_before_each_execution(tmp_path):
    env = make_env(tmp_path, max_time=1.5)

    def slow_turn(system, messages, tools):
        time.sleep(1.6)  # the model call itself was already under way: it finishes
        return call("run_subagent", name="upper-text", inputs={"text": "hi"})

    script = [
        turn("create_subagent", name="upper-text", description="Upper-case a text.", code=UPPER),
        slow_turn,
        turn("finish", answer="done"),
    ]
    result = env.run("Upper-case hi", script)
    assert result.status == "budget_exhausted" and result.reason.startswith("time limit reached")
    assert executions(env, result) == []  # the run_subagent call came after the clock ran out
    assert env.providers[0].remaining == 1  # and no model call was made after it


def test_a_spent_wall_clock_refuses_the_model_call_before_sending_it():
    model = ScriptedProvider([{"text": "a"}])
    budget = Budget(max_time=0.05)
    metered = MeteredProvider(model, __import__("agentfactory.config").config.ModelSettings(), budget=budget)
    time.sleep(0.1)
    with pytest.raises(BudgetExhausted, match="time limit reached"):
        metered.complete("s", [], [])
    assert model.remaining == 1 and metered.calls == 0


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0", "-inf"])
def test_max_time_must_be_positive_and_finite(tmp_path, monkeypatch, value):
    model = script_file(tmp_path, [call("finish", answer="x")])
    out = cli(tmp_path, monkeypatch, "Anything", "--model", model, f"--max-time={value}")
    assert out.exit_code == EXIT_USAGE, out.output
    assert "Setting 'max_time' from --max-time is" in one_line_error(out)
    assert not (tmp_path / "ws").exists()


def test_max_time_from_the_environment_is_checked_too(tmp_path, monkeypatch):
    model = script_file(tmp_path, [call("finish", answer="x")])
    monkeypatch.chdir(tmp_path)
    from typer.testing import CliRunner

    from agentfactory.cli.app import app

    monkeypatch.setenv("AGENTFACTORY_MAX_TIME", "nan")
    out = CliRunner().invoke(app, ["run", "--sandbox", "local", "--model", model, "Anything"])
    assert out.exit_code == EXIT_USAGE, out.output
    assert "max_time" in out.output and "Traceback" not in out.output


# ---- the broker's call limit, in a run -------------------------------------------------------------


def test_a_flooding_subagent_ends_with_tool_limit_and_a_bounded_trace(tmp_path, sandbox):
    env = make_env(tmp_path, sandbox)
    script = [
        call("create_subagent", name="flood", description="Flood.", code=FLOOD, tools=["web_fetch"]),
        call("run_subagent", name="flood", inputs={"n": 5000}),
        call("finish", answer="done"),
    ]
    result = MetaAgent(env.settings, provider=ScriptedProvider(script)).run("Flood the broker")

    events = [json.loads(line) for line in (Path(result.workspace) / "events.jsonl").open()]
    (execution,) = [e for e in events if e["type"] == "subagent_execution"]
    assert execution["status"] == "tool_limit"
    assert execution["tool_calls"] == 1001  # the 1,000 calls served, and the note that closed the session
    trace_path = Path(result.workspace) / execution["trace"]
    assert trace_path.stat().st_size < 1_000_000
    trace = json.loads(trace_path.read_text())
    assert trace["error"]["type"] == "ToolCallLimit" and "call limit" in trace["error"]["message"]
    assert "call limit of 1000 tool calls per execution reached" in trace["tool_calls"][-1]["error"]
    assert events[-1]["type"] == "run_finished" and result.status == "success"


# ---- calls in flight at once, and one huge prompt ----------------------------------------------------

PARALLEL_ASK = '''"""Ask the model from several threads at once.

Purpose: spend the budget in parallel.
Inputs: k (int), words (int).
Outputs: answered (int), refused (int).
Limitations: hostile.
"""
import threading
from agentfactory_tools import ToolError, llm


def run(k: int, words: int) -> dict:
    res = {"answered": 0, "refused": 0}

    def one():
        try:
            llm("word " * words)
            res["answered"] += 1
        except ToolError:
            res["refused"] += 1

    threads = [threading.Thread(target=one) for _ in range(k)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return res
'''


def _billed_like_a_real_provider(system, messages, tools):
    time.sleep(0.5)  # all calls are in flight together
    return {"text": "answer"}  # usage counted from the request it received, as a provider bills


@pytest.mark.parametrize("k, words", [(8, 3_000), (1, 150_000)], ids=["parallel", "one-huge-prompt"])
def test_calls_in_flight_together_cannot_pass_the_token_limit(tmp_path, k, words):
    env = make_env(tmp_path, "local", max_tokens=20_000)
    subagent_model = ScriptedProvider([_billed_like_a_real_provider] * 20)
    script = [
        turn("create_subagent", name="ask-par", description="Ask.", code=PARALLEL_ASK, tools=["llm"]),
        turn("run_subagent", name="ask-par", inputs={"k": k, "words": words}),
        turn("finish", answer="done"),
    ]
    result = env.run("Ask in parallel", script, subagent_provider=subagent_model)
    # Each call reserves its input (estimated) and output cap before it is sent: what fits is served,
    # the rest is refused before anything is sent.
    assert result.usage.total_tokens + result.subagent_usage.total_tokens <= 20_000
    execution = [e for e in env.events(result) if e["type"] == "subagent_execution"][0]
    assert execution["status"] == "ok"
    refused = 20 - subagent_model.remaining < k
    assert refused  # not every call fitted
