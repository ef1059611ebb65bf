"""Bounded reads of one regular file named by a path that may be hostile (a subagent's output, a client's
input file, a library folder pulled from a remote, a command-line argument).

`read_regular` is the one way the host reads such a file: opened without blocking (a FIFO or a device
never hangs the host) and, unless the caller asks otherwise, without following a link; refused unless
it is a regular file; read to at most `limit` bytes even when it grows while being read. A refusal is a
`FileRefused` saying which of the three reasons applies, and each caller words it in its own terms. It
imports nothing of the package, so any module can use it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

OPEN = "open"  # missing, a link (when links are not followed), a folder on the way, no permission
NOT_REGULAR = "not_regular"  # a folder, FIFO, device or socket
TOO_LARGE = "too_large"  # over the limit, by its size or by what it held when read


class FileRefused(Exception):
    """Why a file was not read: `kind` (OPEN, NOT_REGULAR, TOO_LARGE), the OS's words for an open that
    failed (`strerror`), and the size the file declared when it is known to be too large."""

    def __init__(self, kind: str, path: Path | str, strerror: str = "", size: int | None = None):
        super().__init__(f"{path}: {kind}" + (f" ({strerror})" if strerror else ""))
        self.kind, self.path, self.strerror, self.size = kind, path, strerror, size


def read_regular(path: Path | str, limit: int, *, follow_links: bool = False) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them; FileRefused otherwise."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_links:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise FileRefused(OPEN, path, exc.strerror or str(exc)) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(NOT_REGULAR, path)
        if info.st_size > limit:
            raise FileRefused(TOO_LARGE, path, size=info.st_size)
        chunks, size = [], 0
        while size <= limit and (chunk := os.read(fd, min(1 << 20, limit + 1 - size))):
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:  # it grew while being read
            raise FileRefused(TOO_LARGE, path)
        return b"".join(chunks)
    except OSError as exc:
        raise FileRefused(OPEN, path, exc.strerror or str(exc)) from None
    finally:
        os.close(fd)
