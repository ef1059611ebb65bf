"""The regression gate pins content, not names: output files by their bytes (or size and a content
check), values too large to store by a structural summary; NaN never becomes a case that cannot pass."""

from __future__ import annotations

import math
from pathlib import Path

from agentfactory.engine.gate import CaseRun, case_from_run, file_facts, run_case
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
    assert short.failures == [
        "file 'report.csv': its text differs from the recorded one (4 bytes, expected 12)"
    ]
    (out / "report.csv").write_text("a,b\n1,2\n3,5\n")  # same shape, one value changed: not the same text
    assert not check_case(case, {"ok": True}, ["report.csv"], file_facts(out, ["report.csv"])).passed
    (out / "report.csv").write_bytes(b"a,b \r\n1,2\r\n3,4\r\n")  # line endings and trailing spaces aside
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
    assert stored.checks["types"] == {"mean": "number"}
    assert stored.checks["summaries"]["parts"] == {
        "type": "array",
        "length": 2,
        "sha256": stored.checks["summaries"]["parts"]["sha256"],
    }  # its shape, not its content: a fix may replace the infinity
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


def test_an_older_pin_without_a_kind_keeps_its_shape_rule(tmp_path: Path) -> None:
    (old,) = parse_cases(
        '{"inputs": {}, "expected": {}, "checks": {"file_pins": {"r.csv": {"size": 12, "sha256": "0",'
        ' "lines": 3, "head": "a,b"}}}}\n'
    )
    out = tmp_path / "out"
    out.mkdir()
    (out / "r.csv").write_text("a,b\n1,2\n3,5\n")
    assert check_case(old, {}, ["r.csv"], file_facts(out, ["r.csv"])).passed


# The attacks on the gate: each degraded output keeps the shape the older checks looked at.


def _recorded(tmp_path: Path, result: dict, files: dict[str, bytes]):
    out = tmp_path / "v1"
    out.mkdir()
    for name, data in files.items():
        (out / name).write_bytes(data)
    case = case_from_run({"n": 2000}, result, sorted(files), file_facts(out, sorted(files)))
    return parse_cases(dump_cases([case]))[0]


def _check(tmp_path: Path, case, result: dict, files: dict[str, bytes]):
    out = tmp_path / "v2"
    out.mkdir(exist_ok=True)
    for name, data in files.items():
        (out / name).write_bytes(data)
    return check_case(case, result, sorted(files), file_facts(out, sorted(files)))


def test_a_large_value_of_the_same_shape_but_other_content_fails(tmp_path: Path) -> None:
    case = _recorded(tmp_path, {"v": [i * i for i in range(2000)], "t": "ab" * 3000}, {})
    assert not _check(tmp_path, case, {"v": [0] * 2000, "t": "ab" * 3000}, {}).passed
    assert not _check(tmp_path, case, {"v": [i * i for i in range(2000)], "t": "x" * 6000}, {}).passed
    noisy = {"v": [i * i * (1 + 1e-12) for i in range(2000)], "t": "ab" * 3000}  # float noise: no change
    assert _check(tmp_path, case, noisy, {}).passed


def test_a_binary_file_of_the_same_size_but_other_bytes_fails(tmp_path: Path) -> None:
    import os

    case = _recorded(tmp_path, {"ok": True}, {"data.bin": os.urandom(5000)})
    failed = _check(tmp_path, case, {"ok": True}, {"data.bin": bytes(5000)})
    assert failed.failures == [
        "file 'data.bin': its bytes differ from the recorded ones (5000 bytes, expected 5000)"
    ]


def test_a_csv_with_the_same_header_and_line_count_but_garbage_rows_fails(tmp_path: Path) -> None:
    good = "n,square\n" + "".join(f"{i},{i * i}\n" for i in range(2000))
    bad = "n,square\n" + "x,garbage-garbage\n" * 2000
    case = _recorded(tmp_path, {"ok": True}, {"sq.csv": good.encode()})
    assert not _check(tmp_path, case, {"ok": True}, {"sq.csv": bad.encode()}).passed


def test_a_nan_inside_a_large_list_is_part_of_its_content(tmp_path: Path) -> None:
    case = _recorded(tmp_path, {"v": [math.nan] + list(range(1500))}, {})
    assert not _check(tmp_path, case, {"v": []}, {}).passed
    assert _check(tmp_path, case, {"v": [math.nan] + list(range(1500))}, {}).passed


def test_a_chart_may_render_differently_but_not_change_size_or_format(tmp_path: Path) -> None:
    def png(width: int, height: int, body: bytes) -> bytes:
        return (
            b"\x89PNG\r\n\x1a\n"
            + b"\x00\x00\x00\rIHDR"
            + width.to_bytes(4, "big")
            + height.to_bytes(4, "big")
            + body
        )

    case = _recorded(tmp_path, {"ok": True}, {"chart.png": png(640, 480, b"a" * 4000)})
    assert _check(tmp_path, case, {"ok": True}, {"chart.png": png(640, 480, b"b" * 4100)}).passed
    assert not _check(tmp_path, case, {"ok": True}, {"chart.png": png(10, 10, b"b" * 4100)}).passed
    assert not _check(tmp_path, case, {"ok": True}, {"chart.png": b"GIF89a" + b"b" * 4100}).passed
