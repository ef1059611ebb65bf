"""Every event type the code emits is declared once in events.py with its fields; EventLog.emit refuses
an undeclared type or a missing required field (raises under tests, writes a `schema_error` note in
production)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import agentfactory
from agentfactory import events as ev

PACKAGE = Path(agentfactory.__file__).parent


def _emitted_types() -> set[str]:
    """The event types of every emit(...)/notify(...) call of the package: its first argument is a
    constant (`ev.X`, `_events.X`, `X`) that must exist in events.py."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            constant = first.attr if isinstance(first, ast.Attribute) else getattr(first, "id", "")
            if name in ("emit", "notify") and constant.isupper():
                found.add(getattr(ev, constant, f"<{constant} of {path.name}, not in events.py>"))
    return found


def test_every_emitted_type_is_declared_once():
    emitted = _emitted_types()
    assert emitted, "no emit() call found: the scan is broken"
    assert emitted <= set(ev.EVENT_RECORDS), emitted - set(ev.EVENT_RECORDS)
    assert {ev.RUN_FINISHED, ev.LIBRARY_CHANGE, ev.SUBAGENT_EXECUTION, ev.MODEL_CALL} <= emitted
    # gate decisions and evolve rounds have their own records
    assert ev.record_for(ev.LIBRARY_CHANGE, {"action": "rejected"}) is ev.GateDecision
    assert ev.record_for(ev.LIBRARY_CHANGE, {"action": "save"}) is ev.LibraryChange
    assert ev.EVENT_RECORDS[ev.EVOLVE_ROUND] is ev.EvolveRound


@pytest.mark.parametrize(
    ("type_", "values", "words"),
    [
        ("run_paused", {}, "event type 'run_paused' is not declared"),
        (ev.RUN_FINISHED, {"status": "success", "answer": "x"}, "lacks its required field(s) reason"),
        (ev.LIBRARY_CHANGE, {"action": "accepted", "subagent": "a"}, "base_version, source, reason"),
        (ev.EVOLVE_ROUND, {"stage": "assess"}, "lacks its required field(s) subagent"),
        (
            ev.EXECUTION_OUTPUT,
            {"execution": 1, "subagent": "a", "stream": "stdout", "line": "x"},
            "live only",
        ),
    ],
)
def test_emit_refuses_a_malformed_event_under_tests(tmp_path, type_, values, words):
    log = ev.EventLog(tmp_path / "events.jsonl", "r1")
    assert log.strict  # tests/conftest.py
    with pytest.raises(ev.EventSchemaError) as raised:
        log.emit(type_, **values)
    assert words in str(raised.value)
    log.close()
    assert (tmp_path / "events.jsonl").read_bytes() == b""  # nothing written


def test_in_production_a_malformed_event_is_written_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setattr(ev.EventLog, "strict", False)
    with ev.EventLog(tmp_path / "events.jsonl", "r1") as log:
        log.emit(ev.RUN_FINISHED, status="error", answer=None)
        log.emit(ev.RUN_FINISHED, status="success", reason="", answer="42", steps=3, extra_detail=1)
    first, second = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert first["schema_error"] == "event 'run_finished' lacks its required field(s) reason"
    assert "schema_error" not in second and second["extra_detail"] == 1  # extra detail is allowed


def test_notify_checks_live_events_too(tmp_path):
    with ev.EventLog(tmp_path / "events.jsonl", "r1") as log:
        shown = log.notify(ev.EXECUTION_OUTPUT, execution=1, subagent="a", stream="stdout", line="hi")
        assert shown["line"] == "hi"
        with pytest.raises(ev.EventSchemaError, match="lacks its required field"):
            log.notify(ev.MODEL_STREAM, call=1)
    assert (tmp_path / "events.jsonl").read_bytes() == b""
