"""`agentfactory run "<task>"`: the Meta-Agent on one task."""

from __future__ import annotations

import typer

from agentfactory.cli._pending import pending


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def run(task: str = typer.Argument(..., help="The task, in plain words.")) -> None:
    """Run the Meta-Agent on a task: reuse or write subagents, run them in the sandbox, save what worked."""
    pending("run")
