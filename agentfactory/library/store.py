"""The library store: a git repository of subagent folders, one commit per change.

Write protocol (every write runs under one inter-process lock, `.library.lock`, an OS file lock that
dies with its holder, so a crashed writer never blocks the next one and a live one is never robbed):

1. validate everything first; nothing is written for invalid input;
2. write a journal naming the subagents about to change (`.git/agentfactory/journal.json`, fsynced);
3. write the files into the work tree (each via temp file + os.replace), write the folder's blobs and
   trees, the root tree with that one entry spliced in, stage only the folder's entries in git's (split)
   index and write the commit object: no step reads or rewrites the other subagents, so a save costs
   about the same in a library of 50,000;
4. move HEAD's branch with `update-ref <new> <expected old>`: the single point where the new version
   becomes visible;
5. delete the journal.

Readers use git objects only (`HEAD:<name>/...`), so they see the old or the new version, never a mix.
A writer that finds a journal left by a killed writer restores the named folders to HEAD's version
(which is the old version if the kill came before step 4 and the new one after) before doing its own
work. Nothing here imports or runs subagent code.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from agentfactory.errors import LibraryError, UsageError, ValidationError
from agentfactory.library import experience_files
from agentfactory.library._git import (
    ZERO,
    Git,
    ObjectReader,
    TreeEntry,
    files_trees,
    read_head,
    splice_tree,
)
from agentfactory.library.cases import Case, dump_cases
from agentfactory.library.format import (
    CASES_FILE,
    MAX_FILES,
    MAX_TOTAL,
    SKILL_FILE,
    canonical_files,
    check_file_path,
    content_key,
    parse_subagent,
    section,
    split_skill_md,
    validate_folder,
    with_section,
)
from agentfactory.library.index import Index
from agentfactory.library.model import (
    PullConflict,
    PullRejection,
    PullResult,
    SaveResult,
    SearchHit,
    Subagent,
    SubagentInfo,
    Verifier,
    VersionInfo,
)
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


class Library:
    """A subagent library at `path` (a git repository created on first write)."""

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
            with experience_files.pending_committed(self, head, hold=hold_experience) as head:
                yield head

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
        running; a git child of the dead writer may still be finishing, so give it a moment first."""
        for rel in _GIT_LOCKS:
            lock = self.gitdir / rel
            deadline = time.monotonic() + 2.0
            while lock.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
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
            shutil.rmtree(self.path / name, ignore_errors=True)

    # ================================================================== reads

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

    def list(self) -> list[SubagentInfo]:
        index = self._fresh_index()
        return index.list() if index else []

    def list_json(self) -> Iterator[str]:
        """`list()` as one JSON object per subagent, streamed (see `Index.list_json`)."""
        index = self._fresh_index()
        return index.list_json() if index else iter(())

    def search(
        self, query: str, k: int = 5, success_rates: dict[str, tuple[int, int]] | None = None
    ) -> list[SearchHit]:
        index = self._fresh_index()
        return index.search(query, k, success_rates) if index else []

    def history(self, name: str) -> list[VersionInfo]:
        validate_name(name)
        index = self._fresh_index()
        versions = index.versions(name) if index else []
        if not versions:
            raise UsageError(f"No subagent named {name!r} in the library at {self.path}.")
        return versions

    def _commit_of(self, name: str, version: int | None) -> str:
        validate_name(name)
        if version is None:
            head = self.head()
            if not self.git.ls_tree(head, name):
                raise UsageError(
                    f"No subagent named {name!r} in the library (see `agentfactory library list`)."
                )
            return head
        found = [v for v in self.history(name) if v.version == version and not v.removed]
        if not found:
            known = sorted({v.version for v in self.history(name) if not v.removed})
            raise UsageError(f"{name} has no version {version}; known versions: {known}.")
        return found[-1].commit

    def _files_at(self, commit: str, name: str) -> dict[str, bytes]:
        entries = self.git.ls_tree(commit, name, recursive=True)
        blobs = self.git.blobs([e.sha for e in entries.values() if e.kind == "blob"])
        prefix = name + "/"
        return {p[len(prefix) :]: blobs[e.sha] for p, e in entries.items() if e.kind == "blob"}

    def get(self, name: str, version: int | None = None) -> Subagent:
        """Read a version (default: current) from git objects, without checking anything out."""
        commit = self._commit_of(name, version)
        return parse_subagent(name, self._files_at(commit, name), commit=commit)

    def diff(self, name: str, v1: int, v2: int) -> str:
        """A unified diff between two versions, the code first (see `diff_files`)."""
        return "".join(text for _, text in self.diff_files(name, v1, v2))

    def diff_files(self, name: str, v1: int, v2: int) -> list[tuple[str, str]]:
        """(path, unified diff) per changed file of `name` between two versions: the entry module
        first, then SKILL.md, the cases and everything else by path."""
        a, b = self._commit_of(name, v1), self._commit_of(name, v2)
        changed = self.git.run("diff", "--name-only", "-z", "--no-renames", a, b, "--", name, strip=False)
        paths = [p.decode("utf-8", "surrogateescape") for p in changed.split(b"\0") if p]
        entry = next((self.get(name, v).entry for v in (v2, v1) if v is not None), "")
        rank = {f"{name}/{entry}": 0, f"{name}/{SKILL_FILE}": 1, f"{name}/{CASES_FILE}": 2}
        out = []
        for path in sorted(paths, key=lambda p: (rank.get(p, 3), p)):
            text = self.git.run("diff", "--no-color", "--no-ext-diff", a, b, "--", path, strip=False)
            out.append((path[len(name) + 1 :], text.decode("utf-8", "replace")))
        return out

    def export(self, name: str, version: int | None, dest: Path) -> Path:
        """Write that version's folder to `dest/<name>` (refusing to overwrite a non-empty folder)."""
        sub = self.get(name, version)
        target = Path(dest) / name
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise UsageError(f"{target} already exists and is not empty; choose another destination.")
        from agentfactory.library.format import write_folder

        write_folder(target, sub.files)
        return target

    # ================================================================== writes

    def save(
        self,
        folder: Path,
        *,
        run_id: str | None = None,
        task: str | None = None,
        message: str | None = None,
        verify: Verifier | None = None,
        replace_cases: bool = False,
    ) -> SaveResult:
        """Validate `folder` and commit it as the next version of its subagent (no-op when unchanged).

        Cases only accumulate: the current version's cases (and the fixtures they read) that the folder
        lacks are kept in the new version, with the stored expectation. A folder case with the inputs of a
        stored case but another expectation (or a stored fixture with other content) is refused unless
        `replace_cases`, which lets the folder's win and lists them in the result. `verify`, when given,
        sees the version about to be saved (its code with every accumulated case) and returns None to
        allow it or a reason to refuse it."""
        folder = Path(folder)
        validate_name(folder.name)
        sub = validate_folder(folder)
        return self._save(
            sub,
            run_id=run_id,
            task=task,
            message=message,
            verb="save",
            verify=verify,
            replace_cases=replace_cases,
        )

    def _save(
        self,
        sub: Subagent,
        *,
        run_id: str | None,
        task: str | None,
        message: str | None,
        verb: str,
        verify: Verifier | None = None,
        replace_cases: bool = False,
    ) -> SaveResult:
        replaced: list[str] = []
        with self._writing() as head, self.git.reader() as reader:
            root = self._root_tree(reader, head)
            old_files = reader.folder_files(root, sub.name)
            old_version = _version_of_files(old_files)
            if old_files:
                old = parse_subagent(sub.name, old_files)
                sub, replaced = _accumulate(sub, old, prefer_new=replace_cases)
                if replaced and verb == "save" and not replace_cases:
                    raise LibraryError(
                        f"{sub.name} was not saved: it redefines {len(replaced)} stored case(s) of "
                        f"v{old_version} ({_one_line('; '.join(replaced), 300)}); stored cases only "
                        "accumulate, so add a case with other inputs, or pass --force to replace them."
                    )
            if old_files:
                base = old_version
            else:
                index = self._fresh_index()
                base = index.max_version(sub.name) if index else 0
            new_version = base + 1
            files = canonical_files(
                sub,
                version=new_version,
                parent_version=old_version or None,
                source_run=run_id or sub.source_run,
                source_task=task or sub.source_task,
            )
            if old_files and content_key(old_files) == content_key(files):
                return SaveResult(sub.name, old_version, head, False)
            replaced = replaced if replace_cases else []
            stored = parse_subagent(sub.name, files)
            if verify is not None:
                refusal = verify(stored)
                if refusal:
                    raise LibraryError(
                        f"{sub.name} was not saved: the new version fails its stored cases ({refusal}); "
                        "fix it, or pass --force to add it anyway."
                    )
            subject = f"{verb} {sub.name} v{new_version}" if verb == "save" else verb.format(v=new_version)
            body = _one_line(message or sub.description, 500)
            commit = self._commit(
                head, root, sub.name, files, subject, body, new_version, run_id, task, list(old_files)
            )
            stored.commit = commit
            self._note(head, commit, stored, sub.name, new_version, subject, run_id, task, removed=False)
            return SaveResult(sub.name, new_version, commit, True, replaced)

    def rollback(self, name: str, to_version: int) -> SaveResult:
        """Make a new version whose code and description are those of `to_version`.

        Nothing later is lost: cases added since stay (cases only accumulate) and the changelog keeps
        every later entry and gains one for the rollback."""
        old = self.get(name, to_version)
        current = self.get(name)
        if _code_key(old) == _code_key(current):
            return SaveResult(name, current.version, current.commit or self.head(), False)
        log = section(current.body, "Changelog")
        entry = f"- Rolled back to the content of v{to_version} (from v{current.version})."
        old.body = with_section(old.body, "Changelog", f"{log}\n{entry}" if log else entry)
        return self._save(
            old,
            run_id=None,
            task=None,
            message=f"Restore the content of v{to_version}.",
            verb=f"rollback {name} to v{to_version} as v{{v}}",
        )

    def remove(self, name: str) -> SaveResult:
        """Delete a subagent in a commit; its history stays readable and a later save continues its versions."""
        validate_name(name)
        with self._writing() as head, self.git.reader() as reader:
            root = self._root_tree(reader, head)
            old_files = reader.folder_files(root, name)
            if not old_files:
                raise UsageError(f"No subagent named {name!r} in the library to remove.")
            version = _version_of_files(old_files)
            subject = f"remove {name} (was v{version})"
            commit = self._commit(
                head, root, name, None, subject, f"Remove {name}.", version, None, None, list(old_files)
            )
            self._note(head, commit, None, name, version, subject, None, None, removed=True)
            return SaveResult(name, version, commit, True)

    def _note(
        self,
        parent: str,
        commit: str,
        sub: Subagent | None,
        name: str,
        version: int,
        subject: str,
        run_id: str | None,
        task: str | None,
        *,
        removed: bool,
    ) -> None:
        date = datetime.now(UTC).astimezone().isoformat(timespec="seconds")
        info = VersionInfo(version, commit, date, subject, run_id, _one_line(task) if task else None, removed)
        self._index.note_commit(parent, commit, sub, name, info)

    def _root_tree(self, reader: ObjectReader, commit: str) -> bytes:
        found = reader.read(f"{commit}^{{tree}}")
        if found is None:
            raise LibraryError(f"The library's commit {commit} has no tree; run `git fsck` on {self.path}.")
        return found[1]

    def _commit(
        self,
        parent: str,
        root: bytes,
        name: str,
        files: dict[str, bytes] | None,
        subject: str,
        body: str,
        version: int,
        run_id: str | None,
        task: str | None,
        old_paths: list[str],
    ) -> str:
        """Replace folder `name` with `files` (None: delete it) in one commit on top of `parent`, whose
        root tree's content is `root`.

        Only the changed subtree is touched: the folder's blobs and trees are written, the new root tree
        is the parent's with one entry spliced in, and the git index gets only the folder's entries
        (`old_paths`, the folder's files at `parent`, are the ones to drop). Nothing here grows with the
        number of subagents but the root tree's bytes, copied once."""
        from git import GitCommandError

        trailers = [f"Subagent: {name}", f"Version: {version}"]
        if run_id:
            trailers.append(f"Run-Id: {_one_line(run_id)}")
        if task:
            trailers.append(f"Task: {_one_line(task)}")
        message = f"{subject}\n\n{body}\n\n" + "\n".join(trailers) + "\n"
        self._write_journal("save", [name])
        _crash_point("journal")
        target = self.path / name
        if files is None:
            shutil.rmtree(target, ignore_errors=True)
        else:
            self._write_tree(target, files)
        _crash_point("files")
        scratch = self.gitdir / "agentfactory" / "objects.tmp"
        folder = None
        if files is not None:
            folder, blobs, trees = files_trees(files)
            self.git.write_objects("blob", blobs, scratch)
        else:
            trees = []
        new_root = splice_tree(root, name, folder)
        tree = self.git.write_objects("tree", [*trees, new_root], scratch)[-1]
        self._stage(name, files or {}, old_paths)
        _crash_point("staged")
        commit = self.git.text("commit-tree", tree, "-p", parent, input=_message(message))
        _crash_point("commit-object")
        try:
            self.git.run("update-ref", "-m", _one_line(subject), "HEAD", commit, parent)
        except GitCommandError as exc:
            raise LibraryError(
                f"The library's HEAD moved during a locked write ({exc.stderr.strip()})."
            ) from None
        _crash_point("ref")
        self._journal.unlink()
        _crash_point("done")
        return commit

    def _stage(self, name: str, files: dict[str, bytes], old_paths: list[str]) -> None:
        """Make the git index entries of folder `name` those of its work-tree files just written (with
        their stat data, so git sees them up to date), dropping `old_paths` that are gone; no other entry
        is touched. The index is split (core.splitIndex), so git writes only the changed entries."""
        paths = sorted({*files, *old_paths})
        if paths:
            data = b"".join(f"{name}/{rel}".encode("utf-8", "surrogateescape") + b"\0" for rel in paths)
            self.git.run(*_SPLIT_INDEX, "update-index", "--add", "--remove", "-z", "--stdin", input=data)

    def _write_tree(self, target: Path, files: dict[str, bytes]) -> None:
        if target.is_symlink() or (target.exists() and not target.is_dir()):
            target.unlink()
        if target.exists():
            for existing in sorted(target.rglob("*"), reverse=True):
                rel = existing.relative_to(target).as_posix()
                if existing.is_dir() and not existing.is_symlink():
                    if not any(existing.iterdir()):
                        existing.rmdir()
                elif rel not in files:
                    existing.unlink()
        first = True
        for rel, data in sorted(files.items()):
            _atomic_write(target / rel, data)
            if first:
                _crash_point("first-file")
                first = False

    # ================================================================== teams

    def _check_remote(self, remote: str) -> str:
        if not remote or remote.startswith("-") or "\x00" in remote or "\n" in remote:
            raise UsageError(f"{remote!r} is not a git remote name, path or URL.")
        return remote

    def push(self, remote: str = "origin") -> str:
        """Push the library's main branch to `remote` (a configured remote, a path or a URL)."""
        from git import GitCommandError

        self._check_remote(remote)
        self.head()
        with self._writing():  # commits the experience files' new records, so the team gets them
            pass
        head = self.head()
        try:
            self.git.run("push", "--quiet", "--", remote, f"{head}:refs/heads/main")
        except GitCommandError as exc:
            err = (exc.stderr or "").strip()
            if "remote rejected" in err:  # the remote's own policy (a hook), not a newer remote
                why = re.search(r"\[remote rejected\][^(\n]*\(([^)\n]*)\)", err)
                raise LibraryError(
                    f"The remote {remote} refused the push ({_one_line(why.group(1) if why else err, 200)})."
                ) from None
            if "rejected" in err or "non-fast-forward" in err or "fetch first" in err:
                raise LibraryError(
                    f"The remote {remote} has changes this library lacks; run `agentfactory library pull "
                    f"{remote}` first, then push again."
                ) from None
            raise LibraryError(f"Push to {remote} failed: {_one_line(err, 300)}") from None
        return head

    def pull(
        self, remote: str = "origin", *, verify: Verifier | None = None, accept_removals: bool = False
    ) -> PullResult:
        """Fetch `remote`'s main branch and merge it subagent by subagent.

        The remote is untrusted. Before anything reaches the work tree, every entry its tip changes must
        pass what `library add` checks (names, plain files only: no links, submodules or hidden files,
        sizes, a valid subagent); otherwise the pull is refused and the library is untouched. A subagent
        changed only on one side takes that side, except that a remote revision of a subagent we have
        must pass `verify` (the cases it will carry, ours included) or ours stays and theirs is kept at
        refs/agentfactory/rejected/<name>. Changed on both sides: ours is kept, theirs stays reachable
        (the merge commit's second parent and refs/agentfactory/conflicts/<name>). Both are reported.

        Our stored cases always run against the incoming revision with our expectation; a remote case
        that redefines one (same inputs, other expectation) is rejected like a failing one. A subagent new
        here must pass its own cases (a renamed copy is a new subagent). A remote removal of a subagent we
        have is rejected too, unless `accept_removals` (then reported as removed).
        refs/agentfactory/incoming, the fetched tip, never outlives the pull.
        """
        self._check_remote(remote)
        self.ensure()
        incoming = "refs/agentfactory/incoming"
        try:
            return self._pull(remote, incoming, verify, accept_removals)
        finally:
            self.git.ok("update-ref", "-d", incoming)

    def _pull(self, remote: str, incoming: str, verify: Verifier | None, accept_removals: bool) -> PullResult:
        from git import GitCommandError

        try:
            self.git.run(
                "-c",
                "fetch.fsckObjects=true",
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-recurse-submodules",
                "--",
                remote,
                f"+refs/heads/main:{incoming}",
            )
        except GitCommandError as exc:
            err = _one_line((exc.stderr or "").strip().removeprefix("stderr:").strip(" '"), 300)
            found = re.search(r"error: object \w+: (\w+: [^\n]*?)(?: fatal:|$)", err)
            if found:  # git's own object check refused a malformed tree (a '.git' or '..' entry, ...)
                raise ValidationError(
                    f"Pull from {_one_line(remote, 120)} refused, nothing changed: the remote holds a "
                    f"malformed git object ({found.group(1).strip()})."
                ) from None
            raise LibraryError(f"Fetch from {remote} failed: {err}") from None
        try:
            theirs = self.git.text("rev-parse", "--verify", "--quiet", f"{incoming}^{{commit}}")
        except GitCommandError:
            raise LibraryError(f"The remote {_one_line(remote, 120)} has no main branch to pull.") from None
        with self._writing(hold_experience=True) as ours:
            if theirs == ours or self.git.is_ancestor(theirs, ours):
                return PullResult(ours, False, [], [])
            try:
                incoming_subs = self._check_incoming(ours, theirs)
            except ValidationError as exc:
                why = str(exc).rstrip(".")
                raise ValidationError(
                    f"Pull from {_one_line(remote, 120)} refused, nothing changed: {why}."
                ) from None
            rejected, kept_cases = self._verify_incoming(ours, theirs, incoming_subs, verify, accept_removals)
            if (
                not rejected
                and not kept_cases
                and self.git.is_ancestor(ours, theirs)
                and not experience_files.needs_merge(self.git, ours, theirs)
            ):
                changed = self._changed_names(ours, theirs)
                experience = experience_files.changed_files(self.git, ours, theirs)
                self._move_head(ours, theirs, changed, f"pull {remote} (fast-forward)")
                self._index.refresh(theirs)
                other = self.git.ls_tree(theirs)
                gone = [n for n in changed if n not in other]
                return PullResult(
                    theirs,
                    True,
                    sorted(n for n in changed if n in other and n != experience_files.EXPERIENCE_DIR),
                    [],
                    removed=sorted(gone),
                    experience=experience,
                )
            return self._merge(remote, ours, theirs, rejected, kept_cases)

    def _check_incoming(self, ours: str, theirs: str) -> dict[str, Subagent]:
        """Validate every top-level entry `theirs` changes relative to `ours`, from git objects only.
        Returns the changed subagents, parsed. Raises ValidationError naming the first bad entry."""
        mine, other = self.git.ls_tree(ours), self.git.ls_tree(theirs)
        subs: dict[str, Subagent] = {}
        for name, entry in sorted(other.items()):
            if mine.get(name) == entry:
                continue
            if name == experience_files.EXPERIENCE_DIR:
                experience_files.check_incoming(self.git, theirs, entry)
                continue
            if name in _ROOT_FILES:
                self._check_root_file(name, entry, mine.get(name))
                continue
            if entry.mode != "040000" or entry.kind != "tree":
                raise ValidationError(
                    f"the remote's {name!r} is not a subagent folder (a link, file or submodule)"
                )
            validate_name(name)
            subs[name] = self._incoming_subagent(theirs, name)
        return subs

    def _check_root_file(self, name: str, entry: TreeEntry, mine: TreeEntry | None) -> None:
        if entry.mode not in ("100644", "100755") or entry.kind != "blob":
            raise ValidationError(f"the remote's {name} is not a plain file")
        if name == ".gitignore" and mine is not None:
            raise ValidationError("the remote changes the library's .gitignore, which the library owns")
        size = int(self.git.text("cat-file", "-s", entry.sha))
        if size > 64 * 1024:
            raise ValidationError(f"the remote's {name} is {size} bytes; the limit is 65536")

    def _incoming_subagent(self, commit: str, name: str) -> Subagent:
        entries = self.git.ls_tree(commit, name, recursive=True, sizes=True)
        if len(entries) > MAX_FILES:
            raise ValidationError(f"the remote's {name} holds more than {MAX_FILES} files")
        total = 0
        for path, entry in entries.items():
            rel = path[len(name) + 1 :]
            check_file_path(rel, f"the remote's {name}/: ")
            if entry.kind != "blob" or entry.mode not in ("100644", "100755"):
                raise ValidationError(
                    f"the remote's {name}/{rel} is a link or submodule (mode {entry.mode}); subagent folders "
                    "hold plain files"
                )
            total += entry.size or 0
            if total > MAX_TOTAL:
                raise ValidationError(f"the remote's {name} holds more than {MAX_TOTAL} bytes")
        try:
            return parse_subagent(name, self._files_at(commit, name), commit=commit)
        except ValidationError as exc:
            why = str(exc).rstrip(".")
            raise ValidationError(f"the remote's {name} is not a valid subagent ({why})") from None

    def _verify_incoming(
        self,
        ours: str,
        theirs: str,
        subs: dict[str, Subagent],
        verify: Verifier | None,
        accept_removals: bool = False,
    ) -> tuple[dict[str, PullRejection], dict[str, TreeEntry]]:
        """What of `theirs` may become current. A remote revision of a subagent we have carries every
        stored case with our expectation (cases only accumulate) and must pass `verify` on all of them; one
        redefining a stored case is rejected without running. A subagent new here must pass its own cases.
        A removal of a subagent we have is rejected unless `accept_removals`. Returns the rejected ones
        and, for accepted ones that gained cases, the tree entry to take instead of theirs."""
        bases = self.git.text("merge-base", ours, theirs) if self.git.ok("merge-base", ours, theirs) else ""
        base = self.git.ls_tree(bases) if bases else {}
        mine, other = self.git.ls_tree(ours), self.git.ls_tree(theirs)
        rejected: dict[str, PullRejection] = {}
        kept: dict[str, TreeEntry] = {}

        def reject(name: str, ours_version: int | None, theirs_version: int | None, reason: str) -> None:
            ref = f"refs/agentfactory/rejected/{name}"
            self.git.run("update-ref", ref, theirs)
            rejected[name] = PullRejection(
                name, ours_version, theirs_version, theirs, ref, _one_line(reason, 500)
            )

        for name, sub in subs.items():
            if name not in mine:
                if name in base:
                    continue  # removed here, changed there: a conflict, reported by the merge
                reason = verify(sub) if verify is not None else None
                if reason:
                    reject(name, None, sub.version, f"new here, it fails its own cases ({reason})")
                continue
            if mine[name] != base.get(name):
                continue  # changed on both sides: a conflict, ours kept
            local = parse_subagent(name, self._files_at(ours, name))
            merged, redefined = _accumulate(sub, local)
            if redefined:
                reason = "it redefines our stored cases (" + "; ".join(redefined) + ")"
            else:
                failed = verify(merged) if verify is not None else None
                reason = f"it fails the cases it would carry, ours included ({failed})" if failed else None
            if reason:
                reject(name, local.version, sub.version, reason)
            elif merged.files != sub.files:
                kept[name] = TreeEntry("040000", "tree", self.git.write_tree_of(merged.files))
        if not accept_removals:
            for name, entry in mine.items():
                if name not in other and base.get(name) == entry and _is_name(name):
                    version = _version_of_files(self._files_at(ours, name)) or None
                    reject(name, version, None, "the remote removes it (pass --accept-removals to take that)")
        return rejected, kept

    def _changed_names(self, a: str, b: str) -> list[str]:
        out = self.git.text("diff", "--name-only", "--no-renames", a, b)
        return sorted({p.split("/", 1)[0] for p in out.splitlines() if p})

    def _move_head(self, old: str, new: str, names: list[str], reason: str) -> None:
        self._write_journal("pull", [n for n in names if _is_name(n)])
        self.git.run("update-ref", "-m", reason, "HEAD", new, old)
        _crash_point("ref")
        self.git.run("read-tree", "-m", "-u", old, new)
        self._journal.unlink()

    def _merge(
        self,
        remote: str,
        ours: str,
        theirs: str,
        rejected: dict[str, PullRejection] | None = None,
        kept_cases: dict[str, TreeEntry] | None = None,
    ) -> PullResult:
        rejected, kept_cases = rejected or {}, kept_cases or {}
        bases = self.git.text("merge-base", ours, theirs) if self.git.ok("merge-base", ours, theirs) else ""
        base = self.git.ls_tree(bases) if bases else {}
        mine, other = self.git.ls_tree(ours), self.git.ls_tree(theirs)
        merged = dict(mine)
        updated: list[str] = []
        removed: list[str] = []
        conflicts: list[PullConflict] = []
        experience = experience_files.merged_entry(self.git, ours, theirs)
        if experience is not None:  # every agent file of both sides, none shortened: never a conflict
            merged[experience_files.EXPERIENCE_DIR] = experience
        for name in sorted(set(mine) | set(other) | set(base)):
            o, t, b = mine.get(name), other.get(name), base.get(name)
            if o == t or t == b or name in rejected or name == experience_files.EXPERIENCE_DIR:
                continue
            if o == b:
                if t is None:
                    merged.pop(name, None)
                    removed.append(name)
                else:
                    merged[name] = kept_cases.get(name, t)
                    updated.append(name)
                continue
            ref = (
                f"refs/agentfactory/conflicts/{name}"
                if _is_name(name)
                else "refs/agentfactory/conflicts/-root"
            )
            self.git.run("update-ref", ref, theirs)
            conflicts.append(
                PullConflict(
                    name,
                    _version_of_files(self._files_at(ours, name)) or None if o else None,
                    _version_of_files(self._files_at(theirs, name)) or None if t else None,
                    theirs,
                    ref,
                )
            )
        lines = [f"{e.mode} {e.kind} {e.sha}\t{n}".encode() for n, e in sorted(merged.items())]
        tree = self.git.text("mktree", "-z", input=b"".join(line + b"\0" for line in lines))
        summary = [f"Merge the library at {_one_line(remote, 120)}."]
        if updated:
            summary.append("Taken from the remote: " + ", ".join(updated) + ".")
        if removed:
            summary.append("Removed as the remote did: " + ", ".join(removed) + ".")
        if conflicts:
            summary.append(
                "Changed on both sides, ours kept (theirs reachable at refs/agentfactory/conflicts/<name>): "
                + ", ".join(c.name for c in conflicts)
                + "."
            )
        if kept_cases:
            summary.append(
                "Our cases kept beside the remote's (cases only accumulate): " + ", ".join(kept_cases) + "."
            )
        if rejected:
            summary.append(
                "Rejected, ours kept (theirs at refs/agentfactory/rejected/<name>): "
                + ", ".join(rejected)
                + "."
            )
        message = f"pull {_one_line(remote, 80)}: {len(updated)} updated, {len(removed)} removed, "
        message += f"{len(conflicts)} conflicts"
        message += f", {len(rejected)} rejected\n\n" if rejected else "\n\n"
        message += "\n".join(summary) + "\n"
        commit = self.git.text("commit-tree", tree, "-p", ours, "-p", theirs, input=_message(message))
        self._move_head(ours, commit, updated + removed, "pull (merge)")
        self._index.refresh(commit)
        experience_changed = experience_files.changed_files(self.git, ours, commit)
        return PullResult(
            commit, False, updated, conflicts, list(rejected.values()), removed, experience_changed
        )


