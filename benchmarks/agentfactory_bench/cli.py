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


def _finals(value: str) -> tuple[str, ...]:
    from agentfactory.errors import UsageError

    choices = {"on": ("on",), "off": ("off",), "both": ("on", "off")}
    if value not in choices:
        raise UsageError(f"--final must be on, off or both, not {value!r}.")
    return choices[value]


def _run(
    suite_path: Path | None,
    methods: tuple[str, ...],
    model: str | None,
    repeat: int,
    out: Path,
    sandbox: str | None,
    quiet: bool,
    finals: tuple[str, ...] = ("on", "off"),
    record: Path | None = None,
    price_model: str | None = None,
    view_before_reuse: bool = True,
    workers: int = 1,
):
    from agentfactory_bench import CORE_SUITE, load_suite
    from agentfactory_bench.harness import run_bench, variants, write_outputs

    suite = load_suite(suite_path or CORE_SUITE)
    cfg = settings(model=model or "sim", sandbox=sandbox)
    runs = len(variants(methods, finals))
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=True,
    ) as bar:
        job = bar.add_task("negative controls", total=len(suite.tasks) * runs * repeat)

        def progress(what: str, done: int, total: int) -> None:
            bar.update(job, description=what, completed=done, total=total)

        result = run_bench(
            suite,
            cfg,
            methods=methods,
            finals=finals,
            repeat=repeat,
            root=out / "runs",
            progress=progress,
            record=record,
            price_model=price_model,
            view_before_reuse=view_before_reuse,
            workers=workers,
        )
    return result, write_outputs(result, out)


_SHORT = {"agentfactory": "AF", "agentfactory final-off": "AF final off", "text-lessons": "lessons"}


def _k(n: float) -> str:
    """A token count in at most 6 characters (12,345 -> 12.3k), so the table fits 80 columns."""
    n = float(n)
    if n >= 999_500:
        return f"{n / 1e6:.1f}M"
    return f"{n / 1e3:.1f}k" if n >= 1000 else f"{n:.0f}"


def _table(result, summary=None, title: str = "") -> Table:
    sim = " (simulated model: not a real model's figures)" if result.simulated else f" ({result.model})"
    table = Table(
        title=title or f"Suite {result.suite}{sim}",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        show_edge=False,
    )
    table.add_column("method", no_wrap=True)
    # in: every input token (cached or not); c.rd, c.wr: the part of it the cost model prices as cache
    # reads and writes.
    for name in ("b", "ok", "in", "out", "c.rd", "c.wr", "orch/task", "calls", "USD"):
        table.add_column(name, justify="right", no_wrap=True)
    for s in result.summary() if summary is None else summary:
        table.add_row(
            _SHORT.get(s["method"], s["method"]),
            str(s["batch"]),
            f"{s['successes']:g}/{s['tasks']}",
            _k(s["total_tokens"] - s["output_tokens"]),
            _k(s["output_tokens"]),
            _k(s["priced_cache_read"]),
            _k(s["priced_cache_write"]),
            _k(s["orchestrator_output_per_task"]),
            f"{s['model_calls']:g}",
            f"{s['cost_usd']:.2f}",
        )
    return table


def _print_figures(result) -> None:
    console.print(_table(result))
    common = result.common_tasks()
    console.print(
        _table(
            result,
            result.summary(common),
            f"Tasks every method solved ({len(common)} of {len({r.task_id for r in result.rows})})",
        )
    )
    console.print(
        f"Costs under the prompt-cache model at {result.price_model} prices (prefix cached for every method).",
        highlight=False,
    )
    for h in result.headline():
        pct = {k: "n/a" if h[k] is None else f"{h[k]:.1%}" for k in ("total_tokens", "cost_usd")}
        console.print(
            f"  {h['ratio']} · final {h['final']} · {h['basis']}: tokens {pct['total_tokens']}, "
            f"cost {pct['cost_usd']}",
            highlight=False,
        )
    f = result.final_counts()
    console.print(
        f"  final answers: {f['used']} used, {f['refused']} refused; "
        f"{f['final_answer_failed_check']} failed their checker",
        highlight=False,
    )


