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


WRONG = "def run(text: str, limit: int = 3) -> dict:\n    return {'result': 'WRONG'}\n"
WRONG_CASE = '{"inputs": {"text": "abcdef"}, "expected": {"result": "WRONG"}}\n'


def _no_incoming(bob: Library) -> None:
    refs = git(bob.path, "for-each-ref", "--format=%(refname)").split()
    assert "refs/agentfactory/incoming" not in refs


def test_a_remote_case_redefining_our_stored_case_is_rejected_and_ours_runs(teams, tmp_path: Path) -> None:
    """Item 9a: the remote's cases.jsonl holds our case's inputs with another expectation (its code returns
    'WRONG'): a conflict kept on the side ref and reported, never a silent replacement."""
    alice, bob, remote = teams
    alice.save(write_folder(tmp_path / "v2", NAME, code=WRONG, cases=WRONG_CASE), replace_cases=True)
    alice.push(remote)
    before_cases = (bob.path / NAME / "cases.jsonl").read_bytes()
    out = _pull_cli(bob, remote, "--json")
    assert out.exit_code == 1, out.output
    import json

    (rejected,) = json.loads(out.stdout)["rejected"]
    assert rejected["name"] == NAME and "redefines our stored cases" in rejected["reason"]
    assert git(bob.path, "rev-parse", rejected["ref"]).strip() == rejected["theirs_commit"]
    assert (bob.path / NAME / "cases.jsonl").read_bytes() == before_cases
    assert bob.get(NAME).version == 1 and "text[:limit]" in bob.get(NAME).code
    _no_incoming(bob)


def test_a_remote_fixture_redefining_ours_is_rejected(teams, tmp_path: Path) -> None:
    """Item 9a, the fixture variant: same cases, but a fixture our case reads gets other content."""
    alice, bob, remote = teams
    fixture = tmp_path / "v2" / NAME / "fixtures" / "in.txt"
    fixture.parent.mkdir(parents=True)
    fixture.write_text("ours\n")
    folder = write_folder(tmp_path / "v2", NAME, purpose="With a fixture.")
    alice.save(folder)
    alice.push(remote)
    assert _pull_cli(bob, remote).exit_code == 0
    fixture.write_text("theirs\n")
    alice.save(folder, replace_cases=True)
    alice.push(remote)
    out = _pull_cli(bob, remote)
    assert out.exit_code == 1 and "fixtures/in.txt has other content" in " ".join(out.stdout.split())
    assert (bob.path / NAME / "fixtures" / "in.txt").read_text() == "ours\n"
    _no_incoming(bob)


def test_library_add_refuses_a_case_redefining_a_stored_one_unless_forced(tmp_path: Path) -> None:
    """Item 9a for `library add` (p9_add_same_inputs.sh): refused, exit 1, the stored case kept; --force
    replaces it and says so."""
    lib = tmp_path / "lib"
    add = ["library", "add", "--library", str(lib), "--sandbox", "local"]
    assert runner.invoke(app, [*add, str(write_folder(tmp_path / "v1", NAME))]).exit_code == 0
    stored = (lib / NAME / "cases.jsonl").read_bytes()
    v2 = write_folder(tmp_path / "v2", NAME, code=WRONG, cases=WRONG_CASE)
    out = runner.invoke(app, [*add, str(v2)])
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert "redefines 1 stored case(s)" in " ".join(out.output.split())
    assert (lib / NAME / "cases.jsonl").read_bytes() == stored and Library(lib).get(NAME).version == 1
    out = runner.invoke(app, [*add, str(v2), "--force"])
    assert out.exit_code == 0 and "replaced stored cases" in " ".join(out.output.split())
    assert [c.expected for c in Library(lib).get(NAME).cases] == [{"result": "WRONG"}]


