"""`agentfactory evolve`: refine failing subagents behind the per-case regression gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from agentfactory import events as ev
from agentfactory.cli.common import (
    LibraryOpt,
    ModelOpt,
    SandboxOpt,
    WorkspacesOpt,
    console,
    print_json,
    settings,
)
from agentfactory.cli.live import LiveView
from agentfactory.cli.untrusted import plain
from agentfactory.errors import EXIT_BUDGET, EXIT_INTERRUPTED, EXIT_TASK_FAILED

# Verdicts that leave a subagent's failures unfixed: any of them makes `evolve` exit 1. "accepted"
# (a new version) and "skipped" (nothing to fix after all) exit 0, as does "nothing to evolve". A run
# stopped by its budget exits 4, an interrupted one 130, as `run` does.
STATUS_EXIT = {"budget_exhausted": EXIT_BUDGET, "interrupted": EXIT_INTERRUPTED}


EVOLVE_HELP = (
    "Refine subagents from their failing executions; a revision is accepted only if every stored case "
    "passes.\n\n"
    "Where failures come from: every execution of a library subagent during `agentfactory run` is "
    "recorded in the experience store. One that fails (an exception, a timeout, out of memory, an output "
    "limit) is a failure of that version. One that succeeded but gave a wrong result becomes one when you "
    "rate its run bad: `agentfactory feedback RUN --bad` (or --score under 0.5, with --note saying what "
    "was wrong); the inputs it ran on become a failing case whose result must change. Inputs are read "
    "back from the run's workspace, so keep the workspace until evolve has run. --dry-run lists the "
    "candidates and why. Evolve's own executions (checking versions on cases) are recorded as validation: "
    "they never count as runs, successes or failures in stats, search, evolve or deploy's gate.\n\n"
    "Exit code: 0 when every evolved subagent got an accepted new version, or there was nothing to evolve "
    "(or nothing left to fix); 1 when any revision was rejected or a subagent could not be evolved "
    "(refused, inconclusive, error): the library keeps its current version of that subagent; 4 when the "
    "budget (--max-tokens, --max-cost, --max-steps, --max-time) ran out, which bounds the revision requests "
    "and the validation executions alike. The evolve run ends with the same status in `agentfactory runs "
    "list` (success, task_failed naming them, or budget_exhausted)."
)


def register(app: typer.Typer) -> None:
    app.command("evolve", help=EVOLVE_HELP)(evolve)


class _Progress:
    """One line per stage of each subagent's loop, from the evolve run's events."""

    def __init__(self, quiet: bool):
        self.quiet = quiet

    def __call__(self, event: dict[str, Any]) -> None:
        if self.quiet or event.get("type") != "evolve_round":
            return
        name, stage = event.get("subagent"), event.get("stage")
        if stage == "assess":
            console.print(
                Text.assemble(
                    plain(name, "bold"),
                    f": current version passes stored {_pair(event.get('stored'))}, "
                    f"failing {_pair(event.get('failing'))}" + _held(event),
                )
            )
        elif stage == "round":
            colour = {"accepted": "green", "rejected": "yellow"}.get(event.get("verdict"), "red")
            console.print(
                Text.assemble(
                    f"  round {event.get('round')}: ",
                    plain(event.get("verdict"), colour),
                    " ",
                    plain(event.get("reason", ""), limit=160),
                )
            )
        elif stage in ("refused", "error"):
            console.print(plain(f"{name}: {event.get('reason')}", "red"))

    def library(self, event: dict[str, Any]) -> None:
        if not self.quiet and event.get("type") == ev.LIBRARY_CHANGE and event.get("action") == "save":
            console.print(plain(f"  library: saved {event.get('subagent')} v{event.get('version')}", "cyan"))


def _pair(value: Any) -> str:
    return f"{value[0]}/{value[1]}" if isinstance(value, list | tuple) and len(value) == 2 else "-"


def _held(event: dict[str, Any]) -> str:
    held = event.get("held_out")
    return f", held-out {_pair(held)}" if held and held[1] else ""


def evolve(
    names: list[str] = typer.Argument(
        None, help="Subagents to evolve (default: the top 5 with failures since their current version)."
    ),
    all_: bool = typer.Option(False, "--all", help="Consider every subagent with failures."),
    rounds: int = typer.Option(3, "--rounds", min=1, help="Revision rounds per subagent."),
    model: str = ModelOpt,
    thinking: int = typer.Option(
        None, "--thinking", help="Extended thinking with this token budget per revision (at least 1024)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Show what would be evolved and why; no model calls."
    ),
    accept: str = typer.Option(
        "all", "--accept", help="all: every failing case must pass; more: strictly more must pass."
    ),
    library: Path = LibraryOpt,
    workspaces: Path = WorkspacesOpt,
    sandbox: str = SandboxOpt,
    # The run's budget, as for `run`: every revision request and every validation execution is bounded.
    max_steps: int = typer.Option(None, "--max-steps", help="Stop after this many model turns in all."),
    max_tokens: int = typer.Option(None, "--max-tokens", help="Stop after this many tokens."),
    max_cost: float = typer.Option(None, "--max-cost", help="Stop after this cost in USD."),
    max_time: float = typer.Option(
        None, "--max-time", help="Wall-clock limit of the whole evolve run (s); it also caps each execution."
    ),
    json_: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Refine subagents from their failing executions (see EVOLVE_HELP for the full text)."""
    from agentfactory.evolve import FAILED_VERDICTS, EvolveOptions, Evolver

    cfg = settings(
        library=library, workspaces=workspaces, sandbox=sandbox, model=model, evolve_thinking_budget=thinking,
        max_steps=max_steps, max_tokens=max_tokens, max_cost=max_cost, max_time=max_time,
    )  # fmt: skip
    options = EvolveOptions(rounds=rounds, accept=accept)
    progress = _Progress(quiet=json_)
    status = LiveView(quiet=json_, progress=console, lines=False)  # what runs now, on a terminal

    def on_event(event: dict[str, Any]) -> None:
        status(event)
        progress(event)
        progress.library(event)

    if dry_run:
        plans = Evolver(cfg, options=options).plan(names or None, all_)
        if json_:
            print_json({"dry_run": True, "candidates": [p.to_dict() for p in plans]})
            return
        if not plans:
            console.print("Nothing to evolve: no subagent has failures since its current version.")
            return
        table = Table("SUBAGENT", "VERSION", "STORED CASES", "FAILING CASES", "WHY", title="Would evolve")
        for p in plans:
            held = sum(c.held_out for c in p.failing)
            table.add_row(
                plain(p.name),
                f"v{p.version}",
                str(p.stored_cases),
                f"{len(p.failing) - held} + {held} held out" if held else str(len(p.failing)),
                plain(p.why),
            )
        console.print(table)
        return

    from agentfactory.llm.registry import get_provider

    # Evolve thinks with its own budget, not the Meta-Agent's.
    provider = get_provider(
        cfg.resolved_model(),
        cfg.models,
        env=cfg.credentials,
        thinking_budget=cfg.models.evolve_thinking_budget,
    )
    evolver = Evolver(cfg, provider=provider, options=options, on_event=on_event)
    plans = evolver.plan(names or None, all_)
    if not plans:
        if json_:
            print_json({"run_id": None, "outcomes": []})
        else:
            console.print("Nothing to evolve: no subagent has failures since its current version.")
        return
    try:
        report = evolver.run(plans=plans)
    finally:
        status.close()
    if json_:
        print_json(report.to_dict())
    else:
        _print_table(report)
    if report.status in STATUS_EXIT:
        if not json_:
            console.print(plain(f"Evolve stopped: {report.reason}", "red"))
        raise typer.Exit(STATUS_EXIT[report.status])
    if any(o.verdict in FAILED_VERDICTS for o in report.outcomes):
        raise typer.Exit(EXIT_TASK_FAILED)


def _print_table(report: Any) -> None:
    table = Table(
        "SUBAGENT", "VERSION", "CASES PASSING", "ROUNDS", "TOKENS", "VERDICT",
        title=f"evolve {report.run_id}" + (" (simulated model)" if report.simulated else ""),
    )  # fmt: skip
    for o in report.outcomes:
        after = f"v{o.version_after}" if o.version_after else f"v{o.version_before} (unchanged)"
        colour = {"accepted": "green", "rejected": "yellow", "skipped": "dim"}.get(o.verdict, "red")
        table.add_row(
            plain(o.name),
            f"v{o.version_before} → {after}",
            f"{_pair(o.passing_before)} → {_pair(o.passing_after)}",
            str(len(o.rounds)),
            f"{o.tokens:,}",
            plain(o.verdict, colour),
        )
    console.print(table)
    for o in report.outcomes:
        if o.verdict != "accepted":
            console.print(plain(f"{o.name}: {o.reason}", "dim"))
        elif o.held_out[1]:
            console.print(plain(f"{o.name}: held-out cases pass {_pair(o.held_out)}", "dim"))
    console.print(plain(f"Events: {report.workspace}/events.jsonl · {report.tokens:,} tokens"))
