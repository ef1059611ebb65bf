"""Threads the main thread waits for while a Ctrl-C (or SIGTERM, SIGHUP: the batch driver turns them into
one) may arrive.

`Thread.join(timeout)` is not safe to interrupt on Python 3.11: a KeyboardInterrupt raised while it
waits marks a thread that still runs as ended (the handler added for bpo-45274 releases the running
thread's own lock), and every later join returns at once. A driver that joined its slots, was
interrupted, then joined them again to let their workers end cleanly, killed the workers instead. A
thread started here sets an event when its target returns, and the main thread waits on the event, in
short steps: a signal delivered to another thread wakes no untimed wait of the main thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

_STEP_S = 0.2


def start(target: Callable[..., Any], *args: Any) -> threading.Event:
    """Run `target(*args)` in a daemon thread; the event is set once it returned or raised."""
    done = threading.Event()

    def run() -> None:
        try:
            target(*args)
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    return done


def wait_all(done: Iterable[threading.Event], timeout: float | None = None) -> bool:
    """Wait until every event is set (True) or `timeout` seconds passed (False). A KeyboardInterrupt
    stops the wait and leaves the threads as they are."""
    deadline = None if timeout is None else time.monotonic() + timeout
    for event in done:
        while not event.is_set():
            left = _STEP_S if deadline is None else deadline - time.monotonic()
            if left <= 0:
                return False
            event.wait(min(_STEP_S, left))
    return True