def test_a_remote_removal_of_our_subagent_is_kept_aside_and_reported(teams, tmp_path: Path) -> None:
    """Item 9b (p9_pull.py delete_sub): ours stays, theirs is at the rejected ref, exit 1; with
    --accept-removals it is applied and reported as removed, not updated."""
    alice, bob, remote = teams
    dave = Library(tmp_path / "dave")
    dave.pull(remote)  # holds our subagent too
    alice.save(write_folder(tmp_path / "o", "other-tool"))
    alice.remove(NAME)
    alice.push(remote)
    out = _pull_cli(bob, remote)
    assert out.exit_code == 1, out.output
    text = " ".join(out.stdout.split())
    assert "the remote removes it" in text and "updated: other-tool." in text
    assert bob.get(NAME).version == 1 and (bob.path / NAME / "text_preview.py").is_file()
    ref = f"refs/agentfactory/rejected/{NAME}"
    assert git(bob.path, "rev-parse", ref).strip() == git(alice.path, "rev-parse", "HEAD").strip()
    _no_incoming(bob)
    out = _pull_cli(dave, remote, "--accept-removals")
    assert out.exit_code == 0, out.output
    text = " ".join(out.stdout.split())
    assert f"removed: {NAME}." in text and f"updated: {NAME}" not in text
    assert not (dave.path / NAME).exists()
    _no_incoming(dave)


def test_a_renamed_copy_arrives_as_a_new_subagent_that_must_pass_its_own_cases(teams, tmp_path: Path) -> None:
    """Item 9b (p9_pull.py rename_and_regress): the original is kept (its removal rejected); the copy under
    a new name that fails the cases it brings is not added; one that passes them is."""
    alice, bob, remote = teams
    dave = Library(tmp_path / "dave")
    dave.pull(remote)
    alice.remove(NAME)
    alice.save(write_folder(tmp_path / "bad", "text-previex", code=WRONG))  # carries the 'abc' case
    alice.push(remote)
    out = _pull_cli(bob, remote, "--json")
    assert out.exit_code == 1, out.output
    import json

    data = json.loads(out.stdout)
    reasons = {r["name"]: r["reason"] for r in data["rejected"]}
    assert "the remote removes it" in reasons[NAME]
    assert "fails its own cases" in reasons["text-previex"] and data["updated"] == []
    assert not (bob.path / "text-previex").exists() and bob.get(NAME).version == 1
    _no_incoming(bob)
    alice.save(write_folder(tmp_path / "good", "text-previex"))
    alice.push(remote)
    out = _pull_cli(dave, remote, "--json")
    data = json.loads(out.stdout)
    assert out.exit_code == 1 and data["updated"] == ["text-previex"]
    assert [r["name"] for r in data["rejected"]] == [NAME] and dave.get(NAME).version == 1
    assert dave.get("text-previex").version == 2


def test_the_incoming_ref_never_outlives_a_pull(teams, tmp_path: Path) -> None:
    alice, bob, remote = teams
    alice.save(write_folder(tmp_path / "v2", NAME, purpose="Better docs."))
    alice.push(remote)
    assert _pull_cli(bob, remote).exit_code == 0
    _no_incoming(bob)
    assert _pull_cli(bob, remote).exit_code == 0  # up to date
    _no_incoming(bob)


def test_a_remote_revision_with_a_huge_integer_default_is_refused_in_one_sentence(teams) -> None:
    """Item 8a via pull (p9_pull.py hex_default_code): exit 2, one sentence, the library untouched."""
    alice, bob, remote = teams
    code = b"def run(text: str, limit: int = 0x" + b"f" * 20_000 + b") -> dict:\n    return {}\n"
    rows = [e for e in _entries(alice.path, f"HEAD:{NAME}") if e[3] != "text_preview.py"]
    sub = _tree(alice.path, [*rows, ("100644", "blob", _blob(alice.path, code), "text_preview.py")])
    _push_tree(alice, remote, [("040000", "tree", sub, NAME)], replace=NAME)
    line = _refused(bob, remote, snapshot(bob.path))
    assert "text_preview.py cannot be analysed" in line and "integer of thousands of digits" in line
    _no_incoming(bob)
