"""`agentfactory bench` and `agentfactory demo`: batch 1 vs batch 2 token cost against baselines."""

from __future__ import annotations

from pathlib import Path

import typer

from agentfactory.cli._pending import pending


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
    app.command("demo")(demo)


def bench(
    suite: Path = typer.Option(None, "--suite", help="Task suite folder (default: the core suite)."),
    methods: str = typer.Option(
        "agentfactory,react,text-lessons", "--methods", help="Comma-separated methods."
    ),
    model: str = typer.Option(None, "--model", help="Model spec (default: sim, the simulated model)."),
    repeat: int = typer.Option(1, "--repeat", min=1, help="Repeats per method (for stochastic models)."),
    out: Path = typer.Option(None, "--out", help="Output directory for the table, JSON and chart."),
    json_: bool = typer.Option(False, "--json", help="Print the JSON summary."),
) -> None:
    """Run the benchmark: each method on batch 1 then batch 2, starting from nothing; tokens and success."""
    pending("bench")


def demo(
    out: Path = typer.Option(None, "--out", help="Where to keep the library, report and chart."),
) -> None:
    """Show the point of AgentFactory offline: batch 1 vs batch 2 on the simulated model, vs a ReAct agent."""
    pending("demo")
