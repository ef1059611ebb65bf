"""`agentfactory evolve`: refine failing subagents behind the per-case regression gate."""

from __future__ import annotations

import typer

from agentfactory.cli._pending import pending


def register(app: typer.Typer) -> None:
    app.command("evolve")(evolve)


def evolve(
    names: list[str] = typer.Argument(
        None, help="Subagents to evolve (default: those with recorded failures)."
    ),
    all_: bool = typer.Option(False, "--all", help="Consider every subagent with failures."),
    rounds: int = typer.Option(3, "--rounds", min=1, help="Revision rounds per subagent."),
    model: str = typer.Option(None, "--model", help="Model spec for the revisions."),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would be evolved and why; no model calls."
    ),
    json_: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Refine subagents from their failing execution traces; accept a revision only if every stored case passes."""
    pending("evolve")
