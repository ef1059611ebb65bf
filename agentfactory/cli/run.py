"""`agentfactory run "<task>"`: the Meta-Agent on one task, with a live view and a final summary."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from agentfactory.cli import common
from agentfactory.cli.params import plain_number
from agentfactory.errors import AgentFactoryError, UsageError

# The options of `run`, for the command line typer never parses (`quick`): flag -> (parameter, type,
# repeatable). tests/cli/test_quick_run.py holds this table equal to the typer declaration below.
OPTIONS: dict[str, tuple[str, type, bool]] = {
    "--input": ("input", Path, True),
    "-i": ("input", Path, True),
    "--model": ("model", str, False),
    "--subagent-model": ("subagent_model", str, False),
    "--base-url": ("base_url", str, False),
    "--sandbox": ("sandbox", str, False),
    "--library": ("library", Path, False),
    "--workspaces": ("workspaces", Path, False),
    "--max-steps": ("max_steps", int, False),
    "--max-tokens": ("max_tokens", int, False),
    "--max-cost": ("max_cost", float, False),
    "--timeout": ("timeout", float, False),
    "--max-time": ("max_time", float, False),
    "--agent-id": ("agent_id", str, False),
    "--thinking": ("thinking", int, False),
    "--config": ("config", Path, False),
    "--json": ("json_", bool, False),
}


_PARAMETERS = {"task", *(name for name, _, _ in OPTIONS.values())}


def register(app: Any) -> None:
    import typer

    from agentfactory.cli.common import ConfigOpt, LibraryOpt, ModelOpt, SandboxOpt, WorkspacesOpt

    @app.command("run")
    def run(
        task: str = typer.Argument(..., help="The task, in plain words; - reads it from standard input."),
        input: list[Path] = typer.Option(
            None, "--input", "-i", help="A file for the task (copied into the run's inputs/). Repeatable."
        ),
        model: str = ModelOpt,
        subagent_model: str = typer.Option(
            None, "--subagent-model", help="Model behind the subagents' llm tool (default: --model)."
        ),
        base_url: str = typer.Option(
            None, "--base-url", help="Base URL for the openai adapter (Ollama, vLLM, LM Studio, llama.cpp)."
        ),
        sandbox: str = SandboxOpt,
        library: Path = LibraryOpt,
        workspaces: Path = WorkspacesOpt,
        # Limits are checked where every source of them is (config.py), not by typer: one rule, one message.
        max_steps: int = typer.Option(
            None, "--max-steps", help="Stop after this many steps (tool calls too)."
        ),
        max_tokens: int = typer.Option(None, "--max-tokens", help="Stop after this many tokens."),
        max_cost: float = typer.Option(None, "--max-cost", help="Stop after this cost in USD."),
        timeout: float = typer.Option(None, "--timeout", help="Wall-clock limit per subagent execution (s)."),
        max_time: float = typer.Option(
            None, "--max-time", help="Wall-clock limit of the whole run (s); it also caps each execution."
        ),
        agent_id: str = typer.Option(
            None, "--agent-id", help="Name of this agent in a team sharing a library."
        ),
        thinking: int = typer.Option(
            None, "--thinking", help="Extended thinking with this token budget per call (at least 1024)."
        ),
        config: Path = ConfigOpt,
        json_: bool = typer.Option(False, "--json", help="Print the run result as JSON."),
    ) -> None:
        """Run the Meta-Agent on a task: reuse or write subagents, run them in the sandbox, save what worked."""
        arguments = {name: value for name, value in locals().items() if name in _PARAMETERS}
        raise typer.Exit(execute(**arguments))


def quick(argv: list[str]) -> int | None:
    """`agentfactory run ARGV` without typer (whose import was a sixth of a run's start): the exit code,
    or None when the command line is not plainly one `run` understands (`--help`, an unknown or repeated
    option, a value that looks like an option or that typer would convert, or refuse, itself): typer
    parses that one. An expected error ends as typer's command would end it."""
    arguments = parse(argv)
    if arguments is None:
        return None
    try:
        return execute(**arguments)
    except (AgentFactoryError, KeyboardInterrupt) as exc:
        return common.report_failure(exc)


def parse(argv: list[str]) -> dict[str, Any] | None:
    """The arguments typer would give `run` for ARGV, or None where only typer can say (see `quick`)."""
    arguments: dict[str, Any] = {name: None for name, _, _ in OPTIONS.values()}
    arguments.update(input=[], json_=False)
    task, given, rest = None, set(), list(argv)
    options = True
    while rest:
        word = rest.pop(0)
        if options and word == "--":
            options = False
            continue
        if not options or word == "-" or not word.startswith("-"):
            if task is not None:
                return None  # typer's "unexpected extra argument"
            task = word
            continue
        # `--name=value`; a short option's attached text is its value, `=` included: typer's to read
        flag, equals, value = word.partition("=") if word.startswith("--") else (word, "", "")
        if flag not in OPTIONS or (flag in given and not OPTIONS[flag][2]):
            return None
        name, kind, many = OPTIONS[flag]
        given.add(flag)
        if kind is bool:
            if equals:
                return None
            arguments[name] = True
            continue
        if not equals:
            if not rest:
                return None
            value = rest.pop(0)
        converted = _plain(value, kind)
        if converted is None:
            return None
        if many:
            arguments[name].append(converted)
        else:
            arguments[name] = converted
    if task is None:
        return None
    arguments["task"] = task
    return arguments


def _plain(text: str, kind: type) -> Any:
    """TEXT as typer converts it to KIND, where that is plain (cli/params.py); None otherwise."""
    if text.startswith("-"):
        return None  # an option's name, or a negative number: typer's to read
    if kind is str:
        return text
    if kind is Path:
        # typer refuses a path that exists and cannot be read: its message, its exit code.
        if not text or (os.path.lexists(text) and not os.access(text, os.R_OK)):
            return None
        return Path(text)
    return plain_number(text, kind)


def execute(
    task: str,
    input: list[Path] | None = None,
    model: str | None = None,
    subagent_model: str | None = None,
    base_url: str | None = None,
    sandbox: str | None = None,
    library: Path | None = None,
    workspaces: Path | None = None,
    max_steps: int | None = None,
    max_tokens: int | None = None,
    max_cost: float | None = None,
    timeout: float | None = None,
    max_time: float | None = None,
    agent_id: str | None = None,
    thinking: int | None = None,
    config: Path | None = None,
    json_: bool = False,
) -> int:
    """`agentfactory run`: the run, its live view and its result; the exit code."""
    from agentfactory.cli import live
    from agentfactory.engine.run import check_inputs
    from agentfactory.meta.agent import MetaAgent, check_task

    task = check_task(read_task(task))  # refuse an empty, oversized or undecodable task before anything

    cfg = common.settings(
        config=config,
        model=model,
        subagent_model=subagent_model,
        openai_base_url=base_url,
        sandbox=sandbox,
        library=library,
        workspaces=workspaces,
        max_steps=max_steps,
        max_tokens=max_tokens,
        max_cost=max_cost,
        timeout_s=timeout,
        max_time=max_time,
        agent_id=agent_id,
        thinking_budget=thinking,
    )
    check_inputs(list(input or []))  # before the banner: a refusal prints one sentence and nothing else
    # --json shows no progress: no console to find (rich is imported only where a terminal shows it)
    progress, answer = (None, None) if json_ else live.consoles()
    view = live.LiveView(quiet=json_, progress=progress)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        result = MetaAgent(cfg, on_event=view).run(task, input_files=list(input or []))
    finally:
        view.close()
        signal.signal(signal.SIGTERM, previous)
    if json_:
        common.print_json(result.to_dict())
    else:
        assert progress is not None and answer is not None
        live.print_result(result, progress, answer)
    return result.exit_code


def read_task(task: str) -> str:
    """The task as given, or read from standard input for `-`: strict UTF-8, at most the task limit."""
    if task != "-":
        return task
    from agentfactory.meta.agent import MAX_TASK_CHARS

    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text stream (tests, embedding): already decoded
        return sys.stdin.read(MAX_TASK_CHARS + 1)
    if sys.stdin.isatty():
        common.err_console.print("[dim]Reading the task from standard input; end it with Ctrl-D.[/]")
    raw = stream.read(MAX_TASK_CHARS * 4 + 1)  # UTF-8 takes at most 4 bytes a character
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"The task on standard input is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start}): convert it, e.g. with iconv -t UTF-8."
        ) from None


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
