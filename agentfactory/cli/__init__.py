"""Command-line interface. `agentfactory.cli.app` is the typer app; `main` the console-script entry."""

from agentfactory.cli.app import app, main

__all__ = ["app", "main"]
