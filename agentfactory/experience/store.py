"""The experience store: SQLite, derived from the agents' experience files in the library repository.

Opened for a library (`ExperienceStore.open(settings.paths, settings.policy)`), every record is first appended to this agent's
file, `<library>/experience/<agent>.jsonl` (the source of truth, shared by `library push/pull`), then
read into SQLite with the other agents' new lines (experience.sync). Every read first takes in what
the files gained, so pulled experience ranks search results, drives evolve and shows in `stats`.
Opened on a bare path (`ExperienceStore(path)`), the store keeps records in SQLite alone, as before.

Everyone's rows rank and inform; only trusted agents' rows earn trust (`successful_runs`, behind final
answers and deploy's maturity gate: experience.trust). The file itself (WAL, busy timeout, migrations,
typed errors) is experience.database's. This module never touches the library (lessons reach SKILL.md
only through `write_known_limitations`, which goes through the Library API).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from agentfactory.config import Paths, RunPolicy
from agentfactory.errors import AgentFactoryError, UsageError
from agentfactory.experience import journal, rows, trust
from agentfactory.experience import lessons as _lessons
from agentfactory.experience import sync as sync_
from agentfactory.experience.database import (
    DEFAULT_BUSY_TIMEOUT_S,
    Database,
    ExperienceStoreError,
    StoreCorruptError,
    StoreLockedError,
    StoreSchemaError,
)
from agentfactory.experience.records import DIRECT, EXECUTION_KINDS, USE, ExecutionRecord, RunRecord
from agentfactory.experience.trust import BAD_SCORE_BELOW
from agentfactory.library import experience_files as _files

if TYPE_CHECKING:
    from agentfactory.experience.recording import SubagentExecution

__all__ = [
    "BAD_SCORE_BELOW",
    "DEFAULT_BUSY_TIMEOUT_S",
    "EvolveCandidate",
    "ExperienceStore",
    "ExperienceStoreError",
    "StoreCorruptError",
    "StoreLockedError",
    "StoreSchemaError",
    "default_store_path",
]


class EvolveCandidate(NamedTuple):
    name: str
    failures: int
    last_failure_ts: float


def default_store_path(paths: Paths) -> Path:
    """`experience_db` when set, else `<library>.experience.sqlite` beside the library folder.

    Beside, not inside: the library is a git work tree that teams push and pull, and a live SQLite file
    (plus its -wal and -shm companions) must never be committed or overwritten by a pull.
    """
    if paths.experience_db:
        return Path(paths.experience_db)
    library = Path(paths.library)
    return library.parent / f"{library.name}.experience.sqlite"


_execution_from_row = rows.execution_from_row
_run_from_row = rows.run_from_row
_code_base = rows.code_base
_code_versions = rows.code_versions


class ExperienceStore(Database):
    """Executions, runs, feedback and lessons of every agent sharing one library."""

    def __init__(
        self,
        path: Path,
        timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
        *,
        library: Path | None = None,
        agent_id: str = "default",
        trusted_agents: Collection[str] = (),
    ):
        super().__init__(path, timeout_s)
        # With a library, the experience files in it are the source of truth and this file derives.
        self.library = Path(os.path.abspath(os.path.expanduser(str(library)))) if library else None
        self.agent_id = agent_id
        # Whose rows earn trust, besides this agent's own (see experience.trust).
        self.trusted_agents = tuple(trusted_agents)
        self._seen: tuple | None = None  # the files' signature at the last sync of this process
        self._library_ready = False

    @classmethod
    def open(
        cls, paths: Paths, policy: RunPolicy | None = None, *, path: Path | None = None
    ) -> ExperienceStore:
        """The store of this project (`paths`: the settings' paths group): derived from the experience
        files of `paths.library`, records written to the file of `policy.agent_id`, trust earned from
        that agent's rows and those of `policy.trusted_agents`."""
        policy = policy or RunPolicy()
        return cls(
            path or default_store_path(paths),
            library=paths.library,
            agent_id=policy.agent_id,
            trusted_agents=trust.parse_agents(policy.trusted_agents),
        )

    # -- connection and schema -------------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        """A store file, or experience files it can be built from."""
        if self.path.is_file():
            return True
        return self.library is not None and bool(_files.local_files(self.library))

    # -- the experience files ---------------------------------------------------------------------------

    def sync(self) -> sync_.SyncReport:
        """Take in what the experience files gained (every agent's), exporting a pre-files store once."""
        if self.library is None:
            return sync_.SyncReport()
        with self._lock:
            signature = sync_.signature(self.library)
            with self._write() as conn:
                report = sync_.SyncReport()
                if not sync_.needs_export(conn):
                    report = sync_.ingest(conn, self.library, self.trusted_sources())
                elif self._library_ready or _library_exists(self.library):
                    exported = sync_.export_legacy(conn, self.library, self.agent_id)
                    signature = sync_.signature(self.library)
                    report = sync_.ingest(
                        conn, self.library, self.trusted_sources()
                    )  # rebuilt from the files
                    report.exported = exported
                # else: no library yet, so no files; the rows written so far wait for their export
            self._seen = signature
            return report

    def _before_read(self) -> None:
        self._sync_if_changed()

    def _sync_if_changed(self) -> None:
        if self.library is not None and (self._seen is None or sync_.signature(self.library) != self._seen):
            self.sync()

    def bad_rows(self) -> dict[str, tuple[int, str | None]]:
        """Agent files with lines skipped as invalid: file -> (count, last reason)."""
        with self._read() as conn:
            if self.library is None:
                return {}
            return sync_.bad_rows(conn)

    def _append(self, line: bytes) -> None:
        """Write one record to this agent's file, then take it (and others' new lines) in; after the
        records queued before it (`Database.later`), so the file keeps their order."""
        assert self.library is not None
        self.settle()
        if not self._library_ready:
            from agentfactory.library import Library

            Library(self.library).ensure()  # the files live in its repository
            self._library_ready = True
            self.sync()  # a store older than the files is exported before the first new record
        try:  # what the team cannot read is not written, nor a row in another agent's name
            journal.parse_line(line.rstrip(b"\n"), agent_file=_files.file_name(self.agent_id))
        except journal.BadRow as exc:
            raise UsageError(f"Experience record not written: {exc}.") from None
        try:
            _files.append_line(self.library, self.agent_id, line)
        except OSError as exc:
            raise ExperienceStoreError(
                f"Cannot append to the experience file of {self.agent_id!r} in {self.library}: "
                f"{exc.strerror or exc}."
            ) from None
        self.sync()

    # -- writes -------------------------------------------------------------------------------------------

    def record_execution(self, record: ExecutionRecord) -> int:
        """Persist one subagent execution and fold it into the subagent's lessons; returns its row id.

        A validation execution (a gate or evolve checking a version on cases) is kept for the record but
        teaches no lesson: it replays inputs whose outcome is already known.
        """
        _check_quality(record.quality)
        if record.kind not in EXECUTION_KINDS:
            raise UsageError(f"Execution kind {record.kind!r} is not one of {', '.join(EXECUTION_KINDS)}.")
        if self.library is not None:
            uid = journal.new_uid()
            self._append(journal.execution_line(record, uid))
            with self._lock, self._translate():
                found = (
                    self._connection().execute("SELECT id FROM executions WHERE uid = ?", (uid,)).fetchone()
                )
            row_id = int(found[0]) if found else 0
        else:
            record.source = trust.LOCAL
            with self._write() as conn:
                row_id = rows.insert_execution(conn, record, None) or 0
        record.id = row_id
        return row_id

    def record_run(self, record: RunRecord) -> None:
        """Persist one run; recording the same run id again updates it and keeps its user feedback."""
        _check_quality(record.quality)
        if self.library is not None:
            self._append(journal.run_line(record, journal.new_uid()))
            return
        record.source = trust.LOCAL
        with self._write() as conn:
            rows.upsert_run(conn, record)

    def add_feedback(self, run_id: str, score: float | None = None, note: str | None = None) -> None:
        """User feedback on a run: the score (0-1) overrides automatic quality in statistics."""
        if score is None and not note:
            raise UsageError("Give a --score, a --note or both.")
        if score is not None and not 0.0 <= score <= 1.0:
            raise UsageError(f"Feedback score {score} is outside 0-1.")
        if self.get_run(run_id) is None:
            raise UsageError(
                f"No run '{run_id}' in the experience store {self.path}; see `agentfactory runs list`."
            )
        if self.library is not None:
            self._append(journal.feedback_line(run_id, score, note, time.time(), journal.new_uid()))
            return
        with self._write() as conn:
            rows.insert_feedback(conn, run_id, score, note, time.time(), None)

    def record_subagent_execution(self, execution: SubagentExecution) -> ExecutionRecord:
        """Record one sandbox execution, as the engine's execution path describes it."""
        from agentfactory.experience.recording import execution_record

        record = execution_record(execution)
        self.record_execution(record)
        return record

    def record_subagent_execution_later(
        self, execution: SubagentExecution | Callable[[], SubagentExecution]
    ) -> None:
        """`record_subagent_execution` made in the background (`Database.later`): the run's execution
        returns without waiting for the experience file and SQLite, and every read or write of this
        store after it sees the row. A failure is raised by the next one. `execution`: the record, or
        what makes it (called in the background too, so a run's execution does not even build it)."""
        make = execution if callable(execution) else lambda: execution
        self.later(lambda: self.record_subagent_execution(make()))

    def record_run_result(self, ctx: Any, result: Any) -> RunRecord:
        """Record one finished run from the Meta-Agent's run context and its RunResult."""
        from agentfactory.experience.recording import run_record

        record = run_record(ctx, result)
        self.record_run(record)
        return record

    # -- reads for the rest of the framework ---------------------------------------------------------------

    def success_rates(
        self, names: list[str] | None = None, version: int | None = None
    ) -> dict[str, tuple[int, int]]:
        """(executions, successes) per subagent over saved versions (all, or only `version`).

        Candidate executions (version None) are left out: failures while a subagent was being written
        say nothing about the saved one that retrieval ranks. Direct runs (MCP) are in: they ran the saved
        version on someone's real inputs. Every agent's rows rank; none of this earns trust.
        """
        sql = (
            "SELECT subagent, COUNT(*), SUM(success) FROM executions WHERE version IS NOT NULL "
            "AND kind IN (?, ?)"
        )
        params: list[Any] = [USE, DIRECT]
        if version is not None:
            sql += " AND version = ?"
            params.append(version)
        if names is not None:
            if not names:
                return {}
            sql += f" AND subagent IN ({', '.join('?' * len(names))})"
            params.extend(names)
        with self._read() as conn:
            rows = conn.execute(sql + " GROUP BY subagent", params).fetchall()
        return {row[0]: (int(row[1]), int(row[2] or 0)) for row in rows}

    def record_doc_version(self, name: str, version: int, same_code_as: int) -> None:
        """Note that `version` of `name` changed only documentation relative to `same_code_as`."""
        if self.library is not None:
            self._append(
                journal.doc_version_line(name, version, same_code_as, time.time(), journal.new_uid())
            )
            return
        with self._write() as conn:
            rows.insert_doc_version(conn, name, version, same_code_as, time.time())

    def code_versions(self, name: str, version: int) -> list[int]:
        """`version` and every version with the same code (doc-only descendants and their base), as this
        agent or a trusted agent recorded them."""
        with self._read() as conn:
            return _code_versions(conn, name, version, self.trusted_sources())

    def failures_since(self, name: str, version: int) -> list[ExecutionRecord]:
        """Failed executions of `name` at `version` or later, oldest first (evolve's evidence).

        A version that only changed documentation counts from the version whose code it shares.
        """
        with self._read() as conn:
            base = _code_base(conn, name, version, self.trusted_sources())
            rows = conn.execute(
                "SELECT * FROM executions WHERE subagent = ? AND version >= ? AND success = 0 "
                "AND kind = ? ORDER BY ts, id",
                (name, base, USE),
            ).fetchall()
        return [_execution_from_row(r) for r in rows]

    def rated_bad(self, name: str | None = None) -> list[ExecutionRecord]:
        """Successful executions made in runs the user rated bad (feedback score under BAD_SCORE_BELOW),
        oldest first; of `name` only when given. Failed ones are already in `failures_since`."""
        sql = (
            "SELECT e.* FROM executions e JOIN runs r ON r.run_id = e.run_id "
            "WHERE e.success = 1 AND e.kind = ? AND r.feedback_score IS NOT NULL AND r.feedback_score < ?"
        )
        params: list[Any] = [USE, BAD_SCORE_BELOW]
        if name is not None:
            sql += " AND e.subagent = ?"
            params.append(name)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY e.ts, e.id", params).fetchall()
        return [_execution_from_row(r) for r in rows]

    def evolve_candidates(
        self, current_versions: dict[str, int] | None = None, limit: int | None = None
    ) -> list[EvolveCandidate]:
        """Subagents with failures on their current version, most failures first, then most recent.

        The current version is the one given in `current_versions` (from the library), else the highest
        version executed; failures of older versions were already someone's evolve input.
        """
        with self._read() as conn:
            rows = conn.execute(
                "SELECT subagent, version, COUNT(*) AS n, MAX(ts) AS last FROM executions "
                "WHERE version IS NOT NULL AND success = 0 AND kind = ? GROUP BY subagent, version",
                (USE,),
            ).fetchall()
            latest = dict(
                conn.execute(
                    "SELECT subagent, MAX(version) FROM executions WHERE version IS NOT NULL AND kind = ? "
                    "GROUP BY subagent",
                    (USE,),
                ).fetchall()
            )
            latest.update(current_versions or {})
            trusted = (
                self.trusted_sources()
            )  # which versions share code is ours (or a trusted agent's) to say
            same_code = {name: set(_code_versions(conn, name, v, trusted)) for name, v in latest.items()}
        totals: dict[str, tuple[int, float]] = {}
        for r in rows:
            if r["version"] in same_code.get(r["subagent"], ()):
                n, last = totals.get(r["subagent"], (0, 0.0))
                totals[r["subagent"]] = (n + int(r["n"]), max(last, float(r["last"])))
        found = [EvolveCandidate(name, n, last) for name, (n, last) in totals.items()]
        found.sort(key=lambda c: (-c.failures, -c.last_failure_ts, c.name))
        return found[:limit] if limit else found

    def trusted_sources(self) -> list[str]:
        """The experience files whose rows earn trust (this agent's and `trusted_agents`')."""
        return trust.trusted_sources(self.agent_id, self.trusted_agents, self.library is not None)

    def successful_runs(
        self, name: str, version: int | None = None, *, exclude_run: str | None = None
    ) -> int:
        """Distinct successful task runs of `name` recorded by trusted agents: at `version` (or a version
        with the same code, or as the candidate a run saved as one of those) when given, else any. What
        counts and what never does is experience.trust's to say; `exclude_run` leaves one run out.
        """
        with self._read() as conn:
            return trust.successful_runs(conn, name, self.trusted_sources(), version, exclude_run)

    def executions(
        self,
        run_id: str | None = None,
        subagent: str | None = None,
        limit: int | None = None,
        kind: str | None = None,
    ) -> list[ExecutionRecord]:
        """Executions in time order, of every kind unless `kind` (USE or VALIDATION) is given."""
        sql, params = "SELECT * FROM executions WHERE 1 = 1", []
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind)
        if run_id is not None:
            sql += " AND run_id = ?"
            params.append(run_id)
        if subagent is not None:
            sql += " AND subagent = ?"
            params.append(subagent)
        sql += " ORDER BY ts, id"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._read() as conn:
            return [_execution_from_row(r) for r in conn.execute(sql, params).fetchall()]

    def count_executions(self) -> int:
        with self._read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM executions").fetchone()[0])

    def runs(self, agent_id: str | None = None) -> list[RunRecord]:
        """Runs in start order."""
        sql, params = "SELECT * FROM runs", []
        if agent_id is not None:
            sql += " WHERE agent_id = ?"
            params.append(agent_id)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY started, run_id", params).fetchall()
        return [_run_from_row(r) for r in rows]

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        return _run_from_row(row) if row else None

    def feedback(self, run_id: str) -> list[dict[str, Any]]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT score, note, ts FROM feedback WHERE run_id = ? ORDER BY ts, id", (run_id,)
            ).fetchall()
        return [dict(r) for r in rows]

    def run_series(self) -> list[dict[str, Any]]:
        """Per-run figures in start order (tokens, success, reuse, library size) for charts."""
        from agentfactory.experience.stats import run_series

        with self._read() as conn:
            return run_series(conn)

    # -- lessons -------------------------------------------------------------------------------------------

    def lessons(self, name: str) -> list[_lessons.Lesson]:
        with self._read() as conn:
            return _lessons.load(conn, name)

    def lessons_for(self, name: str) -> list[str]:
        """At most MAX_LESSONS one-line lessons for one subagent in play, strongest first."""
        return [lesson.text for lesson in self.lessons(name)]

    def lessons_for_many(self, names: list[str]) -> dict[str, list[str]]:
        """Lessons of the subagents in play only (never a global list)."""
        return {name: lines for name in names if (lines := self.lessons_for(name))}

    def update_known_limitations(self, library: Any, run_id: str, skip: Collection[str] = ()) -> list[Any]:
        """Write lessons into SKILL.md of the library subagents that failed in `run_id`.

        Meant for the end of a run (before `run_finished`): one library save per subagent whose lessons
        changed, returned as the library's SaveResults; candidates and removed subagents are skipped.
        """
        with self._read() as conn:
            names = [
                row[0]
                for row in conn.execute(
                    "SELECT DISTINCT subagent FROM executions WHERE run_id = ? AND success = 0 "
                    "AND version IS NOT NULL AND kind = ? ORDER BY subagent",
                    (run_id, USE),
                )
            ]
        results = []
        for name in names:
            if name in skip:  # revised and saved in this run: its old failures are not its lessons
                continue
            try:
                result = _lessons.write_known_limitations(library, self, name, run_id=run_id)
            except AgentFactoryError:
                continue  # removed from the library since, or not valid any more: nothing to annotate
            if result is not None:
                results.append(result)
        return results

    # -- statistics ----------------------------------------------------------------------------------------

    def stats(self, agent_id: str | None = None, window: int = 20) -> dict[str, Any]:
        """Per subagent and version, per agent, team and trend figures (see experience.stats)."""
        from agentfactory.experience.stats import compute_stats

        if window < 1:
            raise UsageError("--window must be at least 1.")
        with self._read() as conn:
            return compute_stats(conn, agent_id=agent_id, window=window)


def _library_exists(path: Path) -> bool:
    from agentfactory.library.store import MARKER

    return (path / MARKER).is_file() and (path / ".git").is_dir()


def _check_quality(quality: float | None) -> None:
    if quality is not None and not 0.0 <= quality <= 1.0:
        raise UsageError(f"Quality {quality} is outside 0-1.")
