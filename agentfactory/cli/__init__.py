"""Command-line interface. `agentfactory.cli.app` is the typer app; `main` the console-script entry.

`command_line()` answers `agentfactory`, `--help` and `--version` from the table of commands
(cli/surface.py), and runs a plain `agentfactory run ...` (cli/run.py `quick`), without starting typer;
every other command line goes to the typer app, imported then.
It ends with SystemExit, as any click program. `main()`, the console script (and `python -m
agentfactory`), runs it and then leaves the process at once (see `_leave`).
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import os
import sys
import types
from typing import Any, NoReturn


def main() -> NoReturn:
    try:
        command_line()
    except SystemExit as exc:
        _leave(exc.code)
    _leave(0)


def command_line() -> None:
    # Text from a subagent or a model may hold lone surrogates: shown escaped, never a crash on write.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, ValueError):
            stream.reconfigure(errors="backslashreplace")
    from agentfactory.cli import surface

    argv = sys.argv[1:]
    try:
        code = surface.answer(argv)
        if code is None and argv[:1] == ["run"] and not surface.completing():
            from agentfactory.cli.run import quick

            code = quick(argv[1:])
        if code is not None:
            sys.stdout.flush()
    except BrokenPipeError:  # the reader went away (`| head`): as click, exit 1 without a word
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 1
    if code is not None:
        raise SystemExit(code)
    importlib.import_module("agentfactory.cli.app").app()


def _leave(code: Any) -> NoReturn:
    """End the process as Python's own exit does, less the teardown of every module and object (about
    100 ms after a run, which imported a few hundred modules): threads that keep the process alive are
    waited for, the atexit handlers run (a sandbox backend's close among them), the standard streams
    are flushed. The product writes its files in `with` blocks and its event log unbuffered, so no
    buffer is left for the teardown to flush."""
    threading = sys.modules.get("threading")
    if threading is not None:
        shutdown = getattr(threading, "_shutdown", None)  # what Python's exit calls: the threading
        if shutdown is not None:  # atexit hooks (a thread pool's), then every non-daemon thread joined
            shutdown()
        else:
            for thread in threading.enumerate():
                if thread is not threading.current_thread() and not thread.daemon:
                    thread.join()
    if code is None:
        code = 0
    elif not isinstance(code, int):  # SystemExit("message"): the message, and 1, as Python does
        with contextlib.suppress(Exception):
            print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()
    os._exit(code & 0xFF)


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
