"""Statistics over the experience store: per subagent and version, per agent, team, and trends.

Pure computation over one read snapshot; the dictionary it returns is what `agentfactory stats --json`
prints and what the HTML report draws, so its keys are part of the public surface.

Who contributes and who benefits: the *origin* of a subagent is the agent of the earliest run that saved
it. A run that reuses a subagent whose origin is another agent counts as "reused from others" for the
reusing agent and "reused by others" for the origin. A subagent with no recorded save (pulled from another
team's library) has no origin and counts as external reuse.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from agentfactory.experience.records import DIRECT, USE
from agentfactory.records import record


def _rate(successes: int, total: int) -> float | None:
    return round(successes / total, 4) if total else None


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


@record
class _Run:
    run_id: str
    agent_id: str
    task: str
    success: bool
    quality: float | None
    tokens: dict[str, int]
    cost_usd: float
    created: list[str]
    reused: list[str]
    saved: list[str]
    started: float

    @property
    def total_tokens(self) -> int:
        return sum(self.tokens.values())


def _load_runs(conn: sqlite3.Connection) -> list[_Run]:
    rows = conn.execute("SELECT * FROM runs ORDER BY started, run_id").fetchall()
    out = []
    for r in rows:
        quality = r["feedback_score"] if r["feedback_score"] is not None else r["quality"]
        out.append(
            _Run(
                run_id=r["run_id"],
                agent_id=r["agent_id"],
                task=r["task"],
                success=bool(r["success"]),
                quality=quality,
                tokens={
                    "input": r["input_tokens"],
                    "output": r["output_tokens"],
                    "cache_read": r["cache_read_tokens"],
                    "cache_write": r["cache_write_tokens"],
                },
                cost_usd=r["cost_usd"],
                created=json.loads(r["subagents_created"]),
                reused=json.loads(r["subagents_reused"]),
                saved=json.loads(r["subagents_saved"]),
                started=r["started"],
            )
        )
    return out


def origins(runs: list[_Run]) -> dict[str, str]:
    """Subagent name -> agent id of the earliest run that saved it."""
    found: dict[str, str] = {}
    for run in runs:  # already in start order
        for name in run.saved:
            found.setdefault(name, run.agent_id)
    return found


# The quality of one execution as statistics see it: the user's rating of its run caps the automatic
# score (a run rated bad makes its executions bad, a good rating never lifts a failed execution).
_RATED_QUALITY = (
    "CASE WHEN r.feedback_score IS NULL THEN e.quality WHEN e.quality IS NULL THEN r.feedback_score "
    "ELSE MIN(e.quality, r.feedback_score) END"
)


def _subagent_stats(conn: sqlite3.Connection, agent_id: str | None) -> list[dict[str, Any]]:
    # Usage, and apart from it direct runs (a subagent run on its own, as over MCP): validation
    # executions (gates, evolve) are checks of a version, not runs of it.
    use = "e.kind = 'use'"
    sql = (
        f"SELECT e.subagent AS subagent, e.version AS version, SUM({use}) AS runs, "
        f"SUM(e.success AND {use}) AS successes, AVG(CASE WHEN {use} THEN {_RATED_QUALITY} END) AS quality, "
        f"AVG(CASE WHEN {use} THEN e.duration_s END) AS duration, SUM(e.cost_usd) AS cost, "
        "SUM(e.input_tokens + e.output_tokens) AS tokens, MAX(e.ts) AS last, "
        f"SUM(e.kind = '{DIRECT}') AS direct, SUM(e.success AND e.kind = '{DIRECT}') AS direct_ok "
        "FROM executions e LEFT JOIN runs r ON r.run_id = e.run_id WHERE e.kind IN (?, ?)"
    )
    params: list[Any] = [USE, DIRECT]
    if agent_id is not None:
        sql += " AND e.agent_id = ?"
        params.append(agent_id)
    sql += " GROUP BY e.subagent, e.version ORDER BY e.subagent, e.version IS NULL, e.version"
    return [
        {
            "name": r["subagent"],
            "version": r["version"],  # None: an unsaved candidate
            "runs": r["runs"],
            "successes": r["successes"] or 0,
            "success_rate": _rate(r["successes"] or 0, r["runs"]),
            "avg_quality": round(r["quality"], 4) if r["quality"] is not None else None,
            "avg_duration_s": round(r["duration"], 4) if r["duration"] is not None else None,
            "cost_usd": round(r["cost"], 6),
            "tokens": r["tokens"],
            "last_ts": r["last"],
            "direct_runs": r["direct"] or 0,  # run on their own (MCP): no task, no judge, no trust
            "direct_successes": r["direct_ok"] or 0,
        }
        for r in conn.execute(sql, params).fetchall()
    ]


def _token_totals(runs: list[_Run]) -> dict[str, int]:
    totals = {"input": 0, "output": 0, "cache_read": 0, "cache_write": 0}
    for run in runs:
        for key, value in run.tokens.items():
            totals[key] += value
    totals["total"] = sum(totals.values())
    return totals


def _group(runs: list[_Run]) -> dict[str, Any]:
    """Figures shared by an agent, the team and a trend window."""
    qualities = [r.quality for r in runs if r.quality is not None]
    reused = sum(len(r.reused) for r in runs)
    created = sum(len(r.created) for r in runs)
    return {
        "runs": len(runs),
        "successes": sum(r.success for r in runs),
        "success_rate": _rate(sum(r.success for r in runs), len(runs)),
        "avg_quality": _mean(qualities),
        "tokens": _token_totals(runs),
        "avg_tokens_per_run": round(sum(r.total_tokens for r in runs) / len(runs), 1) if runs else None,
        "cost_usd": round(sum(r.cost_usd for r in runs), 6),
        "subagents_reused": reused,
        "subagents_created": created,
        "reuse_ratio": _rate(reused, reused + created),
    }


def _agent_stats(runs: list[_Run], origin: dict[str, str], executions: dict[str, int]) -> list[dict]:
    agents = sorted({r.agent_id for r in runs} | set(executions))
    out = []
    for agent in agents:
        mine = [r for r in runs if r.agent_id == agent]
        reuses = [(r.agent_id, name) for r in runs for name in r.reused]
        entry = {"agent_id": agent, **_group(mine), "executions": executions.get(agent, 0)}
        entry["subagents_contributed"] = sorted(n for n, a in origin.items() if a == agent)
        entry["reused_from_others"] = sum(
            1 for a, n in reuses if a == agent and n in origin and origin[n] != agent
        )
        entry["reused_external"] = sum(1 for a, n in reuses if a == agent and n not in origin)
        entry["reused_by_others"] = sum(1 for a, n in reuses if a != agent and origin.get(n) == agent)
        out.append(entry)
    return out


def _trends(runs: list[_Run], window: int) -> dict[str, Any]:
    """Consecutive windows of `window` runs in start order (the last may be partial)."""
    windows = []
    for index, start in enumerate(range(0, len(runs), window)):
        chunk = runs[start : start + window]
        group = _group(chunk)
        windows.append(
            {
                "index": index,
                "first_run": chunk[0].run_id,
                "last_run": chunk[-1].run_id,
                "runs": group["runs"],
                "success_rate": group["success_rate"],
                "avg_quality": group["avg_quality"],
                "avg_tokens_per_run": group["avg_tokens_per_run"],
                "avg_cost_usd": round(group["cost_usd"] / group["runs"], 6),
                "reuse_ratio": group["reuse_ratio"],
            }
        )
    change: dict[str, float | None] = {}
    if len(windows) >= 2:
        first, last = windows[0], windows[-1]
        for key in ("success_rate", "avg_tokens_per_run", "reuse_ratio", "avg_quality"):
            a, b = first[key], last[key]
            change[key] = round(b - a, 4) if a is not None and b is not None else None
    return {"window": window, "windows": windows, "change_first_to_last": change}


def compute_stats(conn: sqlite3.Connection, agent_id: str | None = None, window: int = 20) -> dict:
    all_runs = _load_runs(conn)
    origin = origins(all_runs)
    executions = dict(
        conn.execute(
            "SELECT agent_id, COUNT(*) FROM executions WHERE kind = ? GROUP BY agent_id", (USE,)
        ).fetchall()
    )
    agents = _agent_stats(all_runs, origin, executions)
    team_group = _group(all_runs)
    rates = [a["success_rate"] for a in agents if a["success_rate"] is not None]
    team = {
        "agents": len(agents),
        **team_group,
        "executions": sum(executions.values()),
        "mean_agent_success_rate": _mean(rates),
        "cross_agent_reuses": sum(a["reused_from_others"] for a in agents),
        "subagents_saved": len(origin),
    }
    runs = [r for r in all_runs if agent_id is None or r.agent_id == agent_id]
    if agent_id is not None:
        agents = [a for a in agents if a["agent_id"] == agent_id]
    return {
        "agent_filter": agent_id,
        "subagents": _subagent_stats(conn, agent_id),
        "agents": agents,
        "team": team,
        "trends": _trends(runs, window),
    }


def run_series(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Per-run figures in start order, for the report's charts."""
    runs = _load_runs(conn)
    seen: set[str] = set()
    out = []
    for r in runs:
        seen.update(r.saved)
        out.append(
            {
                "run_id": r.run_id,
                "agent_id": r.agent_id,
                "task": r.task,
                "started": r.started,
                "success": r.success,
                "quality": r.quality,
                "tokens": r.total_tokens,
                "cost_usd": r.cost_usd,
                "created": len(r.created),
                "reused": len(r.reused),
                "saved": len(r.saved),
                "library_size": len(seen),
            }
        )
    return out
