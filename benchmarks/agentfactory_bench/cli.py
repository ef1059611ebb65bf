"""`agentfactory bench` and `agentfactory demo`: batch 1 vs batch 2 token cost against baselines."""

from __future__ import annotations

import tempfile
from pathlib import Path

import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agentfactory.cli.common import console, print_json, settings
from agentfactory.cli.untrusted import show


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)
    app.command("demo")(demo)


def _run(
    suite_path: Path | None,
    methods: tuple[str, ...],
    model: str | None,
    repeat: int,
    out: Path,
    sandbox: str | None,
    quiet: bool,
):
    from agentfactory_bench import CORE_SUITE, load_suite
    from agentfactory_bench.harness import run_bench, write_outputs

    suite = load_suite(suite_path or CORE_SUITE)
    cfg = settings(model=model or "sim", sandbox=sandbox)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=True,
    ) as bar:
        job = bar.add_task("starting", total=len(suite.tasks) * len(methods) * repeat)

        def progress(what: str, done: int, total: int) -> None:
            bar.update(job, description=what, completed=done, total=total)

        result = run_bench(suite, cfg, methods=methods, repeat=repeat, root=out / "runs", progress=progress)
    return result, write_outputs(result, out)


def _table(result) -> Table:
    sim = " (simulated model: not a real model's figures)" if result.simulated else f" ({result.model})"
    # Fits an 80-column terminal (and a pipe, which rich treats as one) without cutting a name.
    table = Table(
        title=f"Suite {result.suite}{sim}", box=box.SIMPLE_HEAD, collapse_padding=True, show_edge=False
    )
    table.add_column("method", no_wrap=True)
    for name in ("batch", "ok", "input", "output", "total", "orch. out", "calls", "steps"):
        table.add_column(name, justify="right", no_wrap=True)
    for s in result.summary():
        table.add_row(
            s["method"],
            str(s["batch"]),
            f"{s['successes']}/{s['tasks']}",
            f"{s['input_tokens']:,}",
            f"{s['output_tokens']:,}",
            f"{s['total_tokens']:,}",
            f"{s['orchestrator_output_tokens']:,}",
            str(s["model_calls"]),
            str(s["steps"]),
        )
    return table


def bench(
    suite: Path = typer.Option(None, "--suite", help="Task suite folder (default: the core suite)."),
    methods: str = typer.Option(
        "agentfactory,react,text-lessons", "--methods", help="Comma-separated methods."
    ),
    model: str = typer.Option(None, "--model", help="Model spec (default: sim, the simulated model)."),
    repeat: int = typer.Option(1, "--repeat", min=1, help="Repeats per method (for stochastic models)."),
    out: Path = typer.Option(None, "--out", help="Output directory for the table, JSON and chart."),
    sandbox: str = typer.Option(None, "--sandbox", help="docker (default) or local."),
    json_: bool = typer.Option(False, "--json", help="Print the JSON summary."),
) -> None:
    """Run the benchmark: each method on batch 1 then batch 2, starting from nothing; tokens and success."""
    chosen = tuple(m.strip() for m in methods.split(",") if m.strip())
    out = out or Path(tempfile.mkdtemp(prefix="agentfactory-bench-"))
    result, paths = _run(suite, chosen, model, repeat, out, sandbox, quiet=json_)
    if json_:
        print_json(result.to_json())
        return
    console.print(_table(result))
    for key, value in result.ratios().items():
        console.print(f"  {key}: {value:.1%}")
    console.print(f"Table {paths['markdown']} · JSON {paths['json']} · chart {paths['chart']}")


def demo(
    out: Path = typer.Option(None, "--out", help="Where to keep the library, report and chart."),
    sandbox: str = typer.Option(None, "--sandbox", help="docker (default) or local."),
    json_: bool = typer.Option(False, "--json", help="Print the figures and file paths as JSON."),
) -> None:
    """Show the point of AgentFactory offline: batch 1 vs batch 2 on the simulated model, vs a ReAct agent."""
    out = out or Path(tempfile.mkdtemp(prefix="agentfactory-demo-"))
    if not json_:
        console.print(
            "[bold]AgentFactory demo[/]: the core suite, batch 1 then batch 2, for AgentFactory and a ReAct "
            "agent, on the [yellow]simulated model[/] (figures are not a real model's)."
        )
    result, paths = _run(None, ("agentfactory", "react"), "sim", 1, out, sandbox, quiet=json_)
    if not json_:
        console.print(_table(result))
        for key, value in result.ratios().items():
            console.print(f"  {key}: {value:.1%}")
        console.print(
            "[yellow]These ratios measure orchestration under the simulated model, whose design favours "
            "reuse; they are not evidence that reuse saves tokens with a real model (README, The "
            "benchmark). Model calls include the subagents' llm tool calls.[/]"
        )
    library = result.root / "agentfactory" / "library"
    report: Path | None = out / "report.html"
    problem = None
    try:
        from agentfactory.experience import ExperienceStore
        from agentfactory.report import write_all_reports

        store = ExperienceStore(library.parent / "library.experience.sqlite")
        write_all_reports(store, report, workspaces=library.parent / "workspaces")
    except Exception as exc:  # the report is a bonus: the figures above stand without it
        problem = f"{type(exc).__name__}: {exc}"
        report = None
    if json_:
        print_json(
            {
                **result.to_json(),
                "library": str(library),
                "report": str(report) if report else None,
                "report_problem": problem,
                "files": {key: str(path) for key, path in paths.items()},
            }
        )
        return
    if problem:
        console.print(f"[yellow]No report: {show(problem)}[/]", highlight=False)
    console.print(f"Library: {library}  (agentfactory library list --library {library})", highlight=False)
    if report:
        console.print(f"Report: {report}", highlight=False)
    console.print(
        f"Chart: {paths['chart']} · table {paths['markdown']} · JSON {paths['json']}", highlight=False
    )
