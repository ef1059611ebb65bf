"""`agentfactory stats`, `report` and `feedback`: what the experience store knows."""

from __future__ import annotations

from pathlib import Path

import typer

from agentfactory.cli._pending import pending


def register(app: typer.Typer) -> None:
    app.command("stats")(stats)
    app.command("report")(report)
    app.command("feedback")(feedback)


def stats(
    agent: str = typer.Option(None, "--agent", help="Only this agent id."),
    window: int = typer.Option(20, "--window", min=1, help="Sliding window size for trends."),
    json_: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Per-subagent, per-agent and team statistics with trends over sliding windows."""
    pending("stats")


def report(
    run: str = typer.Argument(None, help="Run id (default: use --all)."),
    all_: bool = typer.Option(False, "--all", help="Report over all runs."),
    out: Path = typer.Option(None, "--out", help="Output HTML file."),
) -> None:
    """Render a self-contained HTML report of a run or of all runs."""
    pending("report")


def feedback(
    run: str = typer.Argument(..., help="Run id."),
    score: float = typer.Option(None, "--score", min=0.0, max=1.0, help="Quality score 0-1."),
    note: str = typer.Option(None, "--note", help="Free-text feedback."),
) -> None:
    """Record user feedback on a run's quality."""
    pending("feedback")
