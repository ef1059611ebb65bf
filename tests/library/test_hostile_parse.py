"""Hostile text in a subagent folder (code, cases.jsonl, SKILL.md) is refused with one sentence.

Every reader of subagent files is bounded: the code parser (size, the parser's stack, the tree's depth),
the JSON reader of cases and schemas, and the YAML reader of the frontmatter. No input reaches a
MemoryError, a RecursionError or a TypeError.
"""

from __future__ import annotations

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
    from agentfactory.bench.react import _run_code

    outcome = _run_code(None, code, {}, 1)  # refused before anything would execute
    assert outcome.is_error
    assert outcome.text.startswith("step.py is nested too deeply") and "\n" not in outcome.text
