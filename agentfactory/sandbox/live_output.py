"""The live copy of a subagent's stdout, for a view that shows lines as they are printed.

When a request has `on_output`, the in-sandbox runner forwards the first FORWARD_BYTES of the subagent's
stdout to its own stdout (besides the bounded tail it always keeps for the trace). The host reads that
stream here, on a thread, and hands complete lines to the callback. It is for display only: nothing here
is parsed, decides a status or reaches the trace, and the host reads at most HOST_MAX_BYTES of it (the
runner is inside the sandbox, so its bound is not trusted), draining and dropping the rest.

The stream's end: a sandbox's stdout ends only when the sandbox does (its init holds it), so once the
runner has reported its completion it writes `end_marker(token)` to its stdout, after every forwarded
byte, and the pump stops there (`wait_end`): the execution need not wait for the sandbox to stop. The
marker is derived from the completion token, which no process of the subagent ever holds, and is written
once none of them is left, so nothing the subagent prints (even to the sandbox's own stdout) can end the
view early or late. Without the marker (an old runner, a sandbox killed), the backend stops the sandbox
and the stream ends with it, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Callable, Iterable
from typing import Any

FORWARD_BYTES = 32 << 10  # below a pipe's buffer: the runner can never block on a slow reader
HOST_MAX_BYTES = 64 << 10
MAX_LINE_CHARS = 1000  # a longer line is handed on in pieces
JOIN_S = 2.0
END_S = 1.0  # how long a backend waits for the end marker once the runner reported, before stopping it
END_LABEL = b"agentfactory-stream-end:"  # runner.py derives the same marker


def end_marker(token: bytes) -> bytes:
    """What the runner writes to its stdout after the last forwarded byte (runner.py `_end_stream`)."""
    return hashlib.sha256(END_LABEL + token).digest()


OutputCallback = Callable[[str, str], None]


class LinePump:
    """Reads chunks on a daemon thread and calls `on_output("stdout", line)` for each line."""

    def __init__(
        self, chunks: Iterable[bytes], on_output: OutputCallback, close: Callable[[], Any] | None = None
    ):
        self._chunks = chunks
        self._on_output = on_output
        self._close = close
        self._end = b""
        self._ended = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="sandbox-output", daemon=True)
        self._thread.start()

    def expect_end(self, marker: bytes) -> None:
        """Stop at `marker` (set before the sandbox can write it: before the job is handed over)."""
        self._end = marker

    def wait_end(self, timeout_s: float = END_S) -> bool:
        """Whether the end marker arrived (within `timeout_s`): everything before it has been handed on."""
        return self._ended.wait(timeout_s)

    def _pump(self) -> None:
        seen, pending, held = 0, b"", b""
        try:
            for chunk in self._chunks:
                if self._end:
                    data = held + chunk
                    at = data.find(self._end)
                    if at >= 0:
                        seen, pending = self._take(data[:at], seen, pending)
                        held = b""
                        self._ended.set()
                        break
                    chunk, held = _hold_back(data, self._end)
                seen, pending = self._take(chunk, seen, pending)
        except Exception:  # noqa: BLE001 - a broken display stream must never affect the execution
            pass
        if held:
            seen, pending = self._take(held, seen, pending)
        if pending:
            self._line(pending)

    def _take(self, chunk: bytes, seen: int, pending: bytes) -> tuple[int, bytes]:
        """Hand on the complete lines of `chunk` within HOST_MAX_BYTES; past it, drop (keep draining so
        the writer never blocks, show nothing more). Returns the new (seen, pending)."""
        if seen >= HOST_MAX_BYTES:
            return seen, pending
        chunk = chunk[: HOST_MAX_BYTES - seen]
        seen += len(chunk)
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            self._line(line)
        while len(pending) > MAX_LINE_CHARS * 4:
            self._line(pending[: MAX_LINE_CHARS * 4])
            pending = pending[MAX_LINE_CHARS * 4 :]
        return seen, pending

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


def _hold_back(data: bytes, marker: bytes) -> tuple[bytes, bytes]:
    """`data` split before its longest end that could begin `marker` (a marker split over two chunks);
    text rarely ends like a random marker begins, so lines are almost never held back."""
    for size in range(min(len(marker) - 1, len(data)), 0, -1):
        if data.endswith(marker[:size]):
            return data[:-size], data[-size:]
    return data, b""


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
