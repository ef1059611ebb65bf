"""`agentfactory batch TASKS.jsonl`: a stream of tasks on worker processes, one library for all."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import typer

from agentfactory.cli.common import (
    ConfigOpt,
    LibraryOpt,
    ModelOpt,
    SandboxOpt,
    WorkspacesOpt,
    console,
    err_console,
    print_json,
    settings,
)
from agentfactory.cli.untrusted import show


def register(app: typer.Typer) -> None:
    app.command("batch")(batch)


def batch(
    tasks_file: Path = typer.Argument(..., help="One JSON object per line: id, task, inputs, overrides."),
    workers: int = typer.Option(None, "--workers", "-w", help="Worker processes (default: the cores)."),
    resume: str = typer.Option(None, "--resume", help="Finish batch BATCH_ID: skip the tasks it has done."),
    max_cost: float = typer.Option(None, "--max-cost", help="Bound of the whole batch in USD."),
    ray: str = typer.Option(
        None, "--ray", help="Run on Ray: auto ($RAY_ADDRESS, else a local cluster) or a cluster address."
    ),
    remote: str = typer.Option(
        None, "--remote", help="With --ray: each node works on a clone of this library remote (push/pull)."
    ),
    clones: Path = typer.Option(
        None, "--clones", help="With --remote: where nodes keep their clones (~/.cache/agentfactory/clones)."
    ),
    model: str = ModelOpt,
    sandbox: str = SandboxOpt,
    library: Path = LibraryOpt,
    workspaces: Path = WorkspacesOpt,
    max_steps: int = typer.Option(None, "--max-steps", help="Per task: stop after this many steps."),
    max_tokens: int = typer.Option(None, "--max-tokens", help="Per task: stop after this many tokens."),
    max_time: float = typer.Option(None, "--max-time", help="Per task: wall-clock limit (s)."),
    config: Path = ConfigOpt,
    json_: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Run a stream of tasks on worker processes; results stream to batches/<batch-id>/results.jsonl."""
    from rich.progress import Progress as Bar
    from rich.progress import TextColumn, TimeElapsedColumn

    from agentfactory.batch import BatchOptions, read_tasks, run_batch
    from agentfactory.config import check_number
    from agentfactory.errors import UsageError

    flags = {"model": model, "sandbox": sandbox, "library": library, "workspaces": workspaces,
             "max_steps": max_steps, "max_tokens": max_tokens, "max_time": max_time}  # fmt: skip
    cfg = settings(config=config, **flags)  # every flag checked once, here, with one message
    if max_cost is not None:
        max_cost = float(check_number("max_cost", max_cost, "--max-cost", "float"))
    if workers is not None and not 1 <= workers <= 256:
        raise UsageError(f"--workers must be between 1 and 256, not {workers}.")
    tasks, problems = read_tasks(tasks_file)
    for problem in problems:
        err_console.print(f"[yellow]Skipped {show(str(problem))}[/]", highlight=False)
    if remote is not None:
        if not ray:
            raise UsageError("--remote is for --ray: local workers share the project's library.")
        from agentfactory.batch.clones import resolve_remote

        remote = resolve_remote(remote, cfg.paths.library, Path.cwd())
    overrides = {k: v for k, v in flags.items() if v is not None}
    overrides.update(
        library=str(cfg.paths.library), workspaces=str(cfg.paths.workspaces), sandbox=cfg.sandbox.backend
    )
    options = BatchOptions(
        workers=workers or os.cpu_count() or 1,
        cwd=Path.cwd(),
        batches_dir=cfg.paths.workspaces.parent / "batches",
        overrides=overrides,
        config_file=config,
        max_cost=max_cost,
        resume=resume,
        ray=ray,
        limits={key: cfg.value(key) for key in ("max_tokens", "max_cost", "max_steps", "max_time")},
        agent_id=cfg.policy.agent_id,
        remote=remote,
        clones=clones.resolve() if clones else None,
    )
    with Bar(TextColumn("{task.description}"), TimeElapsedColumn(), console=console, disable=json_,
             transient=True) as bar:  # fmt: skip
        line = bar.add_task("starting", total=None)

        def progress(p) -> None:  # noqa: ANN001
            bar.update(line, description=f"done {p.done}/{p.total} · failed {p.failed} · running {p.running}"
                       f" · {p.tokens:,} tokens · ${p.cost_usd:.4f}")  # fmt: skip

        with _stdout_to_stderr(json_):
            summary = run_batch(tasks_file.resolve(), tasks, problems, options, on_progress=progress)
    if json_:
        print_json(summary.to_dict())
    else:
        data = summary.to_dict()
        counts = ", ".join(f"{n} {status}" for status, n in sorted(data["counts"].items())) or "nothing run"
        console.print(f"Batch {summary.batch_id}: {data['tasks']} tasks ({counts}); "
                      f"{data['tokens']:,} tokens, ${data['cost_usd']:.4f}, {data['duration_s']:.1f} s.",
                      highlight=False)  # fmt: skip
        for name, version in data["subagents"].items():
            console.print(f"  saved {show(name)} v{version}", highlight=False)
        for agent, names in data.get("unpushed", {}).items():
            console.print(f"  [yellow]not pushed[/] from {show(agent)} (kept in its clone): "
                          f"{show(', '.join(f'{n} v{v}' for n, v in names.items()))}", highlight=False)  # fmt: skip
        if summary.interrupted:
            console.print(f"Interrupted: finish it with --resume {summary.batch_id}.", highlight=False)
        elif summary.budget_spent:
            console.print(f"The batch's --max-cost is spent; --resume {summary.batch_id} runs the rest.",
                          highlight=False)  # fmt: skip
        console.print(f"Results: {summary.results}", highlight=False)
    raise typer.Exit(summary.exit_code)


@contextlib.contextmanager
def _stdout_to_stderr(active: bool) -> Iterator[None]:
    """With --json, standard output carries the summary only: what anything else writes to it meanwhile
    (Ray reports a lost node there, whatever log_to_driver says) goes to standard error."""
    if not active:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
