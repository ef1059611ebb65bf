"""The backend interface every sandbox implements, and what both share."""

from __future__ import annotations

import os
import re
import shutil
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from agentfactory.errors import SandboxError
from agentfactory.sandbox.trace import ExecutionRequest, ExecutionTrace

PRELOAD_MIN_MB = 256  # below this memory limit, warm imports would take too much of the subagent's share
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")

# The environment a subagent sees, whole: nothing from the host is passed through.
SANDBOX_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "MPLBACKEND": "Agg",
    "MPLCONFIGDIR": "/tmp/matplotlib",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONHASHSEED": "0",
}


def preload_modules(spec: str) -> str:
    """The setting `sandbox_preload` checked: comma-separated module names ("" = none)."""
    names = [name.strip() for name in spec.split(",") if name.strip()]
    for name in names:
        if not _MODULE.fullmatch(name) or len(name) > 100:
            from agentfactory.errors import InvalidSetting

            raise InvalidSetting(
                f"Setting 'sandbox_preload' holds {name[:100]!r}, which is not a module name: give "
                "comma-separated module names, e.g. 'numpy,pandas,matplotlib', or '' for none."
            )
    return ",".join(names)


def local_bwrap(use_bwrap: bool | None = None) -> str | None:
    """The bubblewrap the local backend runs subagents in (None: none, plain processes), or SandboxError
    when it may not run them: bubblewrap asked for (`use_bwrap`) and missing, or root without it."""
    bwrap = shutil.which("bwrap") if use_bwrap is not False else None
    if use_bwrap and not bwrap:
        raise SandboxError("bubblewrap (bwrap) is not installed: apt-get install bubblewrap.")
    if os.geteuid() == 0 and not bwrap:
        raise SandboxError(
            "--sandbox local refuses to run subagents as root without bubblewrap (they would have root's "
            "access to this machine): install bubblewrap (apt-get install bubblewrap) or use --sandbox docker."
        )
    return bwrap


def hand_back(req: ExecutionRequest, trace: ExecutionTrace) -> ExecutionTrace:
    """The finished trace, settled (broker.settle_trace), to the request's `on_finished`: a backend calls
    it before it starts its background work (teardown, refill)."""
    from agentfactory.sandbox.broker import settle_trace

    settle_trace(trace)
    if req.on_finished is not None:
        req.on_finished(trace)
    return trace


class Backend(Protocol):
    """`execute` runs one request to its end and returns the trace. When the request has `on_output`
    (live_output.OutputCallback), the subagent's stdout lines are also passed to it while it runs,
    bounded, for display only."""

    name: str
    isolation: str

    def execute(self, req: ExecutionRequest) -> ExecutionTrace: ...

    def close(self) -> None: ...


class SandboxInterrupted(KeyboardInterrupt):
    """Raised by `execute` after a KeyboardInterrupt (or SIGTERM in the CLI) removed the sandbox.

    It is a KeyboardInterrupt so that Ctrl-C keeps stopping the caller; `.trace` has status interrupted.
    """

    def __init__(self, trace: ExecutionTrace):
        super().__init__("execution interrupted")
        self.trace = trace


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """In the CLI: SIGTERM interrupts like Ctrl-C, so the sandbox is removed before the process exits."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
