"""Bring the SQLite store up to date with the experience files of the library (the source of truth).

Like the search index, the store is derived data: `ingest` reads what each agent file gained since the
last time (the files only grow, so a byte offset per file is enough), and rebuilds everything from the
files when one was rewritten rather than appended to (its already-read part changed). A missing file
removes nothing. Lines from other agents are hostile: a bad line is skipped, counted per file and
reported (`SyncReport`, and `bad_rows` in the store's `sources` table); a file over the size bound is not
read at all. Every row is tagged with the file it came from (its `source`), and an execution or run row
claiming another agent than its file's is a bad line. Everything runs inside the store's write
transaction, so two processes never ingest the same bytes twice, and a crash leaves the previous state.

`export_legacy` is the one-time migration of a store written before the files existed: its rows are
appended to their agents' files (with stable uids, so a repeated export after a crash adds nothing
twice), then the store is rebuilt from the files, so every row has its source.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Collection
from dataclasses import field
from pathlib import Path

from agentfactory.experience import journal, rows
from agentfactory.library import experience_files
from agentfactory.records import record

_HEAD = 4096  # bytes of a file's start whose digest tells a rewrite from an append
_TAIL = 256  # bytes before the read offset, likewise
_SHOWN_REASON = 120


@record
class SyncReport:
    records: dict[str, int] = field(default_factory=dict)  # file -> records newly taken in
    bad_rows: dict[str, int] = field(default_factory=dict)  # file -> lines skipped in this sync
    reasons: dict[str, str] = field(default_factory=dict)  # file -> why the last bad line was skipped
    refused: dict[str, str] = field(default_factory=dict)  # file -> why it was not read at all
    rebuilt: bool = False
    exported: int = 0  # rows of a store older than the files, written into this agent's file

    def summary(self) -> str:
        parts = []
        if self.exported:
            parts.append(f"{self.exported} records of the existing store exported to this agent's file")
        if self.records:
            total = sum(self.records.values())
            parts.append(f"{total} new records from {', '.join(sorted(self.records))}")
        for name, count in sorted(self.bad_rows.items()):
            parts.append(f"{count} bad rows skipped in {name} ({self.reasons.get(name, 'invalid')})")
        for name, why in sorted(self.refused.items()):
            parts.append(f"{name} not read: {why}")
        if self.rebuilt:
            parts.append("store rebuilt from the files")
        return "; ".join(parts) or "up to date"


def _digest(data: bytes) -> str:
    import hashlib  # on first use: OpenSSL's bindings are 4 ms a run's start need not pay

    return hashlib.sha256(data).hexdigest()


def _read(path: Path, start: int, size: int) -> bytes:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        fh.seek(start)
        return fh.read(max(0, size - start))


def _marks(path: Path, offset: int) -> tuple[str, str]:
    head = _read(path, 0, min(offset, _HEAD))
    tail = _read(path, max(0, offset - _TAIL), offset)
    return _digest(head), _digest(tail)


def signature(library_path: Path) -> tuple[tuple[str, int, int], ...]:
    """(name, size, mtime) of every agent file: unchanged means nothing to ingest."""
    out = []
    for path in experience_files.local_files(library_path):
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((path.name, st.st_size, st.st_mtime_ns))
    return tuple(out)


_TAGGED = "rows_have_sources"  # store_meta: every row was read with its source (schema 6 onwards)


def ingest(conn: sqlite3.Connection, library_path: Path, first: Collection[str] = ()) -> SyncReport:
    """Read what the files gained. `first`: files read before the others (this agent's and trusted ones),
    so a run id another file copies from them is theirs in a rebuild too (the first source to record a
    run id owns it: experience.rows)."""
    report = SyncReport()
    # Rows read before sources were kept (or written to a bare store, then exported) are read again.
    tagged = conn.execute("SELECT 1 FROM store_meta WHERE key = ?", (_TAGGED,)).fetchone() is not None
    if not tagged or not _ingest(conn, library_path, report, first):
        _clear(conn)
        report = SyncReport(rebuilt=tagged or report.rebuilt)
        _ingest(conn, library_path, report, first)
        conn.execute("INSERT OR REPLACE INTO store_meta (key, value) VALUES (?, '1')", (_TAGGED,))
    return report


def _clear(conn: sqlite3.Connection) -> None:
    for table in ("executions", "runs", "feedback", "lessons", "doc_versions", "sources"):
        conn.execute(f"DELETE FROM {table}")


def _ingest(conn: sqlite3.Connection, library_path: Path, report: SyncReport, first: Collection[str]) -> bool:
    """Read every file's new lines; False when a file was rewritten (the caller rebuilds)."""
    known = {r["file"]: r for r in conn.execute("SELECT * FROM sources").fetchall()}
    found = experience_files.local_files(library_path)
    for path in sorted(found, key=lambda p: (p.name not in first, p.name)):
        name = path.name
        try:
            st = path.stat()
        except OSError:
            continue
        src = known.get(name)
        if src is not None and src["size"] == st.st_size and src["mtime_ns"] == st.st_mtime_ns:
            continue
        if st.st_size > experience_files.MAX_FILE_BYTES:
            report.refused[name] = f"{st.st_size} bytes, over the {experience_files.MAX_FILE_BYTES} limit"
            continue
        start = int(src["ingested"]) if src is not None else 0
        if src is not None and (
            st.st_size < start or _marks(path, start) != (src["head_digest"], src["tail_digest"])
        ):
            return False
        data = _read(path, start, st.st_size)
        end = data.rfind(b"\n") + 1  # a line still being written is read next time
        taken, bad, last_bad = 0, 0, None
        for raw in data[:end].split(b"\n")[:-1]:
            if not raw.strip():
                continue
            try:
                entry = journal.parse_line(raw, agent_file=name)
            except journal.BadRow as exc:
                bad, last_bad = bad + 1, str(exc)[:_SHOWN_REASON]
                continue
            taken += _apply(conn, entry, name)
        offset = start + end
        head, tail = _marks(path, offset)
        conn.execute(
            "INSERT INTO sources (file, ingested, size, mtime_ns, head_digest, tail_digest, records, "
            "bad_rows, last_bad) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (file) DO UPDATE SET "
            "ingested = excluded.ingested, size = excluded.size, mtime_ns = excluded.mtime_ns, "
            "head_digest = excluded.head_digest, tail_digest = excluded.tail_digest, "
            "records = records + excluded.records, bad_rows = bad_rows + excluded.bad_rows, "
            "last_bad = COALESCE(excluded.last_bad, last_bad)",
            (name, offset, st.st_size, st.st_mtime_ns, head, tail, taken, bad, last_bad),
        )
        if taken:
            report.records[name] = taken
        if bad:
            report.bad_rows[name] = bad
            report.reasons[name] = last_bad or "invalid"
    return True


def _apply(conn: sqlite3.Connection, entry: journal.Entry, source: str) -> int:
    """Write one parsed line read from the file `source`; 1 when it added something new, 0 for a copy
    already there."""
    if entry.type == journal.EXECUTION:
        entry.record.source = source
        return int(rows.insert_execution(conn, entry.record, entry.uid) is not None)
    if entry.type == journal.RUN:
        entry.record.source = source
        rows.upsert_run(conn, entry.record)
        return 1
    if entry.type == journal.FEEDBACK:
        r = entry.record
        rows.insert_feedback(conn, r["run_id"], r["score"], r["note"], r["ts"], entry.uid, source)
        return 1
    r = entry.record
    rows.insert_doc_version(conn, r["subagent"], r["version"], r["same_code_as"], r["ts"], source)
    return 1


def bad_rows(conn: sqlite3.Connection) -> dict[str, tuple[int, str | None]]:
    """Files with skipped lines since the store was built: file -> (count, last reason)."""
    found = conn.execute("SELECT file, bad_rows, last_bad FROM sources WHERE bad_rows > 0 ORDER BY file")
    return {r[0]: (int(r[1]), r[2]) for r in found.fetchall()}


# ------------------------------------------------------------------------------------------ migration

_EXPORTED = "legacy_exported"


def _legacy_uid(kind: str, row: sqlite3.Row) -> str:
    fields = {k: row[k] for k in row.keys() if k != "uid"}  # noqa: SIM118 (a Row iterates its values)
    text = json.dumps(fields, sort_keys=True, default=str)
    return f"legacy-{kind}-" + _digest(text.encode("utf-8", "surrogatepass"))[:32]


def needs_export(conn: sqlite3.Connection) -> bool:
    return conn.execute("SELECT 1 FROM store_meta WHERE key = ?", (_EXPORTED,)).fetchone() is None


def export_legacy(conn: sqlite3.Connection, library_path: Path, agent_id: str) -> int:
    """Append every row of a store older than the files to the files, once, then have the store rebuilt
    from them. Executions and runs go to the file of their own agent id (a file speaks for its agent
    alone; the agents sharing a store before the files existed were this machine's), feedback and
    doc-version rows to this agent's. Returns the number of records written (0 for a store that has none).
    """
    lines: dict[str, list[bytes]] = {}

    def add(agent: str, line: bytes) -> None:
        lines.setdefault(agent, []).append(line)

    for row in conn.execute("SELECT * FROM executions WHERE uid IS NULL ORDER BY id").fetchall():
        record = rows.execution_from_row(row)
        add(record.agent_id, journal.execution_line(record, _legacy_uid("execution", row)))
    for row in conn.execute("SELECT * FROM runs ORDER BY started, run_id").fetchall():
        record = rows.run_from_row(row)
        add(record.agent_id, journal.run_line(record, _legacy_uid("run", row)))
        if record.feedback_score is not None or record.feedback_note:
            has = conn.execute("SELECT 1 FROM feedback WHERE run_id = ?", (record.run_id,)).fetchone()
            if has is None:  # feedback set on the run row alone: keep it as one feedback record
                ts = record.finished or record.started
                line = journal.feedback_line(
                    record.run_id, record.feedback_score, record.feedback_note, ts, _legacy_uid("fb-run", row)
                )
                add(agent_id, line)
    for row in conn.execute("SELECT * FROM feedback WHERE uid IS NULL ORDER BY id").fetchall():
        uid = _legacy_uid("feedback", row)
        add(agent_id, journal.feedback_line(row["run_id"], row["score"], row["note"], row["ts"], uid))
    for row in conn.execute("SELECT * FROM doc_versions ORDER BY subagent, version").fetchall():
        line = journal.doc_version_line(
            row["subagent"], row["version"], row["same_code_as"], row["ts"], _legacy_uid("doc", row)
        )
        add(agent_id, line)
    # The files first, then the mark: a crash in between exports again with the same uids, and the
    # copies are ignored when read. The rows themselves are read back from the files (rebuilt, below).
    for agent in sorted(lines):
        experience_files.append_line(library_path, agent, b"".join(lines[agent]))
    total = sum(len(v) for v in lines.values())
    conn.execute("INSERT OR REPLACE INTO store_meta (key, value) VALUES (?, ?)", (_EXPORTED, str(total)))
    conn.execute("DELETE FROM store_meta WHERE key = ?", (_TAGGED,))
    return total
