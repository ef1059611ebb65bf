"""The library CLI, consistent: versions written `v2` everywhere and accepted as `2` or `v2`; diff shows
the code first (and --json); rollback is positional, never loses later cases and keeps the changelog;
`library add` runs the cases a new version will carry in the sandbox and refuses a failing one unless
--force (and says so)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentfactory.cli import app
from agentfactory.library import Library

from ._helpers import snapshot, write_folder

runner = CliRunner()
NAME = "text-preview"
TWO_CHARS = "def run(text: str, limit: int = 3) -> dict:\n    return {'result': text[:2]}\n"
CASE_V2 = '{"inputs": {"text": "xyz", "limit": 1}, "expected": {"result": "x"}}\n'


def _run(*args: str):
    return runner.invoke(app, ["library", *args])


def _add(folder: Path, lib: str, *extra: str):
    return _run("add", str(folder), "--sandbox", "local", "--library", lib, *extra)


def _two_versions(tmp_path: Path) -> str:
    lib = str(tmp_path / "lib")
    assert _add(write_folder(tmp_path / "src", NAME), lib).exit_code == 0
    folder = write_folder(tmp_path / "src", NAME, purpose="Changed.", cases=CASE_V2)
    second = _add(folder, lib)
    assert second.exit_code == 0, second.output
    return lib


def test_versions_are_written_v2_and_read_as_2_or_v2(tmp_path: Path) -> None:
    lib = _two_versions(tmp_path)
    log = _run("log", NAME, "--library", lib)
    assert [line.split()[0] for line in log.stdout.splitlines()[1:]] == ["v1", "v2"]
    for spelled in ("1", "v1", "V1"):
        shown = _run("show", NAME, "--version", spelled, "--library", lib, "--json")
        assert shown.exit_code == 0 and json.loads(shown.stdout)["version"] == 1
    assert (
        _run("diff", NAME, "v1", "v2", "--library", lib).stdout
        == _run("diff", NAME, "1", "2", "--library", lib).stdout
    )
    bad = _run("diff", NAME, "one", "v2", "--library", lib)
    assert bad.exit_code == 2 and bad.output.strip() == (
        "Error: 'one' is not a version; write it as 2 or v2 (see `agentfactory library log NAME`)."
    )
    assert _run("show", NAME, "-v", "v0", "--library", lib).exit_code == 2


def test_diff_shows_the_code_first_and_has_json(tmp_path: Path) -> None:
    lib = _two_versions(tmp_path)
    plain = _run("diff", NAME, "v1", "v2", "--library", lib)
    assert plain.exit_code == 0
    files = [line.split(" b/")[-1] for line in plain.stdout.splitlines() if line.startswith("diff --git")]
    assert files == [f"{NAME}/text_preview.py", f"{NAME}/SKILL.md", f"{NAME}/cases.jsonl"]
    data = json.loads(_run("diff", NAME, "v1", "v2", "--library", lib, "--json").stdout)
    assert data["name"] == NAME and (data["from"], data["to"]) == (1, 2)
    assert [f["path"] for f in data["files"]] == ["text_preview.py", "SKILL.md", "cases.jsonl"]
    assert '+"""Changed.' in data["files"][0]["diff"]


def test_diff_is_coloured_and_paged_on_a_terminal(tmp_path: Path, monkeypatch) -> None:
    import contextlib

    from rich.console import Console

    from agentfactory.cli import library as cli_library

    lib = _two_versions(tmp_path)
    shown: list[str] = []

    @contextlib.contextmanager
    def pager(self, *args, **kwargs):
        assert kwargs.get("styles") is True  # colours survive the pager
        with self.capture() as captured:
            yield
        shown.append(captured.get())

    monkeypatch.setattr(Console, "pager", pager)
    monkeypatch.setattr(cli_library, "_on_terminal", lambda: True)
    monkeypatch.setenv("FORCE_COLOR", "1")
    out = _run("diff", NAME, "v1", "v2", "--library", lib)
    assert out.exit_code == 0 and len(shown) == 1
    assert "\x1b[" in shown[0] and shown[0].index("text_preview.py") < shown[0].index("SKILL.md")


