"""Shared pieces of the command line: consoles, settings from flags, JSON output, safe text, JSON arguments.

Everything printed here may come from a subagent or a model: JSON goes through the one JSON writer
(strict, valid UTF-8) and text through `cli/untrusted.py` (no control characters, terminal escapes, lone
surrogates or rich markup reach the terminal).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentfactory.cli.untrusted import visible
from agentfactory.errors import EXIT_INTERRUPTED, AgentFactoryError, UsageError
from agentfactory.regular_files import NOT_REGULAR, TOO_LARGE, FileRefused, read_regular

if TYPE_CHECKING:
    from rich.console import Console

    from agentfactory.config import Settings

    console: Console
    err_console: Console


def __getattr__(name: str) -> Any:
    """Made on first use: `console` and `err_console` (rich costs its import, tens of milliseconds, only
    to a command that prints through it: `run` writes its plain-text view without it, cli/live.py), and
    the typer options several commands share (`run` may be parsed without typer: cli/run.py `quick`)."""
    if name in _OPTIONS:
        import typer

        default, flag, help_text = _OPTIONS[name]
        return globals().setdefault(name, typer.Option(default, flag, help=help_text))
    if name not in ("console", "err_console"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from rich.console import Console

    # No emoji codes: `:smile:` in a task or a result is text like the rest of it.
    globals().setdefault("console", Console(emoji=False, soft_wrap=True))
    globals().setdefault("err_console", Console(stderr=True, emoji=False, soft_wrap=True))
    return globals()[name]


# The typer options several commands share: name -> (default, flag, help).
_OPTIONS = {
    "JsonOpt": (False, "--json", "Print machine-readable JSON instead of tables."),
    "LibraryOpt": (None, "--library", "Library path (default: from agentfactory.toml, else ./subagent_library)."),
    "WorkspacesOpt": (None, "--workspaces", "Workspaces root (default: from agentfactory.toml, else ./workspaces)."),
    "SandboxOpt": (None, "--sandbox", "docker (default) or local (weaker isolation)."),
    "ModelOpt": (
        None, "--model", "Model: anthropic:<model>, openai:<model>, scripted:<file>, or a plugin's (sim)."
    ),
    "ConfigOpt": (None, "--config", "Path to an agentfactory.toml (default: found from here upwards)."),
}  # fmt: skip


def report_failure(exc: AgentFactoryError | KeyboardInterrupt) -> int:
    """An expected error as one red sentence (escaped: a message such as "pip install 'agentfactory[mcp]'"
    is text, not rich markup, and a name it quotes may hold terminal escapes), or an interrupt; the exit
    code. Every command ends so, never with a traceback."""
    stderr = __getattr__("err_console")
    if isinstance(exc, KeyboardInterrupt):
        stderr.print("[yellow]Interrupted.[/]")
        return EXIT_INTERRUPTED
    from agentfactory.cli.untrusted import show

    stderr.print(f"[bold red]Error:[/] {show(exc)}", highlight=False, soft_wrap=True)
    return exc.exit_code


# The flag a setting is given with, where it is not `--` + its name with dashes: named in error messages.
FLAG_NAMES = {
    "timeout_s": "--timeout",
    "memory_mb": "--memory",
    "openai_base_url": "--base-url",
    "experience_db": "--db",
    "thinking_budget": "--thinking",
    "evolve_thinking_budget": "--thinking",
}

MAX_JSON_ARG_BYTES = 16 << 20  # an `@file` JSON argument; the sandbox refuses larger inputs anyway
MAX_JSON_ARG_DEPTH = 64  # the depth the sandbox accepts for a result


def flag_name(setting: str) -> str:
    return FLAG_NAMES.get(setting, "--" + setting.replace("_", "-"))


# `agentfactory --config FILE <command>`: the config file every command of this invocation uses unless
# the command's own --config names another.
ROOT_CONFIG: dict[str, Path | None] = {"path": None}


def settings(config: Path | None = None, **flags: Any) -> Settings:
    """Resolve settings from the given CLI flags (None = not given), the environment and the config file."""
    from agentfactory.config import load_settings  # on first use: a plugin's help needs no settings

    sources = {name: flag_name(name) for name in flags}
    return load_settings(overrides=flags, config_file=config or ROOT_CONFIG["path"], flag_sources=sources)


def print_json(data: Any) -> None:
    """Strict JSON (non-finite numbers as strings), always valid UTF-8, whatever `data` holds."""
    from agentfactory.events import json_bytes  # the one JSON writer

    data_bytes = json_bytes(data, indent=2) + b"\n"
    sys.stdout.flush()
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # a text-only stream: the text is pure UTF-8-encodable already
        sys.stdout.write(data_bytes.decode("utf-8"))
    else:
        buffer.write(data_bytes)
        buffer.flush()
    sys.stdout.flush()


def read_json_arg(text: str, flag: str) -> Any:
    """The JSON value of an argument given inline or as `@file`: the file must be a regular UTF-8 file
    of at most MAX_JSON_ARG_BYTES; the value at most MAX_JSON_ARG_DEPTH deep. UsageError otherwise."""
    source = f"{flag} value"
    if text.startswith("@"):
        path = Path(text[1:])
        source = f"{flag} file {visible(path)}"
        raw = _read_regular_file(path, MAX_JSON_ARG_BYTES, source)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UsageError(
                f"The {source} is not UTF-8 text (invalid byte at offset {exc.start}): give a JSON file."
            ) from None
    elif _has_surrogates(text):
        raise UsageError(f"The {source} is not valid UTF-8 text: give the JSON in UTF-8.")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as exc:
        if not isinstance(exc, json.JSONDecodeError):
            raise UsageError(f"The {source} is not strict JSON: {exc}.") from None
        raise UsageError(f"The {source} is not valid JSON ({exc.msg} at position {exc.pos}).") from None
    except RecursionError:
        raise UsageError(f"The {source} is nested too deeply to be read.") from None
    if _depth(value) > MAX_JSON_ARG_DEPTH:
        raise UsageError(f"The {source} is nested more than {MAX_JSON_ARG_DEPTH} levels deep.")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number (write null or a string)")


def _read_regular_file(path: Path, limit: int, what: str) -> bytes:
    """Read a regular file of at most `limit` bytes (never a device, FIFO or folder, which may not end);
    a link the user typed is followed."""
    try:
        return read_regular(path, limit, follow_links=True)
    except FileRefused as refused:
        if refused.kind == NOT_REGULAR:
            raise UsageError(f"The {what} is not a regular file.") from None
        if refused.kind == TOO_LARGE and refused.size is not None:
            raise UsageError(f"The {what} is {refused.size:,} bytes; the limit is {limit:,}.") from None
        if refused.kind == TOO_LARGE:  # it grew while being read
            raise UsageError(f"The {what} is larger than the limit of {limit:,} bytes.") from None
        raise UsageError(f"Cannot read the {what}: {refused.strerror}.") from None


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_ARG_DEPTH:
                break
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest
