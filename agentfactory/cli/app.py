"""The `agentfactory` command: the root typer app and the mapping of expected errors to exit codes."""

from __future__ import annotations

import typer
from rich.text import Text
from typer.core import TyperGroup

from agentfactory import __version__
from agentfactory.cli.common import err_console
from agentfactory.cli.untrusted import plain
from agentfactory.errors import EXIT_INTERRUPTED, AgentFactoryError


class _Group(TyperGroup):
    """Root group: an expected error becomes one red sentence and its exit code, never a traceback."""

    def invoke(self, ctx: typer.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except AgentFactoryError as exc:
            # Text, not markup: a message such as "pip install 'agentfactory[mcp]'" or one quoting a
            # subagent's output is shown as it is, with its control characters made visible.
            err_console.print(
                Text.assemble(("Error:", "bold red"), " ", plain(str(exc), newlines=True)), soft_wrap=True
            )
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]Interrupted.[/]")
            raise typer.Exit(EXIT_INTERRUPTED) from None


app = typer.Typer(
    cls=_Group,
    name="agentfactory",
    help="AgentFactory: agents that get better with use by keeping their experience as tested code.",
    no_args_is_help=True,
    add_completion=False,
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
) -> None:
    """AgentFactory: agents that get better with use by keeping their experience as tested code."""


def _register() -> None:
    from agentfactory.cli import (
        bench,
        deploy,
        evolve,
        experience,
        init,
        library,
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


_register()


def main() -> None:
    app()
