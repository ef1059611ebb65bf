"""Bounded lessons: short, evidence-backed notes on which input shapes break a subagent.

Derived without any model call from failing executions: the key is (subagent, error kind, input shape),
so repeated failures consolidate into one lesson with a count instead of a growing list. A subagent keeps
at most MAX_LESSONS; beyond that, lessons of the same error kind merge and the weakest others go. A lesson
is pruned once PRUNE_AFTER_SUCCESSES executions on its input shape succeed after its last failure: it no
longer predicts failure (typically a refined version fixed it). These functions run inside the store's
write transaction; they never touch the library themselves (see `write_known_limitations`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from agentfactory.experience.records import ExecutionRecord
from agentfactory.library.format import SKILL_FILE
from agentfactory.library.writing import set_lessons_block as render_limitations
from agentfactory.library.writing import write_folder
from agentfactory.records import record

MAX_LESSONS = 5
PRUNE_AFTER_SUCCESSES = 3
_ERROR_CHARS = 160

_PHRASES = {
    "null": "null",
    "str(empty)": "an empty string",
    "str(blank)": "a blank string",
    "str(long)": "a very long string",
    "list(empty)": "an empty list",
    "dict(empty)": "an empty object",
    "int(0)": "zero",
    "int(<0)": "a negative integer",
    "float(0)": "zero",
    "float(<0)": "a negative number",
    "float(nan/inf)": "NaN or infinite",
}


@record(frozen=True)
class Lesson:
    subagent: str
    error_kind: str
    shape: str
    failures: int
    successes_after: int
    merged_shapes: int
    example_error: str | None
    first_ts: float
    last_ts: float

    @property
    def text(self) -> str:
        """One line with the evidence count, for the Meta-Agent's view of a subagent in play."""
        times = "once" if self.failures == 1 else f"{self.failures} times"
        return f"{self._claim()} (seen {times}){self._example()}."

    @property
    def doc_text(self) -> str:
        """The same without the count, for SKILL.md: it changes only when the lesson itself does, so
        recording one more failure does not make a new library version."""
        return f"{self._claim()}{self._example()}."

    def _claim(self) -> str:
        more = f", and {self.merged_shapes} other input shape(s)" if self.merged_shapes else ""
        return f"Fails with {self.error_kind} {describe_shape(self.shape)}{more}"

    def _example(self) -> str:
        return f" — e.g. `{self.example_error}`" if self.example_error else ""


def describe_shape(shape: str) -> str:
    """Say which inputs are unusual ("when `numbers` is an empty list"), else quote the whole shape."""
    if shape.startswith("("):
        return "with " + shape.strip("()")
    edges = []
    for part in shape.split(", "):
        key, _, kind = part.partition("=")
        if kind.startswith("list[") and kind.endswith("(long)"):
            edges.append(f"`{key}` is a very long list")
        elif kind in _PHRASES:
            edges.append(f"`{key}` is {_PHRASES[kind]}")
    if edges:
        return "when " + " and ".join(edges)
    return f"on inputs shaped `{shape}`"


def _rank_key(row: sqlite3.Row) -> tuple[int, float]:
    return (row["failures"], row["last_ts"])


def update(conn: sqlite3.Connection, record: ExecutionRecord) -> None:
    """Fold one execution into the subagent's lessons (called inside the store's write transaction)."""
    shape = record.inputs_shape or "(unknown inputs)"
    if record.success:
        conn.execute(
            "UPDATE lessons SET successes_after = successes_after + 1 WHERE subagent = ? AND shape = ?",
            (record.subagent, shape),
        )
        conn.execute(
            "DELETE FROM lessons WHERE subagent = ? AND shape = ? AND successes_after >= ?",
            (record.subagent, shape, PRUNE_AFTER_SUCCESSES),
        )
        return
    kind = record.error_kind or "error"
    example = (record.error or "").strip().splitlines()[0][:_ERROR_CHARS] if record.error else None
    conn.execute(
        """INSERT INTO lessons (subagent, error_kind, shape, failures, example_error, first_ts, last_ts)
           VALUES (?, ?, ?, 1, ?, ?, ?)
           ON CONFLICT (subagent, error_kind, shape) DO UPDATE SET
             failures = failures + 1, successes_after = 0,
             example_error = COALESCE(example_error, excluded.example_error),
             last_ts = MAX(last_ts, excluded.last_ts)""",
        (record.subagent, kind, shape, example, record.ts, record.ts),
    )
    _consolidate(conn, record.subagent)


def _consolidate(conn: sqlite3.Connection, subagent: str) -> None:
    rows = conn.execute("SELECT * FROM lessons WHERE subagent = ?", (subagent,)).fetchall()
    rows.sort(key=_rank_key, reverse=True)
    while len(rows) > MAX_LESSONS:
        weakest = rows.pop()
        # Same error kind elsewhere: fold the evidence into the strongest such lesson.
        host = next((r for r in rows if r["error_kind"] == weakest["error_kind"]), None)
        if host is not None:
            conn.execute(
                """UPDATE lessons SET failures = failures + ?, merged_shapes = merged_shapes + 1 + ?,
                   last_ts = MAX(last_ts, ?) WHERE subagent = ? AND error_kind = ? AND shape = ?""",
                (
                    weakest["failures"],
                    weakest["merged_shapes"],
                    weakest["last_ts"],
                    subagent,
                    host["error_kind"],
                    host["shape"],
                ),
            )
        conn.execute(
            "DELETE FROM lessons WHERE subagent = ? AND error_kind = ? AND shape = ?",
            (subagent, weakest["error_kind"], weakest["shape"]),
        )
        if host is not None:
            rows = conn.execute("SELECT * FROM lessons WHERE subagent = ?", (subagent,)).fetchall()
            rows.sort(key=_rank_key, reverse=True)


def load(conn: sqlite3.Connection, subagent: str) -> list[Lesson]:
    rows = conn.execute(
        "SELECT * FROM lessons WHERE subagent = ? ORDER BY failures DESC, last_ts DESC", (subagent,)
    ).fetchall()
    return [Lesson(**dict(row)) for row in rows]


def write_known_limitations(library: Any, store: Any, name: str, run_id: str | None = None) -> Any | None:
    """Rewrite the lessons block of `name`'s SKILL.md through the Library API; None when unchanged.

    The change is an ordinary library save (one commit, a new version with the same code), so it is
    versioned, diffable and reversible like any other. Call it at the end of a run for the subagents
    that failed in it, not on every execution: each call that changes the text makes a version.
    """
    sub = library.get(name)
    new_md = render_limitations(sub.skill_md, [lesson.doc_text for lesson in store.lessons(name)])
    if new_md == sub.skill_md:
        return None
    import tempfile  # on first use: not on a run's way to its first model call

    with tempfile.TemporaryDirectory(prefix="af-lessons-") as tmp:
        folder = Path(tmp) / name
        write_folder(folder, {**sub.files, SKILL_FILE: new_md.encode("utf-8")})
        message = f"Known limitations of {name} updated from recorded executions"
        result = library.save(folder, run_id=run_id, message=message)
    if getattr(result, "changed", False) and result.version != sub.version:
        # Same code under a new number: failures of the old one remain evidence for evolve.
        store.record_doc_version(name, result.version, sub.version)
    return result
