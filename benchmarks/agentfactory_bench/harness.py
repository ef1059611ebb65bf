"""The benchmark harness: each method runs batch 1 then batch 2 of a suite, starting from nothing.

Before anything runs, the suite's negative controls must pass (controls.py): a suite with a check that
an empty answer, a refusal or the echoed task text would pass is refused. Per task the harness records
what the event log says (input, output, cache tokens for orchestrator and subagent calls, model calls,
steps, `final` decisions), whether the checker accepts the answer and outputs, the wall time, and the
cost under the prompt-cache model (costs.py) from a provider wrapper (recording.py) that can also keep
every request and response. The agentfactory method runs with `final` answers on, off, or both.

Figures per method x batch come twice: over all tasks, and over the tasks every method solved (so a
method is not cheaper for giving up). Headline ratios are given for each `final` mode.

With `workers` > 1 the tasks within a batch run on that many worker processes, through the driver of
`agentfactory batch` (agentfactory.batch.run_tasks); batch 1 ends before batch 2 starts. Tasks of one
batch then run side by side, so one does not see what another of its batch saved (or, for
text-lessons, learnt) as it would one after the other: figures can differ from a one-worker run's.
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

from agentfactory.config import KEYS, Settings
from agentfactory.errors import UsageError
from agentfactory.events import FINAL_DECISION, read_events, summarize_run
from agentfactory_bench.checkers import check_task, sandbox_runner
from agentfactory_bench.costs import DEFAULT_PRICE_MODEL, PromptCache
from agentfactory_bench.fixtures import FixtureServer, prepare_task
from agentfactory_bench.recording import CALLS_DIR, RecordingProvider
from agentfactory_bench.rules import RULES, Rules
from agentfactory_bench.suite import Suite, Task

METHODS = ("agentfactory", "react", "text-lessons")
FINAL_MODES = ("on", "off")
FINAL_OFF_LABEL = "agentfactory final-off"
LABELS = ("agentfactory", FINAL_OFF_LABEL, "react", "text-lessons")

# The headline ratios: (name, numerator (method, batch), denominator (method, batch)).
HEADLINES = (
    ("AF b2 / ReAct b2", ("agentfactory", 2), ("react", 2)),
    ("AF b2 / AF b1", ("agentfactory", 2), ("agentfactory", 1)),
    ("AF b1 / ReAct b1", ("agentfactory", 1), ("react", 1)),
)
_SUMMED = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "total_tokens",
    "orchestrator_output_tokens",
    "model_calls",
    "steps",
    "cost_usd",
    "priced_cache_read",
    "priced_cache_write",
    "wall_s",
)


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
    final: bool | None = None  # agentfactory: whether final answers were allowed; None for baselines
    label: str = ""  # method, or FINAL_OFF_LABEL for agentfactory with final answers off
    orchestrator_output_tokens: int = 0
    cost_usd: float = 0.0  # under the prompt-cache model
    priced_cache_read: int = 0  # the cache model's reads and writes (as reported, or modelled)
    priced_cache_write: int = 0
    final_used: int = 0  # final=true requests granted (the run ended with the result)
    final_refused: int = 0  # final=true requests sent back to the model
    workspace: str = ""  # relative to the bench root

    @property
    def final_failed_check(self) -> bool:
        """The run ended with a final answer and the checker rejected it."""
        return self.final_used > 0 and not self.success


@dataclass
class BenchResult:
    model: str
    simulated: bool
    suite: str
    rows: list[TaskRow]
    root: Path
    price_model: str = DEFAULT_PRICE_MODEL
    suite_path: str = ""

    # -- figures -------------------------------------------------------------------------------------

    def labels(self) -> list[str]:
        present = {r.label or r.method for r in self.rows}
        return [m for m in LABELS if m in present] + sorted(present - set(LABELS))

    def common_tasks(self) -> set[str]:
        """Task ids solved by every method (and `final` mode) in every repeat."""
        ids = {r.task_id for r in self.rows}
        return {t for t in ids if all(r.success for r in self.rows if r.task_id == t)}

    def summary(self, only: set[str] | None = None) -> list[dict[str, Any]]:
        """Per method x batch: means over repeats of per-batch totals; `only` limits to those task ids."""
        out = []
        for label in self.labels():
            for batch in (1, 2):
                rows = [
                    r
                    for r in self.rows
                    if (r.label or r.method) == label
                    and r.batch == batch
                    and (only is None or r.task_id in only)
                ]
                if not rows:
                    continue
                out.append(_aggregate(label, batch, rows, self.model))
        return out

    def headline(self) -> list[dict[str, Any]]:
        """Each headline ratio per `final` mode present, over all tasks and over the common ones."""
        common = self.common_tasks()
        bases = {"all tasks": self.summary(), "solved by all": self.summary(common)}
        out = []
        finals = [m for m, lab in (("on", "agentfactory"), ("off", FINAL_OFF_LABEL)) if lab in self.labels()]
        for mode in finals:
            af = "agentfactory" if mode == "on" else FINAL_OFF_LABEL
            for basis, summary in bases.items():
                by = {(s["method"], s["batch"]): s for s in summary}
                for name, (nm, nb), (dm, db) in HEADLINES:
                    num = by.get((af if nm == "agentfactory" else nm, nb))
                    den = by.get((af if dm == "agentfactory" else dm, db))
                    if num is None or den is None:
                        continue
                    out.append(
                        {
                            "ratio": name,
                            "final": mode,
                            "basis": basis,
                            "tasks": min(num["tasks"], den["tasks"]),
                            "total_tokens": _ratio(num["total_tokens"], den["total_tokens"]),
                            "cost_usd": _ratio(num["cost_usd"], den["cost_usd"]),
                            "orchestrator_output_per_task": _ratio(
                                num["orchestrator_output_per_task"], den["orchestrator_output_per_task"]
                            ),
                        }
                    )
        return out

    def ratios(self) -> dict[str, float]:
        """Total-token headline ratios over all tasks: "<ratio> (final <mode>)" -> value."""
        return {
            f"{h['ratio']} (final {h['final']})": h["total_tokens"]
            for h in self.headline()
            if h["basis"] == "all tasks" and h["total_tokens"] is not None
        }

    def final_counts(self) -> dict[str, int]:
        """How often agentfactory asked for a final answer, got it, was refused, and how often a final
        answer then failed its checker (final mode on only)."""
        rows = [r for r in self.rows if r.method == "agentfactory" and r.final is not False]
        return {
            "requests": sum(r.final_used + r.final_refused for r in rows),
            "used": sum(r.final_used for r in rows),
            "refused": sum(r.final_refused for r in rows),
            "final_answer_failed_check": sum(r.final_failed_check for r in rows),
        }

    def to_json(self) -> dict[str, Any]:
        label = "simulated model (sim): not a real model's figures" if self.simulated else self.model
        return {
            "model": "sim" if self.simulated else self.model,
            "label": label,
            "suite": self.suite,
            "suite_path": self.suite_path,
            "price_model": self.price_model,
            "summary": self.summary(),
            "summary_solved_by_all": self.summary(self.common_tasks()),
            "solved_by_all": sorted(self.common_tasks()),
            "headline": self.headline(),
            "ratios": self.ratios(),
            "final": self.final_counts(),
            "tasks": [asdict(r) for r in self.rows],
        }

    def markdown(self) -> str:
        lines = [f"Costs in USD under the prompt-cache model at {self.price_model} prices.", ""]
        common = self.common_tasks()
        for title, summary in (
            ("All tasks", self.summary()),
            (
                f"Tasks solved by every method ({len(common)} of {len({r.task_id for r in self.rows})})",
                self.summary(common),
            ),
        ):
            lines += [f"### {title}", "", _summary_table(summary), ""]
        lines += [
            "### Headline ratios",
            "",
            "| ratio | final | basis | tasks | total tokens | cost | orchestrator output / task |",
            "|---|---|---|---|---|---|---|",
        ]
        for h in self.headline():
            lines.append(
                f"| {h['ratio']} | {h['final']} | {h['basis']} | {h['tasks']} | {_pct(h['total_tokens'])} | "
                f"{_pct(h['cost_usd'])} | {_pct(h['orchestrator_output_per_task'])} |"
            )
        f = self.final_counts()
        lines += [
            "",
            f"final answers (agentfactory, final on): {f['requests']} requested, {f['used']} used, "
            f"{f['refused']} refused; {f['final_answer_failed_check']} final answers failed their checker.",
        ]
        if self.simulated:
            lines.append("\nFigures from the simulated model (sim), not a real model.")
        return "\n".join(lines)


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 4) if den else None


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _aggregate(label: str, batch: int, rows: list[TaskRow], model: str) -> dict[str, Any]:
    repeats = sorted({r.repeat for r in rows})
    groups = [[r for r in rows if r.repeat == k] for k in repeats]
    tasks = len(groups[0])

    def mean(attr: str) -> float:
        return statistics.mean(sum(getattr(r, attr) for r in g) for g in groups)

    entry: dict[str, Any] = {
        "method": label,
        "final": rows[0].final,
        "batch": batch,
        "model": model,
        "repeats": len(repeats),
        "tasks": tasks,
        "successes": round(statistics.mean(sum(r.success for r in g) for g in groups), 2),
    }
    for attr in _SUMMED:
        value = mean(attr)
        entry[attr] = (
            round(value, 6)
            if attr == "cost_usd"
            else round(value, 1 if attr in ("model_calls", "steps", "wall_s") else None)
        )
    entry["orchestrator_output_per_task"] = round(entry["orchestrator_output_tokens"] / max(1, tasks))
    entry["subagent_tokens"] = round(
        statistics.mean(sum(sum(r.subagent.values()) for r in g) for g in groups)
    )
    entry["final_used"] = round(mean("final_used"), 2)
    entry["final_refused"] = round(mean("final_refused"), 2)
    entry["final_failed_check"] = round(
        statistics.mean(sum(r.final_failed_check for r in g) for g in groups), 2
    )
    return entry


def _summary_table(summary: list[dict[str, Any]]) -> str:
    """input is uncached input as logged; input + output + cache read + cache write = total. The priced
    columns are the cache reads and writes the cost model charged (as reported, or modelled)."""
    head = (
        "| method | batch | ok | input | output | cache read | cache write | total | priced cache read | "
        "priced cache write | orch. out/task | calls | cost USD |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for s in summary:
        lines.append(
            f"| {s['method']} | {s['batch']} | {s['successes']:g}/{s['tasks']} | {s['input_tokens']:,} | "
            f"{s['output_tokens']:,} | {s['cache_read_tokens']:,} | {s['cache_write_tokens']:,} | "
            f"{s['total_tokens']:,} | {s['priced_cache_read']:,} | {s['priced_cache_write']:,} | "
            f"{s['orchestrator_output_per_task']:,} | {s['model_calls']:g} | {s['cost_usd']:.4f} |"
        )
    return "\n".join(lines)


def variants(methods: tuple[str, ...], finals: tuple[str, ...]) -> list[tuple[str, bool | None]]:
    """(method, final) pairs to run: agentfactory once per `final` mode, baselines once."""
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise UsageError(f"Unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}.")
    bad = [f for f in finals if f not in FINAL_MODES]
    if bad or not finals:
        raise UsageError(f"--final must be on, off or both, not {', '.join(bad) or 'nothing'}.")
    out: list[tuple[str, bool | None]] = []
    for method in methods:
        if method == "agentfactory":
            out += [(method, mode == "on") for mode in finals]
        else:
            out.append((method, None))
    return out


def run_bench(
    suite: Suite,
    settings: Settings,
    *,
    methods: tuple[str, ...] = METHODS,
    finals: tuple[str, ...] = ("on",),
    repeat: int = 1,
    root: Path | None = None,
    backend: Any = None,
    progress: Callable[[str, int, int], None] | None = None,
    record: Path | None = None,
    price_model: str | None = None,
    view_before_reuse: bool = True,
    rules: Rules | None = None,
    workers: int = 1,
) -> BenchResult:
    """Run every method on the suite (batch 1 then batch 2), each from an empty library and store.

    The suite's negative controls run first (ValidationError, exit 2, when a check is vacuous).
    `record`: a folder that receives every model call as JSON lines (calls/<label>/<task>.jsonl).
    The simulated model is told which task it serves (`agentfactory_bench.sim.serving`); with
    `view_before_reuse` False its Meta-Agent reuses a library subagent without reading its code first
    (`--no-view-before-reuse`); `rules` replaces the simulator's rules (tests). A real model ignores
    both. `workers` > 1: the tasks of a batch run on that many worker processes (see the module)."""
    from agentfactory.sandbox import get_backend
    from agentfactory_bench.controls import sandbox_control_runner, validate_suite

    rules = replace(
        rules or RULES, view_before_reuse=view_before_reuse and (rules or RULES).view_before_reuse
    )
    runs = variants(methods, finals)
    if not 1 <= workers <= 256:
        raise UsageError(f"--workers must be between 1 and 256, not {workers}.")
    root = Path(root or tempfile.mkdtemp(prefix="agentfactory-bench-"))
    own_backend = backend is None
    backend = backend or get_backend(settings.sandbox)
    tasks = suite.batch(1) + suite.batch(2)
    total_runs = len(runs) * repeat * len(tasks)
    rows: list[TaskRow] = []
    simulated = False
    model = settings.resolved_model()
    price_model = price_model or (model if settings.models.price_for(model) else DEFAULT_PRICE_MODEL)
    try:
        validate_suite(suite, sandbox_control_runner(settings, backend))
        with FixtureServer.for_suite(suite) as server:
            done = 0
            for method, final in runs:
                label = FINAL_OFF_LABEL if final is False else method
                run_settings = settings if final is not False else settings.with_keys(final_answers=False)
                for k in range(repeat):
                    name = label.replace(" ", "-")
                    method_root = root / f"{name}-{k + 1}" if repeat > 1 else root / name
                    if method_root.exists():
                        shutil.rmtree(method_root)
                    if workers > 1:
                        spec = {"method": method, "final": final, "label": label, "repeat": k + 1,
                                "settings": _settings_json(run_settings), "method_root": str(method_root),
                                "root": str(root), "base_url": server.base_url, "suite": str(suite.path),
                                "rules": asdict(rules), "record": str(record) if record else None,
                                "price_model": price_model}  # fmt: skip
                        lessons: list[str] = []
                        for number in (1, 2):  # batch 1 ends before batch 2 starts
                            batch = [t for t in tasks if t.batch == number]
                            if progress:
                                progress(f"{label} · batch {number} · {len(batch)} tasks", done, total_runs)
                            found, sim_used = _run_parallel(batch, spec, lessons, workers, method_root / "batches" / f"batch-{number}")  # fmt: skip
                            simulated = simulated or sim_used
                            rows += found
                            done += len(batch)
                        continue
                    runner = _method_runner(method, backend)
                    cache = PromptCache.for_model(settings, price_model)
                    for task in tasks:
                        if progress:
                            progress(f"{label} · batch {task.batch} · {task.id}", done, total_runs)
                        calls_file = (
                            Path(record) / CALLS_DIR / method_root.name / f"{task.id}.jsonl"
                            if record
                            else None
                        )
                        provider = RecordingProvider(
                            _provider_for(run_settings, task), path=calls_file, label=label
                        )
                        row, sim = _run_task(
                            method,
                            k + 1,
                            task,
                            runner,
                            run_settings,
                            method_root,
                            server.base_url,
                            backend,
                            provider=provider,
                            suite=suite,
                            rules=rules,
                        )
                        _price(row, provider, cache)
                        row.final, row.label = final, label
                        row.workspace = Path(row.workspace).resolve().relative_to(root.resolve()).as_posix()
                        simulated = simulated or sim
                        rows.append(row)
                        done += 1
            if progress:
                progress("done", done, total_runs)
    finally:
        if own_backend:
            backend.close()
    return BenchResult(model, simulated, suite.name, rows, root, price_model, str(suite.path))


def _settings_json(settings: Settings) -> dict[str, Any]:
    """`settings` as JSON for a worker process, by their agentfactory.toml keys (credentials stay out: the
    worker reads its own; MCP server tables are not carried, the bench's suites use none)."""
    out: dict[str, Any] = {}
    for key in KEYS:
        value = settings.value(key)
        if key == "prices":
            value = {name: asdict(p) for name, p in value.items()}
        elif key == "mcp_servers":
            continue
        elif isinstance(value, Path):
            value = str(value)
        out[key] = value
    return out


def _settings_from_json(data: dict[str, Any]) -> Settings:
    from agentfactory.config import Prices

    paths = {"library", "workspaces", "web_search_dir", "experience_db"}  # the keys holding a path
    values = {k: Path(v) if k in paths and v is not None else v for k, v in data.items() if k != "prices"}
    prices = {name: Prices(**p) for name, p in data.get("prices", {}).items()}
    return Settings.from_keys(**values, prices=prices)


class _BenchExecutor:
    """Bench tasks as batch worker processes: `python -m agentfactory_bench.harness JOB`."""

    def __init__(self, folder: Path, specs: dict[str, dict[str, Any]]):
        from agentfactory.batch.runner import LocalExecutor

        self.local = LocalExecutor(folder, Path.cwd())
        self.local.module = "agentfactory_bench.harness"
        self.specs = specs

    def execute(self, job: dict[str, Any], attempt: int) -> tuple[dict[str, Any] | None, str, dict[str, Any]]:
        return self.local.execute({**job, "bench": self.specs[job["id"]]}, attempt)

    def interrupt(self) -> None:
        self.local.interrupt()

    def kill(self) -> None:
        self.local.kill()


def _run_parallel(
    batch: list[Task], spec: dict[str, Any], lessons: list[str], workers: int, folder: Path
) -> tuple[list[TaskRow], bool]:
    """One batch of one method on `workers` worker processes; rows in the suite's order. `lessons`
    (text-lessons) are what every task of the batch starts from; what they add is appended, in order."""
    from agentfactory.batch import BatchOptions, BatchTask
    from agentfactory.batch.runner import run_tasks

    folder.mkdir(parents=True, exist_ok=True)
    specs = {t.id: {**spec, "task": t.id, "lessons": list(lessons)} for t in batch}
    options = BatchOptions(workers=workers, cwd=Path.cwd(), batches_dir=folder.parent)
    tasks = [BatchTask(t.id, t.id, line) for line, t in enumerate(batch, start=1)]
    found, interrupted = run_tasks(tasks, options, folder, _BenchExecutor(folder, specs))
    if interrupted:
        raise KeyboardInterrupt
    rows, simulated = [], False
    for task in batch:
        row = found.get(task.id) or {}
        data = row.get("task_row")
        if not isinstance(data, dict):
            raise UsageError(
                f"Bench task {task.id} ({spec['label']}) ended without a result: {row.get('reason') or row.get('status')}."
            )
        rows.append(TaskRow(**data))
        simulated = simulated or bool(row.get("simulated"))
        for line in row.get("lessons") or []:
            if line not in lessons:
                lessons.append(line)
    return rows, simulated


def _bench_job(job: dict[str, Any], on_event: Any = None) -> dict[str, Any]:
    """In a worker process: one bench task of one method, as `run_bench` runs it in-process."""
    from agentfactory.sandbox import get_backend
    from agentfactory_bench import load_suite
    from agentfactory_bench.react import ReactAgent, TextLessons

    spec = job["bench"]
    settings = _settings_from_json(spec["settings"])
    suite = load_suite(Path(spec["suite"]))
    task = next(t for t in suite.tasks if t.id == spec["task"])
    rules = Rules(**spec["rules"])
    root, method_root = Path(spec["root"]), Path(spec["method_root"])
    backend = get_backend(settings.sandbox)
    try:
        lessons = TextLessons(lines=list(spec["lessons"])) if spec["method"] == "text-lessons" else None
        if spec["method"] == "text-lessons":

            def runner(s: Settings, text: str, files: list[Path], provider: Any = None) -> Any:
                return ReactAgent(s, backend=backend, lessons=lessons, provider=provider).run(
                    text, input_files=files
                )
        else:
            runner = _method_runner(spec["method"], backend)
        calls_file = (
            Path(spec["record"]) / CALLS_DIR / method_root.name / f"{task.id}.jsonl"
            if spec["record"]
            else None
        )
        provider = RecordingProvider(_provider_for(settings, task), path=calls_file, label=spec["label"])
        row, sim = _run_task(spec["method"], spec["repeat"], task, runner, settings, method_root,
                             spec["base_url"], backend, provider=provider, suite=suite, rules=rules)  # fmt: skip
        _price(row, provider, PromptCache.for_model(settings, spec["price_model"]))
    finally:
        backend.close()
    row.final, row.label = spec["final"], spec["label"]
    row.workspace = Path(row.workspace).resolve().relative_to(root.resolve()).as_posix()
    learnt = [line for line in (lessons.lines if lessons else []) if line not in spec["lessons"]]
    return {"id": job["id"], "status": row.status, "tokens": row.total_tokens, "cost_usd": row.cost_usd,
            "task_row": asdict(row), "simulated": sim, "lessons": learnt}  # fmt: skip


def _provider_for(settings: Settings, task: Task) -> Any:
    """The model for one task. The one place the harness builds a provider (the simulator learns here
    which task it serves)."""
    from agentfactory.llm.registry import get_provider

    models = settings.models
    return get_provider(
        settings.resolved_model(), models, env=settings.credentials, thinking_budget=models.thinking_budget
    )


def _price(row: TaskRow, provider: RecordingProvider, cache: PromptCache) -> None:
    cost = cache.cost(provider.calls)
    row.cost_usd = round(cost.usd, 8)
    row.priced_cache_read, row.priced_cache_write = cost.cache_read, cost.cache_write


def _method_runner(method: str, backend: Any) -> Callable[..., Any]:
    from agentfactory.meta.agent import MetaAgent
    from agentfactory_bench.react import ReactAgent, TextLessons

    if method == "agentfactory":
        return lambda s, text, files, provider=None: MetaAgent(s, backend=backend, provider=provider).run(
            text, input_files=files
        )
    lessons = TextLessons() if method == "text-lessons" else None
    return lambda s, text, files, provider=None: ReactAgent(
        s, backend=backend, lessons=lessons, provider=provider
    ).run(text, input_files=files)


def _solved(task: Task, status: str, checks_passed: bool) -> bool:
    """A task counts as solved when the run says it is done and its checks pass. A run that ended
    task_failed is a failure, but for a task marked out_of_scope, where saying so is the right answer
    (a run that claims success on such a task must still pass checks that verify a correct result)."""
    if status == "task_failed":
        return task.out_of_scope
    return status == "success" and checks_passed


def final_decisions(run_dir: Path) -> tuple[int, int]:
    """(used, refused) `final_decision` events of one run."""
    used = refused = 0
    path = Path(run_dir) / "events.jsonl"
    if path.is_file():
        for event in read_events(path):
            if event.get("type") == FINAL_DECISION:
                if event.get("used"):
                    used += 1
                else:
                    refused += 1
    return used, refused


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
    provider: Any = None,
) -> tuple[TaskRow, bool]:
    scratch = method_root / "tasks" / task.id
    prepared = prepare_task(task, scratch, base_url)
    task_settings = settings.with_keys(
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
        if provider is None:
            result = runner(task_settings, prepared.text, files)
        else:
            result = runner(task_settings, prepared.text, files, provider=provider)
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
    used, refused = final_decisions(Path(result.workspace))
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
        input_tokens=usage.input_tokens,  # uncached: input + cache read + cache write + output = total
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
        label=method,
        orchestrator_output_tokens=summary.orchestrator_usage.output_tokens,
        final_used=used,
        final_refused=refused,
        workspace=str(result.workspace),
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


if __name__ == "__main__":  # a bench worker process (see _BenchExecutor)
    import sys

    from agentfactory.batch.worker import main

    sys.exit(main(sys.argv, run=_bench_job))
