"""Several processes writing one store at once (a team of agents): nothing is lost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agentfactory.experience import ExperienceStore

WRITER = """
import sys
from pathlib import Path
from agentfactory.experience import ExecutionRecord, ExperienceStore, RunRecord
path, agent, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
store = ExperienceStore(path, timeout_s=30)
for i in range(count):
    store.record_execution(ExecutionRecord.build(
        run_id=f"{agent}-run", agent_id=agent, subagent=f"sub-{i % 5}", version=1,
        inputs={"i": i, "rows": [] if i % 7 == 0 else [i]}, success=i % 3 != 0,
        error_kind=None if i % 3 else "KeyError"))
store.record_run(RunRecord(run_id=f"{agent}-run", agent_id=agent, task="t", status="success", success=True,
                           subagents_saved=[f"sub-{agent}"]))
"""


def test_four_processes_times_100_executions_all_present(tmp_path: Path):
    path = tmp_path / "team.experience.sqlite"
    # No file yet: the four writers race to create it and to apply the migrations.
    agents = [f"agent-{n}" for n in range(4)]
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), agent, "100"], stderr=subprocess.PIPE)
        for agent in agents
    ]
    errors = [p.communicate(timeout=240)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    store = ExperienceStore(path)
    assert store.count_executions() == 400
    rows = store.executions()
    assert len({r.id for r in rows}) == 400
    for agent in agents:
        assert sum(r.agent_id == agent for r in rows) == 100
    stats = store.stats()
    assert stats["team"]["runs"] == 4 and stats["team"]["executions"] == 400
    assert sum(s["runs"] for s in stats["subagents"]) == 400
    # 34 of each writer's 100 executions failed (i % 3 == 0), spread over 5 subagents.
    assert sum(runs - ok for runs, ok in store.success_rates().values()) == 4 * 34
    for name in (f"sub-{i}" for i in range(5)):
        assert len(store.lessons_for(name)) <= 5
    store.check()


def test_a_store_created_by_another_process_between_two_reads_is_not_taken_for_a_foreign_file(tmp_path):
    """Opening a store reads its version, its application id and whether it has tables: three reads.
    Another process creating the store between the first two and the third (its tables and version
    commit at once) made the third see tables without a version: "an SQLite database with tables but
    no experience-store schema", and a batch worker ended `config_error`. The store is read again."""
    import sqlite3

    from agentfactory.experience.database import Database

    path = tmp_path / "exp.sqlite"
    other = sqlite3.connect(path, isolation_level=None)
    Database(path)._prepare(other)  # the other process's store, created and migrated
    other.close()

    class Before:  # the first two reads answered as before the other process committed
        def __init__(self, conn):
            self.conn, self.stale = conn, {"PRAGMA user_version": 2, "PRAGMA application_id": 2}

        def execute(self, sql, *args):
            if self.stale.get(sql):
                self.stale[sql] -= 2
                return self.conn.execute("SELECT 0")
            return self.conn.execute(sql, *args)

    conn = sqlite3.connect(path)
    try:
        database = Database(path)
        assert database._check_version(Before(conn)) > 0
    finally:
        conn.close()
