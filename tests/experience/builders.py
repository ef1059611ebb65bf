"""Builders shared by the experience tests: a realistic run folder and a small two-agent history."""

from __future__ import annotations

import json
from pathlib import Path

from agentfactory import events as ev
from agentfactory.engine.workspace import WorkspaceManager
from agentfactory.experience import ExecutionRecord, ExperienceStore, RunRecord


def make_run(workspaces: Path, run_id: str = "20260101-120000-abc123") -> Path:
    """A run folder shaped like a Meta-Agent run: every event type, a trace per execution, a save.

    Written with the real EventLog, so the report reads what the framework writes.
    """
    ws = WorkspaceManager(workspaces).create(run_id)
    ok_trace = {
        "status": "ok",
        "backend": "local",
        "result": {"mean": 2.5, "count": 4},
        "result_preview": '{"mean": 2.5, "count": 4}',
        "error": None,
        "stdout": "read 4 rows\n",
        "stderr": "",
        "duration_s": 0.41,
        "tool_calls": [],
        "output_files": ["outputs/summary.txt"],
    }
    bad_trace = {
        "status": "error",
        "backend": "local",
        "result": None,
        "result_preview": "",
        "error": {
            "type": "ZeroDivisionError",
            "message": "division by zero",
            "frames": [{"file": "csv_stats.py", "line": 12, "function": "run", "source": "mean = s / n"}],
        },
        "stdout": "",
        "stderr": "Traceback (most recent call last): ...",
        "duration_s": 0.22,
        "tool_calls": [
            {
                "tool": "llm",
                "arguments": "{'prompt': 'x'}",
                "ok": True,
                "error": None,
                "usage": {"input_tokens": 120, "output_tokens": 30},
                "duration_s": 0.1,
            },
        ],
    }
    (ws.traces / "001-csv-stats.json").write_text(json.dumps(bad_trace))
    (ws.traces / "002-csv-stats.json").write_text(json.dumps(ok_trace))
    with ws.event_log() as log:
        log.strict = False  # events by hand, only the fields the readers need
        log.emit(
            ev.RUN_STARTED,
            task="Compute the mean of data.csv <b>now</b>",
            model="scripted",
            agent_id="alice",
            simulated=True,
            sandbox="local",
        )
        log.emit(
            ev.MODEL_CALL,
            role="orchestrator",
            step=1,
            model="scripted",
            cost_usd=0.0012,
            latency_s=0.5,
            stop_reason="tool_use",
            usage={"input_tokens": 1500, "output_tokens": 220, "cache_read_tokens": 900},
        )
        log.emit(
            ev.TOOL_CALL,
            step=1,
            tool="create_subagent",
            arguments={"name": "csv-stats"},
            is_error=False,
            duration_s=0.05,
            result="Candidate 'csv-stats' created (revision 1)",
        )
        log.emit(
            ev.MODEL_CALL,
            role="orchestrator",
            step=2,
            model="scripted",
            cost_usd=0.0009,
            latency_s=0.3,
            stop_reason="tool_use",
            usage={"input_tokens": 1800, "output_tokens": 90},
        )
        log.emit(
            ev.MODEL_CALL,
            role="subagent",
            model="scripted",
            cost_usd=0.0001,
            usage={"input_tokens": 120, "output_tokens": 30},
        )
        log.emit(
            ev.SUBAGENT_EXECUTION,
            subagent="csv-stats",
            version=None,
            revision=1,
            status="error",
            duration_s=0.22,
            inputs_digest="ab" * 32,
            trace="traces/001-csv-stats.json",
            tool_calls=1,
            tool_usage={"input_tokens": 120, "output_tokens": 30},
        )
        log.emit(
            ev.TOOL_CALL,
            step=2,
            tool="run_subagent",
            arguments={"name": "csv-stats"},
            is_error=True,
            duration_s=0.3,
            result="ZeroDivisionError: division by zero",
        )
        log.emit(
            ev.MODEL_CALL,
            role="orchestrator",
            step=3,
            model="scripted",
            cost_usd=0.001,
            latency_s=0.3,
            stop_reason="tool_use",
            usage={"input_tokens": 2100, "output_tokens": 300},
        )
        log.emit(
            ev.SUBAGENT_EXECUTION,
            subagent="csv-stats",
            version=None,
            revision=2,
            status="ok",
            duration_s=0.41,
            inputs_digest="cd" * 32,
            trace="traces/002-csv-stats.json",
            tool_calls=0,
            tool_usage={},
        )
        log.emit(
            ev.TOOL_CALL,
            step=3,
            tool="run_subagent",
            arguments={"name": "csv-stats"},
            is_error=False,
            duration_s=0.5,
            result='{"mean": 2.5}',
        )
        log.emit(
            ev.MODEL_CALL,
            role="orchestrator",
            step=4,
            model="scripted",
            cost_usd=0.0008,
            latency_s=0.2,
            stop_reason="tool_use",
            usage={"input_tokens": 2300, "output_tokens": 40},
        )
        log.emit(
            ev.LIBRARY_CHANGE,
            action="save",
            subagent="csv-stats",
            version=1,
            commit="0123abcd",
            parent_version=None,
            cases=1,
        )
        log.emit(
            ev.TOOL_CALL,
            step=4,
            tool="finish",
            arguments={"answer": "2.5"},
            is_error=False,
            duration_s=0.2,
            result="csv-stats: saved as v1.",
        )
        log.emit(
            ev.RUN_FINISHED,
            status="success",
            reason="",
            answer="The mean is 2.5",
            steps=4,
            created=["csv-stats"],
            reused=[],
            saved=[["csv-stats", 1]],
            rejected={},
        )
    return ws.root


def record_history(store: ExperienceStore) -> None:
    """A small two-agent history used by several tests."""
    store.record_run(
        RunRecord(
            run_id="r1",
            agent_id="alice",
            task="t1",
            status="success",
            success=True,
            input_tokens=1000,
            output_tokens=100,
            subagents_created=["csv-stats"],
            subagents_saved=["csv-stats"],
            started=100.0,
        )
    )
    store.record_run(
        RunRecord(
            run_id="r2",
            agent_id="bob",
            task="t2",
            status="success",
            success=True,
            input_tokens=400,
            output_tokens=50,
            subagents_reused=["csv-stats"],
            started=200.0,
        )
    )
    for i, ok in enumerate([True, False, True]):
        store.record_execution(
            ExecutionRecord.build(
                run_id="r2",
                agent_id="bob",
                subagent="csv-stats",
                version=1,
                inputs={"n": i},
                success=ok,
                ts=200.0 + i,
                error_kind=None if ok else "ZeroDivisionError",
            )
        )
