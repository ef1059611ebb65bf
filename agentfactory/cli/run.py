"""`agentfactory run "<task>"`: the Meta-Agent on one task, with a live view and a final summary."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import typer

from agentfactory.cli import common, live
from agentfactory.cli.common import (
    ConfigOpt,
    LibraryOpt,
    ModelOpt,
    SandboxOpt,
    WorkspacesOpt,
    print_json,
    settings,
)
from agentfactory.errors import UsageError


def register(app: typer.Typer) -> None:
    app.command("run")(run)


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
    max_steps: int = typer.Option(None, "--max-steps", help="Stop after this many steps (tool calls too)."),
    max_tokens: int = typer.Option(None, "--max-tokens", help="Stop after this many tokens."),
    max_cost: float = typer.Option(None, "--max-cost", help="Stop after this cost in USD."),
    timeout: float = typer.Option(None, "--timeout", help="Wall-clock limit per subagent execution (s)."),
    max_time: float = typer.Option(
        None, "--max-time", help="Wall-clock limit of the whole run (s); it also caps each execution."
    ),
    agent_id: str = typer.Option(None, "--agent-id", help="Name of this agent in a team sharing a library."),
    thinking: int = typer.Option(
        None, "--thinking", help="Extended thinking with this token budget per call (at least 1024)."
    ),
    config: Path = ConfigOpt,
    json_: bool = typer.Option(False, "--json", help="Print the run result as JSON."),
) -> None:
    """Run the Meta-Agent on a task: reuse or write subagents, run them in the sandbox, save what worked."""
    from agentfactory.engine.run import check_inputs
    from agentfactory.meta.agent import MetaAgent, check_task

    task = check_task(read_task(task))  # refuse an empty, oversized or undecodable task before anything

    cfg = settings(
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
        print_json(result.to_dict())
    else:
        assert progress is not None and answer is not None
        live.print_result(result, progress, answer)
    raise typer.Exit(result.exit_code)


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
