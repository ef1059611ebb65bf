"""The benchmark harness: each method runs batch 1 then batch 2 of a suite, starting from nothing.

Per task it records what the event log says (input, output, cache tokens for orchestrator and
subagent calls, model calls, steps), whether the checker accepts the answer and outputs, and the wall
time. Token figures are read back from each run's events.jsonl, so they are exactly what was logged.
Aggregates per method x batch, ratios, a markdown table, a JSON file and an SVG chart follow.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from agentfactory.config import Settings
from agentfactory.errors import UsageError
from agentfactory.events import summarize_run
from agentfactory_bench.checkers import check_task, sandbox_runner
from agentfactory_bench.fixtures import FixtureServer, prepare_task
from agentfactory_bench.rules import RULES, Rules
from agentfactory_bench.suite import Suite, Task

METHODS = ("agentfactory", "react", "text-lessons")


@dataclass
class TaskRow:
    method: str
    repeat: int
    batch: int
    task_id: str
    family: str
    success: bool
    status: str
    check: list[str]
    orchestrator: dict[str, int]
    subagent: dict[str, int]
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    total_tokens: int
    model_calls: int
    steps: int
    wall_s: float
    run_id: str
    reused: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    saved: list[str] = field(default_factory=list)


@dataclass
class BenchResult:
    model: str
    simulated: bool
    suite: str
    rows: list[TaskRow]
    root: Path

    def summary(self) -> list[dict[str, Any]]:
        out = []
        keys = sorted(
            {(r.method, r.batch) for r in self.rows},
            key=lambda k: (METHODS.index(k[0]) if k[0] in METHODS else 9, k[1]),
        )
        for method, batch in keys:
            rows = [r for r in self.rows if r.method == method and r.batch == batch]
            repeats = sorted({r.repeat for r in rows})
            per_repeat = [[r for r in rows if r.repeat == k] for k in repeats]

            def total(attr: str, group: list[TaskRow]) -> int:
                return sum(getattr(r, attr) for r in group)

            def mean_total(attr: str, groups: list[list[TaskRow]] = per_repeat) -> float:
                return statistics.mean(total(attr, g) for g in groups)

            out.append(
                {
                    "method": method,
                    "batch": batch,
                    "model": self.model,
                    "repeats": len(repeats),
                    "tasks": len(per_repeat[0]),
                    "successes": round(statistics.mean(sum(r.success for r in g) for g in per_repeat), 2),
                    "input_tokens": round(mean_total("input_tokens")),
                    "output_tokens": round(mean_total("output_tokens")),
                    "cache_read_tokens": round(mean_total("cache_read_tokens")),
                    "cache_write_tokens": round(mean_total("cache_write_tokens")),
                    "total_tokens": round(mean_total("total_tokens")),
                    "orchestrator_output_tokens": round(
                        statistics.mean(
                            sum(r.orchestrator.get("output_tokens", 0) for r in g) for g in per_repeat
                        )
                    ),
                    "subagent_tokens": round(
                        statistics.mean(sum(sum(r.subagent.values()) for r in g) for g in per_repeat)
                    ),
                    "model_calls": round(mean_total("model_calls"), 1),
                    "steps": round(mean_total("steps"), 1),
                    "mean_tokens_per_task": round(statistics.mean(r.total_tokens for r in rows)),
                    "median_tokens_per_task": round(statistics.median(r.total_tokens for r in rows)),
                    "mean_output_tokens_per_task": round(statistics.mean(r.output_tokens for r in rows)),
                    "wall_s": round(mean_total("wall_s"), 2),
                }
            )
        return out

    def ratios(self) -> dict[str, float]:
        by = {(s["method"], s["batch"]): s for s in self.summary()}
        ratios: dict[str, float] = {}
        for method in {m for m, _ in by}:
            if (method, 1) in by and (method, 2) in by and by[(method, 1)]["total_tokens"]:
                ratios[f"{method} batch2/batch1"] = (
                    by[(method, 2)]["total_tokens"] / by[(method, 1)]["total_tokens"]
                )
            for batch in (1, 2):
                if method != "react" and (method, batch) in by and ("react", batch) in by:
                    base = by[("react", batch)]["total_tokens"]
                    if base:
                        ratios[f"{method}/react batch{batch}"] = by[(method, batch)]["total_tokens"] / base
        return {k: round(v, 4) for k, v in sorted(ratios.items())}

    def to_json(self) -> dict[str, Any]:
        label = "simulated model (sim): not a real model's figures" if self.simulated else self.model
        return {
            "model": "sim" if self.simulated else self.model,
            "label": label,
            "suite": self.suite,
            "summary": self.summary(),
            "ratios": self.ratios(),
            "tasks": [asdict(r) for r in self.rows],
        }

    def markdown(self) -> str:
        head = (
            "| method | batch | tasks | successes | input tokens | output tokens | total tokens | "
            "orchestrator output | model calls | steps |\n|---|---|---|---|---|---|---|---|---|---|"
        )
        lines = [head]
        for s in self.summary():
            lines.append(
                f"| {s['method']} | {s['batch']} | {s['tasks']} | {s['successes']} | "
                f"{s['input_tokens']:,} | {s['output_tokens']:,} | {s['total_tokens']:,} | "
                f"{s['orchestrator_output_tokens']:,} | {s['model_calls']} | {s['steps']} |"
            )
        lines.append("")
        lines.extend(f"- {k}: {v:.1%}" for k, v in self.ratios().items())
        if self.simulated:
            lines.append("\nFigures from the simulated model (sim), not a real model.")
        return "\n".join(lines)


def run_bench(
    suite: Suite,
    settings: Settings,
    *,
    methods: tuple[str, ...] = METHODS,
    repeat: int = 1,
    root: Path | None = None,
    backend: Any = None,
    progress: Callable[[str, int, int], None] | None = None,
    view_before_reuse: bool = True,
    rules: Rules | None = None,
) -> BenchResult:
    """Run every method on the suite (batch 1 then batch 2), each from an empty library and store.

    The simulated model is told which task it serves (`agentfactory_bench.sim.serving`); with
    `view_before_reuse` False its Meta-Agent reuses a library subagent without reading its code first
    (`--no-view-before-reuse`); `rules` replaces the simulator's rules (tests). A real model ignores
    both."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise UsageError(f"Unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}.")
    from agentfactory.sandbox import get_backend

    rules = replace(
        rules or RULES, view_before_reuse=view_before_reuse and (rules or RULES).view_before_reuse
    )
    root = Path(root or tempfile.mkdtemp(prefix="agentfactory-bench-"))
    own_backend = backend is None
    backend = backend or get_backend(settings)
    tasks = suite.batch(1) + suite.batch(2)
    total_runs = len(methods) * repeat * len(tasks)
    rows: list[TaskRow] = []
    simulated = False
    try:
        with FixtureServer.for_suite(suite) as server:
            done = 0
            for method in methods:
                for k in range(repeat):
                    method_root = root / f"{method}-{k + 1}" if repeat > 1 else root / method
                    if method_root.exists():
                        shutil.rmtree(method_root)
                    runner = _method_runner(method, backend)
                    for task in tasks:
                        if progress:
                            progress(f"{method} · batch {task.batch} · {task.id}", done, total_runs)
                        row, sim = _run_task(
                            method,
                            k + 1,
                            task,
                            runner,
                            settings,
                            method_root,
                            server.base_url,
                            backend,
                            suite=suite,
                            rules=rules,
                        )
                        simulated = simulated or sim
                        rows.append(row)
                        done += 1
            if progress:
                progress("done", done, total_runs)
    finally:
        if own_backend:
            backend.close()
    return BenchResult(settings.resolved_model(), simulated, suite.name, rows, root)


