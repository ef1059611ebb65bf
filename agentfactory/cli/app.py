"""The `agentfactory` command: the root typer app and the mapping of expected errors to exit codes."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import typer
from typer.core import TyperGroup

from agentfactory import __version__
from agentfactory.cli.common import ROOT_CONFIG, err_console
from agentfactory.cli.untrusted import show
from agentfactory.errors import EXIT_INTERRUPTED, AgentFactoryError


class _Group(TyperGroup):
    """Root group: an expected error becomes one red sentence and its exit code, never a traceback."""

    def invoke(self, ctx: typer.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except AgentFactoryError as exc:
            # Escaped: a message such as "pip install 'agentfactory[mcp]'" is text, not rich markup, and
            # a name it quotes may hold terminal escapes.
            err_console.print(f"[bold red]Error:[/] {show(exc)}", highlight=False, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]Interrupted.[/]")
            raise typer.Exit(EXIT_INTERRUPTED) from None


app = typer.Typer(
    cls=_Group,
    name="agentfactory",
    help="AgentFactory: agents that get better with use by keeping their experience as tested code.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"agentfactory {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
    config: Path = typer.Option(
        None,
        "--config",
        help="The agentfactory.toml every command uses (default: found from here upwards).",
    ),
) -> None:
    """AgentFactory: agents that get better with use by keeping their experience as tested code."""
    ROOT_CONFIG["path"] = config


def _register() -> None:
    from agentfactory.cli import (
        bench,
        config,
        deploy,
        evolve,
        experience,
        init,
        library,
        models,
        run,
        runs,
        sandbox,
    )

    init.register(app)
    run.register(app)
    evolve.register(app)
    deploy.register(app)
    app.add_typer(library.app, name="library")
    app.add_typer(runs.app, name="runs")
    app.add_typer(sandbox.app, name="sandbox")
    bench.register(app)
    experience.register(app)
    app.add_typer(config.app, name="config")
    models.register(app)


_register()


def main() -> None:
    # Text from a subagent or a model may hold lone surrogates: shown escaped, never a crash on write.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")
    app()
