"""What earns trust: the count of successful runs behind final answers and deploy's maturity gate.

Search ranking, statistics and evolve read every agent's rows: sharing what the team learnt is the point
of the experience files. What lets a subagent's result end a run without the model looking at it
(`run_subagent(final=true)`), or lets it be exported (`deploy`), must not be steerable by whoever can
write a file into the library, so it reads only rows vouched for by trusted agents:

- a row's source is the experience file it was read from, never what the row says (experience.journal
  refuses an execution or run row claiming another agent than its file's);
- trusted sources are this agent's own file plus the files of the agents named in `trusted_agents`
  (a bare store, with no files, trusts its own rows);
- a successful run is a task run recorded by the same source as the execution, that succeeded and was
  not rated bad; executions with no run row, validation executions (gates, evolve) and direct runs of a
  library subagent (`MetaAgent.run_subagent`, MCP `run_subagent`) never count;
- with a version, only executions of that version count, or of a version with the same code (a
  doc-only version, as a trusted source recorded it), or of a candidate that its run saved as one of
  those versions (candidate executions carry no version until the run saves them).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Collection, Iterable

from agentfactory.experience.records import USE
from agentfactory.experience.rows import code_versions
from agentfactory.library.experience_files import file_name

LOCAL = ""  # the source of a row written straight to a bare store (no experience files)
# A run whose user feedback scores under this is rated bad: the executions it made, even successful
# ones, are evidence for evolve (`agentfactory feedback RUN --bad` records 0), and it earns no trust.
BAD_SCORE_BELOW = 0.5


def parse_agents(text: str | Iterable[str] | None) -> tuple[str, ...]:
    """The agent ids of a `trusted_agents` setting: comma- or space-separated text, or a list."""
    if not text:
        return ()
    items = re.split(r"[,\s]+", text) if isinstance(text, str) else [str(t) for t in text]
    return tuple(dict.fromkeys(item.strip() for item in items if item.strip()))


def trusted_sources(agent_id: str, trusted_agents: Collection[str], attached: bool) -> list[str]:
    """The sources whose rows earn trust: this agent's file and the trusted agents' files, or the bare
    store's own rows when no library is attached."""
    if not attached:
        return [LOCAL]
    return sorted({file_name(agent) for agent in (agent_id, *trusted_agents)})


def successful_runs(
    conn: sqlite3.Connection,
    name: str,
    sources: Collection[str],
    version: int | None = None,
    exclude_run: str | None = None,
) -> int:
    """Distinct successful task runs of `name` recorded by `sources` (see the module docstring)."""
    marks = ", ".join("?" * len(sources))
    sql = (
        "SELECT COUNT(DISTINCT e.run_id) FROM executions e "
        "JOIN runs r ON r.run_id = e.run_id AND r.source = e.source "
        f"WHERE e.subagent = ? AND e.success = 1 AND e.kind = ? AND e.source IN ({marks}) "
        "AND r.success = 1 AND (r.feedback_score IS NULL OR r.feedback_score >= ?)"
    )
    params: list[object] = [name, USE, *sources, BAD_SCORE_BELOW]
    if exclude_run is not None:
        sql += " AND e.run_id != ?"
        params.append(exclude_run)
    if version is not None:
        versions = code_versions(conn, name, version, sources)
        vmarks = ", ".join("?" * len(versions))
        sql += (
            f" AND (e.version IN ({vmarks}) OR (e.version IS NULL AND EXISTS (SELECT 1 FROM "
            f"json_each(r.saved_versions) s WHERE s.key = e.subagent AND s.value IN ({vmarks}))))"
        )
        params.extend([*versions, *versions])
    return int(conn.execute(sql, params).fetchone()[0])