def _method_runner(method: str, backend: Any) -> Callable[[Settings, str, list[Path]], Any]:
    from agentfactory.meta.agent import MetaAgent
    from agentfactory_bench.react import ReactAgent, TextLessons

    if method == "agentfactory":
        return lambda s, text, files: MetaAgent(s, backend=backend).run(text, input_files=files)
    lessons = TextLessons() if method == "text-lessons" else None
    return lambda s, text, files: ReactAgent(s, backend=backend, lessons=lessons).run(text, input_files=files)


def _solved(task: Task, status: str, checks_passed: bool) -> bool:
    """A task counts as solved when the run says it is done and its checks pass. A run that ended
    task_failed is a failure, but for a task marked out_of_scope, where saying so is the right answer."""
    if status == "task_failed":
        return task.out_of_scope
    return status == "success" and checks_passed


def _run_task(
    method: str,
    repeat: int,
    task: Any,
    runner: Callable,
    settings: Settings,
    method_root: Path,
    base_url: str,
    backend: Any,
    *,
    suite: Suite | None = None,
    rules: Any = None,
) -> tuple[TaskRow, bool]:
    scratch = method_root / "tasks" / task.id
    prepared = prepare_task(task, scratch, base_url)
    task_settings = replace(
        settings,
        library=method_root / "library",
        workspaces=method_root / "workspaces",
        web_search_dir=prepared.search_dir,
        web_fetch_allow_loopback=True,
    )
    files = sorted(p for p in prepared.inputs_dir.iterdir() if p.is_file())
    from agentfactory_bench import sim

    started = time.perf_counter()
    # The simulated model is told which task it serves; it never reads the text to decide.
    serving = (
        sim.serving(task, suite, base_url=base_url, rules=rules or RULES)
        if suite is not None
        else contextlib.nullcontext()
    )
    with serving:
        result = runner(task_settings, prepared.text, files)
    wall = time.perf_counter() - started
    outputs = Path(result.workspace) / "outputs"
    (scratch / "check").mkdir(parents=True, exist_ok=True)
    check = check_task(
        task,
        result.answer or "",
        outputs,
        python_runner=sandbox_runner(task_settings, backend),
        scratch_dir=scratch / "check",
    )
    summary = summarize_run(Path(result.workspace))
    usage = summary.usage
    row = TaskRow(
        method=method,
        repeat=repeat,
        batch=task.batch,
        task_id=task.id,
        family=task.family,
        success=_solved(task, result.status, check.passed),
        status=result.status,
        check=check.details,
        orchestrator=summary.orchestrator_usage.to_dict(),
        subagent=summary.subagent_usage.to_dict(),
        input_tokens=usage.total_input_tokens,
        output_tokens=usage.output_tokens,
        cache_read_tokens=usage.cache_read_tokens,
        cache_write_tokens=usage.cache_write_tokens,
        total_tokens=usage.total_tokens,
        model_calls=summary.model_calls,
        steps=summary.steps,
        wall_s=round(wall, 3),
        run_id=result.run_id,
        reused=list(result.reused),
        created=list(result.created),
        saved=[f"{n} v{v}" for n, v in result.saved],
    )
    return row, bool(result.simulated)


