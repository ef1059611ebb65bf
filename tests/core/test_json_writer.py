"""The one JSON writer (events.to_json): strict JSON, valid UTF-8, never raises, loses nothing it can keep."""

import json
import math
from pathlib import Path

import pytest

from agentfactory import events as ev


def strict_loads(data: bytes | str):
    """json.loads that refuses NaN/Infinity tokens and invalid UTF-8, as a strict consumer (jq) does."""

    def refuse(name):
        raise ValueError(f"non-standard token {name}")

    if isinstance(data, bytes):
        data = data.decode("utf-8")  # strict: raises on invalid UTF-8
    return json.loads(data, parse_constant=refuse)


HOSTILE = {
    "surrogate": "a\ud800b",
    "escaped byte": "caf\udce9",
    "pair halves": "\ud83d\ude00",
    "control": "\x1b[31mred\x07",
    "nan": float("nan"),
    "inf": [float("inf"), -math.inf],
    "path": Path("/tmp/x"),
    "set": {2, 1},
    "bytes": b"\xff\x00",
    ("tuple", 1): "key",
    3: "int key",
}


def test_hostile_values_give_strict_utf8_json():
    data = ev.json_bytes(HOSTILE, indent=2)
    value = strict_loads(data)
    assert value["surrogate"] == "a\ud800b"  # the lone surrogate comes back as it was
    assert value["escaped byte"] == "caf\udce9"
    assert value["control"] == "\x1b[31mred\x07"
    assert value["nan"] == "NaN" and value["inf"] == ["Infinity", "-Infinity"]
    assert value["path"] == "/tmp/x" and value["set"] == [1, 2] and value["3"] == "int key"
    assert b"\x1b" not in data  # control characters are escaped in the text


def test_cycles_depth_and_hostile_objects_never_raise():
    cycle: list = []
    cycle.append(cycle)
    deep: list = []
    node = deep
    for _ in range(20_000):
        node.append([])
        node = node[0]

    class Hostile:
        def __repr__(self):
            raise RuntimeError("no")

        def to_dict(self):
            raise RuntimeError("no")

    assert strict_loads(ev.to_json(cycle)) == ["<circular reference>"]
    text = ev.to_json(deep)
    assert f"nested deeper than {ev.MAX_JSON_DEPTH} levels" in text
    strict_loads(text)
    assert strict_loads(ev.to_json([Hostile()]))[0].startswith("<unserialisable Hostile")


def test_event_log_writes_surrogates_and_nan_as_strict_lines(tmp_path):
    path = tmp_path / "events.jsonl"
    with ev.EventLog(path, "r1") as log:
        log.strict = False  # partial events by hand: the writer is under test, not the records
        log.emit(ev.RUN_STARTED, task="t")
        log.emit(ev.TOOL_CALL, tool="run_subagent", result={"x": "a\udcff", "n": float("nan")})
        log.emit(ev.RUN_FINISHED, status="success", answer="done \ud800")
    lines = path.read_bytes().splitlines()
    assert len(lines) == 3
    events = [strict_loads(line) for line in lines]
    assert events[1]["result"] == {"x": "a\udcff", "n": "NaN"}
    assert [e["type"] for e in ev.read_events(path)][-1] == ev.RUN_FINISHED
    assert ev.summarize_run(tmp_path).answer == "done \ud800"


def test_write_json_file_is_valid_utf8(tmp_path):
    path = ev.write_json(tmp_path / "trace.json", {"result": "\ud800", "v": float("-inf")})
    assert strict_loads(path.read_bytes()) == {"result": "\ud800", "v": "-Infinity"}


@pytest.mark.parametrize("value", [None, 1, 1.5, "é", [1, {"a": True}], {"k": []}])
def test_ordinary_values_are_plain_json(value):
    assert ev.to_json(value) == json.dumps(value, ensure_ascii=False)


def test_c1_controls_and_bidi_overrides_are_escaped_losslessly():
    value = {"name": "report\u202egpj.exe", "csi": "\x9b31m", "del": "\x7f", "sep": "a\u2028b"}
    text = ev.to_json(value)
    assert not any(ch in text for ch in "\u202e\x9b\x7f\u2028")
    assert "\\u202e" in text and "\\u009b" in text
    assert strict_loads(text) == value
