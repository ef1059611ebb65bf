"""Save / history / diff / rollback / remove / export round trips and the commit format."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agentfactory.errors import UsageError
from agentfactory.library import Library

from ._helpers import git, write_folder


def test_save_is_versioned_and_identical_content_is_a_no_op(lib: Library, src: Path) -> None:
    start = lib.head()
    folder = write_folder(src, "preview")
    first = lib.save(folder, run_id="run-1", task="Preview the report")
    assert first.changed and first.version == 1 and lib.head() == first.commit != start
    again = lib.save(folder, run_id="run-2")
    assert not again.changed and again.version == 1 and lib.head() == first.commit
    write_folder(src, "preview", purpose="Preview a text quickly.")
    second = lib.save(folder, run_id="run-3")
    assert second.changed and second.version == 2
    sub = lib.get("preview")
    assert (sub.version, sub.parent_version, sub.source_run) == (2, 1, "run-3")
    assert lib.get("preview", 1).source_task == "Preview the report"
    assert "quickly" not in lib.get("preview", 1).code and "quickly" in sub.code
    assert git(lib.path, "status", "--porcelain") == ""


def test_commit_message_has_trailers(lib: Library, src: Path) -> None:
    result = lib.save(write_folder(src, "preview"), run_id="run-9", task="Do\nthe thing", message="Why.")
    body = git(lib.path, "log", "-1", "--format=%B", result.commit)
    assert body.startswith("save preview v1\n\nWhy.\n")
    trailers = git(lib.path, "log", "-1", "--format=%(trailers:only)", result.commit)
    assert "Subagent: preview" in trailers and "Version: 1" in trailers
    assert "Run-Id: run-9" in trailers and "Task: Do the thing" in trailers


def test_history_diff_rollback_remove(lib: Library, src: Path) -> None:
    folder = write_folder(src, "preview")
    lib.save(folder, run_id="a")
    write_folder(src, "preview", purpose="Second purpose.")
    lib.save(folder, run_id="b")
    history = lib.history("preview")
    assert [(v.version, v.run_id) for v in history] == [(1, "a"), (2, "b")]
    diff = lib.diff("preview", 1, 2)
    assert '-"""Preview a text.' in diff and '+"""Second purpose.' in diff
    back = lib.rollback("preview", 1)
    assert back.changed and back.version == 3
    assert lib.get("preview").code == lib.get("preview", 1).code
    assert lib.get("preview").parent_version == 2
    assert not lib.rollback("preview", 3).changed
    assert lib.history("preview")[-1].message == "rollback preview to v1 as v3"
    removed = lib.remove("preview")
    assert removed.changed and [i.name for i in lib.list()] == []
    assert not (lib.path / "preview").exists()
    assert lib.get("preview", 2).version == 2  # old versions stay readable
    with pytest.raises(UsageError, match="No subagent named"):
        lib.get("preview")
    again = lib.save(folder)
    assert again.version == 4  # numbering continues after a removal
    with pytest.raises(UsageError, match="no version 9"):
        lib.get("preview", 9)


def test_export_writes_any_version(lib: Library, src: Path, tmp_path: Path) -> None:
    folder = write_folder(src, "preview")
    lib.save(folder)
    write_folder(src, "preview", purpose="Changed.")
    lib.save(folder)
    out = lib.export("preview", 1, tmp_path / "out")
    assert out == tmp_path / "out" / "preview"
    assert "Preview a text." in (out / "preview.py").read_text()
    assert "version: '1'" in (out / "SKILL.md").read_text()
    with pytest.raises(UsageError, match="not empty"):
        lib.export("preview", 2, tmp_path / "out")


def test_files_removed_from_the_folder_are_removed_from_the_library(lib: Library, src: Path) -> None:
    folder = write_folder(src, "preview")
    (folder / "helper.txt").write_text("x")
    lib.save(folder)
    (folder / "helper.txt").unlink()
    lib.save(folder)
    assert set(lib.get("preview").files) == {"SKILL.md", "preview.py", "cases.jsonl"}
    assert not (lib.path / "preview" / "helper.txt").exists()


def test_reads_use_git_objects_not_the_work_tree(lib: Library, src: Path) -> None:
    lib.save(write_folder(src, "preview"))
    (lib.path / "preview" / "preview.py").write_text("garbage")
    assert "def run" in lib.get("preview").code


def test_readers_on_a_missing_library_see_it_empty(tmp_path: Path) -> None:
    library = Library(tmp_path / "nothing")
    assert library.list() == [] and library.search("anything") == []
    assert not (tmp_path / "nothing").exists()


def test_a_nul_or_control_character_in_a_task_or_description_never_breaks_a_commit(tmp_path):
    # git refuses a NUL in a commit message and no argument can hold one: such text reaches git escaped.
    from tests.library._helpers import write_folder

    library = Library(tmp_path / "lib")
    folder = write_folder(tmp_path / "src", "nul-desc")
    result = library.save(folder, run_id="r\x00id", task="a\x00b\x07", message="msg\x00")
    assert result.changed and result.version == 1
    log = subprocess.run(
        ["git", "-C", str(tmp_path / "lib"), "log", "-1", "--format=%B"], capture_output=True, text=True
    ).stdout
    assert "\x00" not in log and "a\\x00b\\x07" in log and "msg\\x00" in log
    assert library.get("nul-desc").version == 1


def test_spliced_trees_keep_git_order_and_match_what_git_builds(lib: Library, src: Path) -> None:
    """A save splices one entry into the root tree itself: names that sort differently as folders
    ('a-b' before 'a', since git compares 'a/') land where git puts them, nested folders included,
    and the result is the tree git's own index would write."""
    for name in ["a", "a-b", "a0", "b", "a-b-c", "ab"]:
        folder = write_folder(src / name, name)
        (folder / "fixtures" / "deep").mkdir(parents=True)
        (folder / "fixtures" / "deep" / "in.txt").write_text(name)
        (folder / "fixtures" / "a-b.txt").write_text("x")
        lib.save(folder)
    lib.remove("a0")
    head_tree = git(lib.path, "rev-parse", "HEAD^{tree}").strip()
    rebuilt = subprocess.run(
        ["git", "-C", str(lib.path), "write-tree"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert rebuilt == head_tree  # git's index, staged entry by entry, writes the very same tree
    names = git(lib.path, "ls-tree", "--name-only", "HEAD").split()
    assert [n for n in names if not n.startswith(".") and n != "README.md"] == [
        "a-b-c",
        "a-b",
        "a",
        "ab",
        "b",
    ]
    fsck = subprocess.run(["git", "-C", str(lib.path), "fsck", "--strict"], capture_output=True, text=True)
    assert fsck.returncode == 0 and not fsck.stderr.strip(), fsck.stderr
    assert git(lib.path, "status", "--porcelain", "--untracked-files=all") == ""
    assert lib.get("a-b").files["fixtures/deep/in.txt"] == b"a-b"


def test_a_save_rewrites_only_its_folders_index_entries(lib: Library, src: Path) -> None:
    """git's index is split: a save writes its few changed entries, and the shared part holding every
    other subagent's entries stays the same file, untouched."""
    for i in range(40):
        lib.save(write_folder(src / str(i), f"tool-{i}"))
    git(lib.path, "update-index", "--split-index")  # a fresh shared index, as after any large change
    shared = sorted((lib.path / ".git").glob("sharedindex.*"))
    assert len(shared) == 1  # replaced shared parts are removed at once, not kept for two weeks
    before = (shared[0].name, shared[0].read_bytes())  # (git touches its mtime to mark it in use)
    for i in range(3):
        assert lib.save(write_folder(src / f"v{i}", f"tool-{i}", purpose=f"Changed {i}.")).changed
    after = sorted((lib.path / ".git").glob("sharedindex.*"))
    assert [(p.name, p.read_bytes()) for p in after] == [before]
    # The small index holds the changed entries (and any git still deems "racily clean", which depends on
    # the clock): always fewer than the shared part's forty subagents.
    assert (lib.path / ".git" / "index").stat().st_size < len(before[1])
    assert git(lib.path, "status", "--porcelain", "--untracked-files=all") == ""
