"""Staging one folder in git's split index without reading the other entries.

A library's git index holds an entry per file of every subagent (150,000 at 50,000 subagents). It is
split (core.splitIndex): `.git/index` is a small file of changes on top of a large shared index file
that git never rewrites in place. `git update-index` still reads and parses the whole shared part, which
made a save's cost grow with the library. `stage_folder` edits only the small part, as git itself would
write it (see git's Documentation/gitformat-index.txt, "Split index"): the folder's entries in the
shared part are marked deleted by position, and its new entries are added, with their stat data taken
from the files just written.

The positions of each top-level folder's entries in a shared index file are derived once per shared
file (a walk of its entries, the only step that grows with the library) and kept in a sidecar file
beside the library's search index, named by the shared file's hash. Whenever anything is not as this
module expects (no split index, an index version or extension it does not know, unmerged entries, a
split part grown large, a shared file it cannot read), `stage_folder` returns False and the caller
stages through git, which is always correct, only slower.
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path

from agentfactory.library._git import sha1

_HEADER = struct.Struct(">4sII")
_STAT = struct.Struct(">10I")
_SIDECAR = struct.Struct(">4sIII")
_EXTENDED = 0x4000
_STAGE = 0x3000
_NAME_MASK = 0xFFF
MAX_SPLIT_ENTRIES = 20_000  # changed entries, above which git folds the split part into a new shared file


class _Unexpected(Exception):
    """The index is not in a shape this module edits: the caller stages through git."""


class _Grown(_Unexpected):
    """The split part holds many entries: git should write a new shared file."""


# ---------------------------------------------------------------------------------------------- EWAH


def ewah_decode(data: bytes, pos: int) -> tuple[list[int], int]:
    """The set bits of a serialized EWAH bitmap starting at `pos`, and the position after it."""
    bit_size, words = struct.unpack_from(">II", data, pos)
    pos += 8
    end = pos + 8 * words
    if end + 4 > len(data):
        raise _Unexpected("short bitmap")
    bits: list[int] = []
    base, i = 0, pos
    while i < end:
        (rlw,) = struct.unpack_from(">Q", data, i)
        i += 8
        running, run_len, literals = rlw & 1, (rlw >> 1) & 0xFFFFFFFF, rlw >> 33
        if running:
            bits.extend(range(base, base + 64 * run_len))
        base += 64 * run_len
        for _ in range(literals):
            if i >= end:
                raise _Unexpected("bitmap literal words beyond its end")
            (word,) = struct.unpack_from(">Q", data, i)
            i += 8
            while word:
                low = word & -word
                bits.append(base + low.bit_length() - 1)
                word ^= low
            base += 64
    if any(b >= bit_size for b in bits):
        raise _Unexpected("bitmap bit beyond its size")
    return bits, end + 4


def ewah_encode(bits: list[int]) -> bytes:
    """A serialized EWAH bitmap of the given set bits: runs of empty words, then literal words."""
    words: dict[int, int] = {}
    for b in bits:
        words[b // 64] = words.get(b // 64, 0) | (1 << (b % 64))
    out: list[int] = []
    last_rlw = 0
    at = 0  # the next word index to encode
    keys = sorted(words)
    i = 0
    while i < len(keys) or not out:
        start = keys[i] if i < len(keys) else at
        j = i
        while j < len(keys) and keys[j] == start + (j - i) and j - i < (1 << 31) - 1:
            j += 1
        run = start - at
        last_rlw = len(out)
        out.append((run << 1) | ((j - i) << 33))
        out.extend(words[k] for k in keys[i:j])
        at = start + (j - i)
        i = j
    size = (max(bits) + 1) if bits else 0
    return struct.pack(f">II{len(out)}QI", size, len(out), *out, last_rlw)


# ---------------------------------------------------------------------------------------------- entries


def _walk(data: bytes, version: int, count: int):
    """(offset, end, name, flags) of each entry of an index file's content."""
    pos = 12
    previous = b""
    for _ in range(count):
        flags = struct.unpack_from(">H", data, pos + 60)[0]
        fixed = 62 + (2 if flags & _EXTENDED else 0)
        if version == 4:
            at = pos + fixed
            byte = data[at]
            at += 1
            strip = byte & 0x7F
            while byte & 0x80:  # git's varint: each continuation byte also adds one
                byte = data[at]
                at += 1
                strip = ((strip + 1) << 7) + (byte & 0x7F)
            nul = data.index(b"\0", at)
            name = previous[: len(previous) - strip] + data[at:nul]
            end = nul + 1
            previous = name
        else:
            length = flags & _NAME_MASK
            if length == _NAME_MASK:
                length = data.index(b"\0", pos + fixed) - (pos + fixed)
            name = data[pos + fixed : pos + fixed + length]
            end = pos + ((fixed + length + 8) & ~7)
        yield pos, end, name, flags
        pos = end
    return pos


