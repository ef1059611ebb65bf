"""The regression gate pins content, not names: output files by their bytes (or size and a content
check), values too large to store by a structural summary; NaN never becomes a case that cannot pass."""

from __future__ import annotations

import math
from pathlib import Path

from agentfactory.gate import CaseRun, case_from_run, file_facts, run_case
from agentfactory.library import check_case
from agentfactory.library.cases import dump_cases, parse_cases


def test_file_pins_catch_an_empty_file_and_accept_the_same_content(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.csv").write_text("a,b\n1,2\n3,4\n")
    facts = file_facts(out, ["report.csv"])
    case = case_from_run({"x": 1}, {"ok": True}, ["report.csv"], facts)
    case = parse_cases(dump_cases([case]))[0]  # pins survive the cases.jsonl round trip
    assert check_case(case, {"ok": True}, ["report.csv"], facts).passed
    (out / "report.csv").write_text("")
    empty = check_case(case, {"ok": True}, ["report.csv"], file_facts(out, ["report.csv"]))
    assert empty.failures == ["file 'report.csv' is empty, expected 12 bytes"]
    (out / "report.csv").write_text("a,b\n")
    short = check_case(case, {"ok": True}, ["report.csv"], file_facts(out, ["report.csv"]))
    assert short.failures == ["file 'report.csv' has 1 lines, expected 3"]
    (out / "report.csv").write_text("a,b\n1,2\n3,5\n")  # the bytes moved, the shape did not
    assert check_case(case, {"ok": True}, ["report.csv"], file_facts(out, ["report.csv"])).passed
    assert check_case(case, {"ok": True}, [], {}).failures == ["file 'report.csv' was not produced"]
    # a pinned case never passes by name alone
    unmeasured = check_case(case, {"ok": True}, ["report.csv"], None)
    assert unmeasured.failures == ["file 'report.csv': its content could not be read to check it"]


def test_a_link_among_the_outputs_is_not_measured(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "real.txt").write_text("secret\n")
    (out / "link.txt").symlink_to(out / "real.txt")
    assert set(file_facts(out, ["link.txt", "real.txt", "../out/real.txt"])) == {"real.txt"}


def test_older_cases_without_pins_keep_working() -> None:
    (old,) = parse_cases(
        '{"inputs": {}, "expected": {"n": 1}, "checks": {"files": ["a.txt"], "keys": ["big"]}}\n'
    )
    assert check_case(old, {"n": 1, "big": []}, ["a.txt"]).passed


class _Trace:
    def __init__(self, result):
        self.status, self.result, self.output_files, self.error = "ok", result, [], None


def test_a_nan_result_recorded_as_a_case_lets_a_later_correct_revision_pass() -> None:
    case = case_from_run(
        {"path": "inputs/x.csv"}, {"mean": math.nan, "rows": 3, "parts": [1.0, math.inf]}, []
    )
    stored = parse_cases(dump_cases([case]))[0]
    assert stored.expected == {"rows": 3}
    assert stored.checks["types"] == {"mean": "number", "parts": "array"}
    fixed = run_case(lambda c: CaseRun(_Trace({"mean": 2.5, "rows": 3, "parts": [1.0, 2.0]})), stored)
    assert fixed.passed, fixed.failures
    # a NaN left in an older case by hand still compares equal to NaN
    (legacy,) = parse_cases('{"inputs": {}, "expected": {"mean": NaN, "top": Infinity}}\n')
    assert check_case(legacy, {"mean": math.nan, "top": math.inf}, []).passed
    assert not check_case(legacy, {"mean": 1.0, "top": math.inf}, []).passed


def test_large_values_are_pinned_by_shape() -> None:
    big = {"rows": [{"a": i, "b": str(i)} for i in range(500)]}
    case = case_from_run({}, big, [])
    assert "rows" not in case.expected and case.checks["summaries"]["rows"]["length"] == 500
    assert check_case(case, {"rows": [{"a": i, "b": str(i)} for i in range(500)]}, []).passed
    assert not check_case(case, {"rows": []}, []).passed
    assert not check_case(case, {"rows": {"a": 1}}, []).passed


def test_a_deeply_nested_result_is_recorded_by_type_only() -> None:
    deep: list = []
    node = deep
    for _ in range(3000):
        node.append([])
        node = node[0]
    case = case_from_run({}, {"deep": deep, "n": 1}, [])
    assert case.expected == {"n": 1} and case.checks == {"types": {"deep": "array"}}
    assert check_case(parse_cases(dump_cases([case]))[0], {"deep": deep, "n": 1}, []).passed
