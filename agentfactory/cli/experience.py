"""`agentfactory stats`, `report` and `feedback`: what the experience store knows."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from agentfactory.cli.common import JsonOpt, LibraryOpt, WorkspacesOpt, console, print_json, settings
from agentfactory.cli.untrusted import plain, show
from agentfactory.errors import UsageError

DbOpt = typer.Option(
    None, "--db", help="Experience store file (default: <library>.experience.sqlite beside the library)."
)


def register(app: typer.Typer) -> None:
    app.command("stats")(stats)
    app.command("report")(report)
    app.command("feedback")(feedback)


def _store(library: str | None, db: Path | None) -> Any:
    from agentfactory.experience import ExperienceStore

    cfg = settings(library=library)
    return ExperienceStore.open(cfg.paths, cfg.policy, path=Path(db) if db else None)


def _pct(value: float | None) -> str:
    return f"{value * 100:.0f}%" if value is not None else "-"


def _num(value: float | None, digits: int = 2) -> str:
    return f"{value:,.{digits}f}" if value is not None else "-"


def stats(
    agent: str = typer.Option(None, "--agent", help="Only this agent id."),
    window: int = typer.Option(20, "--window", min=1, help="Sliding window size for trends."),
    json_: bool = typer.Option(False, "--json", help="Machine-readable output."),
    library: str = LibraryOpt,
    db: Path = DbOpt,
) -> None:
    """Per-subagent, per-agent and team statistics with trends over sliding windows."""
    store = _store(library, db)
    if not store.exists:
        if json_:
            print_json({"store": str(store.path), "subagents": [], "agents": [], "team": None})
        else:
            console.print(plain(f"No experience recorded yet ({store.path} does not exist)."))
        return
    data = store.stats(agent_id=agent, window=window)
    if agent is not None and not data["agents"]:
        raise UsageError(f"No agent '{agent}' in the experience store {store.path}.")
    bad = {name: {"rows": n, "last_reason": why} for name, (n, why) in store.bad_rows().items()}
    if json_:
        print_json({"store": str(store.path), **data, "bad_rows": bad})
        return
    _print_stats(data)
    for name, info in bad.items():
        console.print(
            plain(f"{info['rows']} bad rows skipped in experience/{name} (last: {info['last_reason']}).")
        )


def _print_stats(data: dict[str, Any]) -> None:
    table = Table(
        "subagent", "version", "runs", "direct", "success", "avg quality", "avg s", "cost $",
        title="Subagents",
    )  # fmt: skip
    for s in data["subagents"]:
        table.add_row(
            plain(s["name"]),
            f"v{s['version']}" if s["version"] is not None else "candidate",
            str(s["runs"]),
            str(s.get("direct_runs", 0)),  # run on their own (MCP run_subagent): no task, earn no trust
            _pct(s["success_rate"]),
            _num(s["avg_quality"]),
            _num(s["avg_duration_s"], 3),
            _num(s["cost_usd"], 4),
        )
    console.print(table)
    table = Table(
        "agent", "runs", "success", "tokens", "cost $", "contributed", "reused from others",
        "reused by others", title="Agents",
    )  # fmt: skip
    rows = [*data["agents"], {"agent_id": "team", **data["team"], "subagents_contributed": None}]
    for a in rows:
        contributed = a["subagents_contributed"]
        table.add_row(
            plain(a["agent_id"]),
            str(a["runs"]),
            _pct(a["success_rate"]),
            f"{a['tokens']['total']:,}",
            _num(a["cost_usd"], 4),
            str(len(contributed)) if contributed is not None else str(a.get("subagents_saved", "")),
            str(a.get("reused_from_others", a.get("cross_agent_reuses", ""))),
            str(a.get("reused_by_others", "")),
        )
    console.print(table)
    trends = data["trends"]
    table = Table(
        "window", "runs", "success", "avg tokens", "reuse", title=f"Trend ({trends['window']} runs)"
    )
    for w in trends["windows"]:
        table.add_row(
            str(w["index"] + 1),
            str(w["runs"]),
            _pct(w["success_rate"]),
            _num(w["avg_tokens_per_run"], 0),
            _pct(w["reuse_ratio"]),
        )
    console.print(table)
    change = trends["change_first_to_last"]
    if change.get("success_rate") is not None or change.get("avg_tokens_per_run") is not None:
        console.print(
            f"First to last window: success {_signed_pct(change.get('success_rate'))}, "
            f"tokens per run {_signed(change.get('avg_tokens_per_run'))}."
        )


def _signed(value: float | None) -> str:
    return f"{value:+,.0f}" if value is not None else "n/a"


def _signed_pct(value: float | None) -> str:
    return f"{value * 100:+.0f} points" if value is not None else "n/a"


def report(
    run: str = typer.Argument(None, help="Run id, a unique prefix of one, or `latest` (or use --all)."),
    all_: bool = typer.Option(False, "--all", help="Report over all runs."),
    out: Path = typer.Option(None, "--out", help="Output HTML file."),
    window: int = typer.Option(10, "--window", min=1, help="Rolling window of the --all charts."),
    workspaces: str = WorkspacesOpt,
    library: str = LibraryOpt,
    db: Path = DbOpt,
    json_: bool = JsonOpt,
) -> None:
    """Render a self-contained HTML report of a run or of all runs."""
    from agentfactory.engine.workspace import WorkspaceManager
    from agentfactory.report import render_run_report, write_all_reports, write_report

    if bool(run) == bool(all_):
        raise UsageError("Give a run id or --all (not both).")
    cfg = settings(workspaces=workspaces, library=library)
    store = _store(library, db)
    if run:
        ws = WorkspaceManager(cfg.paths.workspaces).resolve(run)
        target = out or ws.root / "report.html"
    else:  # each run's own page is written too, and linked from this one
        target = out or cfg.paths.workspaces / "report.html"
    if target.exists() and not target.is_file():
        raise UsageError(f"--out {show(target)} exists and is not a file.")
    try:
        if run:
            path = write_report(render_run_report(ws.root, store=store), target)
        else:
            path = write_all_reports(store, target, workspaces=cfg.paths.workspaces, window=window)
    except OSError as exc:
        raise UsageError(f"Cannot write the report to {show(target)}: {exc.strerror or exc}.") from None
    if json_:
        print_json({"report": str(path), "run_id": ws.run_id if run else None, "all": all_})
        return
    console.print(f"Report written to {show(path)}", highlight=False)


def feedback(
    run: str = typer.Argument(
        ..., help="Task run id, a unique prefix of one, or `latest` (the newest task run)."
    ),
    score: float = typer.Option(None, "--score", min=0.0, max=1.0, help="Quality score 0-1."),
    bad: bool = typer.Option(
        False, "--bad", help="The run's result was wrong (score 0): its subagents become evolve candidates."
    ),
    note: str = typer.Option(None, "--note", help="Free-text feedback (shown to evolve's model)."),
    workspaces: str = WorkspacesOpt,
    library: str = LibraryOpt,
    db: Path = DbOpt,
    json_: bool = JsonOpt,
) -> None:
    """Record user feedback on a run's quality. A score under 0.5 (or --bad) rates the run bad: the
    subagents it executed become candidates for `agentfactory evolve`, with the inputs they ran on in
    that run as failing cases whose result must change."""
    from agentfactory.engine.workspace import WorkspaceManager
    from agentfactory.experience.feedback import feedback_run_id, record_feedback

    if score is not None and not math.isfinite(score):
        raise UsageError(f"--score must be a number from 0 to 1, not {score}.")
    store = _store(library, db)
    run_id = feedback_run_id(store, WorkspaceManager(settings(workspaces=workspaces).paths.workspaces), run)
    result = record_feedback(store, run_id, score=score, note=note, bad=bad)
    if json_:
        print_json({**result.to_dict(), "store": str(store.path)})
        return
    console.print(f"Feedback recorded for run {show(run_id)}.", highlight=False)
    if result.bad:
        names = ", ".join(result.subagents) or "none (the run executed no subagent)"
        console.print(
            plain(f"Rated bad; evolve candidates from it: {names} (see agentfactory evolve --dry-run).")
        )
