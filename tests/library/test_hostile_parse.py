"""Hostile text in a subagent folder (code, cases.jsonl, SKILL.md) is refused with one sentence.

Every reader of subagent files is bounded: the code parser (size, the parser's stack, the tree's depth),
the JSON reader of cases and schemas, and the YAML reader of the frontmatter. No input reaches a
MemoryError, a RecursionError or a TypeError.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentfactory.cli import app
from agentfactory.errors import ValidationError
from agentfactory.library import Library, validate_folder
from agentfactory.library.introspect import MAX_AST_DEPTH, inspect_module, parse_module

from ._helpers import snapshot, write_folder

runner = CliRunner()

UNARY = "x = " + "-" * 200_000 + "1\n\ndef run(text: str) -> dict:\n    return {'result': text}\n"
LONG_SUM = "x = " + "+".join(["1"] * 300_000) + "\n\ndef run(text: str) -> dict:\n    return {}\n"
DEEP_DEFAULT = "def run(text: str, k=" + "-" * 900 + "1) -> dict:\n    return {}\n"


def _one_sentence(result) -> str:
    assert "Traceback" not in result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize("code", [UNARY, LONG_SUM, DEEP_DEFAULT], ids=["unary-minus", "long-sum", "default"])
def test_library_add_refuses_code_that_cannot_be_parsed_within_bounds(tmp_path: Path, code: str) -> None:
    lib = tmp_path / "lib"
    Library(lib).ensure()
    before = snapshot(lib)
    folder = write_folder(tmp_path / "src", "deep-code", code=code, cases="")
    out = runner.invoke(app, ["library", "add", str(folder), "--library", str(lib)])
    assert out.exit_code == 2
    assert "nested too deeply" in _one_sentence(out)
    assert snapshot(lib) == before


def test_parse_module_bounds() -> None:
    with pytest.raises(ValidationError, match="limit is"):
        parse_module("x = 1\n" * 300_000, "big.py")
    with pytest.raises(ValidationError, match="null bytes"):
        parse_module("x = 1\x00\n", "nul.py")
    nested = "x = " + "[" * 150 + "]" * 150 + "\n"  # the parser accepts it; our depth bound does not
    with pytest.raises(ValidationError, match=str(MAX_AST_DEPTH)):
        parse_module(nested, "blocks.py")
    # ordinary code is untouched
    assert inspect_module("def run(a: 'list[int]' = (1, 2)) -> dict:\n    return {}\n", "m.py").params == [
        "a"
    ]


def test_deeply_nested_cases_line_is_one_sentence_naming_file_and_line(tmp_path: Path) -> None:
    cases = '{"inputs": {"text": "abcdef"}, "expected": {"result": "abc"}}\n'
    cases += '{"inputs": {"text": ' + "[" * 100_000 + "]" * 100_000 + "}}\n"
    folder = write_folder(tmp_path / "src", "deep-cases", cases=cases)
    with pytest.raises(ValidationError, match=r"cases\.jsonl line 2 is nested too deeply"):
        validate_folder(folder)
    out = runner.invoke(app, ["library", "add", str(folder), "--library", str(tmp_path / "lib")])
    assert out.exit_code == 2 and "cases.jsonl line 2" in _one_sentence(out)


@pytest.mark.parametrize(
    "front",
    ["? [a, b]\n: c\n", "? {a: 1}\n: c\n"],
    ids=["list-key", "map-key"],
)
def test_unhashable_yaml_key_is_one_sentence_naming_the_line(tmp_path: Path, front: str) -> None:
    skill = f"---\nname: odd-key\ndescription: Odd.\n{front}---\n\nBody.\n"
    folder = write_folder(tmp_path / "src", "odd-key", skill_md=skill)
    with pytest.raises(ValidationError, match="SKILL.md line 4: a frontmatter key is a list or a map"):
        validate_folder(folder)
    out = runner.invoke(app, ["library", "add", str(folder), "--library", str(tmp_path / "lib")])
    assert out.exit_code == 2 and "SKILL.md line 4" in _one_sentence(out)


def test_deeply_nested_yaml_and_schema_are_refused(tmp_path: Path) -> None:
    deep = "---\nname: deep-yaml\ndescription: Deep.\nmetadata:\n  x: " + "[" * 200 + "]" * 200 + "\n---\nB\n"
    with pytest.raises(ValidationError, match="nested too deeply"):
        validate_folder(write_folder(tmp_path / "a", "deep-yaml", skill_md=deep))
    folder = write_folder(tmp_path / "b", "deep-schema")
    (folder / "schema.json").write_text('{"inputs": ' + "[" * 50_000 + "]" * 50_000 + "}")
    with pytest.raises(ValidationError, match="schema.json is nested too deeply"):
        validate_folder(folder)


def test_a_deeply_nested_schema_from_the_model_is_refused(tmp_path: Path) -> None:
    from agentfactory.library import build_subagent_folder

    schema: dict = {}
    node = schema
    for _ in range(900):  # what a provider's JSON decoder still accepts
        node["properties"] = {}
        node = node["properties"]
    with pytest.raises(ValidationError, match="inputs_schema given for deep-schema is nested too deeply"):
        build_subagent_folder(
            tmp_path,
            name="deep-schema",
            description="d",
            code="def run():\n    return {}\n",
            inputs_schema=schema,
        )
    assert not (tmp_path / "deep-schema").exists()


@pytest.mark.parametrize("code", [UNARY, LONG_SUM], ids=["unary-minus", "long-sum"])
def test_the_react_baselines_compile_check_is_bounded_too(code: str) -> None:
    from agentfactory_bench.react import _run_code

    outcome = _run_code(None, code, {}, 1)  # refused before anything would execute
    assert outcome.is_error
    assert outcome.text.startswith("step.py is nested too deeply") and "\n" not in outcome.text


# ---- item 8a: a literal too large to convert is "cannot analyse", everywhere ------------------------

DOC = '"""Preview a text.\n\nInputs:\n- text (str): the input text\n%s\n\nOutputs:\n- result (str): the answer\n"""\n'
HEX = "0x" + "f" * 20_000  # an int of 24,083 digits: str() of it raises ValueError (4300-digit limit)
HEX_DEFAULT = DOC % "" + f"\n\ndef run(text: str, limit: int = {HEX}) -> dict:\n    return {{}}\n"
HEX_ANNOTATION = DOC % "" + f"\n\ndef run(text: str, limit: {HEX} = 3) -> dict:\n    return {{}}\n"


@pytest.mark.parametrize("code", [HEX_DEFAULT, HEX_ANNOTATION], ids=["default", "annotation"])
def test_library_add_refuses_a_huge_integer_literal_in_one_sentence(tmp_path: Path, code: str) -> None:
    lib = tmp_path / "lib"
    Library(lib).ensure()
    before = snapshot(lib)
    folder = write_folder(tmp_path / "src", "hostile-code", code=code, cases="")
    out = runner.invoke(app, ["library", "add", str(folder), "--library", str(lib), "--sandbox", "local"])
    assert out.exit_code == 2
    assert _one_sentence(out) == (
        "Error: hostile_code.py cannot be analysed: it holds a value too large to analyse, such as an "
        "integer of thousands of digits; simplify the code."
    )
    assert snapshot(lib) == before


def test_every_analysis_step_on_hostile_code_shares_one_guard() -> None:
    """parse, unparse (signature), literal_eval (defaults), deploy's import scan and the ReAct baseline's
    compile check: each turns a huge literal into the same ValidationError sentence."""
    from agentfactory_bench.react import _run_code

    from agentfactory.deploy.analysis import scan_imports
    from agentfactory.library.introspect import analysing, check_compiles

    with pytest.raises(ValidationError, match="cannot be analysed"):
        inspect_module(HEX_DEFAULT, "m.py")
    check_compiles(HEX_DEFAULT, "m.py")  # compiling a huge literal is fine; only converting it is not
    with pytest.raises(ValidationError, match="m.py is nested too deeply"):
        check_compiles(UNARY, "m.py")
    assert scan_imports("import json\n" + HEX_DEFAULT, "m.py").modules == frozenset({"json"})
    with pytest.raises(ValidationError, match="does not parse"):
        scan_imports(UNARY, "m.py")
    outcome = _run_code(None, "x = (\n", {}, 1)
    assert outcome.is_error and outcome.text.startswith("step.py has a syntax error at line 1")
    for exc in (ValueError("x"), OverflowError("x"), MemoryError(), RecursionError(), SyntaxError("x")):
        with pytest.raises(ValidationError, match=r"^m\.py "), analysing("m.py"):
            raise exc
    # defaults JSON cannot carry (inf, complex, a set) are left out of the schema, not a crash
    info = inspect_module("def run(a=1e400, b=1j, c={1, 2}, d=3):\n    return {}\n", "m.py")
    assert [p.get("default") for p in info.inputs_schema["properties"].values()] == [None, None, None, 3]


def _run_scripted(tmp_path: Path, code: str, *extra: str) -> tuple[subprocess.CompletedProcess, list[dict]]:
    script = [
        {
            "tool_calls": [
                {
                    "name": "create_subagent",
                    "arguments": {"name": "hostile-code", "description": "Preview a text.", "code": code},
                }
            ]
        },
        {"tool_calls": [{"name": "finish", "arguments": {"answer": "done"}}]},
    ]
    (tmp_path / "model.json").write_text(json.dumps(script))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTFACTORY_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    cmd = [
        sys.executable,
        "-m",
        "agentfactory",
        "run",
        "preview",
        "--model",
        f"scripted:{tmp_path}/model.json",
    ]
    cmd += ["--sandbox", "local", "--library", "lib", "--workspaces", "ws", "--json", *extra]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    (log,) = (tmp_path / "ws").rglob("events.jsonl")
    return proc, [json.loads(line) for line in log.read_text().splitlines()]


def test_a_huge_integer_default_in_create_subagent_is_a_tool_error_and_the_run_continues(
    tmp_path: Path,
) -> None:
    proc, events = _run_scripted(tmp_path, HEX_DEFAULT)
    assert proc.returncode == 0, proc.stderr
    (create,) = [e for e in events if e["type"] == "tool_call" and e["tool"] == "create_subagent"]
    assert create["is_error"] and "cannot be analysed" in create["result"]
    assert [e["tool"] for e in events if e["type"] == "tool_call"] == ["create_subagent", "finish"]
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "success"
    assert "Traceback" not in proc.stderr


# ---- item 8b: docstrings are parsed in linear time ----------------------------------------------


def _pathological_docstring(size: int) -> str:
    lines = [
        " " * 100_000 + "!",  # _ITEM_RE's old quadratic case
        "inputs" + " " * 100_000 + "x",  # _SECTION_RE's old quadratic case
        "\t \t" * 30_000 + ":",
        "- a (" + " " * 50_000,
        "`a`" + " " * 50_000 + "(",
        ("x " * 400 + "\n") * 200,
    ]
    text = "Purpose.\n\nInputs:\n" + "\n".join(lines)
    return (text * (size // len(text) + 1))[:size]


def test_a_megabyte_of_pathological_docstring_is_analysed_in_bounded_time(tmp_path: Path) -> None:
    from agentfactory.library.format import split_skill_md
    from agentfactory.library.introspect import split_sections
    from agentfactory.library.writing import section

    doc = _pathological_docstring(1024 * 1024)
    start = time.monotonic()
    split_sections(doc)
    section("## Changelog" + " " * 500_000 + "\n" + doc, "Changelog")
    with pytest.raises(ValidationError, match="not closed"):
        split_skill_md("---\n" + ("---" + " \t" * 2500 + "x\n") * 200)
    code = (
        '"""'
        + doc.replace('"""', "")[: 1024 * 1024 - 200]
        + '"""\n\ndef run(text: str) -> dict:\n    return {}\n'
    )
    info = inspect_module(code, "m.py")
    assert time.monotonic() - start < 2.0
    assert info.params == ["text"]
    # ordinary docstrings are still understood
    info = inspect_module(
        '"""Preview.\n\nInputs:\n  - `text` (str): the text\n\nReturns:\n- result (str) \u2014 first chars\n"""\n'
        "def run(text):\n    return {}\n",
        "m.py",
    )
    assert info.inputs_schema["properties"]["text"] == {"type": "string", "description": "the text"}
    assert info.outputs_schema["properties"]["result"] == {"type": "string", "description": "first chars"}


