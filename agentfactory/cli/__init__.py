"""Command-line interface. `agentfactory.cli.app` is the typer app; `main` the console-script entry.

`main` answers `agentfactory`, `--help` and `--version` from the table of commands (cli/surface.py)
without starting typer; every other command line goes to the typer app, imported then.
"""

from __future__ import annotations

import contextlib
import importlib
import sys
import types
from typing import Any


def main() -> None:
    # Text from a subagent or a model may hold lone surrogates: shown escaped, never a crash on write.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")
    from agentfactory.cli import surface

    code = surface.answer(sys.argv[1:])
    if code is not None:
        sys.stdout.flush()
        raise SystemExit(code)
    importlib.import_module("agentfactory.cli.app").run_app()


class _Package(types.ModuleType):
    """`agentfactory.cli.app` names the typer app, imported on first use. The submodule of the same
    name is bound here by the import system as it loads; the name keeps meaning the app."""

    @property
    def app(self) -> Any:
        return importlib.import_module("agentfactory.cli.app").app

    @app.setter
    def app(self, value: Any) -> None:
        pass


sys.modules[__name__].__class__ = _Package

__all__ = ["app", "main"]