def _check(data: bytes) -> tuple[int, int]:
    if len(data) < 32:
        raise _Unexpected("too short")
    sig, version, count = _HEADER.unpack_from(data)
    if sig != b"DIRC" or version not in (2, 3, 4):
        raise _Unexpected("not an index")
    if sha1(data[:-20]) != data[-20:]:
        raise _Unexpected("checksum")
    return version, count


def folder_positions(shared: bytes) -> tuple[int, dict[bytes, tuple[int, int]]]:
    """The number of entries of a shared index file's content, and the first position and number of
    entries of each top-level folder in it."""
    version, count = _check(shared)
    out: dict[bytes, list[int]] = {}
    for i, (_, _, name, flags) in enumerate(_walk(shared, version, count)):
        if flags & _STAGE:
            raise _Unexpected("unmerged entries")
        top, sep, _ = name.partition(b"/")
        if not sep:
            continue
        found = out.get(top)
        if found is None:
            out[top] = [i, 1]
        elif found[0] + found[1] == i:
            found[1] += 1
        else:
            raise _Unexpected("a folder's entries are not contiguous")
    return count, {k: (v[0], v[1]) for k, v in out.items()}


def _sidecar_bytes(count: int, positions: dict[bytes, tuple[int, int]]) -> bytes:
    """Fixed-width records (folder name + '/', NUL-padded; first; count) in git's order, so a lookup is a
    binary search of the file (`_lookup`), whatever the number of folders."""
    width = max((len(k) + 1 for k in positions), default=1)
    rows = sorted((k + b"/", v) for k, v in positions.items())
    return _SIDECAR.pack(b"AFGI", count, width, len(rows)) + b"".join(
        key.ljust(width, b"\0") + struct.pack(">II", *v) for key, v in rows
    )


def _lookup(sidecar: bytes, name: bytes) -> tuple[int, int, int]:
    """(entries in the shared file, first position, number of entries) of folder `name`."""
    magic, count, width, rows = _SIDECAR.unpack_from(sidecar)
    if magic != b"AFGI" or len(sidecar) != _SIDECAR.size + rows * (width + 8):
        raise _Unexpected("sidecar")
    key = (name + b"/").ljust(width, b"\0")
    if len(key) > width:
        return count, 0, 0
    lo, hi = 0, rows
    while lo < hi:
        mid = (lo + hi) // 2
        at = _SIDECAR.size + mid * (width + 8)
        here = sidecar[at : at + width]
        if here == key:
            first, n = struct.unpack_from(">II", sidecar, at + width)
            return count, first, n
        if here < key:
            lo = mid + 1
        else:
            hi = mid
    return count, 0, 0


def entry_bytes(path: bytes, sha: str, st: os.stat_result) -> bytes:
    """An index entry (version 2) for a regular file of mode 644 with this content sha and stat data."""
    mask = 0xFFFFFFFF
    fields = (
        int(st.st_ctime) & mask,
        st.st_ctime_ns % 1_000_000_000,
        int(st.st_mtime) & mask,
        st.st_mtime_ns % 1_000_000_000,
        st.st_dev & mask,
        st.st_ino & mask,
        0o100644,
        st.st_uid & mask,
        st.st_gid & mask,
        st.st_size & mask,
    )
    flags = min(len(path), _NAME_MASK)
    head = _STAT.pack(*fields) + bytes.fromhex(sha) + struct.pack(">H", flags)
    size = (62 + len(path) + 8) & ~7
    return head + path + b"\0" * (size - 62 - len(path))


# ---------------------------------------------------------------------------------------------- staging


