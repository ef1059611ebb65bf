"""The experience files kept in the library repository: `experience/<agent>.jsonl`, one writer per file.

Each agent (worker, machine, person: the `agent_id` setting) appends its execution, run, feedback and
doc-version records to its own file, so a merge of two libraries never conflicts: a file changed on one
side is taken from that side, a file changed on both becomes ours followed by their lines we lack. A pull
never removes or shortens an experience file, and never changes one this clone writes: the files of the
agents that appended here (noted in `.git/agentfactory/own-agents`) are this machine's word, so a
remote's version of them is refused and reported (`refused_files`), whatever it adds. Two machines
that use one agent id therefore keep their own records apart: give each machine its own id.

What this module does, always under the library lock (the caller's `_writing`):
- `commit_pending`: commit the files' appended lines (one commit, only when something changed). The
  library calls it before every write (save, rollback, remove, pull) and before a push, never per
  record: records are written often, commits are not free, and a push or save is when they matter.
- `check_incoming`: refuse a remote whose `experience` entry is not a flat folder of plain, bounded
  `<agent>.jsonl` files (a link, a subfolder, a name that could escape, a huge file).
- `merged_entry` / `needs_merge`: the union merge described above.

Appending is `append_line`: O_APPEND with one write per record, under a small lock of its own
(`.git/agentfactory/experience.lock`) so several local processes with the same agent id never interleave
and a commit never stages half a line. Row contents are not checked here; the experience store parses
them (and skips, counts and reports the bad ones). This module never imports the experience store.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agentfactory.errors import LibraryError, ValidationError
from agentfactory.library._git import (
    Git,
    TreeEntry,
    folder_entry,
    object_sha,
    splice_tree,
    tree_entries,
    tree_object,
)
from agentfactory.library._gitindex import stage_folder
from agentfactory.library.cases import sha256_hex

EXPERIENCE_DIR = "experience"
SUFFIX = ".jsonl"
MAX_FILE_BYTES = 64 * 1024 * 1024  # one agent's file; a remote offering more is refused
MAX_FILES = 10_000  # agents in one library
MAX_TOTAL_BYTES = 1024 * 1024 * 1024  # all agents' files a remote may offer
MAX_LINE_BYTES = 64 * 1024  # one record; longer lines are written by nobody and skipped by readers
LOCK_TIMEOUT_S = 300.0
_FILE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,79}\.jsonl")
_STEM_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

_locks: dict[str, Any] = {}  # path -> filelock.FileLock (imported on first use: a fast CLI)
_OWN = "own-agents"  # .git/agentfactory/<this>: the agent files appended in this clone, one a line
_own_noted: dict[str, set[str]] = {}  # library path -> file names already noted by this process


def file_name(agent_id: str) -> str:
    """The file of `agent_id`: the id itself when it is a safe file name, else a slug plus a digest."""
    agent_id = str(agent_id)
    if _STEM_RE.fullmatch(agent_id) and not agent_id.endswith("."):
        return agent_id + SUFFIX
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", agent_id).strip("-.")[:40] or "agent"
    digest = sha256_hex(agent_id)[:10]
    return f"{slug}-{digest}{SUFFIX}"


def is_file_name(name: str) -> bool:
    return bool(_FILE_RE.fullmatch(name)) and ".." not in name


def experience_dir(library_path: Path) -> Path:
    return Path(library_path) / EXPERIENCE_DIR


def local_files(library_path: Path) -> list[Path]:
    """The work tree's experience files that may be read or committed: plain files with a valid name
    (links and anything else found there are ignored, never opened)."""
    folder = experience_dir(library_path)
    if folder.is_symlink() or not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        if is_file_name(path.name) and path.is_file() and not path.is_symlink():
            found.append(path)
    return found


def _lock(library_path: Path) -> Any:
    # One lock object per path and process: filelock is reentrant per object, and a second object on
    # the same file would wait for the first one of its own process forever.
    key = str(Path(library_path).resolve())
    lock = _locks.get(key)
    if lock is None:
        from filelock import FileLock

        target = Path(key) / ".git" / "agentfactory" / "experience.lock"
        target.parent.mkdir(parents=True, exist_ok=True)
        lock = _locks[key] = FileLock(str(target), timeout=LOCK_TIMEOUT_S, fallback_to_soft=False)
    return lock


@contextlib.contextmanager
def locked(library_path: Path) -> Iterator[None]:
    from filelock import Timeout

    lock = _lock(library_path)
    try:
        lock.acquire()
    except Timeout:
        raise LibraryError(
            f"Another process has held the experience lock of the library at {library_path} for over "
            f"{LOCK_TIMEOUT_S:.0f} s; wait for it (a crashed holder releases it automatically)."
        ) from None
    try:
        yield
    finally:
        lock.release()


def append_line(library_path: Path, agent_id: str, data: bytes) -> Path:
    """Append whole lines (each ending in a newline) to the agent's file with one write."""
    if not data.endswith(b"\n"):
        raise ValueError("experience lines end with a newline")
    folder = experience_dir(library_path)
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise LibraryError(f"{folder} is not a folder; remove it (the library keeps experience files there).")
    folder.mkdir(exist_ok=True)
    path = folder / file_name(agent_id)
    with locked(library_path):
        _note_own(library_path, path.name)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(data)
            while view:  # a regular file takes it in one write; a short write is continued, never lost
                written = os.write(fd, view)
                view = view[written:]
        finally:
            os.close(fd)
    return path


