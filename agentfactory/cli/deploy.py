"""`agentfactory deploy`: export a mature subagent as a pip package, an Agent Skills folder or an MCP server."""

from __future__ import annotations

from pathlib import Path

import typer

from agentfactory.cli._pending import pending


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy)


def deploy(
    name: str = typer.Argument(..., help="Subagent to export."),
    version: int = typer.Option(None, "--version", help="Version to export (default: latest)."),
    format: str = typer.Option("all", "--format", help="package, skill, mcp or all."),
    out: Path = typer.Option(None, "--out", help="Output directory (default ./deploy/<name>)."),
    force: bool = typer.Option(False, "--force", help="Override the maturity gate and a non-empty --out."),
    build: bool = typer.Option(False, "--build", help="Also build the sdist and wheel of the package."),
) -> None:
    """Export a mature subagent as a standalone pip package, Agent Skills folder and MCP server."""
    pending("deploy")
