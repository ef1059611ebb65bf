"""The `agentfactory` command through typer: the root group, which imports a command when it is first
used and converts plain parameters without pydantic (cli/params.py), and the mapping of expected errors
to exit codes. `agentfactory`, `--help` and `--version` are answered before this module is imported
(cli/surface.py)."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperGroup

from agentfactory import __version__
from agentfactory.cli import command_line, surface
from agentfactory.cli.params import plain_param, plain_values
from agentfactory.cli.surface import COMMANDS, COMMANDS_GROUP, FROM_ELSEWHERE, INSTALL_BENCH  # noqa: F401
from agentfactory.errors import AgentFactoryError, ConfigError


def _missing_command(name: str, where: str) -> typer.Typer:
    scratch = typer.Typer()

    @scratch.command(
        name,
        help=surface.missing_help(name),
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
    def _missing() -> None:
        raise ConfigError(f"`agentfactory {name}` comes with {where}: {INSTALL_BENCH}.")

    return scratch


class _Group(TyperGroup):
    """Root group: commands are imported when first used, and an expected error becomes one red sentence
    and its exit code, never a traceback."""

    def get_params(self, ctx: typer.Context) -> list[Any]:  # type: ignore[override]
        found = super().get_params(ctx)
        for param in found:
            plain_param(param)
        return found

    def list_commands(self, ctx: typer.Context) -> list[str]:  # type: ignore[override]
        names = list(self.commands)
        return names + [name for name in surface.command_names(surface.command_table()) if name not in names]

    def get_command(self, ctx: typer.Context, name: str):  # type: ignore[override]
        if name not in self.commands:
            self._load(name)
        return self.commands.get(name)

    def _load(self, name: str) -> None:
        # A built-in command never scans the installed distributions' entry points.
        target = COMMANDS.get(name) or surface.command_table().get(name)
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
            plain_values(command)
            self.commands.setdefault(command_name, command)

    def invoke(self, ctx: typer.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (AgentFactoryError, KeyboardInterrupt) as exc:
            from agentfactory.cli.common import report_failure

            raise typer.Exit(report_failure(exc)) from None


app = typer.Typer(
    cls=_Group,
    name="agentfactory",
    help=surface.ROOT_HELP,
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
        False, "--version", callback=_version, is_eager=True, help=surface.VERSION_HELP
    ),
    config: Path = typer.Option(None, "--config", help=surface.CONFIG_HELP),
) -> None:
    from agentfactory.cli.common import ROOT_CONFIG

    ROOT_CONFIG["path"] = config


def command_help(names: list[str]) -> dict[str, str]:
    """The line the command list shows for each of these commands (as typer shows it: the first
    paragraph of the command's help), loading each as its invocation would."""
    from agentfactory.cli.untrusted import visible

    group = typer.main.get_group(app)
    helps = {}
    for name in names:
        try:
            command = group.get_command(None, name)  # type: ignore[arg-type]
        except ConfigError as exc:  # a broken plugin: the list says so, the help is still shown
            helps[name] = visible(exc)
            continue
        text = (command.short_help or command.help or "") if command is not None else ""
        helps[name] = " ".join(inspect.cleandoc(text).split("\n\n")[0].split())
    return helps


main = command_line  # the command line, ending with SystemExit (the console script also leaves at once)