def _is_name(name: str) -> bool:
    try:
        validate_name(name)
    except ValidationError:
        return False
    return True


FIXTURES_DIR = "fixtures/"  # input files of the cases, kept beside them


def _case_key(case: Case) -> str:
    return json.dumps(case.inputs, sort_keys=True, default=str)


def _case_label(case: Case) -> str:
    return case.name or _one_line(_case_key(case), 80)


def _accumulate(new: Subagent, old: Subagent, *, prefer_new: bool = False) -> tuple[Subagent, list[str]]:
    """`new` carrying every case of `old` (the stored version) and the fixture files they read.

    Returns it with the redefinitions found: a case of `new` with the inputs of a stored case but another
    expectation, or a stored fixture `new` gives other content. The stored case and fixture are what the
    result carries (so they run with OUR expectation), unless `prefer_new`."""
    stored = {_case_key(c): c for c in old.cases}
    redefined: list[str] = []
    cases: list[Case] = []
    seen: set[str] = set()
    for case in new.cases:
        key = _case_key(case)
        if key in seen:
            continue
        seen.add(key)
        mine = stored.get(key)
        if mine is not None and _expectation(mine) != _expectation(case):
            redefined.append(f"case {_case_label(mine)} expects something else")
            case = case if prefer_new else mine
        cases.append(case)
    cases += [c for k, c in stored.items() if k not in seen]
    files = dict(new.files)
    for path, data in old.files.items():
        if not path.startswith(FIXTURES_DIR):
            continue
        if path in files and files[path] != data:
            redefined.append(f"{path} has other content")
            if prefer_new:
                continue
        files[path] = data
    if cases == list(new.cases) and files == new.files:
        return new, redefined
    files[CASES_FILE] = dump_cases(cases).encode("utf-8")
    return dataclasses.replace(new, cases=cases, files=files), redefined


def _expectation(case: Case) -> str:
    return json.dumps([case.expected, case.tolerance, case.checks], sort_keys=True, default=str)


def _code_key(sub: Subagent) -> tuple:
    """What a rollback restores: the description and every file but SKILL.md, the cases and fixtures."""
    code = {
        p: d
        for p, d in sub.files.items()
        if p not in (SKILL_FILE, CASES_FILE) and not p.startswith(FIXTURES_DIR)
    }
    return sub.description, sorted(code.items())


def _version_of_files(files: dict[str, bytes]) -> int:
    if SKILL_FILE not in files:
        return 0
    try:
        front, _ = split_skill_md(files[SKILL_FILE].decode("utf-8"))
    except (ValidationError, UnicodeDecodeError):
        return 0
    meta = front.get("metadata") or {}
    value = str(meta.get("version", "")) if isinstance(meta, dict) else ""
    return int(value) if re.fullmatch(r"\d+", value) else 0
