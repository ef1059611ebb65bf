"""Teams: two libraries sharing a bare remote, including a conflicting pull."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentfactory.errors import LibraryError, UsageError
from agentfactory.library import Library

from ._helpers import git, write_folder


@pytest.fixture
def remote(tmp_path: Path) -> str:
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    return str(bare)


def test_push_pull_fast_forward_and_merge(tmp_path: Path, remote: str) -> None:
    alice, bob = Library(tmp_path / "alice"), Library(tmp_path / "bob")
    src = tmp_path / "src"
    alice.save(write_folder(src / "a", "shared-tool", purpose="Alice v1."))
    alice.push(remote)
    pulled = bob.pull(remote)  # bob's library is created by the pull
    assert [c.name for c in pulled.conflicts] == [] and "shared-tool" in pulled.updated
    assert bob.get("shared-tool").version == 1
    bob.push(remote)
    alice.pull(remote)
    assert alice.head() == bob.head()
    # independent changes to different subagents merge cleanly
    alice.save(write_folder(src / "a2", "alice-only", purpose="Alice's own."))
    alice.push(remote)
    bob.save(write_folder(src / "b2", "bob-only", purpose="Bob's own."))
    with pytest.raises(LibraryError, match="pull"):
        bob.push(remote)
    result = bob.pull(remote)
    assert result.updated == ["alice-only"] and not result.conflicts and not result.fast_forward
    assert {i.name for i in bob.list()} == {"shared-tool", "alice-only", "bob-only"}
    assert git(bob.path, "status", "--porcelain") == ""
    bob.push(remote)
    alice.pull(remote)
    assert {i.name for i in alice.list()} == {"shared-tool", "alice-only", "bob-only"}


def test_conflicting_pull_keeps_both_histories_and_reports(tmp_path: Path, remote: str) -> None:
    alice, bob = Library(tmp_path / "alice"), Library(tmp_path / "bob")
    src = tmp_path / "src"
    alice.save(write_folder(src / "a", "shared-tool", purpose="Common v1."))
    alice.push(remote)
    bob.pull(remote)
    alice_v2 = alice.save(write_folder(src / "a2", "shared-tool", purpose="Alice v2."))
    alice.push(remote)
    bob_v2 = bob.save(write_folder(src / "b2", "shared-tool", purpose="Bob v2."))
    result = bob.pull(remote)
    (conflict,) = result.conflicts
    assert conflict.name == "shared-tool" and conflict.ours_version == 2 and conflict.theirs_version == 2
    assert "Bob v2." in bob.get("shared-tool").code  # ours kept, nothing overwritten
    theirs = git(bob.path, "show", f"{conflict.ref}:shared-tool/shared_tool.py")
    assert "Alice v2." in theirs
    reachable = git(bob.path, "rev-list", "HEAD").split()
    assert alice_v2.commit in reachable and bob_v2.commit in reachable
    assert git(bob.path, "status", "--porcelain") == ""
    bob.push(remote)  # the merge contains alice's history: a fast-forward for the remote
    assert alice.pull(remote).fast_forward
    assert "Bob v2." in alice.get("shared-tool").code


def test_bad_remote_is_refused(lib: Library) -> None:
    with pytest.raises(UsageError):
        lib.push("--upload-pack=touch /tmp/x")
    with pytest.raises(LibraryError, match="failed"):
        lib.pull(str(lib.path.parent / "no-such-remote"))


def test_pull_between_libraries_with_unrelated_histories(tmp_path: Path, remote: str) -> None:
    alice, bob = Library(tmp_path / "alice"), Library(tmp_path / "bob")
    alice.save(write_folder(tmp_path / "a", "alice-tool", purpose="Alice."))
    alice.push(remote)
    bob.save(write_folder(tmp_path / "b", "bob-tool", purpose="Bob."))
    result = bob.pull(remote)
    assert result.updated == ["alice-tool"] and not result.conflicts
    assert {i.name for i in bob.list()} == {"alice-tool", "bob-tool"}
    assert [v.version for v in bob.history("alice-tool")] == [1]
    assert git(bob.path, "status", "--porcelain") == ""
