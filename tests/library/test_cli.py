"""`agentfactory library ...` through typer's CliRunner."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from typer.testing import CliRunner

from agentfactory.cli import app

from ._helpers import git, write_folder

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, ["library", *args])


def test_cli_round_trip(tmp_path: Path) -> None:
    lib = str(tmp_path / "lib")
    src = tmp_path / "src"
    folder = write_folder(src, "text-preview", "Return the first characters of a text.")
    added = _run("add", str(folder), "--sandbox", "local", "--library", lib, "--json")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["version"] == 1
    same = _run("add", str(folder), "--sandbox", "local", "--library", lib)
    assert same.exit_code == 0 and "nothing changed" in same.stdout
    write_folder(src, "text-preview", "Return the first characters of a text.", purpose="Changed.")
    assert _run("add", str(folder), "--sandbox", "local", "--library", lib).exit_code == 0

    listed = _run("list", "--library", lib, "--json")
    assert [i["name"] for i in json.loads(listed.stdout)] == ["text-preview"]
    plain = _run("list", "--library", lib)
    assert "text-preview" in plain.stdout and "run(text: str, limit: int = 3)" in plain.stdout

    shown = _run("show", "text-preview", "--version", "1", "--library", lib, "--json")
    data = json.loads(shown.stdout)
    assert data["version"] == 1 and "Preview a text." in data["code"]
    assert "name: text-preview" in _run("show", "text-preview", "--library", lib).stdout

    hits = json.loads(_run("search", "first characters of some text", "--library", lib, "--json").stdout)
    assert hits[0]["name"] == "text-preview"
    log = json.loads(_run("log", "text-preview", "--library", lib, "--json").stdout)
    assert [v["version"] for v in log] == [1, 2]
    diff = _run("diff", "text-preview", "1", "2", "--library", lib)
    assert '+"""Changed.' in diff.stdout
    back = _run("rollback", "text-preview", "1", "--library", lib)
    assert back.exit_code == 0 and "as v3" in back.stdout
    assert json.loads(_run("reindex", "--library", lib, "--json").stdout) == {"indexed": 1}
    assert _run("remove", "text-preview", "--library", lib).exit_code == 0
    assert "empty" in _run("list", "--library", lib).stdout


def test_cli_errors_are_one_sentence(tmp_path: Path) -> None:
    lib = str(tmp_path / "lib")
    bad = _run("show", "../etc", "--library", lib)
    assert bad.exit_code == 2 and "contains a path" in bad.output and "Traceback" not in bad.output
    missing = _run("log", "nothing-here", "--library", lib)
    assert missing.exit_code == 2 and "No subagent named" in missing.output
    folder = write_folder(tmp_path / "src", "sub", code="def nope(:\n")
    invalid = _run("add", str(folder), "--sandbox", "local", "--library", lib)
    assert invalid.exit_code == 2 and "syntax error" in invalid.output
    assert not (tmp_path / "lib").exists()


def test_cli_push_pull(tmp_path: Path) -> None:
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    assert (
        _run(
            "add", str(write_folder(tmp_path / "src", "sub")), "--sandbox", "local", "--library", a
        ).exit_code
        == 0
    )
    pushed = _run("push", str(bare), "--library", a)
    assert pushed.exit_code == 0, pushed.output
    pulled = _run("pull", str(bare), "--library", b, "--json")
    assert pulled.exit_code == 0 and "sub" in json.loads(pulled.stdout)["updated"]


def test_list_json_streams_the_listing_as_strict_json(tmp_path: Path) -> None:
    """`library list --json` is written row by row from SQLite and still says exactly what `list()`
    says, with the characters the JSON writer escapes (line separators, C1 controls, bidi) escaped."""
    lib_path = tmp_path / "lib"
    assert json.loads(_run("list", "--library", str(lib_path), "--json").stdout) == []
    from agentfactory.library import Library

    lib = Library(lib_path)
    odd = 'Split\u2028lines\x85 and \u202etext\u202c "quoted" \\ tab\there; use it for ünïcode.'
    for name, desc in [("b-second", odd), ("a-first", "Return the first characters of a text.")]:
        meta = "metadata:\n  tags: x, y\n"
        lib.save(write_folder(tmp_path / "src", name, json.dumps(desc), metadata=meta))
    out = _run("list", "--library", str(lib_path), "--json").stdout
    assert "\u2028" not in out and "\x85" not in out and "\u202e" not in out
    rows = json.loads(out)
    assert rows == [asdict(i) for i in lib.list()]
    assert [r["name"] for r in rows] == ["a-first", "b-second"] and rows[1]["description"] == odd
    assert rows[0]["tags"] == ["x", "y"]