def test_rollback_is_positional_and_keeps_later_cases_and_changelog(tmp_path: Path) -> None:
    lib = _two_versions(tmp_path)
    library = Library(Path(lib))
    assert len(library.get(NAME, 2).cases) == 2  # v2 carries v1's case too: cases only accumulate
    back = _run("rollback", NAME, "v1", "--library", lib)
    assert back.exit_code == 0 and back.stdout.strip().startswith(f"{NAME}: v1 restored as v3")
    v3 = library.get(NAME, 3)
    assert v3.code == library.get(NAME, 1).code
    assert [c.inputs for c in v3.cases] == [{"text": "abcdef"}, {"text": "xyz", "limit": 1}]
    assert "- Rolled back to the content of v1 (from v2)." in v3.body
    again = _run("rollback", NAME, "--to", "3", "--library", lib)
    assert again.exit_code == 0 and "nothing changed" in again.stdout
    twice = _run("rollback", NAME, "1", "--to", "1", "--library", lib)
    assert twice.exit_code == 2


def test_add_refuses_a_version_failing_its_stored_cases_unless_forced(tmp_path: Path) -> None:
    lib = str(tmp_path / "lib")
    assert _add(write_folder(tmp_path / "src", NAME), lib).exit_code == 0
    before = snapshot(tmp_path / "lib")
    worse = write_folder(tmp_path / "src", NAME, code=TWO_CHARS, cases="")
    refused = _add(worse, lib)
    assert refused.exit_code == 1
    assert refused.output.strip() == (
        f"Error: {NAME} was not saved: the new version fails its stored cases (1 of 1 cases fail: stored "
        "case 1 (ok): result: got 'ab', expected 'abc'); fix it, or pass --force to add it anyway."
    )
    assert snapshot(tmp_path / "lib") == before
    forced = _add(worse, lib, "--force")
    assert forced.exit_code == 0 and "(forced: its cases were not run)" in forced.stdout
    assert json.loads(_add(write_folder(tmp_path / "src", NAME), lib, "--force", "--json").stdout)["forced"]


def test_add_runs_a_new_subagents_own_cases(tmp_path: Path) -> None:
    lib = str(tmp_path / "lib")
    wrong = write_folder(
        tmp_path / "src", NAME, cases='{"inputs": {"text": "abcdef"}, "expected": {"result": "zzz"}}\n'
    )
    refused = _add(wrong, lib)
    assert refused.exit_code == 1 and "got 'abc', expected 'zzz'" in refused.output
    assert Library(Path(lib)).list() == []


@pytest.mark.docker
def test_add_gate_runs_in_docker(tmp_path: Path) -> None:
    lib = str(tmp_path / "lib")
    ok = _run("add", str(write_folder(tmp_path / "src", NAME)), "--sandbox", "docker", "--library", lib)
    assert ok.exit_code == 0, ok.output
    worse = write_folder(tmp_path / "src", NAME, code=TWO_CHARS, cases="")
    refused = _run("add", str(worse), "--sandbox", "docker", "--library", lib)
    assert refused.exit_code == 1 and "got 'ab', expected 'abc'" in refused.output


def test_show_prints_markup_from_the_subagent_as_text(tmp_path: Path) -> None:
    lib = str(tmp_path / "lib")
    code = 'def run(text: "[/bold]" = "[/INST]") -> dict:\n    return {"result": text}\n'
    folder = write_folder(tmp_path / "src", NAME, "Closes [/bold] and [/INST] tags.", code=code, cases="")
    assert _add(folder, lib).exit_code == 0
    shown = _run("show", NAME, "--library", lib)
    assert shown.exit_code == 0, shown.output
    assert "Closes [/bold] and [/INST] tags." in shown.stdout and "[/INST]" in shown.stdout.splitlines()[0]


def test_log_and_show_never_pass_terminal_escapes_through(tmp_path: Path) -> None:
    lib = str(tmp_path / "lib")
    skill = f"---\nname: {NAME}\ndescription: Preview a text.\n---\n\n# Body \x1b]0;owned\x07 here\n"
    folder = write_folder(tmp_path / "src", NAME, skill_md=skill)
    assert (
        _run("add", str(folder), "-m", "evil \x1b[2J clear", "--sandbox", "local", "--library", lib).exit_code
        == 0
    )
    for out in (_run("log", NAME, "--library", lib), _run("show", NAME, "--library", lib)):
        assert out.exit_code == 0, out.output
        assert "\x1b" not in out.stdout and "\x07" not in out.stdout
    assert "\\x1b]0;owned\\x07" in _run("show", NAME, "--library", lib).stdout
