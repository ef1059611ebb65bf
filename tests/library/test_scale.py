"""A save's cost does not grow with the library: it edits only the split part of git's index, writes its
objects in-process, and commits the experience files the same way. Every shortcut leaves exactly the
index, objects and commits git itself would make, and falls back to git where the index is not one it
edits."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

from agentfactory.errors import LibraryError
from agentfactory.library import Library, _gitindex
from agentfactory.library._git import Git
from agentfactory.library.experience_files import append_line

from ._helpers import git, write_folder


def _commands(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The git subcommands run through the library's door to git, recorded in order."""
    seen: list[str] = []
    original = Git.run

    def run(self: Git, *args: str, **kwargs):
        words = [a for a in args if not a.startswith(("core.", "splitIndex.")) and a != "-c"]
        seen.append(words[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Git, "run", run)
    return seen


def _index_is_heads(path: Path) -> None:
    """git's index holds exactly HEAD's entries, and git sees the work tree up to date."""
    assert git(path, "status", "--porcelain", "--untracked-files=all") == ""
    assert git(path, "diff-index", "--cached", "HEAD") == ""
    ours = git(path, "ls-files", "-s")
    theirs = subprocess.run(
        ["git", "-C", str(path), "ls-tree", "-r", "--format=%(objectmode) %(objectname) 0\t%(path)", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert ours == theirs


def _shared(path: Path) -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted((path / ".git").glob("sharedindex.*"))]


def test_a_save_runs_only_commit_tree_and_update_ref(lib: Library, src: Path, monkeypatch) -> None:
    """No `update-index`, `hash-object`, `write-tree` or `cat-file` of a loose object: nothing that reads
    the whole git index or the other subagents. The shared index file stays the same bytes."""
    for i in range(30):
        lib.save(write_folder(src / str(i), f"tool-{i:02d}"))
    git(lib.path, "update-index", "--split-index")
    before = _shared(lib.path)
    commands = _commands(monkeypatch)
    for i in (3, 17, 29):
        assert lib.save(write_folder(src / f"v{i}", f"tool-{i:02d}", purpose=f"Changed {i}.")).changed
    assert lib.save(write_folder(src / "new", "tool-new")).changed
    lib.remove("tool-05")
    assert commands == ["commit-tree", "update-ref"] * 5
    assert _shared(lib.path) == before
    data = (lib.path / ".git" / "index").read_bytes()
    version, count = _gitindex._check(data)
    named = [name.decode() for _, _, name, _ in _gitindex._walk(data, version, count) if name]
    assert sorted({n.split("/")[0] for n in named}) == ["tool-03", "tool-17", "tool-29", "tool-new"]
    assert len(named) == 4 * 3  # added to the split part: the saved folders' files only
    _index_is_heads(lib.path)


def test_nested_files_added_replaced_and_removed_keep_the_index_exact(lib: Library, src: Path) -> None:
    names = ["a", "a-b", "a0", "ab", "b"]
    for name in names:
        folder = write_folder(src / name, name)
        (folder / "fixtures" / "deep").mkdir(parents=True)
        (folder / "fixtures" / "deep" / "in.txt").write_text(name)
        lib.save(folder)
    git(lib.path, "update-index", "--split-index")
    git(lib.path, "status")  # git rewrites the split part its own way (cache tree, racy entries)
    folder = write_folder(src / "v2", "a-b", purpose="Two.")
    (folder / "fixtures").mkdir()
    (folder / "fixtures" / "other.txt").write_text("x")  # deep/in.txt is gone, other.txt is new
    lib.save(folder)
    lib.remove("a0")
    lib.save(write_folder(src / "v3", "a0", purpose="Back."))
    _index_is_heads(lib.path)
    fsck = subprocess.run(["git", "-C", str(lib.path), "fsck", "--strict"], capture_output=True, text=True)
    assert fsck.returncode == 0 and not fsck.stderr.strip(), fsck.stderr


def test_an_index_of_another_version_is_staged_by_git(lib: Library, src: Path, monkeypatch) -> None:
    lib.save(write_folder(src / "a", "tool-a"))
    git(lib.path, "update-index", "--index-version", "4")
    commands = _commands(monkeypatch)
    assert lib.save(write_folder(src / "b", "tool-a", purpose="Changed.")).changed
    assert "update-index" in commands
    _index_is_heads(lib.path)


def test_a_grown_split_part_is_folded_into_a_new_shared_index(lib: Library, src: Path, monkeypatch) -> None:
    for i in range(6):
        lib.save(write_folder(src / str(i), f"tool-{i}"))
    git(lib.path, "update-index", "--split-index")
    before = _shared(lib.path)
    monkeypatch.setattr(_gitindex, "MAX_SPLIT_ENTRIES", 8)
    for i in range(6):
        lib.save(write_folder(src / f"v{i}", f"tool-{i}", purpose=f"Changed {i}."))
    after = _shared(lib.path)
    assert len(after) == 1 and after != before  # git wrote a new shared part; the old one is gone
    _index_is_heads(lib.path)


def test_a_git_process_holding_the_index_lock_is_never_overwritten(lib: Library, src: Path) -> None:
    lib.save(write_folder(src / "a", "tool-a"))
    lock = lib.path / ".git" / "index.lock"
    lock.write_bytes(b"held by git")
    head = lib.head()
    with pytest.raises(LibraryError, match=r"tool-a was not saved: git could not update the library's index"):
        lib.save(write_folder(src / "b", "tool-a", purpose="Changed."))
    assert lock.read_bytes() == b"held by git" and lib.head() == head
    lock.unlink()  # the git command finished: the next save repairs the folder and saves
    assert lib.save(write_folder(src / "c", "tool-a", purpose="Changed.")).version == 2
    _index_is_heads(lib.path)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ewah_bitmaps_round_trip(seed: int) -> None:
    rng = random.Random(seed)
    bits = sorted(set(rng.sample(range(200_000), 300) + list(range(5_000, 5_300)) + [0, 63, 64, 127]))
    data = b"xx" + _gitindex.ewah_encode(bits)
    decoded, end = _gitindex.ewah_decode(data, 2)
    assert decoded == bits and end == len(data)
    assert _gitindex.ewah_decode(_gitindex.ewah_encode([]), 0) == ([], len(_gitindex.ewah_encode([])))


def test_experience_records_are_committed_with_plumbing(lib: Library, src: Path, monkeypatch) -> None:
    """The experience files' new lines are committed before a save without `git add` or `write-tree`, and
    a file not appended to since is not read again."""
    lib.save(write_folder(src / "a", "tool-a"))
    append_line(lib.path, "worker-1", b'{"kind": "execution", "n": 1}\n')
    append_line(lib.path, "worker-2", b'{"kind": "execution", "n": 2}\n')
    commands = _commands(monkeypatch)
    lib.save(write_folder(src / "b", "tool-a", purpose="Changed."))
    assert commands == ["commit-tree", "update-ref"] * 2
    assert (
        git(lib.path, "log", "-1", "--skip=1", "--format=%s").strip()
        == "experience: new records of worker-1, worker-2"
    )
    assert git(lib.path, "show", "HEAD:experience/worker-1.jsonl") == '{"kind": "execution", "n": 1}\n'
    _index_is_heads(lib.path)

    append_line(lib.path, "worker-2", b'{"kind": "execution", "n": 3}\n')
    read: list[str] = []
    from agentfactory.library import experience_files

    original = experience_files._read_plain
    monkeypatch.setattr(experience_files, "_read_plain", lambda p: read.append(p.name) or original(p))
    lib.save(write_folder(src / "c", "tool-a", purpose="Again."))
    assert read == ["worker-2.jsonl"]
    assert git(lib.path, "show", "HEAD~1:experience/worker-2.jsonl").count("\n") == 2
    _index_is_heads(lib.path)
    commands.clear()
    lib.remove("tool-a")  # nothing new in the experience files: no experience commit
    assert commands == ["commit-tree", "update-ref"]


def test_a_loose_object_that_is_not_what_its_name_says_is_not_read(lib: Library, src: Path) -> None:
    lib.save(write_folder(src / "a", "tool-a"))
    head = lib.head()
    reader_git = lib.git
    assert reader_git.read_loose(head) is not None
    obj = lib.path / ".git" / "objects" / head[:2] / head[2:]
    import zlib

    obj.chmod(0o644)
    obj.write_bytes(zlib.compress(b"commit 4\0evil"))
    assert reader_git.read_loose(head) is None


def test_listing_json_is_stored_per_row_and_an_older_index_gains_it(lib: Library, src: Path) -> None:
    """Each row carries its `list --json` text, written with the row; an index made before the column
    existed gains it on open, and a row written without it (an older writer) is still listed right."""
    import json
    import sqlite3
    from dataclasses import asdict

    for name in ("b-tool", "a-tool", "c-tool"):
        lib.save(write_folder(src / name, name, metadata="metadata:\n  tags: x, y\n"))
    expected = [asdict(i) for i in lib.list()]
    db = lib.path / ".git" / "agentfactory" / "index.sqlite"
    lib._index.close()
    conn = sqlite3.connect(db)
    conn.execute("ALTER TABLE subagents DROP COLUMN listing")
    conn.commit()
    conn.close()
    again = Library(lib.path)
    assert json.loads("[" + ",".join(again.list_json_chunks()) + "]") == expected
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM subagents WHERE listing IS NOT NULL").fetchone() == (3,)
    conn.execute("UPDATE subagents SET listing = NULL WHERE name = 'b-tool'")
    conn.commit()
    conn.close()
    assert json.loads("[" + ",".join(Library(lib.path).list_json_chunks()) + "]") == expected
    assert [json.loads(r) for r in Library(lib.path).list_json()] == expected


def test_objects_written_in_process_are_the_ones_git_reads(lib: Library) -> None:
    """Small objects compressed, large ones stored: git reads both, under the sha git computes."""
    big = bytes(random.Random(5).getrandbits(8) for _ in range(300_000))
    small = b"print('hello')\n"
    shas = lib.git.write_objects("blob", [small, big])
    for sha, data in zip(shas, [small, big], strict=True):
        shown = subprocess.run(["git", "-C", str(lib.path), "cat-file", "blob", sha], capture_output=True)
        assert shown.stdout == data
    assert (
        shas[1]
        == subprocess.run(
            ["git", "-C", str(lib.path), "hash-object", "--stdin"], input=big, capture_output=True, check=True
        )
        .stdout.decode()
        .strip()
    )
    assert lib.git.read_loose(shas[1]) == ("blob", big)
    fsck = subprocess.run(["git", "-C", str(lib.path), "fsck", "--strict"], capture_output=True, text=True)
    assert fsck.returncode == 0, fsck.stderr


@pytest.mark.parametrize("version", ["2", "3", "4"])
def test_folder_positions_follow_gits_order_in_every_index_version(lib: Library, src: Path, version) -> None:
    for name in ["b", "a-b", "a", "a0", "ab", "zz-top"]:
        folder = write_folder(src / name, name)
        (folder / "fixtures" / "deep").mkdir(parents=True)
        (folder / "fixtures" / "deep" / "in.txt").write_text(name)
        lib.save(folder)
    git(lib.path, "update-index", "--index-version", version)
    git(lib.path, "update-index", "--split-index")  # a new shared part in that version
    [shared] = (lib.path / ".git").glob("sharedindex.*")
    count, positions = _gitindex.folder_positions(shared.read_bytes())
    listed = git(lib.path, "ls-files").splitlines()
    assert count == len(listed)
    expected: dict[bytes, tuple[int, int]] = {}
    for i, path in enumerate(listed):
        top, sep, _ = path.partition("/")
        if sep:
            first, n = expected.get(top.encode(), (i, 0))
            expected[top.encode()] = (first, n + 1)
    assert positions == expected
    sidecar = _gitindex._sidecar_bytes(count, positions)
    for top, (first, n) in expected.items():
        assert _gitindex._lookup(sidecar, top) == (count, first, n)
    assert _gitindex._lookup(sidecar, b"missing") == (count, 0, 0)
