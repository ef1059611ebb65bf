"""The figures: cost under the prompt-cache model, figures over the tasks every method solved, headline
ratios per `final` mode, and how often final answers were used and failed their checker."""

from __future__ import annotations

from pathlib import Path

import pytest
from agentfactory_bench.costs import PromptCache
from agentfactory_bench.harness import FINAL_OFF_LABEL, BenchResult, TaskRow
from agentfactory_bench.recording import CallStat

from agentfactory.llm.types import Usage


def test_prompt_cache_writes_the_prefix_once_then_reads_it():
    cache = PromptCache(input_price=3.0, output_price=15.0)
    first = cache.cost([CallStat(Usage(1000, 100), True, 600, "meta")])
    assert (first.uncached_input, first.cache_write, first.cache_read) == (400, 600, 0)
    assert first.usd == pytest.approx((400 * 3 + 600 * 3 * 1.25 + 100 * 15) / 1e6)
    later = cache.cost([CallStat(Usage(1200, 50), True, 600, "meta")])
    assert (later.uncached_input, later.cache_write, later.cache_read) == (600, 0, 600)
    assert later.usd == pytest.approx((600 * 3 + 600 * 3 * 0.1 + 50 * 15) / 1e6)


def test_reported_cache_tokens_are_used_as_reported_and_tool_less_calls_are_not_cached():
    cache = PromptCache(input_price=3.0, output_price=15.0)
    reported = cache.cost([CallStat(Usage(100, 20, cache_read_tokens=900), True, 600, "meta")])
    assert (reported.uncached_input, reported.cache_read, reported.cache_write) == (100, 900, 0)
    sub = cache.cost([CallStat(Usage(500, 30), False, 0, "x")])
    assert (sub.uncached_input, sub.cache_read, sub.cache_write) == (500, 0, 0)


def row(label: str, batch: int, task: str, tokens: int, *, success: bool = True, **kw) -> TaskRow:
    method = "agentfactory" if label.startswith("agentfactory") else label
    final = {"agentfactory": True, FINAL_OFF_LABEL: False}.get(label)
    return TaskRow(
        method=method, repeat=1, batch=batch, task_id=task, family="f", success=success,
        status="success" if success else "task_failed", check=[], orchestrator={}, subagent={},
        input_tokens=tokens - 100, output_tokens=100, cache_read_tokens=0, cache_write_tokens=0,
        total_tokens=tokens, model_calls=2, steps=2, wall_s=0.1, run_id=f"{label}-{task}",
        final=final, label=label, orchestrator_output_tokens=100, cost_usd=tokens / 1e6, **kw,
    )  # fmt: skip


def result() -> BenchResult:
    rows = [
        row("agentfactory", 1, "a1", 1000),
        row("agentfactory", 1, "b1", 1000),
        row("agentfactory", 2, "a2", 200, final_used=1),
        row("agentfactory", 2, "b2", 100, success=False, final_used=1),  # a final answer that failed
        row(FINAL_OFF_LABEL, 1, "a1", 1000),
        row(FINAL_OFF_LABEL, 1, "b1", 1000),
        row(FINAL_OFF_LABEL, 2, "a2", 400),
        row(FINAL_OFF_LABEL, 2, "b2", 400),
        row("react", 1, "a1", 2000),
        row("react", 1, "b1", 2000),
        row("react", 2, "a2", 2000),
        row("react", 2, "b2", 2000, final_refused=0),
    ]
    return BenchResult("sim", True, "tiny", rows, Path("."))


def test_figures_over_the_tasks_every_method_solved():
    r = result()
    assert r.common_tasks() == {"a1", "b1", "a2"}
    by = {(s["method"], s["batch"]): s for s in r.summary(r.common_tasks())}
    assert by[("agentfactory", 2)]["tasks"] == 1 and by[("agentfactory", 2)]["total_tokens"] == 200
    assert by[("react", 2)]["total_tokens"] == 2000
    everything = {(s["method"], s["batch"]): s for s in r.summary()}
    assert everything[("agentfactory", 2)]["total_tokens"] == 300
    assert everything[("agentfactory", 2)]["successes"] == 1
    assert everything[("agentfactory", 1)]["orchestrator_output_per_task"] == 100


def test_headline_ratios_with_final_on_and_off_over_both_bases():
    heads = {(h["ratio"], h["final"], h["basis"]): h for h in result().headline()}
    assert heads[("AF b2 / ReAct b2", "on", "all tasks")]["total_tokens"] == pytest.approx(300 / 4000)
    assert heads[("AF b2 / ReAct b2", "off", "all tasks")]["total_tokens"] == pytest.approx(800 / 4000)
    assert heads[("AF b2 / ReAct b2", "on", "solved by all")]["total_tokens"] == pytest.approx(200 / 2000)
    assert heads[("AF b2 / AF b1", "off", "solved by all")]["total_tokens"] == pytest.approx(400 / 2000)
    assert heads[("AF b1 / ReAct b1", "on", "all tasks")]["cost_usd"] == pytest.approx(0.5)
    assert len(heads) == 3 * 2 * 2
    assert result().ratios()["AF b2 / ReAct b2 (final off)"] == pytest.approx(0.2)


def test_final_counts_and_final_answers_that_failed_their_checker():
    r = result()
    assert r.final_counts() == {"requests": 2, "used": 2, "refused": 0, "final_answer_failed_check": 1}
    by = {(s["method"], s["batch"]): s for s in r.summary()}
    assert by[("agentfactory", 2)]["final_failed_check"] == 1
    assert "2 used, 0 refused; 1 final answers failed their checker" in r.markdown()
