"""Many writers at once, writers killed at every stage of a save, and the inter-process lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentfactory.errors import LibraryError
from agentfactory.library import Library
from agentfactory.library.store import CRASH_ENV

from ._helpers import git, write_folder

WRITER = r"""
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[4])
from _helpers import write_folder
from agentfactory.library import Library
lib, worker, count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
library = Library(lib)
out = []
for j in range(count):
    name = f"shared-{worker % 4}"
    folder = write_folder(Path(sys.argv[5]) / f"w{worker}-{j}", name, purpose=f"Worker {worker} save {j}.")
    r = library.save(folder, run_id=f"w{worker}-{j}")
    out.append([r.name, r.version, r.commit, r.changed])
print(json.dumps(out))
"""

HERE = str(Path(__file__).parent)


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop(CRASH_ENV, None)
    env.update(extra)
    return env


@pytest.mark.slow
def test_eight_processes_times_25_saves_lose_nothing(tmp_path: Path) -> None:
    lib_path = tmp_path / "lib"
    Library(lib_path).ensure()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(lib_path), str(i), "25", HERE, str(tmp_path / "src")],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for i in range(8)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        results += json.loads(out)
    assert len(results) == 200 and all(r[3] for r in results)
    commits = set(git(lib_path, "rev-list", "HEAD").split())
    assert len(commits) == 201  # the creating commit + one per save
    assert {r[2] for r in results} <= commits
    for n in range(4):
        versions = sorted(r[1] for r in results if r[0] == f"shared-{n}")
        assert versions == list(range(1, 51))
        history = Library(lib_path).history(f"shared-{n}")
        assert [v.version for v in history] == list(range(1, 51))
    fsck = subprocess.run(
        ["git", "-C", str(lib_path), "fsck", "--strict", "--no-progress"], capture_output=True, text=True
    )
    assert fsck.returncode == 0 and "error" not in fsck.stderr.lower(), fsck.stderr
    assert git(lib_path, "status", "--porcelain") == ""


SAVE_ONE = r"""
import sys
from pathlib import Path
from agentfactory.library import Library
print(Library(Path(sys.argv[1])).save(Path(sys.argv[2]), run_id="crasher"))
"""
STAGES = ["locked", "journal", "first-file", "files", "staged", "commit-object", "ref", "done"]
NEW_VISIBLE = {"ref", "done"}


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("existing", [True, False], ids=["update", "create"])
def test_save_killed_at_each_stage_leaves_old_or_new(stage: str, existing: bool, tmp_path: Path) -> None:
    lib = Library(tmp_path / "lib")
    lib.ensure()
    src = tmp_path / "src"
    if existing:
        lib.save(write_folder(src / "v1", "victim", purpose="Version one."))
    folder = write_folder(src / "v2", "victim", purpose="Version two.")
    (folder / "extra.txt").write_text("only in version two\n")
    proc = subprocess.run(
        [sys.executable, "-c", SAVE_ONE, str(lib.path), str(folder)],
        env=_env(**{CRASH_ENV: stage}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr

    reader = Library(lib.path)  # readers see a whole version even before anyone repairs
    if stage in NEW_VISIBLE:
        sub = reader.get("victim")
        assert (
            "Version two." in sub.code and "extra.txt" in sub.files and sub.version == (2 if existing else 1)
        )
    elif existing:
        sub = reader.get("victim")
        assert "Version one." in sub.code and "extra.txt" not in sub.files and sub.version == 1
    else:
        assert reader.list() == []

    # The next writer repairs the work tree, then saves normally.
    other = write_folder(src / "o", "bystander")
    assert reader.save(other).changed
    assert git(lib.path, "status", "--porcelain", "--untracked-files=all") == ""
    assert not (lib.path / ".git" / "agentfactory" / "journal.json").exists()
    on_disk = lib.path / "victim"
    if stage in NEW_VISIBLE or existing:
        expected = reader.get("victim").files
        assert {p.name: p.read_bytes() for p in on_disk.iterdir()} == expected
    else:
        assert not on_disk.exists()
    fsck = subprocess.run(
        ["git", "-C", str(lib.path), "fsck", "--no-progress"], capture_output=True, text=True
    )
    assert fsck.returncode == 0, fsck.stderr
    # and saving the crashed content again works and numbers versions right
    result = reader.save(folder)
    assert result.version == (2 if existing else 1)
    assert result.changed == (stage not in NEW_VISIBLE)


HOLDER = r"""
import sys, time
from filelock import FileLock
lock = FileLock(sys.argv[1])
lock.acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_live_lock_is_not_stolen_and_dead_holder_releases_it(tmp_path: Path) -> None:
    lib = Library(tmp_path / "lib", lock_timeout=0.5)
    lib.ensure()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lib.path / ".library.lock")], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        head = lib.head()
        with pytest.raises(LibraryError, match="held the library lock"):
            lib.save(write_folder(tmp_path / "src", "blocked"))
        assert lib.head() == head
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=10)
        start = time.monotonic()
        assert lib.save(write_folder(tmp_path / "src", "blocked")).changed
        assert time.monotonic() - start < 5
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_stale_git_lock_files_are_cleared_after_a_crash(tmp_path: Path) -> None:
    lib = Library(tmp_path / "lib")
    lib.ensure()
    folder = write_folder(tmp_path / "src", "victim")
    proc = subprocess.run(
        [sys.executable, "-c", SAVE_ONE, str(lib.path), str(folder)],
        env=_env(**{CRASH_ENV: "staged"}),
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL
    stale = lib.path / ".git" / "index.lock"
    stale.write_text("")
    os.utime(stale, (time.time() - 60, time.time() - 60))
    assert lib.save(folder).version == 1
    assert not stale.exists()


def test_a_git_lock_held_by_a_live_git_command_in_the_library_is_never_removed(tmp_path: Path) -> None:
    """`git commit PATH` holds index.lock while its editor is open, with no descriptor on it: a library
    repairing after a crashed writer refuses with one sentence instead of deleting the user's lock."""
    lib = Library(tmp_path / "lib")
    lib.save(write_folder(tmp_path / "src", "tool-a"))
    proc = subprocess.run(
        [sys.executable, "-c", SAVE_ONE, str(lib.path), str(write_folder(tmp_path / "src2", "victim"))],
        env=_env(**{CRASH_ENV: "staged"}),
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL
    (lib.path / ".git" / "index.lock").unlink(missing_ok=True)
    (lib.path / "tool-a" / "SKILL.md").write_text(
        (lib.path / "tool-a" / "SKILL.md").read_text() + "\nMore.\n"
    )
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nsleep 30\necho msg > "$1"\n')
    editor.chmod(0o755)
    env = {**os.environ, "GIT_EDITOR": str(editor), "GIT_AUTHOR_NAME": "u", "GIT_AUTHOR_EMAIL": "u@x"}
    env |= {"GIT_COMMITTER_NAME": "u", "GIT_COMMITTER_EMAIL": "u@x"}
    user = subprocess.Popen(
        ["git", "commit", "-q", "tool-a/SKILL.md"], cwd=lib.path, env=env, start_new_session=True
    )
    try:
        lock = lib.path / ".git" / "index.lock"
        deadline = time.monotonic() + 20
        while not lock.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lock.exists()
        with pytest.raises(LibraryError, match=r"git is working in .* and holds index.lock: let it finish"):
            lib.save(write_folder(tmp_path / "src3", "tool-b"))
        assert lock.exists()
    finally:
        os.killpg(user.pid, signal.SIGKILL)  # git and its editor
        user.wait()