def write_outputs(result: BenchResult, out: Path) -> dict[str, Path]:
    """bench.json, bench.md and bench.svg in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "bench.json", "markdown": out / "bench.md", "chart": out / "bench.svg"}
    paths["json"].write_text(json.dumps(result.to_json(), indent=2, default=str))
    paths["markdown"].write_text(result.markdown() + "\n")
    paths["chart"].write_text(svg_chart(result))
    return paths


def svg_chart(result: BenchResult) -> str:
    """Grouped bars: total tokens per method and batch (input and output stacked)."""
    summary = result.summary()
    width, height, pad, bar = 640, 320, 50, 36
    top = max((s["total_tokens"] for s in summary), default=1) or 1
    colours = {1: ("#4c78a8", "#9ecae9"), 2: ("#f58518", "#ffbf79")}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="12">',
        f'<text x="{pad}" y="20" font-size="14">Total tokens per batch (input dark, output light)'
        f"{' — simulated model' if result.simulated else ''}</text>",
    ]
    x = pad
    scale = (height - 2 * pad) / top
    for s in summary:
        dark, light = colours.get(s["batch"], ("#888", "#ccc"))
        h_in, h_out = s["input_tokens"] * scale, s["output_tokens"] * scale
        base = height - pad
        parts.append(f'<rect x="{x}" y="{base - h_in:.1f}" width="{bar}" height="{h_in:.1f}" fill="{dark}"/>')
        parts.append(
            f'<rect x="{x}" y="{base - h_in - h_out:.1f}" width="{bar}" height="{h_out:.1f}" fill="{light}"/>'
        )
        parts.append(
            f'<text x="{x}" y="{base - h_in - h_out - 4:.1f}" font-size="10">{s["total_tokens"]:,}</text>'
        )
        parts.append(f'<text x="{x}" y="{base + 14}" font-size="10">{s["method"][:12]}</text>')
        parts.append(f'<text x="{x}" y="{base + 26}" font-size="10">batch {s["batch"]}</text>')
        x += bar + (30 if s["batch"] == 2 else 8)
    parts.append("</svg>")
    return "\n".join(parts)
