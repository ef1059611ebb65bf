"""Bounded, link-free file-system primitives for folders the sandbox can write.

The host only ever touches a job folder through a descriptor of its root opened at creation, one name at
a time, with O_NOFOLLOW and without blocking (no path is resolved through a link the sandbox could have
planted, no FIFO is waited on), and walks trees iteratively with depth, count and size bounds. Output
files are copied out only after the sandbox stopped, refusing links, special files, names that are not
printable UTF-8, type clashes with earlier outputs and anything past the bounds.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path

from agentfactory.errors import UsageError
from agentfactory.records import record

MAX_OUTPUT_FILES = 10_000  # files and folders under outputs/
MAX_OUTPUT_DEPTH = 32  # path components under outputs/
MAX_TREE_ENTRIES = 100_000  # code/ and inputs/ copied in
MAX_TREE_DEPTH = 64
MAX_REFUSALS_LISTED = 200
_SKIP = {"__pycache__", ".git", ".pytest_cache"}
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY


def write_new(dir_fd: int, rel: str, data: bytes, mode: int) -> None:
    """Create `rel` (relative to dir_fd, whose parents the sandbox cannot write) new; never through a link."""
    fd = os.open(
        rel, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd
    )
    try:  # straight to the descriptor: a buffered file object is the most of it for a small file
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def read_bounded(dir_fd: int, rel: str, limit: int) -> bytes | None:
    """At most limit + 1 bytes of the regular file `rel` under dir_fd; None for anything else (a link at
    any component, a FIFO, a device, a folder, missing). Never blocks."""
    parts = rel.split("/")
    fds: list[int] = []
    try:
        parent = dir_fd
        for part in parts[:-1]:
            parent = os.open(part, DIR_FLAGS, dir_fd=parent)
            fds.append(parent)
        fd = os.open(parts[-1], FILE_FLAGS, dir_fd=parent)
    except OSError:
        return None
    finally:
        for fd_ in fds:
            os.close(fd_)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return None
        return fh.read(limit + 1)


def _listing(dir_fd: int, budget: int) -> tuple[list[tuple[str, os.stat_result]], bool]:
    """Up to `budget` entries (name, lstat) of a folder, sorted, and whether there were more."""
    out: list[tuple[str, os.stat_result]] = []
    more = False
    try:
        with os.scandir(dir_fd) as it:
            for entry in it:
                if len(out) >= budget:
                    more = True
                    break
                with contextlib.suppress(OSError):
                    out.append((entry.name, entry.stat(follow_symlinks=False)))
    except OSError:
        pass
    out.sort(key=lambda e: e[0], reverse=True)  # popped from the end: alphabetical order
    return out, more


@record
class Item:
    """One entry met by Walk. Set `descend = False` on a folder to skip its contents."""

    parent_fd: int
    name: str
    parts: tuple[str, ...]
    st: os.stat_result
    descend: bool = True

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.st.st_mode)

    @property
    def rel(self) -> str:
        return "/".join(self.parts)


class Walk:
    """Iterative depth-first walk of the folder open as `top_fd`, never following links: at most
    `max_entries` entries, `max_depth` path components; opens at most max_depth + 1 descriptors.
    After iteration: `truncated` (more entries than allowed), `too_deep` (folders whose contents were
    past max_depth, as tuples of parts), `unreadable` (folders that could not be opened)."""

    def __init__(self, top_fd: int, max_entries: int, max_depth: int):
        self.top_fd = top_fd
        self.max_entries = max_entries
        self.max_depth = max_depth
        self.count = 0
        self.truncated = False
        self.too_deep: list[tuple[str, ...]] = []
        self.unreadable: list[tuple[str, ...]] = []

    def _frame(self, fd: int, parts: tuple[str, ...]) -> tuple[int, tuple[str, ...], list]:
        entries, more = _listing(fd, self.max_entries - self.count)
        self.count += len(entries)
        self.truncated = self.truncated or more
        return fd, parts, entries

    def __iter__(self) -> Iterator[Item]:
        frames = [self._frame(os.dup(self.top_fd), ())]
        try:
            while frames:
                fd, parts, pending = frames[-1]
                if not pending:
                    os.close(fd)
                    frames.pop()
                    continue
                name, st = pending.pop()
                item = Item(fd, name, (*parts, name), st)
                yield item
                if not (item.descend and item.is_dir):
                    continue
                try:
                    child = os.open(name, DIR_FLAGS, dir_fd=fd)
                except OSError:
                    self.unreadable.append(item.parts)
                    continue
                if len(item.parts) >= self.max_depth:
                    inside, _ = _listing(child, 1)
                    os.close(child)
                    if inside:
                        self.too_deep.append(item.parts)
                    continue
                frames.append(self._frame(child, item.parts))
        finally:
            for fd, _, _ in frames:
                os.close(fd)


def empty_dir(top_fd: int) -> None:
    """Remove everything inside the folder open as top_fd. Iterative and flat: a folder met below the top
    is moved up to the top before it is emptied, so no depth costs recursion, descriptors or long paths.
    Never follows a link; never raises; gives up only when a whole pass removes nothing."""
    counter = 0
    while True:
        work: list[str] = []
        with contextlib.suppress(OSError), os.scandir(top_fd) as it:
            work = [entry.name for entry in it]
        if not work:
            return
        progress = False
        while work:
            name = work.pop()
            try:
                st = os.stat(name, dir_fd=top_fd, follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISDIR(st.st_mode):
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=top_fd)
                    progress = True
                continue
            try:
                os.rmdir(name, dir_fd=top_fd)
                progress = True
                continue
            except OSError:
                pass
            sub = _open_dir_for_removal(top_fd, name)
            if sub is None:
                continue
            try:
                children: list[str] = []
                with contextlib.suppress(OSError), os.scandir(sub) as it:
                    children = [entry.name for entry in it]
                for child in children:
                    try:
                        if stat.S_ISDIR(os.stat(child, dir_fd=sub, follow_symlinks=False).st_mode):
                            counter += 1
                            flat = f".af-rm-{counter}"
                            while os.path.lexists(f"/proc/self/fd/{top_fd}/{flat}"):
                                counter += 1
                                flat = f".af-rm-{counter}"
                            os.rename(child, flat, src_dir_fd=sub, dst_dir_fd=top_fd)
                            work.append(flat)
                        else:
                            os.unlink(child, dir_fd=sub)
                        progress = True
                    except OSError:
                        pass
            finally:
                os.close(sub)
            with contextlib.suppress(OSError):
                os.rmdir(name, dir_fd=top_fd)
                progress = True
        if not progress:
            return


def _open_dir_for_removal(parent_fd: int, name: str) -> int | None:
    try:
        return os.open(name, DIR_FLAGS, dir_fd=parent_fd)
    except PermissionError:
        pass  # a folder the sandbox made unreadable (a non-root host owns it): make it ours again
    except OSError:
        return None
    try:
        path_fd = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)
    except OSError:
        return None
    try:
        os.chmod(f"/proc/self/fd/{path_fd}", 0o700)
        return os.open(name, DIR_FLAGS, dir_fd=parent_fd)
    except OSError:
        return None
    finally:
        os.close(path_fd)


def remove_tree(path: str | Path) -> None:
    """Remove the folder `path` (not a link to one) and everything in it; see empty_dir."""
    try:
        fd = os.open(path, DIR_FLAGS)
    except OSError:
        return
    remove_open_tree(fd, path)


def remove_open_tree(fd: int, path: str | Path) -> None:
    """Remove the folder `path`, open as `fd` (closed here), and everything in it; see empty_dir."""
    try:
        empty_dir(fd)
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):
        os.rmdir(path)


# ---- names --------------------------------------------------------------------------------------------


def printable_name(name: str) -> bool:
    """A file name anything downstream can show and store: valid UTF-8, no control, format, separator
    (other than space) or unassigned characters, no escape sequences, not '.' or '..'."""
    if not name or name in (".", "..") or "/" in name or len(name.encode("utf-8", "surrogateescape")) > 255:
        return False
    try:
        name.encode("utf-8")  # undecodable bytes arrive as lone surrogates
    except UnicodeEncodeError:
        return False
    return name.isprintable()


def shown_name(name: str, limit: int = 300) -> str:
    """`name` with every unprintable character escaped (\\xNN, \\uNNNN): safe to print and store."""
    out = []
    for ch in name:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch != "\\" and ch.isprintable():
            out.append(ch)
        else:
            out.append(ascii(ch)[1:-1] if ch != "\\" else "\\\\")
    text = "".join(out)
    return text if len(text) <= limit else text[:limit] + "..."


# ---- copies in and out ----------------------------------------------------------------------------------


def copy_tree(
    src: str | Path,
    dest: Path,
    limit: int,
    what: str,
    skip: bool = True,
    owner: tuple[int, int] | None = None,
    missing_ok: bool = False,
) -> dict[str, str]:
    """Copy the regular files of a host folder into a fresh job folder; links and special files are
    skipped. Returns {relative path: sha256}. Over the size, count or depth bounds: UsageError.
    `missing_ok`: nothing to copy when `src` is missing or not a folder (a link to one still fails)."""
    try:
        top = os.open(src, DIR_FLAGS)
    except OSError:
        if missing_ok and not os.path.isdir(src):
            return {}
        raise UsageError(f"The {what} folder {src} cannot be read.") from None
    hashes: dict[str, str] = {}
    total = 0
    dir_mode, file_mode = (0o700, 0o600) if owner else (0o755, 0o644)
    try:
        walk = Walk(top, MAX_TREE_ENTRIES, MAX_TREE_DEPTH)
        for item in walk:
            if skip and item.name in _SKIP or not printable_name(item.name):
                item.descend = False
                continue
            target = dest.joinpath(*item.parts)
            if item.is_dir:
                target.mkdir(mode=0o755)
                os.chmod(target, dir_mode)
                if owner:
                    os.chown(target, *owner)
                continue
            if not stat.S_ISREG(item.st.st_mode):
                continue
            total += item.st.st_size
            if total > limit:
                raise UsageError(f"The {what} in {src} exceed {limit >> 20} MB.")
            try:
                fd = os.open(item.name, FILE_FLAGS, dir_fd=item.parent_fd)
            except OSError:
                continue
            digest = hashlib.sha256()
            with os.fdopen(fd, "rb") as fh_in:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    continue
                out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                with os.fdopen(out, "wb") as fh_out:
                    while chunk := fh_in.read(1 << 20):
                        digest.update(chunk)
                        fh_out.write(chunk)
                    os.fchmod(fh_out.fileno(), file_mode)
                    if owner:
                        os.fchown(fh_out.fileno(), *owner)
            hashes[item.rel] = digest.hexdigest()
        if walk.truncated or walk.too_deep:
            raise UsageError(
                f"The {what} in {src} hold more than {MAX_TREE_ENTRIES} entries or {MAX_TREE_DEPTH} levels."
            )
    finally:
        os.close(top)
    return hashes


def write_files(files: Mapping[str, bytes], dest: Path, limit: int, what: str) -> None:
    """Write `files` (relative path with / -> content: a subagent's files as the library read them) into
    the fresh folder `dest`, the host's own, as copy_tree would have copied them from a folder: the same
    names skipped, the same bounds. A name that is not a plain relative path (absolute, empty parts,
    '.', '..', unprintable) is refused, as is a file where a folder is wanted or the reverse."""
    if len(files) > MAX_TREE_ENTRIES:
        raise UsageError(f"The {what} hold more than {MAX_TREE_ENTRIES} files.")
    top = os.open(dest, DIR_FLAGS)
    made: set[str] = set()
    total = 0
    try:
        for rel, data in files.items():
            parts = rel.split("/")
            if len(parts) > MAX_TREE_DEPTH or not all(printable_name(part) for part in parts):
                raise UsageError(f"The {what} hold a file named {shown_name(rel)}, not a relative path.")
            if not _SKIP.isdisjoint(parts):
                continue
            total += len(data)
            if total > limit:
                raise UsageError(f"The {what} exceed {limit >> 20} MB.")
            for depth in range(1, len(parts)):
                folder = "/".join(parts[:depth])
                if folder not in made:
                    os.mkdir(folder, dir_fd=top)  # a file of that name was written: EEXIST
                    os.chmod(folder, 0o755, dir_fd=top)  # whatever the umask: the sandbox reads it
                    made.add(folder)
            write_new(top, rel, data, 0o644)
    except OSError as exc:
        raise UsageError(f"The {what} could not be written ({shown_name(rel)}: {exc.strerror}).") from None
    finally:
        os.close(top)


@record
class CopyReport:
    copied: list[tuple[str, str]]  # (relative path, sha256)
    refusals: dict[str, str]  # shown relative path -> why it was not copied
    more_refused: int = 0


class _DestDirs:
    """Descriptors of the destination folders, opened one component at a time without following links
    and created as needed; the chain currently open follows the depth-first order of the walk."""

    def __init__(self, top_fd: int):
        self.chain: list[tuple[str, int]] = []
        self.top_fd = top_fd

    def get(self, parts: tuple[str, ...]) -> int | str:
        """The descriptor of folder `parts`, or the reason it cannot be one."""
        keep = 0
        while keep < min(len(parts), len(self.chain)) and self.chain[keep][0] == parts[keep]:
            keep += 1
        for _, fd in self.chain[keep:]:
            os.close(fd)
        del self.chain[keep:]
        for part in parts[keep:]:
            parent = self.chain[-1][1] if self.chain else self.top_fd
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=parent)
            try:
                fd = os.open(part, DIR_FLAGS, dir_fd=parent)
            except OSError as exc:
                if exc.errno in (errno.ENOTDIR, errno.ELOOP):
                    return f"type clash: '{'/'.join(parts)}' is not a folder in the output folder"
                return f"the output folder could not be created ({exc.strerror})"
            self.chain.append((part, fd))
        return self.chain[-1][1] if self.chain else self.top_fd

    def close(self) -> None:
        for _, fd in self.chain:
            os.close(fd)
        self.chain = []


def copy_outputs(root_fd: int, rel: str, dest: Path, cap: int) -> CopyReport:
    """Copy regular, singly-linked files with printable names from the folder `rel` under root_fd to
    `dest`, within MAX_OUTPUT_FILES entries, MAX_OUTPUT_DEPTH levels and `cap` bytes; refuse everything
    else, each refusal with its reason. Never follows a link on either side, never raises for what the
    sandbox left."""
    report = CopyReport([], {})

    def refuse(parts: tuple[str, ...], reason: str) -> None:
        if len(report.refusals) >= MAX_REFUSALS_LISTED:
            report.more_refused += 1
        else:
            report.refusals["/".join(shown_name(p) for p in parts)] = reason

    try:
        src = os.open(rel, DIR_FLAGS, dir_fd=root_fd)
    except OSError:
        return report
    try:
        dest.mkdir(parents=True, exist_ok=True)
        dest_fd = os.open(dest, DIR_FLAGS)
    except OSError:
        os.close(src)
        refuse(("outputs",), "the destination folder could not be opened")
        return report
    dirs = _DestDirs(dest_fd)
    total = 0
    try:
        walk = Walk(src, MAX_OUTPUT_FILES, MAX_OUTPUT_DEPTH)
        for item in walk:
            if not printable_name(item.name):
                item.descend = False
                refuse(item.parts, "the name is not printable UTF-8")
                continue
            mode = item.st.st_mode
            if item.is_dir:
                continue
            if stat.S_ISLNK(mode):
                refuse(item.parts, "a symbolic link")
                continue
            if not stat.S_ISREG(mode):
                refuse(item.parts, "not a regular file")
                continue
            try:
                fd = os.open(item.name, FILE_FLAGS, dir_fd=item.parent_fd)
            except OSError:
                refuse(item.parts, "unreadable")
                continue
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    refuse(item.parts, "not a regular file")
                elif st.st_nlink != 1:
                    refuse(item.parts, "a hard link")
                elif total + st.st_size > cap:
                    refuse(item.parts, f"over the outputs cap of {cap >> 20} MB")
                else:
                    parent = dirs.get(item.parts[:-1])
                    if isinstance(parent, str):
                        refuse(item.parts, parent)
                    else:
                        problem, digest = _copy_file(fd, st.st_size, parent, item.name)
                        if problem:
                            refuse(item.parts, problem)
                        else:
                            total += st.st_size
                            report.copied.append((item.rel, digest))
            finally:
                os.close(fd)
        for parts in walk.too_deep:
            refuse(parts, f"its contents are deeper than {MAX_OUTPUT_DEPTH} levels")
        for parts in walk.unreadable:
            refuse(parts, "an unreadable folder")
        if walk.truncated:
            refuse(("...",), f"more than {MAX_OUTPUT_FILES} files and folders: the rest were not copied")
    finally:
        dirs.close()
        os.close(dest_fd)
        os.close(src)
    return report


def _copy_file(src_fd: int, size: int, dir_fd: int, name: str) -> tuple[str, str]:
    """Copy `size` bytes of src_fd to a new file `name` in dir_fd (replacing a file, never a folder).
    Returns (problem or "", sha256)."""
    tmp = f".af-tmp-{os.urandom(8).hex()}"
    out = os.open(
        tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dir_fd
    )
    digest = hashlib.sha256()
    try:
        with os.fdopen(out, "wb") as fh_out:
            remaining = size
            offset = 0
            while remaining > 0:
                chunk = os.pread(src_fd, min(remaining, 1 << 20), offset)
                if not chunk:
                    break
                digest.update(chunk)
                fh_out.write(chunk)
                remaining -= len(chunk)
                offset += len(chunk)
        try:
            existing = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            existing = None
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            raise IsADirectoryError
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except IsADirectoryError:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        return "type clash: an earlier output of that name is a folder", ""
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        return f"could not be written ({exc.strerror})", ""
    return "", digest.hexdigest()
