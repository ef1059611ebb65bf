"""`library pull` from a hostile remote: the fetched tree is inspected in git objects before anything
reaches the work tree, and a remote revision that breaks a local subagent's cases does not become current.

Each test builds a real bare remote in tmp_path and pushes a crafted commit to it with git plumbing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentfactory.cli import app
from agentfactory.library import Library

from ._helpers import git, snapshot, write_folder

runner = CliRunner()
NAME = "text-preview"
TWO_CHARS = "def run(text: str, limit: int = 3) -> dict:\n    return {'result': text[:2]}\n"


def _git_in(repo: Path, *args: str, data: bytes | None = None) -> str:
    out = subprocess.run(["git", "-C", str(repo), *args], input=data, capture_output=True, check=True)
    return out.stdout.decode().strip()


def _blob(repo: Path, data: bytes) -> str:
    return _git_in(repo, "hash-object", "-w", "--stdin", data=data)


def _tree(repo: Path, entries: list[tuple[str, str, str, str]]) -> str:
    """mktree from (mode, kind, sha, name) rows; --missing is not used, so every object must exist."""
    rows = b"".join(f"{m} {k} {s}\t{n}".encode() + b"\0" for m, k, s, n in entries)
    return _git_in(repo, "mktree", "-z", data=rows)


def _entries(repo: Path, treeish: str) -> list[tuple[str, str, str, str]]:
    rows = []
    for line in _git_in(repo, "ls-tree", treeish).splitlines():
        meta, name = line.split("\t", 1)
        mode, kind, sha = meta.split()
        rows.append((mode, kind, sha, name))
    return rows


def _push_tree(
    alice: Library, remote: str, extra: list[tuple[str, str, str, str]], replace: str = ""
) -> None:
    """Push a commit on top of alice's HEAD whose tree is HEAD's plus `extra` (an entry named `replace`
    is swapped out)."""
    rows = [e for e in _entries(alice.path, "HEAD") if e[3] != replace] + extra
    tree = _tree(alice.path, rows)
    commit = _git_in(alice.path, "commit-tree", tree, "-p", "HEAD", "-m", "hostile", data=b"")
    _git_in(alice.path, "push", "-q", "-f", remote, f"{commit}:refs/heads/main")


@pytest.fixture
def teams(tmp_path: Path):
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    alice, bob = Library(tmp_path / "alice"), Library(tmp_path / "bob")
    alice.save(write_folder(tmp_path / "src", NAME))
    alice.push(str(bare))
    bob.pull(str(bare))
    return alice, bob, str(bare)


def _pull_cli(bob: Library, remote: str, *extra: str):
    return runner.invoke(
        app, ["library", "pull", remote, "--sandbox", "local", "--library", str(bob.path), *extra]
    )


def _refused(bob: Library, remote: str, before: tuple) -> str:
    out = _pull_cli(bob, remote)
    assert out.exit_code == 2, out.output
    lines = out.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.output
    assert snapshot(bob.path) == before
    assert bob.get(NAME).version == 1
    return lines[0]


def test_a_symlink_in_a_subagent_folder_is_refused_before_the_work_tree(teams) -> None:
    alice, bob, remote = teams
    link = _blob(alice.path, b"/etc/shadow")
    sub_rows = _entries(alice.path, f"HEAD:{NAME}") + [("120000", "blob", link, "leak.txt")]
    sub = _tree(alice.path, sub_rows)
    _push_tree(alice, remote, [("040000", "tree", sub, NAME)], replace=NAME)
    before = snapshot(bob.path)
    line = _refused(bob, remote, before)
    assert "leak.txt is a link or submodule" in line
    assert not (bob.path / NAME / "leak.txt").exists() and not (bob.path / NAME / "leak.txt").is_symlink()


def test_a_dotfile_over_the_lock_file_is_refused_and_later_writes_work(teams, tmp_path: Path) -> None:
    alice, bob, remote = teams
    target = _blob(alice.path, str(tmp_path / "elsewhere").encode())
    _push_tree(alice, remote, [("120000", "blob", target, ".library.lock")])
    before = snapshot(bob.path)
    line = _refused(bob, remote, before)
    assert "'.library.lock' is not a subagent folder" in line
    assert not (bob.path / ".library.lock").is_symlink()
    assert bob.save(write_folder(tmp_path / "more", "after-pull")).version == 1  # writes still work


def test_a_dot_git_entry_is_refused(teams) -> None:
    alice, bob, remote = teams
    hook = _blob(alice.path, b"#!/bin/sh\necho owned\n")
    hooks = _tree(alice.path, [("100755", "blob", hook, "post-checkout")])
    dotgit = _tree(alice.path, [("040000", "tree", hooks, "hooks")])
    _push_tree(alice, remote, [("040000", "tree", dotgit, ".git")])
    before = snapshot(bob.path)
    line = _refused(bob, remote, before)
    # git's own object check (fetch.fsckObjects) refuses it before our tree check would
    assert line.endswith("the remote holds a malformed git object (hasDotgit: contains '.git').")
    assert not (bob.path / ".git" / "hooks" / "post-checkout").exists()


def test_a_hidden_file_inside_a_subagent_and_a_bad_root_file_are_refused(teams) -> None:
    alice, bob, remote = teams
    hidden = _blob(alice.path, b"x")
    sub = _tree(alice.path, _entries(alice.path, f"HEAD:{NAME}") + [("100644", "blob", hidden, ".env")])
    _push_tree(alice, remote, [("040000", "tree", sub, NAME)], replace=NAME)
    before = snapshot(bob.path)
    assert "'.env' is not an allowed file path" in _refused(bob, remote, before)
    ignore = _blob(alice.path, b"*\n")
    _push_tree(alice, remote, [("100644", "blob", ignore, ".gitignore")], replace=".gitignore")
    assert "changes the library's .gitignore" in _refused(bob, remote, before)


def test_a_remote_revision_failing_a_stored_case_is_kept_aside(teams, tmp_path: Path) -> None:
    alice, bob, remote = teams
    alice.save(write_folder(tmp_path / "v2", NAME, code=TWO_CHARS, cases=""))  # no gate in the Python API
    alice.save(write_folder(tmp_path / "other", "other-tool"))
    alice.push(remote)
    out = _pull_cli(bob, remote, "--json")
    assert out.exit_code == 1, out.output
    import json

    data = json.loads(out.stdout)
    assert data["updated"] == ["other-tool"] and data["conflicts"] == []
    (rejected,) = data["rejected"]
    assert rejected["name"] == NAME and (rejected["ours_version"], rejected["theirs_version"]) == (1, 2)
    assert "result: got 'ab', expected 'abc'" in rejected["reason"]
    assert rejected["ref"] == f"refs/agentfactory/rejected/{NAME}"
    assert git(bob.path, "rev-parse", rejected["ref"]).strip() == rejected["theirs_commit"]
    assert bob.get(NAME).version == 1 and "text[:limit]" in bob.get(NAME).code
    assert "text[:limit]" in (bob.path / NAME / "text_preview.py").read_text()
    assert bob.get("other-tool").version == 1
    assert git(bob.path, "status", "--porcelain") == ""


def test_a_remote_revision_passing_the_stored_cases_is_taken(teams, tmp_path: Path) -> None:
    alice, bob, remote = teams
    alice.save(write_folder(tmp_path / "v2", NAME, purpose="Better docs."))
    alice.push(remote)
    out = _pull_cli(bob, remote)
    assert out.exit_code == 0, out.output
    assert "updated: text-preview" in " ".join(out.stdout.split()) and bob.get(NAME).version == 2


def test_a_remote_revision_that_drops_a_case_is_taken_with_the_case_kept(teams) -> None:
    alice, bob, remote = teams
    other = b'{"inputs": {"text": "xyz", "limit": 1}, "expected": {"result": "x"}}\n'
    sub_rows = [e for e in _entries(alice.path, f"HEAD:{NAME}") if e[3] != "cases.jsonl"]
    sub = _tree(alice.path, [*sub_rows, ("100644", "blob", _blob(alice.path, other), "cases.jsonl")])
    _push_tree(alice, remote, [("040000", "tree", sub, NAME)], replace=NAME)
    out = _pull_cli(bob, remote)
    assert out.exit_code == 0, out.output
    assert [c.inputs for c in bob.get(NAME).cases] == [{"text": "xyz", "limit": 1}, {"text": "abcdef"}]
    assert git(bob.path, "status", "--porcelain") == ""


def test_a_link_planted_over_the_lock_file_is_never_followed(tmp_path: Path) -> None:
    library = Library(tmp_path / "lib")
    library.ensure()
    target = tmp_path / "elsewhere" / "victim"
    target.parent.mkdir()
    (library.path / ".library.lock").unlink(missing_ok=True)
    (library.path / ".library.lock").symlink_to(target)
    assert library.save(write_folder(tmp_path / "src", NAME)).version == 1
    assert not target.exists() and not (library.path / ".library.lock").is_symlink()


@pytest.mark.docker
def test_pull_runs_the_stored_cases_in_docker(teams, tmp_path: Path) -> None:
    alice, bob, remote = teams
    alice.save(write_folder(tmp_path / "v2", NAME, code=TWO_CHARS, cases=""))
    alice.push(remote)
    out = runner.invoke(app, ["library", "pull", remote, "--sandbox", "docker", "--library", str(bob.path)])
    assert out.exit_code == 1 and "Rejected:" in out.stdout, out.output
    assert bob.get(NAME).version == 1
