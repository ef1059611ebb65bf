"""Format validation: each bad input gets a clear ValidationError and the library does not change."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentfactory.errors import LibraryError, ValidationError
from agentfactory.library import (
    Case,
    Library,
    build_subagent_folder,
    check_case,
    parse_cases,
    validate_folder,
    validate_name,
)

from ._helpers import CODE, git, snapshot, write_folder

BAD_NAMES = {
    "dotdot": ("..", "path"),
    "dotdot-inside": ("a..b", "path"),
    "slash": ("a/b", "path"),
    "absolute": ("/etc/passwd", "absolute"),
    "nul": ("a\x00b", "NUL"),
    "upper": ("CsvStats", "upper-case"),
    "too-long": ("a" * 300, "300 characters"),
    "dot-git": (".git", "reserved"),
    "leading-hyphen": ("-abc", "start or end"),
    "trailing-hyphen": ("abc-", "start or end"),
    "double-hyphen": ("a--b", "double hyphen"),
    "empty": ("", "empty"),
    "space": ("a b", "lower-case letters"),
}


@pytest.mark.parametrize("key", sorted(BAD_NAMES))
def test_bad_names_are_refused_before_any_filesystem_call(key: str, lib: Library) -> None:
    name, words = BAD_NAMES[key]
    before = snapshot(lib.path)
    with pytest.raises(ValidationError, match=words):
        validate_name(name)
    for call in (lambda: lib.get(name), lambda: lib.remove(name), lambda: lib.history(name)):
        with pytest.raises(ValidationError, match=words):
            call()
    assert snapshot(lib.path) == before


def test_bad_folder_name_is_refused_by_save(lib: Library, src: Path) -> None:
    folder = write_folder(src, "good-name")
    bad = folder.rename(src / "Bad_Name")
    before = snapshot(lib.path)
    with pytest.raises(ValidationError, match="upper-case"):
        lib.save(bad)
    assert snapshot(lib.path) == before


SKILL_CASES = {
    "no-frontmatter": ("# just a body\n", "must start with a YAML frontmatter"),
    "unclosed": ("---\nname: x\ndescription: y\n", "not closed"),
    "invalid-yaml": ("---\nname: [unclosed\ndescription: y\n---\nbody\n", "not valid YAML"),
    "python-tag": (
        "---\nname: {name}\ndescription: !!python/object:os.system echo hi\n---\nbody\n",
        "YAML tag that is not allowed",
    ),
    "python-apply": (
        "---\nname: {name}\ndescription: !!python/object/apply:os.system ['touch /tmp/pwned']\n---\nb\n",
        "YAML tag that is not allowed",
    ),
    "duplicate-keys": ("---\nname: {name}\ndescription: a\ndescription: b\n---\nbody\n", "twice"),
    "not-mapping": ("---\n- a\n- b\n---\nbody\n", "must be a YAML mapping"),
    "name-mismatch": ("---\nname: other-name\ndescription: d\n---\nbody\n", "does not match the folder"),
    "no-description": ("---\nname: {name}\n---\nbody\n", "description"),
    "long-description": ("---\nname: {name}\ndescription: " + "x" * 1100 + "\n---\nbody\n", "1024"),
    "unknown-field": ("---\nname: {name}\ndescription: d\nversion: 3\n---\nbody\n", "unknown field"),
    "metadata-not-map": ("---\nname: {name}\ndescription: d\nmetadata: [1]\n---\nb\n", "metadata"),
    "bad-version": ("---\nname: {name}\ndescription: d\nmetadata:\n  version: two\n---\nb\n", "whole number"),
    "huge-body": ("---\nname: {name}\ndescription: d\n---\n" + "x" * (10 * 1024 * 1024), "limit"),
    "not-utf8": (b"---\nname: {name}\ndescription: \xff\xfe\n---\n", "UTF-8"),
}


@pytest.mark.parametrize("key", sorted(SKILL_CASES))
def test_bad_skill_md_is_refused_and_nothing_changes(key: str, lib: Library, src: Path) -> None:
    text, words = SKILL_CASES[key]
    text = text.replace(b"{name}", b"sub") if isinstance(text, bytes) else text.replace("{name}", "sub")
    folder = write_folder(src, "sub", skill_md=text)
    before = snapshot(lib.path)
    with pytest.raises(ValidationError, match=words):
        lib.save(folder)
    assert snapshot(lib.path) == before
    assert not Path("/tmp/pwned").exists()


def test_bom_and_crlf_are_accepted(lib: Library, src: Path) -> None:
    text = "\ufeff---\r\nname: sub\r\ndescription: Preview a text.\r\n---\r\n\r\n# sub\r\n"
    folder = write_folder(src, "sub", skill_md=text.encode("utf-8"))
    result = lib.save(folder)
    assert result.changed and result.version == 1
    stored = lib.get("sub")
    assert stored.description == "Preview a text."
    assert "\r" not in stored.skill_md and not stored.skill_md.startswith("\ufeff")


ENTRY_CASES = {
    "syntax-error": ("def run(:\n    pass\n", "syntax error at line 1"),
    "no-run": ('"""Doc."""\ndef main():\n    return {}\n', "no top-level `def run"),
    "async-run": ('"""Doc."""\nasync def run():\n    return {}\n', "async"),
    "nested-run-only": ("class A:\n    def run(self):\n        return {}\n", "no top-level"),
}


@pytest.mark.parametrize("key", sorted(ENTRY_CASES))
def test_bad_entry_module_is_refused(key: str, lib: Library, src: Path) -> None:
    code, words = ENTRY_CASES[key]
    folder = write_folder(src, "sub", code=code)
    before = snapshot(lib.path)
    with pytest.raises(ValidationError, match=words):
        lib.save(folder)
    assert snapshot(lib.path) == before


def test_missing_entry_module_is_refused(lib: Library, src: Path) -> None:
    folder = write_folder(src, "sub")
    (folder / "sub.py").unlink()
    before = snapshot(lib.path)
    with pytest.raises(ValidationError, match="entry module sub.py is missing"):
        lib.save(folder)
    assert snapshot(lib.path) == before


CASES_CASES = {
    "not-json": ('{"inputs": {"text": "a"}\n', "line 1 is not valid JSON"),
    "not-object": ("[1, 2]\n", "must be a JSON object"),
    "no-inputs": ('{"expected": {"a": 1}}\n', "needs 'inputs'"),
    "inputs-not-object": ('{"inputs": [1]}\n', "needs 'inputs'"),
    "expected-not-object": ('{"inputs": {}, "expected": 3}\n', "'expected' must be"),
    "bad-tolerance": ('{"inputs": {}, "tolerance": -1}\n', "tolerance"),
    "unknown-key": ('{"inputs": {}, "expect": {}}\n', "unknown key"),
    "bad-type-check": ('{"inputs": {}, "checks": {"types": {"a": "float"}}}\n', "checks.types"),
    "escaping-file": ('{"inputs": {}, "checks": {"files": ["../x"]}}\n', "relative path"),
    "second-line": ('{"inputs": {}}\nnot json\n', "line 2"),
}


@pytest.mark.parametrize("key", sorted(CASES_CASES))
def test_malformed_cases_are_refused(key: str, lib: Library, src: Path) -> None:
    text, words = CASES_CASES[key]
    folder = write_folder(src, "sub", cases=text)
    before = snapshot(lib.path)
    with pytest.raises(ValidationError, match=words):
        lib.save(folder)
    assert snapshot(lib.path) == before


def test_links_and_oversized_files_are_refused(lib: Library, src: Path) -> None:
    folder = write_folder(src, "sub")
    (folder / "data.txt").symlink_to("/etc/passwd")
    before = snapshot(lib.path)
    with pytest.raises(ValidationError, match="link"):
        lib.save(folder)
    (folder / "data.txt").unlink()
    (folder / "big.bin").write_bytes(b"x" * (2 * 1024 * 1024))
    with pytest.raises(ValidationError, match="limit"):
        lib.save(folder)
    assert snapshot(lib.path) == before


def test_non_repo_folder_with_unrelated_content_is_refused(tmp_path: Path, src: Path) -> None:
    path = tmp_path / "notes"
    path.mkdir()
    (path / "diary.txt").write_text("mine")
    before = snapshot(path)
    with pytest.raises(LibraryError, match="not empty"):
        Library(path).save(write_folder(src, "sub"))
    assert snapshot(path) == before


def test_someone_elses_dirty_repo_is_refused(tmp_path: Path, src: Path) -> None:
    path = tmp_path / "project"
    path.mkdir()
    git(path, "init", "-q")
    (path / "work.py").write_text("print('wip')\n")
    before = snapshot(path)
    with pytest.raises(LibraryError, match="uncommitted changes"):
        Library(path).ensure()
    with pytest.raises(LibraryError, match="uncommitted changes"):
        Library(path).save(write_folder(src, "sub"))
    assert snapshot(path) == before


def test_someone_elses_clean_repo_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "project"
    path.mkdir()
    git(path, "init", "-q")
    (path / "a.txt").write_text("a")
    git(path, "add", "a.txt")
    git(path, "-c", "user.name=x", "-c", "user.email=x@y", "commit", "-qm", "x")
    before = snapshot(path)
    with pytest.raises(LibraryError, match="not a subagent library"):
        Library(path).ensure()
    assert snapshot(path) == before


def test_folder_with_only_a_readme_becomes_a_library(tmp_path: Path) -> None:
    path = tmp_path / "subagent_library"
    path.mkdir()
    (path / "README.md").write_text("placeholder\n")
    Library(path).ensure()
    assert (path / "README.md").read_text() == "placeholder\n"
    assert git(path, "status", "--porcelain") == ""


def test_code_is_never_executed(lib: Library, src: Path, tmp_path: Path) -> None:
    marker = tmp_path / "executed"
    code = f'"""Doc."""\nopen({str(marker)!r}, "w").write("x")\nraise SystemExit(3)\n\ndef run(text: str) -> dict:\n    return {{}}\n'
    folder = write_folder(src, "sub", code=code, cases="")
    lib.save(folder)
    lib.list()
    lib.search("preview text")
    lib.get("sub")
    lib.reindex()
    assert not marker.exists()


def test_minimal_case_and_check_case() -> None:
    (case,) = parse_cases('{"inputs": {"text": "a b a"}, "expected": {"top": [["a", 2]]}}\n')
    assert check_case(case, {"top": [["a", 2]]}, []).passed
    assert not check_case(case, {"top": [["a", 3]]}, []).passed
    assert not check_case(case, None, []).passed
    assert "missing" in check_case(case, {}, []).failures[0]


def test_check_case_floats_types_keys_files() -> None:
    case = Case(
        inputs={},
        expected={"mean": 2.5, "n": 3, "flag": True},
        checks={"types": {"rows": "integer", "ratio": "number"}, "keys": ["extra"], "files": ["out/p.png"]},
    )
    good = {"mean": 2.5 * (1 + 5e-7), "n": 3, "flag": True, "rows": 4, "ratio": 1, "extra": None}
    assert check_case(case, good, ["./out/p.png"]).passed
    bad = check_case(case, {**good, "mean": 2.6, "flag": 1, "rows": "4"}, [])
    assert not bad.passed and len(bad.failures) == 4
    loose = Case(inputs={}, expected={"mean": 2.5}, tolerance=0.1)
    assert check_case(loose, {"mean": 2.7}, []).passed


def test_build_subagent_folder_round_trip(tmp_path: Path) -> None:
    code = CODE.format(purpose="Preview a text.")
    folder = build_subagent_folder(
        tmp_path / "cands",
        name="text-preview",
        description="Return the first characters of a text.",
        code=code,
        tools=["llm"],
        tags=["text", "preview"],
        cases=[{"inputs": {"text": "abcdef"}, "expected": {"result": "abc"}}],
        changelog=["v1: first version"],
        limitations="Counts characters, not graphemes.",
    )
    assert folder == tmp_path / "cands" / "text-preview"
    sub = validate_folder(folder)
    assert sub.entry == "text_preview.py" and sub.tools == ["llm"] and sub.tags == ["text", "preview"]
    assert sub.signature == "run(text: str, limit: int = 3)"
    assert sub.inputs_schema["properties"]["limit"] == {"type": "integer", "default": 3}
    assert sub.inputs_schema["required"] == ["text"]
    assert sub.outputs_schema["properties"]["result"]["type"] == "string"
    for heading in ("Purpose", "Inputs", "Outputs", "Tools", "Known limitations", "Changelog"):
        assert f"## {heading}" in sub.skill_md
    with pytest.raises(ValidationError):
        build_subagent_folder(folder, name="text-preview", description="d", code="def nope(): pass\n")
    assert validate_folder(folder).code == code  # the failed rebuild left the folder as it was
