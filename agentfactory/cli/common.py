"""Shared pieces of the command line: consoles, settings from flags, JSON output."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from agentfactory.config import Settings, load_settings

console = Console()
err_console = Console(stderr=True)

JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON instead of tables.")
LibraryOpt = typer.Option(None, "--library", help="Library path (default ./subagent_library).")
WorkspacesOpt = typer.Option(None, "--workspaces", help="Workspaces root (default ./workspaces).")
SandboxOpt = typer.Option(
    None, "--sandbox", help="Sandbox backend: docker (default) or local (weaker isolation)."
)
ModelOpt = typer.Option(
    None, "--model", help="Meta-agent model spec, e.g. anthropic:claude-opus-4-6, openai:gpt-4.1, sim."
)
ConfigOpt = typer.Option(None, "--config", help="Path to an agentfactory.toml (default ./agentfactory.toml).")


def settings(config: Path | None = None, **flags: Any) -> Settings:
    """Resolve settings from the given CLI flags (None = not given), the environment and the config file."""
    return load_settings(overrides=flags, config_file=config)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
    sys.stdout.flush()
