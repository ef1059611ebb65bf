"""The command line's surface, known without importing typer or any command: the table of commands with
their one-line help, the root options, and `agentfactory`, `--help` and `--version` answered from them.

Starting typer (and, through it, rich and pydantic) costs more than the whole answer to `--help`, so the
top-level help is printed from this table; a test compares it with what typer prints, so the two cannot
drift. A command plugin's help is its own: read from the `COMMAND_HELP` its entry point's module
declares, else by loading the plugin (its import time is the plugin's), never from a cached file. This module must stay light: the standard library only, and
nothing imported at module level that `--version` does not need.
"""

from __future__ import annotations

import importlib
import os
import sys

from agentfactory.plugins import entry_points

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
# The first paragraph of each command's own help, as the command list shows it (whitespace collapsed).
# tests/cli/test_startup.py checks each against the command's help and the whole list against typer's.
HELP = {
    "init": "Write a commented agentfactory.toml and create the library and workspaces folders.",
    "run": "Run the Meta-Agent on a task: reuse or write subagents, run them in the sandbox, save what worked.",
    "batch": "Run a stream of tasks on worker processes; results stream to batches/<batch-id>/results.jsonl.",
    "evolve": "Refine subagents from their failing executions; a revision is accepted only if every "
    "stored case passes.",
    "deploy": "Export a mature subagent as a standalone pip package, Agent Skills folder and MCP server.",
    "library": "Inspect and manage the git-versioned subagent library.",
    "runs": "List and inspect past runs from their event logs.",
    "sandbox": "Build the sandbox image, check the backends, run one module in the sandbox.",
    "stats": "Per-subagent, per-agent and team statistics with trends over sliding windows.",
    "report": "Render a self-contained HTML report of a run or of all runs.",
    "feedback": "Record user feedback on a run's quality. A score under 0.5 (or --bad) rates the run bad: "
    "the subagents it executed become candidates for `agentfactory evolve`, with the inputs they ran on "
    "in that run as failing cases whose result must change.",
    "config": "Show the resolved settings and where each came from.",
    "models": "List the model providers and the models of the price table (USD per million tokens).",
    "mcp": "Serve the library to MCP hosts (Claude Code, Claude Desktop, Cursor, VS Code).",
}
# Commands that come with another distribution, and how to get them when it is not installed.
FROM_ELSEWHERE = {
    "bench": "the benchmark distribution",
    "demo": "the benchmark distribution",
}
INSTALL_BENCH = "from a source checkout run `pip install -e benchmarks/` (scripts/demo.sh does it)"

ROOT_HELP = "AgentFactory: agents that get better with use by keeping their experience as tested code."
VERSION_HELP = "Show the version."
CONFIG_HELP = "The agentfactory.toml every command uses (default: found from here upwards)."
# The root options as the help lists them: typer's own completion options and --help included.
ROOT_OPTIONS = [
    ("--version", VERSION_HELP),
    ("--config PATH", CONFIG_HELP),
    ("--install-completion", "Install completion for the current shell."),
    ("--show-completion", "Show completion for the current shell, to copy it or customize the installation."),
    ("--help", "Show this message and exit."),
]


def missing_help(name: str) -> str:
    return f"Needs {FROM_ELSEWHERE[name]}: {INSTALL_BENCH}."


def command_table() -> dict[str, str]:
    """Every command: the product's, then the plugins' (which cannot take a product's name)."""
    table = dict(COMMANDS)
    for entry in entry_points(group=COMMANDS_GROUP):
        table.setdefault(entry.name, entry.value)
    return table


def command_names(table: dict[str, str]) -> list[str]:
    return list(table) + [name for name in FROM_ELSEWHERE if name not in table]


def answer(argv: list[str]) -> int | None:
    """The exit code of `agentfactory` with no arguments, `--help` or `--version`, answered here; None for
    every other command line (typer's)."""
    if completing():
        return None  # a shell asking for completions: typer's
    if argv == ["--version"]:
        from agentfactory import __version__

        sys.stdout.write(f"agentfactory {__version__}\n")
        return 0
    if argv not in ([], ["--help"]):
        return None
    sys.stdout.write(render_help(_program()))
    return 0 if argv else 2  # as typer's `no_args_is_help`: the help, on standard output, and usage's 2


