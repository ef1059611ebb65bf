"""`agentfactory runs list|show|prune`: read runs back from their event logs."""

from __future__ import annotations

import datetime as dt

import typer
from rich.table import Table
from rich.text import Text

from agentfactory.cli.common import JsonOpt, WorkspacesOpt, console, print_json, settings
from agentfactory.cli.untrusted import plain
from agentfactory.events import read_events, summarize, summarize_run
from agentfactory.workspace import WorkspaceManager

app = typer.Typer(help="List and inspect past runs from their event logs.", no_args_is_help=True)


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


@app.command("list")
def list_(
    workspaces: str = WorkspacesOpt,
    limit: int = typer.Option(50, "--limit", min=1, help="Show at most this many (newest first)."),
    json_: bool = JsonOpt,
) -> None:
    """List runs, newest first, with status, steps, tokens and cost."""
    manager = WorkspaceManager(settings(workspaces=workspaces).workspaces)
    summaries = [summarize_run(ws.root) for ws in reversed(manager.list())][:limit]
    if json_:
        print_json([s.to_dict() for s in summaries])
        return
    if not summaries:
        console.print(plain(f"No runs in {manager.root}."))
        return
    table = Table("run", "started", "status", "steps", "tokens", "cost $", "task")
    for s in summaries:
        table.add_row(
            plain(s.run_id),
            _when(s.started),
            plain(s.status),
            str(s.steps),
            f"{s.usage.total_tokens:,}",
            f"{s.cost_usd:.4f}",
            plain(s.task, limit=50),
        )
    console.print(table)


@app.command("show")
def show(
    run_id: str = typer.Argument(..., help="Run id (see `agentfactory runs list`)."),
    workspaces: str = WorkspacesOpt,
    events: bool = typer.Option(False, "--events", help="Also print every event."),
    json_: bool = JsonOpt,
) -> None:
    """Show one run: status, steps, model calls, tokens (orchestrator and subagents), cost."""
    ws = WorkspaceManager(settings(workspaces=workspaces).workspaces).get(run_id)
    all_events = list(read_events(ws.events_path))
    s = summarize(all_events, run_id=run_id)
    if json_:
        data = s.to_dict()
        if events:
            data["events"] = all_events
        print_json(data)
        return
    label = " (simulated model)" if s.simulated else ""
    console.print(
        Text.assemble(
            ("Run ", "bold"), plain(s.run_id, "bold"), "  status: ", plain(s.status, "bold"),
            "  model: ", plain(s.model), label,
        )
    )  # fmt: skip
    console.print(Text.assemble("Task: ", plain(s.task, newlines=True)))
    table = Table("", "input", "output", "cache read", "cache write", "total")
    for name, u in (
        ("orchestrator", s.orchestrator_usage),
        ("subagents", s.subagent_usage),
        ("all", s.usage),
    ):
        table.add_row(
            name,
            f"{u.input_tokens:,}",
            f"{u.output_tokens:,}",
            f"{u.cache_read_tokens:,}",
            f"{u.cache_write_tokens:,}",
            f"{u.total_tokens:,}",
        )
    console.print(table)
    console.print(
        f"steps {s.steps} · model calls {s.model_calls} · tool calls {s.tool_calls} · "
        f"executions {s.executions} · library changes {s.library_changes} · cost ${s.cost_usd:.4f} · "
        f"duration {s.duration_s if s.duration_s is not None else '-'} s"
    )
    if s.answer:
        console.print(Text.assemble("Answer: ", plain(s.answer, newlines=True)))
    if events:
        for ev in all_events:
            console.print_json(data=ev)


@app.command("prune")
def prune(
    workspaces: str = WorkspacesOpt,
    older_than: float = typer.Option(7.0, "--older-than", min=0.0, help="Age in days."),
    keep: int = typer.Option(0, "--keep", min=0, help="Always keep the newest N runs."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be removed."),
) -> None:
    """Remove old run workspaces."""
    manager = WorkspaceManager(settings(workspaces=workspaces).workspaces)
    removed = manager.prune(older_than_days=older_than, keep=keep, dry_run=dry_run)
    verb = "Would remove" if dry_run else "Removed"
    console.print(plain(f"{verb} {len(removed)} run(s)." + ("" if not removed else " " + ", ".join(removed))))
