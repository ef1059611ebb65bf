"""`agentfactory library ...`: inspect and manage the subagent library."""

from __future__ import annotations

import typer

from agentfactory.cli._pending import pending

app = typer.Typer(help="Inspect and manage the git-versioned subagent library.", no_args_is_help=True)


@app.command("list")
def list_() -> None:
    """List the subagents in the library."""
    pending("library list")
