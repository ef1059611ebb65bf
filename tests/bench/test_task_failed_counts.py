"""The benchmark counts a run that ended `task_failed` as a failure, even when its answer passes the
task's checks: the run itself said the task was not done. Only a task marked `out_of_scope` takes an
honest task_failed as its correct outcome."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from agentfactory_bench import Check, load_suite
from agentfactory_bench.harness import _run_task

from agentfactory.config import load_settings
from agentfactory.llm import ScriptedProvider
from agentfactory.meta.agent import MetaAgent

SUITE = Path(__file__).resolve().parents[2] / "benchmarks" / "suites" / "variants2"
REFUSAL = "I could not do this: Excel workbooks are outside what I can write."


def _row(tmp_path, finish_args, *, out_of_scope, checks=None):
    suite = load_suite(SUITE)
    task = next(t for t in suite.tasks if t.id == "other-pivot-excel")
    assert task.out_of_scope  # as the suite marks it
    task = dataclasses.replace(task, out_of_scope=out_of_scope, checks=checks or task.checks)
    settings = load_settings({"model": "scripted", "sandbox": "local"}, env={}, cwd=tmp_path)

    def runner(s, text, files):
        provider = ScriptedProvider([{"tool_calls": [{"name": "finish", "arguments": finish_args}]}])
        return MetaAgent(s, provider=provider).run(text, input_files=files)

    row, _ = _run_task("agentfactory", 1, task, runner, settings, tmp_path / "m", "http://127.0.0.1:9", None)
    return row


def test_task_failed_run_is_a_failure_even_when_the_check_passes(tmp_path):
    failed = {"answer": REFUSAL, "status": "failed", "reason": "out of scope"}
    # A check the refusal passes (the suite's own checks no longer do: they verify a real result).
    passes = (Check("answer_contains", "could not"),)
    row = _row(tmp_path, failed, out_of_scope=False, checks=passes)
    assert row.status == "task_failed" and row.success is False
    assert all(line.startswith("ok ") for line in row.check)  # the answer alone would have passed


def test_an_honest_task_failed_solves_an_out_of_scope_task(tmp_path):
    failed = {"answer": "Not done.", "status": "failed", "reason": "Excel is out of scope"}
    row = _row(tmp_path, failed, out_of_scope=True)
    assert row.status == "task_failed" and row.success is True


def test_a_refusal_reported_done_does_not_solve_an_out_of_scope_task(tmp_path):
    # Out-of-scope checks verify a correct result (the negative controls refuse "contains cannot"), so a
    # refusal the run calls done fails them.
    verifying = (Check("file_exists", "pivot.xlsx"),)
    row = _row(tmp_path, {"answer": REFUSAL}, out_of_scope=True, checks=verifying)
    assert row.status == "success" and row.success is False
