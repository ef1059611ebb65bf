"""The live copy of a subagent's stdout, for a view that shows lines as they are printed.

When a request has `on_output`, the in-sandbox runner forwards the first FORWARD_BYTES of the subagent's
stdout to its own stdout (besides the bounded tail it always keeps for the trace). The host reads that
stream here, on a thread, and hands complete lines to the callback. It is for display only: nothing here
is parsed, decides a status or reaches the trace, and the host reads at most HOST_MAX_BYTES of it (the
runner is inside the sandbox, so its bound is not trusted), draining and dropping the rest.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

FORWARD_BYTES = 32 << 10  # below a pipe's buffer: the runner can never block on a slow reader
HOST_MAX_BYTES = 64 << 10
MAX_LINE_CHARS = 1000  # a longer line is handed on in pieces
JOIN_S = 2.0

OutputCallback = Callable[[str, str], None]


class LinePump:
    """Reads chunks on a daemon thread and calls `on_output("stdout", line)` for each line."""

    def __init__(
        self, chunks: Iterable[bytes], on_output: OutputCallback, close: Callable[[], Any] | None = None
    ):
        self._chunks = chunks
        self._on_output = on_output
        self._close = close
        self._thread = threading.Thread(target=self._pump, name="sandbox-output", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        seen, pending = 0, b""
        try:
            for chunk in self._chunks:
                if seen >= HOST_MAX_BYTES:
                    continue  # keep draining so the writer never blocks; show nothing more
                chunk = chunk[: HOST_MAX_BYTES - seen]
                seen += len(chunk)
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    self._line(line)
                while len(pending) > MAX_LINE_CHARS * 4:
                    self._line(pending[: MAX_LINE_CHARS * 4])
                    pending = pending[MAX_LINE_CHARS * 4 :]
        except Exception:  # noqa: BLE001 - a broken display stream must never affect the execution
            pass
        if pending:
            self._line(pending)

    def _line(self, raw: bytes) -> None:
        text = raw.decode("utf-8", "replace").rstrip("\r")
        for start in range(0, max(len(text), 1), MAX_LINE_CHARS):
            with contextlib.suppress(Exception):
                self._on_output("stdout", text[start : start + MAX_LINE_CHARS])

    def join(self) -> None:
        self._thread.join(JOIN_S)
        if self._close is not None:
            with contextlib.suppress(Exception):
                self._close()


def pump_fd(fd: int, on_output: OutputCallback) -> LinePump:
    """Lines from a pipe's read end (the local backend's runner stdout); the pump closes it."""

    def chunks() -> Iterable[bytes]:
        while True:
            data = os.read(fd, 1 << 14)
            if not data:
                return
            yield data

    def close() -> None:
        os.close(fd)

    return LinePump(chunks(), on_output, close)


def pump_container(container: Any, on_output: OutputCallback) -> LinePump | None:
    """Lines from a docker container's stdout, attached before the job is handed over; None if the
    daemon refuses the attach (the execution runs the same, without live lines)."""
    try:
        stream = container.attach(stdout=True, stderr=False, stream=True, logs=False)
    except Exception:  # noqa: BLE001 - display only
        return None
    return LinePump(stream, on_output, getattr(stream, "close", None))
