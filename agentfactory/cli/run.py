"""`agentfactory run "<task>"`: the Meta-Agent on one task, with a live view and a final summary."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from agentfactory import events as ev
from agentfactory.cli.common import console, err_console, print_json, settings, show
from agentfactory.errors import UsageError
from agentfactory.llm.types import Usage


def register(app: typer.Typer) -> None:
    app.command("run")(run)


class _LiveView:
    """Prints one line per step, subagent execution and library change, plus a running token/cost line."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.usage = Usage()
        self.cost = 0.0

    def __call__(self, event: dict[str, Any]) -> None:
        if self.quiet:
            return
        kind = event["type"]
        if kind == ev.MODEL_CALL:
            self.usage = self.usage + Usage.from_dict(event.get("usage"))
            self.cost += float(event.get("cost_usd") or 0.0)
            if event.get("role") == ev.ORCHESTRATOR:
                console.print(
                    f"[dim]step {event.get('step', '?')} · {self.usage.total_tokens:,} tokens · "
                    f"${self.cost:.4f}[/]",
                    highlight=False,
                )
        elif kind == ev.TOOL_CALL:
            mark = "[red]✗[/]" if event.get("is_error") else "[green]→[/]"
            console.print(f"  {mark} {event['tool']} {event.get('arguments', '')[:100]}", highlight=False)
        elif kind == ev.SUBAGENT_EXECUTION:
            colour = "green" if event.get("status") == "ok" else "red"
            console.print(
                f"    [{colour}]{event['subagent']}: {event.get('status')}[/] "
                f"({event.get('duration_s', 0):.2f} s)",
                highlight=False,
            )
        elif kind == ev.LIBRARY_CHANGE:
            console.print(
                f"    [cyan]library: {event.get('action')} {event.get('subagent')} "
                f"v{event.get('version', '')}[/]",
                highlight=False,
            )


def run(
    task: str = typer.Argument(..., help="The task, in plain words; - reads it from standard input."),
    input: list[Path] = typer.Option(
        None, "--input", "-i", help="A file for the task (copied into the run's inputs/). Repeatable."
    ),
    model: str = typer.Option(
        None, "--model", help="Meta-agent model: anthropic:<model>, openai:<model>, sim, scripted:<file>."
    ),
    subagent_model: str = typer.Option(
        None, "--subagent-model", help="Model behind the subagents' llm tool (default: --model)."
    ),
    base_url: str = typer.Option(
        None, "--base-url", help="Base URL for the openai adapter (Ollama, vLLM, LM Studio, llama.cpp)."
    ),
    sandbox: str = typer.Option(None, "--sandbox", help="docker (default) or local (weaker isolation)."),
    library: Path = typer.Option(None, "--library", help="Library path (default ./subagent_library)."),
    workspaces: Path = typer.Option(None, "--workspaces", help="Workspaces root (default ./workspaces)."),
    # Limits are checked where every source of them is (config.py), not by typer: one rule, one message.
    max_steps: int = typer.Option(None, "--max-steps", help="Stop after this many model steps."),
    max_tokens: int = typer.Option(None, "--max-tokens", help="Stop after this many tokens."),
    max_cost: float = typer.Option(None, "--max-cost", help="Stop after this cost in USD."),
    timeout: float = typer.Option(None, "--timeout", help="Wall-clock limit per subagent execution (s)."),
    agent_id: str = typer.Option(None, "--agent-id", help="Name of this agent in a team sharing a library."),
    config: Path = typer.Option(None, "--config", help="Path to an agentfactory.toml."),
    json_: bool = typer.Option(False, "--json", help="Print the run result as JSON."),
) -> None:
    """Run the Meta-Agent on a task: reuse or write subagents, run them in the sandbox, save what worked."""
    from agentfactory.meta.agent import MetaAgent, check_task
    from agentfactory.runtime import check_inputs

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
        agent_id=agent_id,
    )
    check_inputs(list(input or []))  # before the banner: a refusal prints one sentence and nothing else
    view = _LiveView(quiet=json_)
    resolved = cfg.resolved_model()
    if not json_:
        label = " [yellow](simulated model: figures are not a real model's)[/]" if resolved == "sim" else ""
        console.print(f"[bold]AgentFactory[/] · model {resolved}{label} · sandbox {cfg.sandbox}")
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        result = MetaAgent(cfg, on_event=view).run(task, input_files=list(input or []))
    finally:
        signal.signal(signal.SIGTERM, previous)
    if json_:
        print_json(result.to_dict())
    else:
        _print_result(result)
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
        err_console.print("[dim]Reading the task from standard input; end it with Ctrl-D.[/]")
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


def _print_result(result: Any) -> None:
    # Answer, reason, names and file names come from the model or a subagent: shown, never interpreted.
    colour = "green" if result.status == "success" else "red"
    reason = f": {show(result.reason, multiline=True)}" if result.reason else ""
    console.print(f"\n[bold {colour}]{result.status}[/]{reason}", highlight=False)
    if result.answer:
        console.print(f"[bold]Answer:[/] {show(result.answer, multiline=True)}", highlight=False)
    if result.output_files:
        files = ", ".join(show(f"{result.workspace}/{f}") for f in result.output_files)
        console.print(f"Output files: {files}", highlight=False)
    table = Table("created", "reused", "saved", "rejected")
    table.add_row(
        show(", ".join(result.created) or "-"),
        show(", ".join(result.reused) or "-"),
        show(", ".join(f"{n} v{v}" for n, v in result.saved) or "-"),
        show("; ".join(f"{n}: {r}" for n, r in result.rejected.items()) or "-"),
    )
    console.print(table)
    total = result.usage + result.subagent_usage
    sim = " (simulated model)" if result.simulated else ""
    console.print(
        f"steps {result.steps} · model calls {result.model_calls} · tokens {total.total_tokens:,} "
        f"(in {total.total_input_tokens:,}, out {total.output_tokens:,}) · ${result.cost_usd:.4f}{sim} · "
        f"{result.duration_s:.1f} s",
        highlight=False,
    )
    console.print(f"Run id: {result.run_id}  (agentfactory runs show {result.run_id})", highlight=False)