def test_library_add_and_a_run_with_a_docstring_of_100000_spaces_finish_quickly(tmp_path: Path) -> None:
    code = DOC % (" " * 100_000 + "!") + "\n\ndef run(text: str, limit: int = 3) -> dict:\n    return {}\n"
    folder = write_folder(tmp_path / "src", "hostile-code", code=code, cases="")
    start = time.monotonic()
    out = runner.invoke(
        app, ["library", "add", str(folder), "--library", str(tmp_path / "lib"), "--sandbox", "local"]
    )
    assert out.exit_code == 0, out.output
    assert time.monotonic() - start < 10
    start = time.monotonic()
    (tmp_path / "run").mkdir()
    proc, events = _run_scripted(tmp_path / "run", code, "--max-time", "20")
    assert time.monotonic() - start < 30
    assert proc.returncode == 0, proc.stderr
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "success"
    assert events[-1]["created"] == ["hostile-code"]


def test_a_number_too_large_to_read_in_cases_jsonl_is_one_sentence():
    from agentfactory.library.cases import parse_cases

    line = '{"inputs": {"n": ' + "9" * 5000 + '}, "expected": {}}\n'
    with pytest.raises(ValidationError, match="cases.jsonl line 1 holds a number too large to read"):
        parse_cases(line)


def test_line_separators_inside_a_case_survive_the_round_trip():
    # U+2028, U+2029 and U+0085 are allowed raw in JSON strings: a case holding them stays one case.
    from agentfactory.library.cases import Case, dump_cases, parse_cases

    case = Case(inputs={"text": "a\u2028b\u2029c\x85d"}, expected={"out": "x\u2028y"})
    text = dump_cases([case])
    assert text.count("\n") == 1
    (back,) = parse_cases(text)
    assert back.inputs == case.inputs and back.expected == case.expected
    (raw,) = parse_cases('{"inputs": {"t": "a\u2028b"}, "expected": {}}\n')  # written by another tool
    assert raw.inputs == {"t": "a\u2028b"}
