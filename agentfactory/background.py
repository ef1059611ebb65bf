"""Work made after its caller moved on: one thread per process makes what its owners queued.

An owner (an event log, an experience store) keeps its own queue of work, in order, and hands itself to
a `Maker` when it queues some: the maker's thread calls `make(owner)` at once, and at the interpreter's
exit `settle(owner)` for every owner that queued, so nothing queued is lost when a process ends. A
forked child starts its own thread on first use.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import threading
import weakref
from collections.abc import Callable
from typing import Any


class Maker:
    def __init__(self, name: str, make: Callable[[Any], None], settle: Callable[[Any], None]):
        self.name = name
        self._make = make
        self._settle = settle
        self._owners: weakref.WeakSet[Any] = weakref.WeakSet()  # owners that queued, settled at exit
        self._worker: tuple[int, queue.SimpleQueue[Any]] | None = None  # (pid, its thread's queue)
        self._lock = threading.Lock()

    def put(self, owner: Any) -> None:
        """Have `make(owner)` called on the maker's thread."""
        self._owners.add(owner)
        self._queue().put(owner)

    def _queue(self) -> queue.SimpleQueue[Any]:
        worker = self._worker
        if worker is not None and worker[0] == os.getpid():
            return worker[1]
        with self._lock:
            if self._worker is None or self._worker[0] != os.getpid():
                owners: queue.SimpleQueue[Any] = queue.SimpleQueue()
                threading.Thread(target=self._loop, args=(owners,), name=self.name, daemon=True).start()
                if self._worker is None:
                    atexit.register(self._settle_all)
                self._worker = (os.getpid(), owners)
            return self._worker[1]

    def _loop(self, owners: queue.SimpleQueue[Any]) -> None:
        while True:
            self._make(owners.get())

    def _settle_all(self) -> None:
        for owner in list(self._owners):
            with contextlib.suppress(Exception):
                self._settle(owner)
