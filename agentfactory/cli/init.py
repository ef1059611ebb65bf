"""`agentfactory init`: write a commented agentfactory.toml and create the library and workspaces."""

from __future__ import annotations

from pathlib import Path

import typer

from agentfactory.cli.common import console
from agentfactory.cli.untrusted import plain
from agentfactory.config import CONFIG_FILE, CONFIG_TEMPLATE
from agentfactory.errors import UsageError


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def init(
    directory: Path = typer.Argument(Path("."), help="Project directory (default: current)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing agentfactory.toml."),
) -> None:
    """Write a commented agentfactory.toml and create the library and workspaces folders."""
    directory = directory.resolve()
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} is not a directory.")
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / CONFIG_FILE
    if config.exists() and not force:
        console.print(plain(f"{config} exists; leaving it as is (use --force to overwrite)."))
    else:
        config.write_text(CONFIG_TEMPLATE)
        console.print(plain(f"Wrote {config}"))
    for name in ("subagent_library", "workspaces"):
        (directory / name).mkdir(exist_ok=True)
    try:
        from agentfactory.library import Library

        Library(directory / "subagent_library").ensure()
        console.print(plain(f"Library ready at {directory / 'subagent_library'}"))
    except ImportError:
        (directory / "subagent_library").mkdir(exist_ok=True)
    console.print(plain(f"Workspaces at {directory / 'workspaces'}"))
