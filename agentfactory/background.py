"""Work made after its caller moved on: one thread per process makes what its owners queued.

An owner (an event log, an experience store) keeps its own queue of work (`Queued`), in order, and hands
itself to the process's `MAKER` when it queues some: the maker's thread calls `owner.make_queued()` at
once, and at the interpreter's exit `owner.settle_queued()` for every owner that queued, so nothing queued
is lost when a process ends. A forked child starts its own thread on first use, and its owners make their
locks anew (`after_fork`): the parent's thread may have held one at the fork, which in the child no
thread would ever release.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any


class Maker:
    """The thread that makes the owners' queued work. An owner has `make_queued()` (make what is
    queued, under its own lock; a failure kept for its next caller), `settle_queued()` (the same, on
    the caller's thread, at the interpreter's exit) and `after_fork()` (in a forked child, its locks
    made anew)."""

    def __init__(self, name: str):
        self.name = name
        self._owners: weakref.WeakSet[Any] = weakref.WeakSet()  # owners that queued, settled at exit
        self._worker: tuple[int, queue.SimpleQueue[Any]] | None = None  # (pid, its thread's queue)
        self._lock = threading.Lock()
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: (maker := ref()) is not None and maker._after_fork())

    def put(self, owner: Any) -> None:
        """Have `owner.make_queued()` called on the maker's thread."""
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
            owners.get().make_queued()

    def _after_fork(self) -> None:
        """In a forked child, only the thread that forked goes on: a lock our thread held then stays
        held. Ours and those of the owners that queued (the ones our thread takes) are made anew."""
        self._lock = threading.Lock()
        for owner in list(self._owners):
            owner.after_fork()

    def _settle_all(self) -> None:
        for owner in list(self._owners):
            with contextlib.suppress(Exception):
                owner.settle_queued()


class Queued:
    """An owner's work queued for its Maker, made in order by whoever holds the owner's lock: the maker's
    thread, or a caller that needs it done now. A failure is kept for the owner's next caller
    (`take_error`); the rest is still made. A forked child drops what its parent queued."""

    def __init__(self) -> None:
        self._work: deque[Callable[[], object]] = deque()
        self._pid = os.getpid()
        self._making = False
        self._error: BaseException | None = None

    def add(self, work: Callable[[], object]) -> None:
        self._own()
        self._work.append(work)

    def __bool__(self) -> bool:
        """Whether work is queued, or being made (a caller that must see it waits for the owner's lock)."""
        return bool(self._work) and self._pid == os.getpid()

    def make(self) -> None:
        """Make the queued work in order; the caller holds the owner's lock. Re-entered from a work item
        (its own emit, read or write), it returns and the outer call goes on."""
        self._own()
        if self._making:
            return
        self._making = True
        try:
            while self._work:
                try:
                    self._work[0]()  # left queued while it is made: `bool` is true until it is done
                except Exception as exc:  # noqa: BLE001 - handed to the owner's next caller
                    self._error = self._error or exc
                finally:
                    self._work.popleft()
        finally:
            self._making = False

    def take_error(self) -> BaseException | None:
        """The first error a work item met, once; None while the work is being made (a work item's own
        call does not raise it)."""
        if self._making:
            return None
        error, self._error = self._error, None
        return error

    def _own(self) -> None:
        if self._pid != os.getpid():
            self._work, self._pid, self._making, self._error = deque(), os.getpid(), False, None


MAKER = Maker("agentfactory-later")  # the process's one background thread
