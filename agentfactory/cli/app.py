"""The `agentfactory` command: the root typer app and the mapping of expected errors to exit codes."""

from __future__ import annotations

import contextlib
import importlib
import sys
from importlib.metadata import entry_points
from pathlib import Path

import typer
from typer.core import TyperGroup

from agentfactory import __version__
from agentfactory.cli.common import ROOT_CONFIG, err_console
from agentfactory.cli.untrusted import show
from agentfactory.errors import EXIT_INTERRUPTED, AgentFactoryError, ConfigError

COMMANDS_GROUP = "agentfactory.commands"
# The product's commands: name -> "module:attribute", imported only when that command (or the help that
# lists it) is asked for. The attribute is a typer app (mounted under the name) or a `register(app)`
# function, which may add several commands at once. Other distributions add commands under the
# `agentfactory.commands` entry-point group the same way; a name here cannot be taken over.
COMMANDS = {
    "init": "agentfactory.cli.init:register",
    "run": "agentfactory.cli.run:register",
    "batch": "agentfactory.cli.batch:register",
    "evolve": "agentfactory.cli.evolve:register",
    "deploy": "agentfactory.cli.deploy:register",
    "library": "agentfactory.cli.library:app",
    "runs": "agentfactory.cli.runs:app",
    "sandbox": "agentfactory.cli.sandbox:app",
    "stats": "agentfactory.cli.experience:register",
    "report": "agentfactory.cli.experience:register",
    "feedback": "agentfactory.cli.experience:register",
    "config": "agentfactory.cli.config:app",
    "models": "agentfactory.cli.models:register",
    "mcp": "agentfactory.cli.mcp:app",
}
# Commands that come with another distribution, and how to get them when it is not installed.
FROM_ELSEWHERE = {
    "bench": "the benchmark distribution",
    "demo": "the benchmark distribution",
}
INSTALL_BENCH = "from a source checkout run `pip install -e benchmarks/` (scripts/demo.sh does it)"


def _command_table() -> dict[str, str]:
    table = dict(COMMANDS)
    for entry in entry_points(group=COMMANDS_GROUP):
        table.setdefault(entry.name, entry.value)
    return table


def _missing_command(name: str, where: str) -> typer.Typer:
    scratch = typer.Typer()

    @scratch.command(
        name,
        help=f"Needs {where}: {INSTALL_BENCH}.",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
    def _missing() -> None:
        raise ConfigError(f"`agentfactory {name}` comes with {where}: {INSTALL_BENCH}.")

    return scratch


class _Group(TyperGroup):
    """Root group: commands are imported when first used, and an expected error becomes one red sentence
    and its exit code, never a traceback."""

    def list_commands(self, ctx: typer.Context) -> list[str]:  # type: ignore[override]
        names = list(self.commands)
        names += [name for name in _command_table() if name not in names]
        return names + [name for name in FROM_ELSEWHERE if name not in names]

    def get_command(self, ctx: typer.Context, name: str):  # type: ignore[override]
        if name not in self.commands:
            self._load(name)
        return self.commands.get(name)

    def _load(self, name: str) -> None:
        target = _command_table().get(name)
        if target is None:
            if name in FROM_ELSEWHERE:
                self._mount(name, _missing_command(name, FROM_ELSEWHERE[name]))
            return
        module, _, attribute = target.partition(":")
        try:
            loaded = getattr(importlib.import_module(module), attribute)
        except Exception as exc:  # a plugin's command may fail any way on import
            if name in COMMANDS:
                raise
            raise ConfigError(
                f"The command plugin '{name}' ({target}) cannot be loaded: {type(exc).__name__}: {exc}"
            ) from None
        scratch = typer.Typer(rich_markup_mode="rich")
        if isinstance(loaded, typer.Typer):
            scratch.add_typer(loaded, name=name)
        else:
            loaded(scratch)
        self._mount(name, scratch)

    def _mount(self, name: str, scratch: typer.Typer) -> None:
        for command_name, command in typer.main.get_group(scratch).commands.items():
            self.commands.setdefault(command_name, command)

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


def main() -> None:
    # Text from a subagent or a model may hold lone surrogates: shown escaped, never a crash on write.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")
    app()