def completing() -> bool:
    """Whether a shell asks for completions (`_AGENTFACTORY_COMPLETE`): typer answers those."""
    return any(name.startswith("_") and name.endswith("_COMPLETE") for name in os.environ)


def render_help(program: str) -> str:
    """The top-level help: usage, what AgentFactory is, the root options and every command's line."""
    table = command_table()
    plugins = [name for name in table if name not in COMMANDS]
    helps = dict(HELP)
    helps.update(declared_help(table, plugins))
    undeclared = [name for name in plugins if name not in helps]
    if undeclared:  # else a plugin's help is only had by loading it, with the same loader as its command
        from agentfactory.cli.app import command_help

        helps.update(command_help(undeclared))
    helps.update({name: missing_help(name) for name in FROM_ELSEWHERE if name not in table})
    width = _width()
    lines = ["", *(f" {line}" for line in _wrap(f"Usage: {program} [OPTIONS] COMMAND [ARGS]...", width - 2))]
    lines += ["", *(f" {line}" for line in _wrap(ROOT_HELP, width - 2)), ""]
    lines += _panel("Options", ROOT_OPTIONS, width)
    lines += _panel("Commands", [(name, helps.get(name, "")) for name in command_names(table)], width)
    return "\n".join(lines) + "\n"


def declared_help(table: dict[str, str], names: list[str]) -> dict[str, str]:
    """The one-line help command plugins declare beside their entry point: a `COMMAND_HELP` mapping
    (name -> line) in the entry point's module, read without loading the command itself (typer and the
    plugin's own imports). A module that does not declare it, or fails to import, is loaded as its
    command instead, which says what is wrong."""
    found: dict[str, str] = {}
    for name in names:
        module = table[name].partition(":")[0].strip()
        try:
            declared = getattr(importlib.import_module(module), "COMMAND_HELP", None)
        except Exception:  # noqa: BLE001 - loading it as a command reports the problem in its row
            continue
        line = declared.get(name) if isinstance(declared, dict) else None
        if isinstance(line, str):
            found[name] = " ".join(line.split())
    return found


def _program() -> str:
    # As click names the program: `python -m agentfactory` when run as a module.
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "agentfactory"
    if name in ("__main__.py", "-c", "-m"):
        return "python -m agentfactory"
    return name


def _width() -> int:
    """The terminal's width (COLUMNS first), as rich measures it for typer's help; 80 when unknown."""
    try:
        columns = int(os.environ.get("COLUMNS", "") or os.get_terminal_size(sys.__stdout__.fileno()).columns)
    except (OSError, ValueError, AttributeError):
        columns = 80
    return max(40, columns)


def _panel(title: str, rows: list[tuple[str, str]], width: int) -> list[str]:
    """Rows of (name, help) in a box titled `title`, drawn as typer's help draws its panels."""
    inner = width - 4  # "│ " and " │"
    first = min(max(len(name) for name, _ in rows) + 2, inner // 2)
    lines = [f"╭─ {title} " + "─" * (width - len(title) - 5) + "╮"]
    encoding = (getattr(sys.stdout, "encoding", None) or "").lower().replace("-", "")
    if encoding not in ("utf8", "utf16", "utf32"):  # a terminal that cannot show the box: drawn in ASCII
        lines = [f"+- {title} " + "-" * (width - len(title) - 5) + "+"]
    for name, text in rows:
        wrapped = _wrap(text, inner - first) or [""]
        label = name
        if len(name) >= first:  # a name wider than its column (a narrow terminal): a line of its own
            lines += [f"│ {part:<{inner}} │" for part in _wrap(name, inner)]
            label = ""
        lines.append(f"│ {label:<{first}}{wrapped[0]:<{inner - first}} │")
        lines += [f"│ {'':<{first}}{more:<{inner - first}} │" for more in wrapped[1:]]
    if lines[0][0] == "+":
        return [line.replace("│", "|") for line in lines] + ["+" + "-" * (width - 2) + "+"]
    return [*lines, "╰" + "─" * (width - 2) + "╯"]


def _wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap at `width` (textwrap would import re for it); a longer word is cut."""
    lines, line = [], ""
    for word in text.split():
        while len(word) > width:
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:width])
            word = word[width:]
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return lines
