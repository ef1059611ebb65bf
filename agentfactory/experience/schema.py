"""Versioned schema of the experience store and the migrations between versions.

The version lives in `PRAGMA user_version`. Migrations are applied in order inside one write
transaction, so two processes opening a fresh file at once cannot both migrate, and a crash mid-upgrade
leaves the old version intact. A migration only adds: nothing recorded is ever lost on upgrade.
"""

from __future__ import annotations

# Marks the file as ours (PRAGMA application_id): a foreign SQLite database is refused, not migrated.
APPLICATION_ID = 0x41467831  # "AFx1"

MIGRATIONS: list[list[str]] = [
    # 1: executions and runs.
    [
        """CREATE TABLE executions (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL,
            agent_id TEXT NOT NULL,
            task_type TEXT NOT NULL DEFAULT '',
            task TEXT NOT NULL DEFAULT '',
            subagent TEXT NOT NULL,
            version INTEGER,
            inputs_digest TEXT NOT NULL DEFAULT '',
            success INTEGER NOT NULL,
            quality REAL,
            duration_s REAL NOT NULL DEFAULT 0,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL NOT NULL DEFAULT 0,
            error_kind TEXT,
            feedback TEXT,
            ts REAL NOT NULL
        )""",
        "CREATE INDEX executions_subagent ON executions (subagent, version, ts)",
        "CREATE INDEX executions_run ON executions (run_id)",
        """CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            agent_id TEXT NOT NULL,
            task_type TEXT NOT NULL DEFAULT '',
            task TEXT NOT NULL DEFAULT '',
            model TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL,
            success INTEGER NOT NULL,
            quality REAL,
            steps INTEGER NOT NULL DEFAULT 0,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cache_read_tokens INTEGER NOT NULL DEFAULT 0,
            cache_write_tokens INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL NOT NULL DEFAULT 0,
            subagents_created TEXT NOT NULL DEFAULT '[]',
            subagents_reused TEXT NOT NULL DEFAULT '[]',
            subagents_saved TEXT NOT NULL DEFAULT '[]',
            started REAL NOT NULL,
            finished REAL
        )""",
        "CREATE INDEX runs_started ON runs (started)",
    ],
    # 2: input shapes and error lines (lessons), user feedback, simulated-model flag, lessons.
    [
        "ALTER TABLE executions ADD COLUMN inputs_shape TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE executions ADD COLUMN error TEXT",
        "ALTER TABLE runs ADD COLUMN simulated INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE runs ADD COLUMN feedback_score REAL",
        "ALTER TABLE runs ADD COLUMN feedback_note TEXT",
        """CREATE TABLE feedback (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL,
            score REAL,
            note TEXT,
            ts REAL NOT NULL
        )""",
        """CREATE TABLE lessons (
            subagent TEXT NOT NULL,
            error_kind TEXT NOT NULL,
            shape TEXT NOT NULL,
            failures INTEGER NOT NULL,
            successes_after INTEGER NOT NULL DEFAULT 0,
            merged_shapes INTEGER NOT NULL DEFAULT 0,
            example_error TEXT,
            first_ts REAL NOT NULL,
            last_ts REAL NOT NULL,
            PRIMARY KEY (subagent, error_kind, shape)
        )""",
    ],
    # 3: versions that differ from another only in documentation (lessons written into SKILL.md), so
    # failures recorded on the code they share stay evidence for evolve.
    [
        """CREATE TABLE doc_versions (
            subagent TEXT NOT NULL,
            version INTEGER NOT NULL,
            same_code_as INTEGER NOT NULL,
            ts REAL NOT NULL,
            PRIMARY KEY (subagent, version)
        )""",
    ],
    # 4: the kind of an execution. "use" is a subagent doing work in a task run; "validation" is a gate
    # or evolve running cases to check a version, which is never usage, success or failure evidence.
    # Stores written before this kept evolve's validation executions as usage: they are the rows of an
    # evolve workspace (its task is "evolve NAME..."), which never records a run row.
    [
        "ALTER TABLE executions ADD COLUMN kind TEXT NOT NULL DEFAULT 'use'",
        "UPDATE executions SET kind = 'validation' WHERE task LIKE 'evolve %' "
        "AND run_id NOT IN (SELECT run_id FROM runs)",
        "CREATE INDEX executions_kind ON executions (kind, subagent)",
    ],
    # 5: the store is derived from the experience files in the library (experience.sync). A uid per
    # execution and feedback row makes reading a line twice harmless; `sources` is how far each agent
    # file was read (and the digests that tell an append from a rewrite); `store_meta` notes the one-time
    # export of the rows written before the files existed (their uid is NULL until then).
    [
        "ALTER TABLE executions ADD COLUMN uid TEXT",
        "CREATE UNIQUE INDEX executions_uid ON executions (uid)",
        "ALTER TABLE feedback ADD COLUMN uid TEXT",
        "CREATE UNIQUE INDEX feedback_uid ON feedback (uid)",
        """CREATE TABLE sources (
            file TEXT PRIMARY KEY,
            ingested INTEGER NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            head_digest TEXT NOT NULL,
            tail_digest TEXT NOT NULL,
            records INTEGER NOT NULL DEFAULT 0,
            bad_rows INTEGER NOT NULL DEFAULT 0,
            last_bad TEXT
        )""",
        "CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT)",
    ],
    # 6: who vouches for a row. `source` is the experience file a row was read from ('' for a row written
    # straight to a bare store): what earns trust (final answers, deploy's maturity gate) counts only the
    # rows of trusted agents' files, and a run's feedback from its own agent wins over anyone else's. A
    # run row also keeps the versions it saved, so a candidate's executions count for the version they
    # became. doc_versions is keyed by source too: one agent's "v3 has v1's code" never speaks for
    # another's. A store attached to a library reads its files again to tag the rows (experience.sync).
    [
        "ALTER TABLE executions ADD COLUMN source TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX executions_source ON executions (source, subagent)",
        "ALTER TABLE runs ADD COLUMN source TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE runs ADD COLUMN saved_versions TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE feedback ADD COLUMN source TEXT NOT NULL DEFAULT ''",
        """CREATE TABLE doc_versions_6 (
            subagent TEXT NOT NULL,
            version INTEGER NOT NULL,
            same_code_as INTEGER NOT NULL,
            ts REAL NOT NULL,
            source TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (subagent, version, source)
        )""",
        "INSERT INTO doc_versions_6 (subagent, version, same_code_as, ts) "
        "SELECT subagent, version, same_code_as, ts FROM doc_versions",
        "DROP TABLE doc_versions",
        "ALTER TABLE doc_versions_6 RENAME TO doc_versions",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)
