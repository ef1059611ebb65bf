"""`agentfactory init`: write a commented agentfactory.toml and create the library and workspaces."""

from __future__ import annotations

from pathlib import Path

import typer

from agentfactory.cli.common import JsonOpt, console, print_json
from agentfactory.cli.untrusted import show
from agentfactory.config import CONFIG_FILE, CONFIG_TEMPLATE
from agentfactory.errors import UsageError


def register(app: typer.Typer) -> None:
    app.command("init")(init)


def init(
    directory: Path = typer.Argument(Path("."), help="Project directory (default: current)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing agentfactory.toml."),
    json_: bool = JsonOpt,
) -> None:
    """Write a commented agentfactory.toml and create the library and workspaces folders."""
    directory = directory.resolve()
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} is not a directory.")
    config = directory / CONFIG_FILE
    library, workspaces = directory / "subagent_library", directory / "workspaces"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if config.exists() and not config.is_file():
            raise UsageError(f"{config} exists and is not a file.")
        wrote = not config.exists() or force
        if wrote:
            config.write_text(CONFIG_TEMPLATE, encoding="utf-8")
        for folder in (library, workspaces):
            if folder.exists() and not folder.is_dir():
                raise UsageError(f"{folder} exists and is not a folder.")
            folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise UsageError(f"Cannot set up {directory}: {exc.strerror or exc}.") from None
    try:
        from agentfactory.library import Library

        Library(library).ensure()
    except ImportError:
        pass
    if json_:
        print_json(
            {
                "config": str(config),
                "config_written": wrote,
                "library": str(library),
                "workspaces": str(workspaces),
            }
        )
        return
    if wrote:
        console.print(f"Wrote {show(config)}", highlight=False)
    else:
        console.print(f"{show(config)} exists; leaving it as is (use --force to overwrite).", highlight=False)
    console.print(f"Library ready at {show(library)}", highlight=False)
    console.print(f"Workspaces at {show(workspaces)}", highlight=False)
