"""One SQLite file shared by several processes: opening it, its schema version, and typed failures.

Writers are several processes at once (agents of a team, parallel benchmark workers), so the file runs in
WAL mode with a busy timeout, and every write is one short `BEGIN IMMEDIATE` transaction. The schema is
versioned (`PRAGMA user_version`, experience.schema) and migrated in one write transaction. Any SQLite
failure leaves here as a typed error naming the file. It knows nothing of what the tables hold.

A write may also be made after its caller moved on (`Database.later`: a run's execution record, made
while the run asks its model for the next step): one thread per process makes them at once, in the order
queued, and every read or write of the store, `settle()` and `close()` make what is still queued first,
on the caller's thread if need be, so nobody reads the store without them.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from agentfactory.background import MAKER, Queued
from agentfactory.errors import EXIT_CONFIG, EXIT_TASK_FAILED, AgentFactoryError
from agentfactory.experience.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

DEFAULT_BUSY_TIMEOUT_S = 15.0


class ExperienceStoreError(AgentFactoryError):
    """The experience store cannot be used; the library is unaffected."""

    exit_code = EXIT_CONFIG


class StoreSchemaError(ExperienceStoreError):
    """The file was written by a newer AgentFactory, or is not an experience store at all."""


class StoreCorruptError(ExperienceStoreError):
    """SQLite says the file is not a database or is malformed."""


class StoreLockedError(ExperienceStoreError):
    """Another process held the write lock for longer than the busy timeout."""

    exit_code = EXIT_TASK_FAILED


class Database:
    """The experience store's file: a connection per process, read and write transactions."""

    def __init__(self, path: Path, timeout_s: float = DEFAULT_BUSY_TIMEOUT_S):
        self.path = Path(path)
        self.timeout_s = timeout_s
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._lock = threading.RLock()  # held by whoever uses the connection, queued writes included
        self._later = Queued()

    # -- writes made after the caller moved on ------------------------------------------------------

    def later(self, work: Callable[[], object]) -> None:
        """Make `work` (a write of this store) once the caller has moved on: a background thread makes
        it at once. It is made before any later read or write of this store (`settle`), and at the
        interpreter's exit. If it fails, the next reader or writer raises its error."""
        self._later.add(work)
        MAKER.put(self)

    def settle(self) -> None:
        """Make what `later` queued, now, on this thread if the background one has not (waiting for a
        write it is making); raise the first error one of them met."""
        if self._later:
            self.make_queued()
        error = self._later.take_error()
        if error is not None:
            raise error

    def make_queued(self) -> None:
        """What the background thread calls (background.MAKER): the queued writes made; an error is
        kept for the store's next reader or writer."""
        with self._lock:
            self._later.make()

    def settle_queued(self) -> None:
        """What is still queued at the interpreter's exit, made then."""
        self.settle()

    def after_fork(self) -> None:
        """In a forked child (background.MAKER calls it): the lock anew, as the parent's background
        thread may have held it; the child opens its own connection (`_connection`)."""
        self._lock = threading.RLock()

    def close(self) -> None:
        with contextlib.suppress(Exception):  # made, or its error dropped: nobody is left to learn it
            self.settle()
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connection(self) -> sqlite3.Connection:
        # A connection is not shared across fork: a child process opens its own.
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        if self.path.exists() and not self.path.is_file():
            raise ExperienceStoreError(f"Experience store path {self.path} exists but is not a file.")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ExperienceStoreError(
                f"Cannot create the folder of the experience store {self.path}: {exc.strerror}."
            ) from None
        with self._translate():
            conn = sqlite3.connect(
                self.path, timeout=self.timeout_s, isolation_level=None, check_same_thread=False
            )
            conn.row_factory = sqlite3.Row
            try:
                self._retry_busy(lambda: self._prepare(conn))
            except BaseException:
                conn.close()
                raise
        self._conn, self._pid = conn, os.getpid()
        return conn

    def _retry_busy(self, action: Any) -> Any:
        """Run `action`, retrying while SQLite reports busy, up to the store's timeout.

        The busy handler covers most waits, but not all: switching a fresh file to WAL while another
        process opens it, or WAL recovery, can report SQLITE_BUSY at once. Those are retried here.
        """
        deadline = time.monotonic() + self.timeout_s
        delay = 0.005
        while True:
            try:
                return action()
            except sqlite3.OperationalError as exc:
                text = str(exc)
                if not ("locked" in text or "busy" in text) or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.25)

    def _prepare(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
        self._check_version(conn)
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            self._migrate(conn)

    def _check_version(self, conn: sqlite3.Connection) -> int:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if app_id not in (0, APPLICATION_ID):
            raise StoreSchemaError(
                f"{self.path} is an SQLite database of another application, not an experience store: "
                "point `experience_db` at another file."
            )
        if version > SCHEMA_VERSION:
            raise StoreSchemaError(
                f"Experience store {self.path} has schema version {version}, newer than version "
                f"{SCHEMA_VERSION} that this AgentFactory understands: upgrade AgentFactory to use it."
            )
        if version == 0 and app_id == 0:
            tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
            if tables and conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID:
                # Another process created the store between our reads (its migration commits the tables
                # and the version at once): read it again as it is now.
                return self._check_version(conn)
            if tables:
                raise StoreSchemaError(
                    f"{self.path} is an SQLite database with tables but no experience-store schema: "
                    "point `experience_db` at another file."
                )
        return version

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            current = self._check_version(conn)
            for number in range(current + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[number - 1]:
                    conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @contextmanager
    def _translate(self) -> Iterator[None]:
        """Turn SQLite failures into one typed sentence that names the file."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            text = str(exc)
            if "locked" in text or "busy" in text:
                raise StoreLockedError(
                    f"Experience store {self.path} stayed locked by another process for more than "
                    f"{self.timeout_s:g} s: retry, or find the process holding it."
                ) from None
            if "malformed" in text or "not a database" in text:
                raise self._corrupt(text) from None
            raise ExperienceStoreError(f"Experience store {self.path} failed: {text}.") from None
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(str(exc)) from None

    def _corrupt(self, text: str) -> StoreCorruptError:
        return StoreCorruptError(
            f"Experience store {self.path} is corrupt ({text}): move it aside to start a new one "
            "(the library is unaffected)."
        )

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        self.settle()
        with self._lock, self._translate():
            conn = self._connection()
            self._retry_busy(lambda: conn.execute("BEGIN IMMEDIATE"))
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _before_read(self) -> None:
        """Called before every read transaction (the store takes in the experience files' new lines)."""

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        # One deferred transaction: every query of a read sees the same snapshot, taken after
        # `_before_read`, and after the writes queued before it.
        self.settle()
        self._before_read()
        with self._lock, self._translate():
            conn = self._connection()
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                if conn.in_transaction:
                    conn.execute("COMMIT")

    def schema_version(self) -> int:
        with self._read() as conn:
            return conn.execute("PRAGMA user_version").fetchone()[0]

    def check(self) -> None:
        """Full integrity check; raises StoreCorruptError on any finding."""
        with self._read() as conn:
            result = [row[0] for row in conn.execute("PRAGMA quick_check")]
        if result != ["ok"]:
            raise self._corrupt("; ".join(result[:3]))