def _own_path(root: Path) -> Path:
    return Path(root) / ".git" / "agentfactory" / _OWN


def own_files(root: Path) -> set[str]:
    """The agent files this clone has appended to (its own: a pull never changes them)."""
    try:
        text = _own_path(root).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return set()
    return {line for line in text.splitlines() if is_file_name(line)}


def _note_own(library_path: Path, name: str) -> None:
    """Note `name` as a file of this clone (caller holds the experience lock), once."""
    key = str(Path(library_path).resolve())
    noted = _own_noted.setdefault(key, set())
    if name in noted:
        return
    if name not in own_files(Path(key)):
        path = _own_path(Path(key))
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(name + "\n")
    noted.add(name)


@contextlib.contextmanager
def pending_committed(library: Any, head: str, *, hold: bool = False) -> Iterator[str]:
    """Commit the experience files' new lines on top of `head` (caller holds the library lock); yields
    the new HEAD. With `hold`, appends wait until the block ends (a pull: nothing may change a file
    between its commit and the checkout of the merged tree)."""
    from filelock import Timeout

    lock = _lock(library.path)
    try:
        lock.acquire()
    except Timeout:
        raise LibraryError(
            f"Another process has held the experience lock of {library.path} for over {LOCK_TIMEOUT_S:.0f} s."
        ) from None
    try:
        head = commit_pending(library, head)
        if not hold:
            lock.release()
            lock = None  # type: ignore[assignment]
        yield head
    finally:
        if lock is not None:
            lock.release()


