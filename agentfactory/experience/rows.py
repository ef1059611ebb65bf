"""Records to SQLite rows and back: the one place that writes the store's tables.

Both paths use these functions: a store without experience files (a bare `ExperienceStore(path)`) writes
records directly, a store attached to a library ingests them from the agents' files (experience.sync).
Each runs inside the caller's write transaction. A record that carries a uid is written at most once,
whatever number of copies of its line arrive. Every row keeps its `source` (the agent file it was read
from): a run id is owned by the first source that recorded it, and a run's feedback from its own source
wins over anyone else's, whatever the timestamps say.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection
from dataclasses import fields
from typing import Any

from agentfactory.experience import lessons as _lessons
from agentfactory.experience.records import USE, ExecutionRecord, RunRecord

# Column names are the record fields: one source of truth for what a row holds.
EXEC_COLUMNS = [f.name for f in fields(ExecutionRecord) if f.name != "id"]
RUN_COLUMNS = [f.name for f in fields(RunRecord) if not f.name.startswith("feedback_")]
LIST_COLUMNS = ("subagents_created", "subagents_reused", "subagents_saved")
JSON_COLUMNS = (*LIST_COLUMNS, "saved_versions")


def execution_from_row(row: sqlite3.Row) -> ExecutionRecord:
    data = {k: row[k] for k in EXEC_COLUMNS}
    data["success"] = bool(data["success"])
    return ExecutionRecord(id=row["id"], **data)


def run_from_row(row: sqlite3.Row) -> RunRecord:
    data = {k: row[k] for k in (*RUN_COLUMNS, "feedback_score", "feedback_note")}
    for key in LIST_COLUMNS:
        data[key] = json.loads(data[key] or "[]")
    data["saved_versions"] = json.loads(data["saved_versions"] or "{}")
    data["success"] = bool(data["success"])
    data["simulated"] = bool(data["simulated"])
    return RunRecord(**data)


def insert_execution(conn: sqlite3.Connection, record: ExecutionRecord, uid: str | None) -> int | None:
    """Insert one execution and fold it into its subagent's lessons; the row id, or None when a row with
    this uid is already there (then nothing changes)."""
    values: list[Any] = [getattr(record, k) for k in EXEC_COLUMNS]
    values[EXEC_COLUMNS.index("success")] = int(bool(record.success))
    cursor = conn.execute(
        f"INSERT OR IGNORE INTO executions ({', '.join(EXEC_COLUMNS)}, uid) "
        f"VALUES ({', '.join('?' * (len(EXEC_COLUMNS) + 1))})",
        [*values, uid],
    )
    if cursor.rowcount == 0:
        return None
    row_id = int(cursor.lastrowid or 0)
    note = conn.execute("SELECT feedback_note FROM runs WHERE run_id = ?", (record.run_id,)).fetchone()
    if note and note[0] and not record.feedback:  # feedback given before this copy of the row arrived
        conn.execute("UPDATE executions SET feedback = ? WHERE id = ?", (note[0], row_id))
    if record.kind == USE:
        _lessons.update(conn, record)
    return row_id


def upsert_run(conn: sqlite3.Connection, record: RunRecord) -> None:
    """Insert or update one run; its feedback (kept apart) is applied again, whichever arrived first."""
    values: list[Any] = []
    for key in RUN_COLUMNS:
        value = getattr(record, key)
        if key in LIST_COLUMNS:
            value = json.dumps(list(value))
        elif key == "saved_versions":
            value = json.dumps(dict(value), sort_keys=True)
        elif key in ("success", "simulated"):
            value = int(bool(value))
        values.append(value)
    updates = ", ".join(f"{k} = excluded.{k}" for k in RUN_COLUMNS if k != "run_id")
    # Recording a run again updates it; a row of another source with the same run id changes nothing.
    conn.execute(
        f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' * len(values))}) "
        f"ON CONFLICT (run_id) DO UPDATE SET {updates} WHERE runs.source = excluded.source",
        values,
    )
    _apply_feedback(conn, record.run_id)


def insert_feedback(
    conn: sqlite3.Connection,
    run_id: str,
    score: float | None,
    note: str | None,
    ts: float,
    uid: str | None,
    source: str = "",
) -> None:
    cursor = conn.execute(
        "INSERT OR IGNORE INTO feedback (run_id, score, note, ts, uid, source) VALUES (?, ?, ?, ?, ?, ?)",
        (run_id, score, note, ts, uid, source),
    )
    if cursor.rowcount:
        _apply_feedback(conn, run_id)


# Feedback from the run's own agent first (the agent that saw the result: this machine's, for its own
# runs), then the latest. A timestamp is the writer's word, so a far-future one from another file never
# outranks the run's own agent.
_FEEDBACK_ORDER = (
    "ORDER BY (source = (SELECT r.source FROM runs r WHERE r.run_id = feedback.run_id)) DESC, "
    "ts DESC, id DESC LIMIT 1"
)


def _apply_feedback(conn: sqlite3.Connection, run_id: str) -> None:
    """The run's feedback columns from its feedback rows: the score and the note that win (see above)."""
    score = conn.execute(
        f"SELECT score FROM feedback WHERE run_id = ? AND score IS NOT NULL {_FEEDBACK_ORDER}", (run_id,)
    ).fetchone()
    note = conn.execute(
        f"SELECT note FROM feedback WHERE run_id = ? AND note IS NOT NULL AND note != '' {_FEEDBACK_ORDER}",
        (run_id,),
    ).fetchone()
    if score is None and note is None:
        return
    conn.execute(
        "UPDATE runs SET feedback_score = COALESCE(?, feedback_score), "
        "feedback_note = COALESCE(?, feedback_note) WHERE run_id = ?",
        (score[0] if score else None, note[0] if note else None, run_id),
    )
    if note:
        conn.execute("UPDATE executions SET feedback = ? WHERE run_id = ?", (note[0], run_id))


def _within(sources: Collection[str] | None) -> tuple[str, list[Any]]:
    if sources is None:
        return "", []
    return f" AND source IN ({', '.join('?' * len(sources))})", list(sources)


def code_base(
    conn: sqlite3.Connection, name: str, version: int, sources: Collection[str] | None = None
) -> int:
    """The version whose code `version` has (itself unless a doc-only version says otherwise), from the
    doc-version rows of `sources` only when given."""
    where, params = _within(sources)
    row = conn.execute(
        f"SELECT same_code_as FROM doc_versions WHERE subagent = ? AND version = ?{where} "
        "ORDER BY ts LIMIT 1",
        (name, version, *params),
    ).fetchone()
    return int(row[0]) if row else version  # stored already resolved: one hop


def code_versions(
    conn: sqlite3.Connection, name: str, version: int, sources: Collection[str] | None = None
) -> list[int]:
    base = code_base(conn, name, version, sources)
    where, params = _within(sources)
    rows = conn.execute(
        f"SELECT version FROM doc_versions WHERE subagent = ? AND same_code_as = ?{where}",
        (name, base, *params),
    ).fetchall()
    return sorted({base, *(int(r[0]) for r in rows)})


def insert_doc_version(
    conn: sqlite3.Connection, name: str, version: int, same_code_as: int, ts: float, source: str = ""
) -> None:
    if version == same_code_as:
        return
    conn.execute(
        "INSERT OR REPLACE INTO doc_versions (subagent, version, same_code_as, ts, source) "
        "VALUES (?, ?, ?, ?, ?)",
        (name, version, code_base(conn, name, same_code_as, [source]), ts, source),
    )
