"""The library's repository: creation, the write lock, the journal and recovery (see store.py for the
write protocol). `Repo` is the base of `Library`; nothing here reads or writes a subagent's content."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from agentfactory.errors import LibraryError, UsageError, ValidationError
from agentfactory.library import experience_files
from agentfactory.library._git import ZERO, Git, read_head
from agentfactory.library.index import Index
from agentfactory.library.model import VersionInfo
from agentfactory.library.names import validate_name

if TYPE_CHECKING:
    from filelock import FileLock

MARKER = ".agentfactory-library"
LOCK_NAME = ".library.lock"
_GITIGNORE = "/.library.lock\n__pycache__/\n*.pyc\n"
_README = (
    "# Subagent library\n\nA git repository of AgentFactory subagents, one folder each (see FORMAT.md in\n"
    "the agentfactory package). Inspect it with `agentfactory library list|show|log|diff` or plain git.\n"
)
# Files a fresh library may find already present in its folder without calling them someone else's.
_PRESEEDED = {"README.md", LOCK_NAME}
# The only top-level files of a library; everything else at the top is a subagent folder.
_ROOT_FILES = {".gitignore", MARKER, "README.md"}
CRASH_ENV = "AGENTFACTORY_LIBRARY_CRASH_AT"  # test hook: SIGKILL ourselves at a named stage of a write
# Libraries made before the index was split get it split by their next save; a replaced shared part
# is deleted at once (the library lock serialises writers), not kept for git's default two weeks.
_SPLIT_INDEX = ("-c", "core.splitIndex=true", "-c", "splitIndex.sharedIndexExpire=now")
_GIT_LOCKS = ("index.lock", "HEAD.lock", "refs/heads/main.lock", "packed-refs.lock")
# git commands that only read: they never take a lock, and a reader kept open for a process's life
# (`cat-file --batch`) must not make a library look busy.
_READ_ONLY_GIT = frozenset(
    ["cat-file", "log", "show", "rev-parse", "rev-list", "ls-tree", "ls-files", "diff-tree", "for-each-ref"]
    + ["show-ref", "config", "merge-base", "fetch", "ls-remote", "version", "grep", "blame"]
)


def git_processes_in(*places: Path) -> list[tuple[int, str]]:
    """Live git commands (other than readers) whose working directory is in one of `places`, as
    (pid, command line), read from /proc; none where /proc cannot tell (another system, another user's
    processes)."""
    roots = [str(p.resolve()) for p in places]
    found = []
    try:
        entries = [e for e in os.scandir("/proc") if e.name.isdigit()]
    except OSError:
        return []
    for entry in entries:
        try:
            cwd = os.readlink(f"{entry.path}/cwd")
            argv = Path(entry.path, "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not any(cwd == root or cwd.startswith(root + os.sep) for root in roots):
            continue
        words = [a.decode("utf-8", "replace") for a in argv if a]
        if not words or os.path.basename(words[0]) != "git" or int(entry.name) == os.getpid():
            continue
        sub, skip = "", False
        for word in words[1:]:  # the subcommand: the first word that is not an option or its value
            if skip or word.startswith("-"):
                skip = word in ("-C", "-c", "--git-dir", "--work-tree", "--namespace")
                continue
            sub = word
            break
        if sub not in _READ_ONLY_GIT:
            found.append((int(entry.name), " ".join(words)[:200]))
    return found


def _crash_point(stage: str) -> None:
    if os.environ.get(CRASH_ENV) == stage:
        os.kill(os.getpid(), signal.SIGKILL)


def _atomic_write(path: Path, data: bytes, *, sync: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.{os.getpid()}")
    with open(tmp, "wb") as fh:
        fh.write(data)
        if sync:
            fh.flush()
            os.fsync(fh.fileno())
    os.replace(tmp, path)


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(_controls_shown(str(text)).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def _controls_shown(text: str) -> str:
    """Text for git (commit messages, reflog): control characters shown as escapes. A NUL in a task or a
    description would make git refuse the commit, and an argument cannot hold one at all."""
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _message(text: str) -> bytes:
    """A commit message as git takes it: no control characters, valid UTF-8 whatever the text held."""
    return _controls_shown(text).encode("utf-8", "backslashreplace")


class Repo:
    """The repository of a library at `path`: setup, the write lock, the journal and recovery."""

    def __init__(self, path: Path, *, lock_timeout: float = 120.0) -> None:
        self.path = Path(os.path.abspath(os.path.expanduser(str(path))))
        self.gitdir = self.path / ".git"
        self.lock_timeout = lock_timeout
        self.git = Git(self.path)
        self._index = Index(self.gitdir / "agentfactory" / "index.sqlite", self.git)
        self._lock: FileLock | None = None  # made at the first write: readers never import filelock

    def __repr__(self) -> str:
        return f"Library({str(self.path)!r})"

    # ================================================================== setup

    def exists(self) -> bool:
        return (self.path / MARKER).is_file() and self.gitdir.is_dir()

    def ensure(self) -> None:
        """Create the library's repository on first use; refuse folders and repos that are not ours."""
        if self.exists() and read_head(self.gitdir):
            return
        self._check_adoptable(locked=False)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a path under a file, a read-only or full disk: one sentence, not a traceback
            raise UsageError(
                f"Cannot create the library folder {self.path}: {exc.strerror or exc}."
            ) from None
        with self._locked():
            if self.exists() and read_head(self.gitdir):
                return
            self._check_adoptable(locked=True)
            self._init_repo()

    def _check_adoptable(self, *, locked: bool) -> None:
        """Refuse a path that is not (and cannot become) our library. Before the lock is taken, a folder
        holding our lock file and a .git without the marker is another process creating the library
        right now: the decision waits for the lock."""
        if self.path.exists() and not self.path.is_dir():
            raise UsageError(f"Library path {self.path} is a file, not a folder: give a folder.")
        if not self.path.exists():
            return
        import git as gitpython

        if self.gitdir.exists():
            if (self.path / MARKER).is_file():
                return  # ours; an unborn HEAD means a first commit was interrupted
            if not locked and (self.path / LOCK_NAME).is_file():
                return  # being created by another process: decided again under the lock
            try:
                repo = gitpython.Repo(self.path)
                dirty = repo.is_dirty(untracked_files=True)
                has_commits = repo.head.is_valid()
            except (gitpython.InvalidGitRepositoryError, gitpython.GitCommandError, ValueError):
                raise LibraryError(
                    f"{self.path} has a broken .git folder; point --library elsewhere."
                ) from None
            if dirty:
                raise LibraryError(
                    f"{self.path} is a git repository with uncommitted changes that is not a subagent library; "
                    "point --library at another folder (nothing was changed)."
                )
            if has_commits:
                raise LibraryError(
                    f"{self.path} is an existing git repository that is not a subagent library "
                    f"(no {MARKER}); point --library at an empty or new folder."
                )
            return
        if not locked and (self.path / LOCK_NAME).is_file():
            return  # .git may appear between the test above and this listing: decided under the lock
        foreign = sorted(p.name for p in self.path.iterdir() if p.name not in _PRESEEDED)
        if foreign:
            shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
            raise LibraryError(
                f"{self.path} is not empty ({shown}) and is not a subagent library; point --library at an "
                "empty or new folder, or import folders with `agentfactory library add`."
            )

    def _init_repo(self) -> None:
        import git as gitpython

        if not self.gitdir.exists():
            gitpython.Repo.init(self.path, initial_branch="main")
        with gitpython.Repo(self.path).config_writer() as cfg:
            # Our files are bytes, not text to convert. Crash safety against a killed process comes from
            # the write protocol, not fsync; for power-loss durability set `core.fsync committed` here
            # (it costs ~100 ms per save on a busy disk), git honours it for every later write.
            cfg.set_value("core", "autocrlf", "false")
            cfg.set_value("gc", "auto", "0")
            # A save rewrites only the changed entries of git's index, not all of them (see _stage).
            cfg.set_value("core", "splitIndex", "true")
            cfg.set_value("splitIndex", "sharedIndexExpire", "now")
        (self.gitdir / "agentfactory").mkdir(exist_ok=True)
        _atomic_write(self.path / ".gitignore", _GITIGNORE.encode())
        _atomic_write(self.path / MARKER, b"format = 1\n")
        if not (self.path / "README.md").exists():
            _atomic_write(self.path / "README.md", _README.encode())
        self.git.run("add", "-f", "--", ".gitignore", MARKER, "README.md")
        tree = self.git.text("write-tree")
        commit = self.git.text("commit-tree", tree, input=b"Create the subagent library\n")
        self.git.run("update-ref", "HEAD", commit, ZERO)

    # ================================================================== locking and recovery

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        lock = self.path / LOCK_NAME
        if lock.is_symlink():
            # The lock file is ours: a link planted in its place is removed, never opened (opening it
            # would create or truncate whatever it points to).
            lock.unlink()
        elif lock.exists() and not lock.is_file():
            raise LibraryError(f"{lock} is not a regular file; remove it (it is the library's lock file).")
        from filelock import FileLock, Timeout

        if self._lock is None:
            self._lock = FileLock(str(lock), timeout=self.lock_timeout, fallback_to_soft=False)
        try:
            self._lock.acquire()
        except Timeout:
            raise LibraryError(
                f"Another process has held the library lock {self.path / LOCK_NAME} for over "
                f"{self.lock_timeout:.0f} s; wait for it to finish (a crashed holder releases it automatically)."
            ) from None
        try:
            yield
        finally:
            self._lock.release()

    @contextlib.contextmanager
    def _writing(self, *, hold_experience: bool = False) -> Iterator[str]:
        """Lock, repair what a killed writer left, commit the experience files' new records, and yield
        the current HEAD (see experience_files: with `hold_experience`, appends wait for the block)."""
        self.ensure()
        with self._locked():
            _crash_point("locked")
            self.recover()
            head = read_head(self.gitdir)
            if head is None:
                raise LibraryError(f"The library at {self.path} has no commits; its repository is damaged.")
            with experience_files.pending_committed(self, head, hold=hold_experience) as new:
                if new != head:
                    self._note_experience(head, new)
                yield new

    def _note_experience(self, parent: str, commit: str) -> None:
        """Tell the search index about an experience commit on top of `parent` (it changes no subagent),
        as its own refresh would record it, without it re-reading git."""
        found = self.git.read_loose(commit)
        body = found[1].split(b"\n\n", 1)[-1] if found else b""
        subject = body.decode("utf-8", "replace").strip().split("\n", 1)[0]
        name = experience_files.EXPERIENCE_DIR
        date = datetime.now(UTC).astimezone().isoformat(timespec="seconds")
        info = VersionInfo(self._index.max_version(name), commit, date, subject, None, None, False)
        self._index.note_commit(parent, commit, None, name, info)

    @property
    def _journal(self) -> Path:
        return self.gitdir / "agentfactory" / "journal.json"

    def _write_journal(self, op: str, names: list[str]) -> None:
        _atomic_write(
            self._journal, json.dumps({"op": op, "names": names, "pid": os.getpid()}).encode(), sync=True
        )

    def recover(self) -> list[str]:
        """Repair after a writer killed mid-write (caller holds the lock). Returns the subagents restored."""
        if not self._journal.exists():
            return []
        try:
            names = [validate_name(n) for n in json.loads(self._journal.read_text())["names"]]
        except (ValueError, KeyError, TypeError, ValidationError):
            names = [p.name for p in self.path.iterdir() if p.is_dir() and _is_name(p.name)]
        self._clear_git_locks()
        head = read_head(self.gitdir)
        for name in names:
            self._restore(name, head)
        self._journal.unlink(missing_ok=True)
        return names

    def _clear_git_locks(self) -> None:
        """Remove git lock files a killed writer left. We hold the library lock, so no writer of ours is
        running; a git child of the dead writer may still be finishing, so give it a moment first. A lock
        that stays while a git command of someone else works in this repository is theirs (`git commit
        PATH` holds index.lock while its editor is open, with no file descriptor on it): never removed."""
        locks = [self.gitdir / rel for rel in _GIT_LOCKS]
        deadline = time.monotonic() + 2.0
        while any(lock.exists() for lock in locks) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [lock for lock in locks if lock.exists()]
        if not left:
            return
        busy = git_processes_in(self.path, self.gitdir)
        if busy:
            pid, command = busy[0]
            raise LibraryError(
                f"git is working in {self.path} (process {pid}: {command}) and holds "
                f"{left[0].relative_to(self.gitdir)}: let it finish, then retry."
            )
        for lock in left:
            lock.unlink(missing_ok=True)

    def _restore(self, name: str, head: str | None) -> None:
        """Make the work tree and index of `name` equal HEAD's version (or absent if HEAD has none)."""
        in_head = bool(head and self.git.ls_tree(head, name))
        if head:
            self.git.run("reset", "-q", head, "--", name)
        if in_head:
            self.git.run("checkout", head, "--", name)
            self.git.run("clean", "-fdqx", "--", name)
        else:
            import shutil  # on first use: not on a run's way to its first model call

            shutil.rmtree(self.path / name, ignore_errors=True)

    # ================================================================== index

    def head(self) -> str:
        head = read_head(self.gitdir) if self.exists() else None
        if head is None:
            raise LibraryError(f"No subagent library at {self.path} yet; save a subagent to create it.")
        return head

    def _fresh_index(self) -> Index | None:
        head = read_head(self.gitdir) if self.exists() else None
        if head is None:
            return None
        self._index.refresh(head)
        return self._index

    def reindex(self) -> int:
        """Rebuild the search index from HEAD; returns the number of subagents indexed."""
        head = self.head()
        self._index.refresh(head, full=True)
        return len(self._index.list())


def _is_name(name: str) -> bool:
    try:
        validate_name(name)
    except ValidationError:
        return False
    return True
