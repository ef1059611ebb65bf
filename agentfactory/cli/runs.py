"""`agentfactory runs list|show|prune`: read runs back from their event logs.

A run is named by its id, by `latest`, or by a prefix of exactly one id. Everything shown from a run
(task, answer, errors, file names) came from a user, a model or a subagent, and is shown escaped.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import sys
from typing import Any

import typer
from rich.table import Table

from agentfactory.cli.common import JsonOpt, WorkspacesOpt, console, print_json, settings
from agentfactory.cli.untrusted import plain, show, visible
from agentfactory.engine.workspace import LATEST, Workspace, WorkspaceManager
from agentfactory.errors import UsageError
from agentfactory.events import read_events, summarize, summarize_run, to_json

app = typer.Typer(help="List and inspect past runs from their event logs.", no_args_is_help=True)

MAX_TRACE_BYTES = 32 << 20  # a trace file read back for its error (results are capped at 16 MiB)
MAX_TASK_SHOWN = 50


def complete_run_id(incomplete: str) -> list[str]:
    """Shell completion of a run id: `latest` and the runs of the default workspaces, newest first."""
    try:
        ids = [ws.run_id for ws in reversed(WorkspaceManager(settings().paths.workspaces).list())]
    except Exception:  # completion must never print an error into the user's shell
        return []
    return [run_id for run_id in [LATEST, *ids] if run_id.startswith(incomplete)][:200]


def _when(ts: float | None) -> str:
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"


@app.command("list")
def list_(
    workspaces: str = WorkspacesOpt,
    limit: int = typer.Option(50, "--limit", min=1, help="Show at most this many (newest first)."),
    json_: bool = JsonOpt,
) -> None:
    """List runs, newest first, with status, steps, tokens and cost."""
    manager = WorkspaceManager(settings(workspaces=workspaces).paths.workspaces)
    summaries = [summarize_run(ws.root) for ws in reversed(manager.list())][:limit]
    if json_:
        print_json([s.to_dict() for s in summaries])
        return
    if not summaries:
        console.print(f"No runs in {show(manager.root)}.", highlight=False)
        return
    rows = [
        [
            s.run_id,  # starts with the date and time the run started (the JSON has `started`)
            s.status,
            str(s.steps),
            f"{s.usage.total_tokens:,}",
            f"{s.cost_usd:.4f}",
            s.task if len(s.task) <= MAX_TASK_SHOWN else s.task[:MAX_TASK_SHOWN] + "…",
        ]
        for s in summaries
    ]
    headers = ["run", "status", "steps", "tokens", "cost $", "task"]
    table = Table()
    # Every column but the task keeps its full width (the id is what the other commands take); the task
    # takes what is left of the terminal (each column costs 3 characters of padding and rule).
    widths = [max(len(name), *(len(visible(row[i])) for row in rows)) for i, name in enumerate(headers[:-1])]
    for name, width in zip(headers[:-1], widths, strict=True):
        table.add_column(name, no_wrap=True, width=width)
    task_width = console.width - sum(w + 3 for w in widths) - 5
    if task_width < 8:  # too narrow for a table that cuts nothing but the task: aligned plain lines
        for row in [headers, *rows]:
            cells = [visible(cell).ljust(width) for cell, width in zip(row, widths, strict=False)]
            console.print(plain("  ".join([*cells, visible(row[-1])])))
        return
    table.add_column("task", no_wrap=True, overflow="ellipsis", width=task_width)
    for row in rows:
        table.add_row(*(plain(cell) for cell in row))
    console.print(table)


@app.command("show")
def show_cmd(
    run_id: str = typer.Argument(
        ...,
        help="Run id, a unique prefix of one, or `latest` (see `agentfactory runs list`).",
        autocompletion=lambda incomplete: complete_run_id(incomplete),
    ),
    workspaces: str = WorkspacesOpt,
    events: bool = typer.Option(False, "--events", help="Also print every event."),
    json_: bool = JsonOpt,
) -> None:
    """Show one run: status, steps, model calls, tokens, cost; for a failed run its error and files."""
    ws = WorkspaceManager(settings(workspaces=workspaces).paths.workspaces).resolve(run_id)
    all_events = list(read_events(ws.events_path))
    s = summarize(all_events, run_id=ws.run_id)
    outputs = ws.files(ws.outputs) if ws.outputs.is_dir() else []
    failures = [_failure(ws, f) for f in s.failed_executions]
    if json_:
        data = s.to_dict()
        data["workspace"] = str(ws.root)
        data["output_files"] = outputs
        data["failed_executions"] = failures
        if events:
            data["events"] = all_events
        print_json(data)
        return
    label = " (simulated model)" if s.simulated else ""
    colour = "green" if s.status == "success" else "red"
    console.print(
        f"[bold]Run {s.run_id}[/]  status: [bold {colour}]{show(s.status)}[/]  model: {show(s.model)}{label}",
        highlight=False,
    )
    console.print(f"Task: {show(s.task, newlines=True)}", highlight=False)
    if s.reason:
        console.print(f"[bold]Reason:[/] {show(s.reason, newlines=True)}", highlight=False)
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
        f"duration {s.duration_s if s.duration_s is not None else '-'} s",
        highlight=False,
    )
    if s.answer:
        console.print(f"Answer: {show(s.answer, newlines=True)}", highlight=False)
    for f in failures:
        error = f": {show(f['error'])}" if f.get("error") else ""
        console.print(
            f"[red]✗ {show(f['subagent'])} {show(f['status'])}[/]{error}"
            + (f"  [dim]({show(f['trace'])})[/]" if f.get("trace") else ""),
            highlight=False,
        )
    if outputs:
        console.print("Output files:", highlight=False)
        for name in outputs:
            console.print(f"  {show(ws.root / name)}", highlight=False)
    console.print(f"Workspace: {show(ws.root)}", highlight=False)
    if events:  # one JSON object per line, never wrapped, so a pipe can read them back
        console.file.flush()
        for event in all_events:
            sys.stdout.write(to_json(event) + "\n")
        sys.stdout.flush()


def _failure(ws: Workspace, failed: dict[str, Any]) -> dict[str, Any]:
    """A failed execution with its error ("Type: message") read back from its trace file."""
    out = {**failed, "error": None}
    rel = failed.get("trace")
    if not isinstance(rel, str):
        return out
    path = ws.root / rel
    try:  # the trace path comes from the log; only a regular file inside this run's folder is read
        if ws.root.resolve() not in path.resolve().parents or not path.is_file():
            return out
        if path.stat().st_size > MAX_TRACE_BYTES:
            return out
        trace = json.loads(path.read_bytes())
    except (OSError, ValueError, RecursionError):
        return out
    error = trace.get("error") if isinstance(trace, dict) else None
    if isinstance(error, dict):
        out["error"] = f"{error.get('type', 'Error')}: {str(error.get('message', ''))[:1000]}"
    return out


@app.command("prune")
def prune(
    workspaces: str = WorkspacesOpt,
    older_than: float = typer.Option(7.0, "--older-than", min=0.0, help="Age in days."),
    keep: int = typer.Option(0, "--keep", min=0, help="Always keep the newest N runs."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be removed."),
    json_: bool = JsonOpt,
) -> None:
    """Remove old run workspaces."""
    if not math.isfinite(older_than):
        raise UsageError(f"--older-than must be a finite number of days, not {older_than}.")
    manager = WorkspaceManager(settings(workspaces=workspaces).paths.workspaces)
    removed = manager.prune(older_than_days=older_than, keep=keep, dry_run=dry_run)
    if json_:
        print_json({"workspaces": str(manager.root), "dry_run": dry_run, "removed": removed})
        return
    verb = "Would remove" if dry_run else "Removed"
    console.print(
        f"{verb} {len(removed)} run(s)." + ("" if not removed else " " + ", ".join(removed)), highlight=False
    )