def _folder_range(gitdir: Path, sidecar_dir: Path, shared_hex: str, name: bytes) -> tuple[int, int, int]:
    """(entries in the shared file, first position, number of entries) of folder `name`, from the
    sidecar of that shared file, made first when missing (a walk of every entry, once per shared file)."""
    sidecar = sidecar_dir / f"gitindex-{shared_hex}"
    try:
        with open(sidecar, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as view:
            return _lookup(view, name)  # type: ignore[arg-type]
    except (OSError, ValueError, struct.error, _Unexpected):
        pass
    try:
        shared = (gitdir / f"sharedindex.{shared_hex}").read_bytes()
    except OSError:
        raise _Unexpected("no shared index") from None
    content = _sidecar_bytes(*folder_positions(shared))
    for old in sidecar_dir.glob("gitindex-*"):
        old.unlink(missing_ok=True)
    tmp = sidecar_dir / f".gitindex.{os.getpid()}.tmp"
    tmp.write_bytes(content)
    os.replace(tmp, sidecar)
    return _lookup(content, name)


def stage_folder(
    gitdir: Path, sidecar_dir: Path, name: str, entries: dict[str, tuple[str, Path]]
) -> str | None:
    """Make git's index entries under `name/` exactly `entries` (relative path -> (blob sha, file in the
    work tree to take stat data from)), touching no other entry. None when done; else nothing was
    changed and the caller stages through git: "git" when the index is not a split index this module
    edits, "resplit" when its split part has grown large (git should fold it into a new shared file)."""
    index = gitdir / "index"
    lock = gitdir / "index.lock"
    try:
        # git's own lock first, as git takes it: the index read below is the one replaced, never a
        # version a git process writes meanwhile. Held by git: OSError here, and git stages (or reports).
        fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except OSError:
        return "git"
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(_stage(gitdir, sidecar_dir, index.read_bytes(), name, entries))
    except BaseException as exc:
        lock.unlink()  # still ours: nothing was replaced
        if isinstance(exc, _Grown):
            return "resplit"
        if isinstance(exc, (_Unexpected, OSError, struct.error, ValueError, IndexError, UnicodeError)):
            return "git"
        raise
    os.replace(lock, index)  # from here the lock name may be another process's: never touched again
    return None


def _stage(
    gitdir: Path, sidecar_dir: Path, data: bytes, name: str, entries: dict[str, tuple[str, Path]]
) -> bytes:
    """The split part `data` with the entries of folder `name` replaced by `entries`."""
    version, count = _check(data)
    if version == 4:
        raise _Unexpected("version 4 split part")
    walked = list(_walk(data, version, count))
    pos = walked[-1][1] if walked else 12
    link = None
    while pos < len(data) - 20:
        sig = data[pos : pos + 4]
        (size,) = struct.unpack_from(">I", data, pos + 4)
        body = data[pos + 8 : pos + 8 + size]
        if sig == b"link":
            link = body
        elif not (b"A"[0] <= sig[0] <= b"Z"[0]):
            raise _Unexpected(f"required extension {sig!r}")  # other optional ones are dropped
        pos += 8 + size
    if link is None or len(link) < 20 or len(link) == 20:
        raise _Unexpected("not split, or no bitmaps")
    shared_hex = link[:20].hex()
    deleted, at = ewah_decode(link, 20)
    replaced, _ = ewah_decode(link, at)
    if len(replaced) > count:
        raise _Unexpected("more replaced entries than entries")
    if count + len(deleted) > MAX_SPLIT_ENTRIES:
        raise _Grown()
    replacements = {p: data[s:e] for p, (s, e, _, _) in zip(replaced, walked, strict=False)}
    added = {}
    for s, e, entry_name, flags in walked[len(replaced) :]:
        if flags & _STAGE or not entry_name:
            raise _Unexpected("unmerged or unnamed entry")
        added[entry_name] = data[s:e]
    prefix = name.encode("utf-8", "surrogateescape") + b"/"
    shared_count, first, n = _folder_range(gitdir, sidecar_dir, shared_hex, prefix[:-1])
    if any(p >= shared_count for p in (*deleted, *replaced)):
        raise _Unexpected("bitmap beyond the shared index")
    gone = set(deleted)
    for p in range(first, first + n):
        gone.add(p)
        replacements.pop(p, None)
    added = {k: v for k, v in added.items() if not k.startswith(prefix)}
    for rel, (sha, path) in entries.items():
        full = prefix + rel.encode("utf-8", "surrogateescape")
        added[full] = entry_bytes(full, sha, os.lstat(path))
    rows = [replacements[p] for p in sorted(replacements)] + [added[k] for k in sorted(added)]
    extended = any(struct.unpack_from(">H", r, 60)[0] & _EXTENDED for r in rows)
    link_ext = link[:20] + ewah_encode(sorted(gone)) + ewah_encode(sorted(replacements))
    body = b"".join(
        [
            _HEADER.pack(b"DIRC", 3 if extended else 2, len(rows)),
            *rows,
            b"link" + struct.pack(">I", len(link_ext)) + link_ext,
        ]
    )
    return body + sha1(body)