def commit_pending(library: Any, head: str) -> str:
    """Commit the work tree's experience files on top of `head` when they differ from its `experience`
    folder (files only in `head` are kept), and return the new HEAD. Built with plumbing like a save: a
    file whose size, mtime and inode are those recorded when it was last committed is not read again,
    the root tree gets one entry spliced in and git's index only the folder's entries, so the cost
    follows the experience files, not the number of subagents."""
    files = local_files(library.path)
    if not files:
        return head
    git: Git = library.git
    with git.reader() as reader:
        found = reader.read(f"{head}^{{tree}}")
        if found is None:
            raise LibraryError(f"The library's commit {head} has no tree; run `git fsck` on {library.path}.")
        root = found[1]
        current = folder_entry(root, EXPERIENCE_DIR)
        listed = reader.read(current) if current else None
    in_head = {name: (mode, sha) for mode, name, sha in tree_entries(listed[1])} if listed else {}
    local = {path.name for path in files}
    kept_only_in_head = [name for name in in_head if name not in local]
    rows = {name: sha for name, (_, sha) in in_head.items()}
    stats_path = library.gitdir / "agentfactory" / "experience-stat.json"
    try:
        known = json.loads(stats_path.read_text())
    except (OSError, ValueError):
        known = {}
    stats: dict[str, list] = {}
    for path in files:
        st = path.lstat()
        key = [st.st_size, st.st_mtime_ns, st.st_ino]
        hit = known.get(path.name) if isinstance(known, dict) else None
        if isinstance(hit, list) and hit[:3] == key and isinstance(hit[3], str):
            sha = hit[3]
        else:
            sha = git.write_objects("blob", [_read_plain(path)])[0]
        rows[path.name] = sha
        stats[path.name] = [*key, sha]
    tree = tree_object({**in_head, **{name: ("100644", rows[name]) for name in local}})
    tree_sha = object_sha("tree", tree)
    if tree_sha != current:
        changed = sorted(n for n in local if in_head.get(n, ("", ""))[1] != rows[n])
        agents = [n.removesuffix(SUFFIX) for n in changed]
        shown = ", ".join(agents[:5]) + (", ..." if len(agents) > 5 else "")
        message = f"experience: new records of {shown or 'agents'}\n\nAgents: {', '.join(agents)}\n"
        new_root = git.write_objects("tree", [tree, splice_tree(root, EXPERIENCE_DIR, tree_sha)])[-1]
        _stage(library, rows, kept_only_in_head)
        commit = git.text(
            "commit-tree", new_root, "-p", head, input=message.encode("utf-8", "backslashreplace")
        )
        git.run("update-ref", "-m", "experience", "HEAD", commit, head)
        head = commit
    if stats != known:
        tmp = stats_path.with_name(f".{stats_path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(stats))
        os.replace(tmp, stats_path)
    return head


def _read_plain(path: Path) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        return fh.read()


def _stage(library: Any, rows: dict[str, str], kept_only_in_head: list[str]) -> None:
    """git's index entries of the experience folder made those of `rows` (see _gitindex); through git
    when a file is only in HEAD (its entry stays as it was) or the index is not one _gitindex edits."""
    folder = experience_dir(library.path)
    if not kept_only_in_head:
        entries = {name: (sha, folder / name) for name, sha in rows.items()}
        if stage_folder(library.gitdir, library.gitdir / "agentfactory", EXPERIENCE_DIR, entries) is None:
            return
    from agentfactory.library.store import _SPLIT_INDEX  # the library's index stays split

    rels = [f"{EXPERIENCE_DIR}/{name}" for name in rows if name not in kept_only_in_head]
    library.git.run(*_SPLIT_INDEX, "add", "-f", "--", *rels)


# ---------------------------------------------------------------------------------------------- pulls


def check_incoming(git: Git, commit: str, entry: TreeEntry) -> None:
    """Refuse (ValidationError) a remote `experience` entry that is not a flat folder of plain, bounded
    agent files. Row contents are the experience store's to judge, file by file, row by row."""
    if entry.mode != "040000" or entry.kind != "tree":
        raise ValidationError(f"the remote's {EXPERIENCE_DIR} is not a folder (a link, file or submodule)")
    entries = git.ls_tree(commit, EXPERIENCE_DIR, recursive=True, sizes=True)
    if len(entries) > MAX_FILES:
        raise ValidationError(f"the remote's {EXPERIENCE_DIR} holds more than {MAX_FILES} files")
    total = 0
    for path, item in entries.items():
        rel = path[len(EXPERIENCE_DIR) + 1 :]
        shown = rel[:80].encode("unicode_escape").decode("ascii")
        if "/" in rel or not is_file_name(rel):
            raise ValidationError(
                f"the remote's {EXPERIENCE_DIR}/{shown} is not an agent file (<agent>.jsonl, no folders)"
            )
        if item.kind != "blob" or item.mode not in ("100644", "100755"):
            raise ValidationError(
                f"the remote's {EXPERIENCE_DIR}/{shown} is a link or submodule (mode {item.mode}); "
                "experience files are plain files"
            )
        if (item.size or 0) > MAX_FILE_BYTES:
            raise ValidationError(
                f"the remote's {EXPERIENCE_DIR}/{shown} is {item.size} bytes; the limit is {MAX_FILE_BYTES}"
            )
        total += item.size or 0
        if total > MAX_TOTAL_BYTES:
            raise ValidationError(f"the remote's {EXPERIENCE_DIR} holds more than {MAX_TOTAL_BYTES} bytes")


def _files(git: Git, commit: str) -> dict[str, TreeEntry]:
    if not git.ls_tree(commit, EXPERIENCE_DIR):
        return {}
    out = {}
    for path, entry in git.ls_tree(commit, EXPERIENCE_DIR, recursive=True).items():
        rel = path[len(EXPERIENCE_DIR) + 1 :]
        if "/" not in rel and is_file_name(rel) and entry.kind == "blob":
            out[rel] = entry
    return out


def _union(ours: bytes, theirs: bytes) -> bytes:
    if theirs.startswith(ours):
        return theirs
    if ours.startswith(theirs):
        return ours
    base = ours if ours.endswith(b"\n") or not ours else ours + b"\n"
    have = set(base.splitlines())
    extra = [line for line in theirs.splitlines() if line.strip() and line not in have]
    return base + b"".join(line + b"\n" for line in dict.fromkeys(extra))


def refused_files(git: Git, ours: str, theirs: str) -> list[str]:
    """Our own files (see `own_files`) to which `theirs` adds lines: their version is not taken."""
    own = own_files(git.root)
    mine, other = _files(git, ours), _files(git, theirs)
    differing = [n for n in sorted(own) if n in other and other[n] != mine.get(n)]
    if not differing:
        return []
    present = [n for n in differing if n in mine]
    blobs = git.blobs([sha for n in present for sha in (mine[n].sha, other[n].sha)])
    return [n for n in differing if n not in mine or not blobs[mine[n].sha].startswith(blobs[other[n].sha])]


def needs_merge(git: Git, ours: str, theirs: str) -> bool:
    """Whether taking `theirs` as it is would remove or rewrite lines of one of our files, or change a
    file of our own agents at all."""
    mine, other = _files(git, ours), _files(git, theirs)
    own = own_files(git.root)
    if any(other.get(n) != mine.get(n) for n in own if n in mine or n in other):
        return True
    differing = [n for n, e in mine.items() if other.get(n) != e]
    if any(n not in other for n in differing):
        return True
    blobs = git.blobs([sha for n in differing for sha in (mine[n].sha, other[n].sha)])
    return any(not blobs[other[n].sha].startswith(blobs[mine[n].sha]) for n in differing)


def merged_entry(git: Git, ours: str, theirs: str) -> TreeEntry | None:
    """The `experience` folder of a merge of `ours` and `theirs`: every file of both, none shortened, and
    our own agents' files exactly as ours (absent if we have none)."""
    mine, other = _files(git, ours), _files(git, theirs)
    for name in own_files(git.root):
        other.pop(name, None)
        if name in mine:
            other[name] = mine[name]
    if not mine and not other:
        return None
    rows: dict[str, str] = {}
    both = [n for n in mine if n in other and mine[n] != other[n]]
    blobs = git.blobs([sha for n in both for sha in (mine[n].sha, other[n].sha)])
    for name in sorted(set(mine) | set(other)):
        if name in both:
            a, b = blobs[mine[name].sha], blobs[other[name].sha]
            data = _union(a, b)
            rows[name] = (
                mine[name].sha
                if data == a
                else other[name].sha
                if data == b
                else git.text("hash-object", "-w", "--stdin", input=data)
            )
        else:
            rows[name] = (mine.get(name) or other[name]).sha
    listing = b"".join(f"100644 blob {sha}\t{name}".encode() + b"\0" for name, sha in sorted(rows.items()))
    return TreeEntry("040000", "tree", git.text("mktree", "-z", input=listing))


def changed_files(git: Git, old: str, new: str) -> list[str]:
    """Agent files that differ between two commits (what a pull brought)."""
    out = git.text("diff", "--name-only", "--no-renames", old, new, "--", EXPERIENCE_DIR)
    return sorted(Path(p).name for p in out.splitlines() if p)
