"""`agentfactory sandbox ...`: build the sandbox image, check backends, execute one module."""

from __future__ import annotations

import typer

from agentfactory.cli._pending import pending

app = typer.Typer(
    help="Build the sandbox image, check the backends, run one module in the sandbox.", no_args_is_help=True
)


@app.command("check")
def check() -> None:
    """Report which sandbox backends are available."""
    pending("sandbox check")