def bench(
    suite: Path = typer.Option(None, "--suite", help="Task suite folder (default: the core suite)."),
    methods: str = typer.Option(
        "agentfactory,react,text-lessons", "--methods", help="Comma-separated methods."
    ),
    model: str = typer.Option(None, "--model", help="Model spec (default: sim, the simulated model)."),
    repeat: int = typer.Option(1, "--repeat", min=1, help="Repeats per method (for stochastic models)."),
    final: str = typer.Option(
        "both", "--final", help="agentfactory's final answers: on, off, or both (run it twice)."
    ),
    out: Path = typer.Option(None, "--out", help="Output directory for the table, JSON and chart."),
    sandbox: str = typer.Option(None, "--sandbox", help="docker (default) or local."),
    json_: bool = typer.Option(False, "--json", help="Print the JSON summary."),
    validate: bool = typer.Option(
        False, "--validate", help="Only check the suite: format and negative controls; exit 2 if invalid."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print tasks, calls and a cost estimate; build no provider, spend nothing."
    ),
    record: Path = typer.Option(
        None, "--record", help="Keep every model request and response as JSON lines in DIR (and the run)."
    ),
    rescore: Path = typer.Option(
        None, "--rescore", help="Re-check the answers and files of the bench run in DIR, with no model."
    ),
    price_model: str = typer.Option(
        None, "--price-model", help="Model whose prices cost the run (default: the model, or Sonnet 4.6)."
    ),
    view_before_reuse: bool = typer.Option(
        True,
        "--view-before-reuse/--no-view-before-reuse",
        help="The simulated Meta-Agent views a library subagent's code before its first reuse in a run.",
    ),
    workers: int = typer.Option(
        1, "--workers", "-w", help="Worker processes for the tasks within a batch (batch 1 before batch 2)."
    ),
) -> None:
    """Run the benchmark: each method on batch 1 then batch 2, starting from nothing; tokens, cost, success."""
    from agentfactory_bench import CORE_SUITE, load_suite

    chosen = tuple(m.strip() for m in methods.split(",") if m.strip())
    finals = _finals(final)
    if rescore is not None:
        return _rescore(rescore, suite, sandbox, json_)
    if validate:
        return _validate(load_suite(suite or CORE_SUITE), sandbox, json_)
    if dry_run:
        return _dry_run(load_suite(suite or CORE_SUITE), chosen, finals, model, repeat, price_model, json_)
    out = out or record or Path(tempfile.mkdtemp(prefix="agentfactory-bench-"))
    result, paths = _run(
        suite,
        chosen,
        model,
        repeat,
        out,
        sandbox,
        quiet=json_,
        finals=finals,
        record=record,
        price_model=price_model,
        view_before_reuse=view_before_reuse,
        workers=workers,
    )
    if json_:
        print_json(result.to_json())
        return
    _print_figures(result)
    if record:
        console.print(f"Model calls recorded in {record / 'calls'}", highlight=False)
    console.print(
        f"Table {paths['markdown']} · JSON {paths['json']} · chart {paths['chart']}", highlight=False
    )


def _validate(suite, sandbox: str | None, json_: bool) -> None:
    from agentfactory_bench.controls import sandbox_control_runner, validate_suite

    cfg = settings(sandbox=sandbox)
    checked = validate_suite(suite, sandbox_control_runner(cfg))
    if json_:
        print_json(
            {"suite": suite.name, "valid": True, "tasks": len(suite.tasks), "controls_checked": checked}
        )
        return
    console.print(
        f"Suite {suite.name} is valid: {len(suite.tasks)} tasks, each failing the empty, refusal and echo "
        "negative controls.",
        highlight=False,
    )


def _dry_run(suite, methods, finals, model, repeat, price_model, json_: bool) -> None:
    from agentfactory_bench.estimate import estimate

    cfg = settings(model=model or "sim")
    est = estimate(suite, cfg, methods=methods, finals=finals, repeat=repeat, price_model=price_model)
    if json_:
        print_json({"suite": suite.name, "model": cfg.resolved_model(), **est.to_json()})
        return
    table = Table(
        title=f"Dry run: suite {suite.name}, {cfg.resolved_model()}, {repeat} repeat(s); nothing is spent",
        box=box.SIMPLE_HEAD,
        show_edge=False,
    )
    for name in ("method", "batch", "task runs", "calls", "input", "output", "USD"):
        table.add_column(name, justify="left" if name == "method" else "right", no_wrap=True)
    for r in est.rows:
        table.add_row(
            r["method"],
            str(r["batch"]),
            str(r["tasks"]),
            str(r["calls"]),
            f"{r['input_tokens']:,}",
            f"{r['output_tokens']:,}",
            f"{r['cost_usd']:.2f}",
        )
    console.print(table)
    console.print(
        f"{est.runs} task runs, about {est.calls} model calls, about ${est.cost_usd:.2f} at {est.price_model} "
        f"prices with the prompt cache; at most ${est.ceiling_usd:,.2f} (max_cost per run). The estimate "
        "assumes calls per task, output per call and context growth (see --json); a real run differs.",
        highlight=False,
    )


def _rescore(folder: Path, suite_path: Path | None, sandbox: str | None, json_: bool) -> None:
    from agentfactory_bench import load_suite
    from agentfactory_bench.harness import write_outputs
    from agentfactory_bench.rescore import rescore

    cfg = settings(sandbox=sandbox)
    result = rescore(folder, cfg, load_suite(suite_path) if suite_path else None)
    paths = write_outputs(result, folder / "rescored")
    if json_:
        print_json(result.to_json())
        return
    _print_figures(result)
    console.print(f"Re-scored without a model: {paths['json']}", highlight=False)


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
        _print_figures(result)
        console.print(
            "[yellow]The simulated model is an oracle of equal competence (the same code, inspection and "
            "mistakes for every method), so these ratios measure what orchestration costs, not what a real "
            "model would do (README, The benchmark). Model calls include the subagents' llm tool calls.[/]"
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
