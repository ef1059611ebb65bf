"""What the runner reports to the host: its completion token on the FIFO `ctl/done` (DoneChannel) and
the report files (status, result, stream tails), decoded with every field checked: the subagent can write
them too, so nothing in them is trusted.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import threading
from typing import Any

from agentfactory.sandbox import trace as t


class StopSignal:
    """Set by a backend's close(): a thread waiting in `wait` or in a DoneChannel's `ready` wakes at once
    (a readable pipe), instead of at the next tick of its timeout. `close()` once those threads ended."""

    def __init__(self) -> None:
        self.fd, self._write = os.pipe2(os.O_CLOEXEC)
        self._event = threading.Event()

    def set(self) -> None:
        if not self._event.is_set():
            self._event.set()
            os.write(self._write, b"x")  # stays readable: every later select sees it

    def is_set(self) -> bool:
        return self._event.is_set()

    def wait(self, timeout_s: float) -> bool:
        return self._event.wait(timeout_s)

    def close(self) -> None:
        for fd in (self.fd, self._write):
            with contextlib.suppress(OSError):
                os.close(fd)


class DoneChannel:
    """The runner's completion report (runner.py --done), read by the host from the FIFO `ctl/done`.

    `arm()` makes the token handed over before the job; `read()` drains the FIFO and is True once that
    token arrived. The subagent can write to the FIFO too (never read it): what it writes is junk, read
    and dropped up to JUNK_BYTES, after which the channel stops being watched (`watching` False) and
    only the sandbox's exit ends the execution.
    """

    TOKEN_BYTES = 32
    JUNK_BYTES = 1 << 20

    def __init__(self, jd: Any):  # a JobDir
        self.fd = jd.open_done()
        self.token = b""
        self.watching = False
        self._seen = b""  # the last bytes read (a token split over two reads)
        self._junk = 0

    def ready(self, timeout_s: float, stop: StopSignal | None = None) -> bool:
        """Wait for the runner's readiness byte (written before it waits for its job, warm imports done);
        False at once when `stop` is set. Only a sandbox started ahead waits for it; a false one from the
        sandbox is impossible then (no subagent runs yet) and would only make the next execution wait
        for the runner."""
        fds = [self.fd] if stop is None else [self.fd, stop.fd]
        ready = select.select(fds, [], [], max(0.0, timeout_s))[0]
        if stop is not None and stop.fd in ready:
            return False
        if ready:
            with contextlib.suppress(OSError):
                return bool(os.read(self.fd, 1))
        return False

    def arm(self) -> bytes:
        self.token = os.urandom(self.TOKEN_BYTES)
        self.watching = self.fd >= 0
        return self.token

    def read(self) -> bool:
        while self.watching:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return False
            except OSError:
                self.watching = False
                return False
            if not chunk:
                return False
            data = self._seen + chunk
            if self.token in data:
                return True
            self._junk += len(chunk)
            self.watching = self._junk <= self.JUNK_BYTES
            self._seen = data[-self.TOKEN_BYTES :]
        return False

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        self.watching = False
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 62 else 0


def decode_status(data: bytes | None) -> dict[str, Any] | None:
    """The runner's status report with every field checked (the subagent can write it): None if absent."""
    value = _loads(data, 1 << 16)
    if not isinstance(value, dict):
        return None
    sig = value.get("signal")
    code = value.get("exit_code")
    return {
        "exit_code": code
        if isinstance(code, int) and not isinstance(code, bool) and -1 <= code < 256
        else None,
        "signal": sig if isinstance(sig, int) and not isinstance(sig, bool) and 0 < sig < 128 else None,
        "maxrss_kb": _count(value.get("maxrss_kb")),
        "stdout_bytes": _count(value.get("stdout_bytes")),
        "stderr_bytes": _count(value.get("stderr_bytes")),
        "stream_flood": value.get("stream_flood") is True,
        "stopped": value.get("stopped") is True,
    }


class _Refused(ValueError):
    pass


def _loads(data: bytes | None, limit: int) -> Any:
    """JSON within `limit` bytes, or a _Refused/None. Lone surrogates and undecodable text become U+FFFD,
    so every string can be written as UTF-8. NaN and infinities stay floats: the orchestrator refuses them
    as a final answer, and whoever writes JSON decides how to show them."""
    if data is None or len(data) > limit:
        return None
    try:
        text = data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        text = data.decode("utf-8", "replace")
    try:
        value = json.loads(text)
    except RecursionError:
        return _Refused("the result is nested too deeply")
    except (ValueError, TypeError):
        return _Refused("the result file is not valid JSON")
    return _clean_strings(value)


def _clean_strings(value: Any) -> Any:
    """Replace lone surrogates in every string and key, iteratively (the value may be deep)."""

    def clean(s: str) -> str:
        try:
            s.encode("utf-8")
            return s
        except UnicodeEncodeError:
            return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in s)

    if isinstance(value, str):
        return clean(value)
    if not isinstance(value, dict | list):
        return value
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            for i, child in enumerate(item):
                if isinstance(child, str):
                    item[i] = clean(child)
                elif isinstance(child, dict | list):
                    stack.append(child)
        else:
            for key in list(item):
                child = item[key]
                if isinstance(child, str):
                    child = clean(child)
                elif isinstance(child, dict | list):
                    stack.append(child)
                new_key = clean(key)
                if new_key != key:
                    del item[key]
                item[new_key] = child
    return value


def decode_result(data: bytes | None, limit: int) -> dict[str, Any] | str | None:
    """The runner's result: a dict, a refusal sentence, or None when there is none."""
    if data is None:
        return None
    if len(data) > limit:
        return f"the result file exceeds {limit} bytes"
    value = _loads(data, limit)
    if isinstance(value, _Refused):
        return str(value)
    if not isinstance(value, dict):
        return "the result file is not a JSON object"
    if t.max_depth_exceeded(value, t.DEFAULT_RESULT_MAX_DEPTH + 2):
        return "the result is nested too deeply"
    return value


def stream_tail(data: bytes | None, cap: int, total: int) -> str:
    data = (data or b"")[-cap:] if cap else b""
    text = data.decode("utf-8", errors="replace")
    if total > len(data):
        text = f"[... {total - len(data)} bytes cut; {total} bytes in total ...]\n" + text
    return text
