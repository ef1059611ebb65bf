"""Self-evolve: refine library subagents from their failing executions, behind the per-case regression gate.

One subagent at a time, under an inter-process lock: retrieve its code, SKILL.md, stored cases and failing
cases; assess the current version on all of them in the sandbox for fresh traces; show the model the code
with line numbers and the failing traces mapped to lines; take its revision (a `submit_revision` tool call:
full code or search/replace edits); validate the revision in an isolated folder on every stored case and
every failing case with `gate.run_gate`. Only a revision that keeps every stored case passing, each one,
and fixes the failing cases is committed, as a new version with its changelog, limitations and new cases.
A rejected revision leaves the library untouched; its reason is recorded and fed to the next round.

Failing cases with a sibling of the same kind (same error, same input shape) keep one sibling hidden from
the model and use it in validation only: the generalisation check against revisions that special-case
the inputs they were shown.

This module writes to the library only through `Library.save`, and never knows which model provider or
sandbox backend it talks to.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from jinja2 import Environment, PackageLoader, StrictUndefined

from agentfactory import events as ev
from agentfactory.config import Settings
from agentfactory.engine.candidates import FIXTURES_DIR
from agentfactory.engine.execution import inputs_digest as event_digest
from agentfactory.engine.gate import (
    GateReport,
    case_from_run,
    collect,
    record_gate_decision,
    run_case,
    run_gate,
)
from agentfactory.errors import AgentFactoryError, UsageError, ValidationError
from agentfactory.library import Case, Library, validate_folder
from agentfactory.library.cases import dump_cases
from agentfactory.llm.types import Message, ModelProvider, ToolResult, ToolSpec
from agentfactory.llm.validation import check_tool_call

ACCEPT_ALL = "all"  # every failing case shown to the model must pass
ACCEPT_MORE = "more"  # strictly more failing cases pass than before
EVOLVE_ROUND = "evolve_round"  # event: one stage of one subagent's loop (assess, a round, the verdict)
DEFAULT_CANDIDATES = 5  # subagents evolved without names or --all
MAX_FAILING_CASES = 8  # distinct failing inputs taken per subagent, most recent first
TRACE_CHARS = 1500  # of each failing trace shown to the model
SOURCE = "evolve"

_templates = Environment(
    loader=PackageLoader("agentfactory.meta", "prompts"),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
)

SUBMIT_REVISION = ToolSpec(
    "submit_revision",
    "Submit one revision of the subagent's module: either the complete new source in `code`, or "
    "search/replace `edits` on the current source (each `old` must occur exactly once). `reason` says "
    "what was wrong and what changed; it goes into the changelog.",
    {
        "type": "object",
        "properties": {
            "reason": {"type": "string", "minLength": 1},
            "code": {"type": "string"},
            "edits": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {"old": {"type": "string", "minLength": 1}, "new": {"type": "string"}},
                    "required": ["old", "new"],
                    "additionalProperties": False,
                },
            },
            "limitations": {
                "type": "string",
                "description": "Known limitations that remain after this revision (for SKILL.md).",
            },
        },
        "required": ["reason"],
        "additionalProperties": False,
    },
)


# ----------------------------------------------------------------------------------------- records


@dataclass
class FailingCase:
    """An input a subagent failed on, as a case to fix: inputs, what the output must satisfy if known."""

    inputs: dict[str, Any]
    expected: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, Any] = field(default_factory=dict)
    kind: str = ""  # error kind and input shape: failures of one kind are siblings
    error: str = ""
    run_id: str | None = None
    fixtures: Path | None = None  # the folder `inputs/...` paths in the inputs refer to
    held_out: bool = False  # hidden from the model, used in validation (the generalisation check)
    trace: Any = None  # the latest trace on the current version (recorded, then the fresh one)
    # From a run the user rated bad: the execution succeeded, but its result is the one to change.
    rated_bad: bool = False
    rejected_result: Any = None

    def case(self) -> Case:
        return Case(
            inputs=dict(self.inputs),
            expected=dict(self.expected),
            checks=dict(self.checks),
            run_id=self.run_id,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": self.inputs,
            "kind": self.kind,
            "error": self.error,
            "run_id": self.run_id,
            "held_out": self.held_out,
            "rated_bad": self.rated_bad,
        }


@dataclass
class EvolvePlan:
    """What would be evolved and why: the dry run's answer and the loop's input."""

    name: str
    version: int
    failures: int
    last_failure_ts: float | None
    stored_cases: int
    failing: list[FailingCase]
    skipped: list[str] = field(default_factory=list)  # failures that cannot be replayed, and why
    rated_bad: int = 0  # of `failures`: successful executions in runs the user rated bad

    @property
    def why(self) -> str:
        if not self.failures and not self.failing:
            return f"no failures recorded since v{self.version}: nothing to fix"
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.last_failure_ts or 0))
        kinds: dict[str, int] = {}
        for case in self.failing:
            kind = case.kind.split("|", 1)[0] or "failure"
            kinds[kind] = kinds.get(kind, 0) + 1
        shown = ", ".join(f"{k}×{n}" for k, n in kinds.items()) or "none replayable"
        held = sum(c.held_out for c in self.failing)
        text = f"{self.failures} failed execution(s) of v{self.version}, last {when}; cases: {shown}"
        if self.rated_bad:
            text = text.replace(
                " failed execution(s)", f" failed execution(s) ({self.rated_bad} rated bad)", 1
            )
        if held:
            text += f" ({held} held out)"
        if self.skipped:
            text += f"; {len(self.skipped)} not replayable"
        if not self.stored_cases:
            text += "; no stored cases"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "failures": self.failures,
            "last_failure_ts": self.last_failure_ts,
            "stored_cases": self.stored_cases,
            "failing_cases": [c.to_dict() for c in self.failing],
            "skipped": self.skipped,
            "rated_bad": self.rated_bad,
            "why": self.why,
        }


@dataclass
class RoundRecord:
    round: int
    verdict: str  # accepted, rejected, inconclusive
    reason: str
    stored: tuple[int, int] = (0, 0)
    failing: tuple[int, int] = (0, 0)
    held_out: tuple[int, int] = (0, 0)


@dataclass
class EvolveOutcome:
    name: str
    version_before: int | None
    version_after: int | None
    verdict: str  # accepted, rejected, refused, inconclusive, skipped, error
    reason: str
    passing_before: tuple[int, int] = (0, 0)  # (passing, total) over stored + failing + held-out cases
    passing_after: tuple[int, int] = (0, 0)
    held_out: tuple[int, int] = (0, 0)  # of the accepted revision
    rounds: list[RoundRecord] = field(default_factory=list)
    tokens: int = 0
    new_cases: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class EvolveReport:
    run_id: str
    workspace: str
    model: str
    simulated: bool
    outcomes: list[EvolveOutcome]
    tokens: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "outcomes": [o.to_dict() for o in self.outcomes]}


@dataclass
class EvolveOptions:
    rounds: int = 3
    accept: str = ACCEPT_ALL
    hold_out: bool = True  # hold out one sibling of each failing kind that has two or more
    require_held_out: bool = False  # held-out cases are reported; with this they must pass too
    require_stored_cases: bool = True  # refuse subagents with no stored case (nothing guards them)
    lock_timeout_s: float = 5.0
    max_failing_cases: int = MAX_FAILING_CASES

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise UsageError("--rounds must be at least 1.")
        if self.accept not in (ACCEPT_ALL, ACCEPT_MORE):
            raise UsageError(f"--accept must be '{ACCEPT_ALL}' or '{ACCEPT_MORE}', not {self.accept!r}.")


# ----------------------------------------------------------------------------------------- the evolver


class Evolver:
    """`Evolver(settings).run(names)`; `.plan(names)` for the dry run. Components can be injected."""

    def __init__(
        self,
        settings: Settings,
        *,
        provider: ModelProvider | None = None,
        library: Library | None = None,
        backend: Any = None,
        experience: Any = None,
        options: EvolveOptions | None = None,
        on_event: Any = None,
    ):
        self.settings = settings
        self.provider = provider
        self.library = library or Library(settings.library)
        self.backend = backend
        self._experience = experience
        self.options = options or EvolveOptions()
        self.on_event = on_event

    # -- what to evolve -------------------------------------------------------------------------------

    def experience(self) -> Any | None:
        if self._experience is None:
            from agentfactory.experience import ExperienceStore, default_store_path

            path = default_store_path(self.settings)
            if not path.is_file():
                return None
            self._experience = ExperienceStore(path)
        return self._experience

    def plan(self, names: list[str] | None = None, all_: bool = False) -> list[EvolvePlan]:
        """Subagents to evolve with their failing cases; no model call, no execution, nothing written."""
        if not self.library.exists():
            raise UsageError(f"No subagent library at {self.library.path}; run a task first.")
        store = self.experience()
        if names:
            chosen = [(name, None, None) for name in dict.fromkeys(names)]
        elif store is None:
            return []
        else:
            current = {info.name: info.version for info in self.library.list()}
            ranked = [c for c in store.evolve_candidates(current_versions=current) if c.name in current]
            names = [c.name for c in ranked]
            # Subagents of runs the user rated bad, when that evidence is about their current version.
            for name in dict.fromkeys(r.subagent for r in store.rated_bad()):
                if name in current and name not in names and self._rated_bad(store, name, current[name]):
                    names.append(name)
            if not all_:
                names = names[:DEFAULT_CANDIDATES]
            chosen = [(name, None, None) for name in names]
        plans = []
        for name, _failures, _last in chosen:
            sub = self.library.get(name)  # an unknown name is one clear UsageError
            records = store.failures_since(name, sub.version) if store is not None else []
            records = [r for r in records if r.version == sub.version]
            bad = self._rated_bad(store, name, sub.version) if store is not None else []
            failing, skipped = self._failing_from_records(name, records, bad)
            plans.append(
                EvolvePlan(
                    name=name,
                    version=sub.version,
                    failures=len(records) + len(bad),
                    last_failure_ts=max((r.ts for r in records + bad), default=None),
                    stored_cases=len(sub.cases),
                    failing=failing,
                    skipped=skipped,
                    rated_bad=len(bad),
                )
            )
        return plans

    def _rated_bad(self, store: Any, name: str, version: int) -> list[Any]:
        """Successful executions of `version` in runs the user rated bad. A run that wrote the subagent
        ran it as an unsaved candidate: those count for the version that run saved."""
        saved_by = {v.run_id for v in self.library.history(name) if v.version == version and v.run_id}
        return [
            r
            for r in store.rated_bad(name)
            if r.version == version or (r.version is None and r.run_id in saved_by)
        ]

    def plan_for(self, name: str, failing: list[FailingCase]) -> EvolvePlan:
        """A plan from failing cases given directly (tests, benchmarks, a caller that knows them)."""
        sub = self.library.get(name)
        return EvolvePlan(name, sub.version, len(failing), time.time(), len(sub.cases), list(failing))

    def _failing_from_records(
        self, name: str, records: list[Any], rated_bad: list[Any] | None = None
    ) -> tuple[list[FailingCase], list[str]]:
        """Failing cases from experience records; inputs and traces come from the runs' event logs."""
        latest: dict[str, Any] = {}
        for record in sorted(
            [*records, *(rated_bad or [])], key=lambda r: r.ts
        ):  # the latest of each input wins
            latest[record.inputs_digest] = record
        chosen = sorted(latest.values(), key=lambda r: r.ts, reverse=True)[: self.options.max_failing_cases]
        cases, skipped = [], []
        for record in reversed(chosen):
            found = _recover_failure(Path(self.settings.workspaces), name, record, record.success)
            if isinstance(found, str):
                skipped.append(found)
                continue
            cases.append(found)
        if self.options.hold_out:
            _assign_held_out(cases)
        return cases, skipped

    # -- the loop -------------------------------------------------------------------------------------

    def run(
        self,
        names: list[str] | None = None,
        *,
        all_: bool = False,
        plans: list[EvolvePlan] | None = None,
        run_id: str | None = None,
    ) -> EvolveReport:
        """Evolve the planned subagents in one workspace (`workspaces/<run-id>/events.jsonl`)."""
        from agentfactory.engine.run import open_run

        plans = self.plan(names, all_) if plans is None else plans
        task = "evolve " + (" ".join(p.name for p in plans) or "(nothing to evolve)")
        with open_run(
            self.settings,
            task,
            [],
            run_id=run_id,
            provider=self.provider,
            library=self.library,
            backend=self.backend,
            experience=self.experience(),  # its executions are recorded as validation, never as usage
            on_event=self.on_event,
        ) as opened:
            # A crash leaves this block before `run_finished` is written: open_run then ends the log
            # with the one `run_finished` of status error.
            outcomes = [_SubagentLoop(self, opened.ctx, opened.provider, plan).run() for plan in plans]
            tokens = opened.provider.usage.total_tokens
            status, reason = _run_status(outcomes)
            opened.finished = True
            opened.ctx.emit(
                ev.RUN_FINISHED,
                status=status,
                reason=reason,
                answer=_summary_line(outcomes),
                steps=sum(len(o.rounds) for o in outcomes),
                created=[],
                reused=[],
                saved=[(o.name, o.version_after) for o in outcomes if o.verdict == "accepted"],
                rejected={o.name: o.reason for o in outcomes if o.verdict in FAILED_VERDICTS},
            )
            return EvolveReport(
                run_id=opened.ctx.workspace.run_id,
                workspace=str(opened.ctx.workspace.root),
                model=opened.model,
                simulated=opened.simulated,
                outcomes=outcomes,
                tokens=tokens,
            )


class _SubagentLoop:
    """Retrieve → assess → (analyse → modify → validate) × rounds for one subagent."""

    def __init__(self, evolver: Evolver, ctx: Any, provider: Any, plan: EvolvePlan):
        self.evolver = evolver
        self.options = evolver.options
        self.library = evolver.library
        self.ctx = ctx
        self.provider = provider
        self.plan = plan
        self.name = plan.name

    def emit(self, stage: str, **fields: Any) -> None:
        self.ctx.emit(EVOLVE_ROUND, subagent=self.name, stage=stage, **fields)

    def run(self) -> EvolveOutcome:
        lock_path = self.library.gitdir / "agentfactory" / f"evolve-{self.name}.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(lock_path), timeout=self.options.lock_timeout_s)
        try:
            lock.acquire()
        except Timeout:
            reason = (
                f"another `agentfactory evolve` is working on {self.name} (waited "
                f"{self.options.lock_timeout_s:g} s); try again when it has finished"
            )
            self.emit("refused", reason=reason)
            return EvolveOutcome(self.name, self.plan.version, None, "refused", reason)
        started = self.provider.usage.total_tokens
        try:
            outcome = self._locked()
        except AgentFactoryError as exc:  # a provider or library failure ends this subagent, not the run
            outcome = EvolveOutcome(self.name, self.plan.version, None, "error", str(exc))
            self.emit("error", reason=str(exc))
        finally:
            lock.release()
        outcome.tokens = self.provider.usage.total_tokens - started
        return outcome

    def _locked(self) -> EvolveOutcome:
        sub = self.library.get(self.name)
        out = EvolveOutcome(self.name, sub.version, None, "skipped", "")
        if sub.version != self.plan.version:
            out.reason = (
                f"{self.name} moved from v{self.plan.version} to v{sub.version} since the plan was made; "
                "its failures belong to the old version: rerun evolve"
            )
            return self._finish(out)
        stored = list(sub.cases)
        if not stored and self.options.require_stored_cases:
            out.verdict = "refused"
            out.reason = (
                f"{self.name} v{sub.version} has no stored cases, so no revision can be checked for "
                "regressions; add cases to its cases.jsonl (a successful run saves some) and retry"
            )
            return self._finish(out)
        if not self.plan.failing:
            out.reason = f"no replayable failing case since v{sub.version}" + (
                f" ({'; '.join(self.plan.skipped[:2])})" if self.plan.skipped else ""
            )
            return self._finish(out)
        shown = [c for c in self.plan.failing if not c.held_out]
        held = [c for c in self.plan.failing if c.held_out]
        with tempfile.TemporaryDirectory(prefix="af-evolve-") as tmp_name:
            tmp = Path(tmp_name)
            base = self.library.export(self.name, sub.version, tmp / "base")
            fixtures = _fixtures_dir(tmp / "fixtures", base, self.plan.failing)
            before = self._validate(base, sub, fixtures, None, stored, shown, held)
            out.passing_before = before.counts()
            self.emit("assess", **_counts(before))
            for case, outcome in zip(shown + held, before.outcomes[len(stored) :], strict=True):
                case.trace = outcome.trace
            if before.sandbox_errors:
                out.verdict, out.reason = (
                    "inconclusive",
                    _sandbox_reason(before, "assessing the current version"),
                )
                return self._finish(out)
            if before.counts("new")[0] == len(shown) and shown:
                out.reason = "every failing case already passes on the current version; nothing to fix"
                out.passing_after = out.passing_before
                return self._finish(out)
            return self._rounds(out, sub, tmp, base, fixtures, stored, shown, held, before)

    def _rounds(
        self,
        out: EvolveOutcome,
        sub: Any,
        tmp: Path,
        base: Path,
        fixtures: Path,
        stored: list[Case],
        shown: list[FailingCase],
        held: list[FailingCase],
        before: GateReport,
    ) -> EvolveOutcome:
        messages = [Message.user(self._first_message(sub, stored, shown, before))]
        system = _render("system")
        out.verdict, out.reason = "rejected", "no round was run"
        for number in range(1, self.options.rounds + 1):
            response = self.provider.complete(
                system,
                messages,
                [SUBMIT_REVISION],
                max_tokens=self.evolver.settings.output_tokens_for(self.provider.spec),
            )
            messages.append(response.to_message())
            code, reason, limitations, problem = _read_revision(response, sub.code)
            report = None
            if problem is None:
                folder = tmp / f"r{number}" / self.name
                try:
                    _write_revision(base, folder, sub.entry, code)
                except ValidationError as exc:
                    problem = f"the revision does not load (it must parse and define run()): {exc}"
            if problem is None:
                report = self._validate(folder, sub, fixtures, number, stored, shown, held)
                verdict, why = self._judge(report, before, len(stored))
            else:
                verdict, why = "rejected", problem
            record = RoundRecord(number, verdict, why)
            if report is not None:
                record.stored, record.failing = report.counts("stored"), report.counts("new")
                record.held_out = report.counts("held_out")
            out.rounds.append(record)
            self.emit(
                "round", round=number, verdict=verdict, reason=why, **(_counts(report) if report else {})
            )
            if verdict == "accepted":
                return self._accept(out, sub, folder, report, shown, held, reason, limitations)
            record_gate_decision(
                self.ctx.emit,
                subagent=self.name,
                base_version=sub.version,
                accepted=False,
                reason=why,
                report=report,
                source=SOURCE,
                round=number,
            )
            out.verdict, out.reason = verdict, why
            if report is not None:
                out.passing_after = report.counts()
            if verdict == "inconclusive":
                return self._finish(out)
            messages.append(
                _feedback(response, _render("rejected", reason=why, broken=_broken(report, code)))
            )
        return self._finish(out)

    # -- validation --------------------------------------------------------------------------------

    def _validate(
        self,
        folder: Path,
        sub: Any,
        fixtures: Path,
        revision: int | None,
        stored: list[Case],
        shown: list[FailingCase],
        held: list[FailingCase],
    ) -> GateReport:
        """Every stored, failing and held-out case, each in its own fresh inputs folder."""

        def runner(case: Case) -> Any:
            with tempfile.TemporaryDirectory(prefix="af-case-") as tmp:
                shutil.copytree(fixtures, Path(tmp) / "inputs")
                trace = self.ctx.execute(
                    folder,
                    sub.entry,
                    case.inputs,
                    list(sub.tools),
                    name=self.name,
                    version=sub.version if revision is None else None,
                    revision=revision,
                    inputs_dir=Path(tmp) / "inputs",
                    # Each case writes into an empty outputs folder of its own, as in the save gate: in
                    # the run's shared one, a file equal to an earlier case's would not count as produced.
                    outputs_dir=Path(tmp) / "outputs",
                    validation=True,  # checking versions on cases is not usage of the subagent
                )
                return collect(trace, Path(tmp) / "outputs")  # file contents, for pinned cases

        report = run_gate(runner, stored, [c.case() for c in shown])
        for index, case in enumerate(held):
            report.outcomes.append(run_case(runner, case.case(), index, "held_out"))
        for case, outcome in zip(shown + held, report.outcomes[len(stored) :], strict=True):
            if case.rated_bad and outcome.passed and _same_result(outcome.trace, case.rejected_result):
                outcome.passed = False
                outcome.failures = [f"the result is still the one the user rated bad in run {case.run_id}"]
        return report

    def _judge(self, report: GateReport, before: GateReport, stored_total: int) -> tuple[str, str]:
        if report.sandbox_errors:
            return "inconclusive", _sandbox_reason(report, "validating the revision")
        broken = report.broken("stored")
        if broken:
            return "rejected", f"regression: {_describe(broken, stored_total, 'stored')}"
        passed, total = report.counts("new")
        if self.options.accept == ACCEPT_ALL and passed < total:
            return (
                "rejected",
                f"failing cases still fail: {_describe(report.broken('new'), total, 'failing')}",
            )
        if self.options.accept == ACCEPT_MORE and passed <= before.counts("new")[0]:
            return "rejected", (
                f"no more failing cases pass than before ({passed} of {total} now, "
                f"{before.counts('new')[0]} before)"
            )
        held_broken = report.broken("held_out")
        if self.options.require_held_out and held_broken:
            return "rejected", (
                "the revision fixes the cases it was shown but not held-out cases of the same kind "
                f"(it may special-case its inputs): {_describe(held_broken, len(held_broken), 'held-out')}"
            )
        if report.counts()[0] == 0:
            return (
                "rejected",
                "no case passes, and a revision is accepted only with at least one passing case",
            )
        return "accepted", f"{_counts_text(report)}"

    # -- accept ------------------------------------------------------------------------------------

    def _accept(
        self,
        out: EvolveOutcome,
        sub: Any,
        folder: Path,
        report: GateReport,
        shown: list[FailingCase],
        held: list[FailingCase],
        reason: str,
        limitations: str | None,
    ) -> EvolveOutcome:
        current = self.library.get(self.name)
        if current.version != sub.version:
            why = f"the library moved to v{current.version} during evolve; nothing saved, rerun evolve"
            out.verdict, out.reason = "rejected", why
            record_gate_decision(
                self.ctx.emit, subagent=self.name, base_version=sub.version, accepted=False, reason=why,
                report=report, source=SOURCE,
            )  # fmt: skip
            return self._finish(out)
        failing = shown + held
        outcomes = report.outcomes[len(sub.cases) :]
        fixed = [(c, o) for c, o in zip(failing, outcomes, strict=True) if o.passed]
        new_cases = [_case_from_fix(c, o, sub.version + 1) for c, o in fixed]
        still = [c for c, o in zip(failing, outcomes, strict=True) if not o.passed]
        with tempfile.TemporaryDirectory(prefix="af-evolve-save-") as tmp:
            save = Path(tmp) / self.name
            shutil.copytree(folder, save)
            cases = _dedupe([*sub.cases, *new_cases])
            (save / "cases.jsonl").write_text(dump_cases(cases), encoding="utf-8")
            for case, _ in fixed:
                _copy_referenced(case, save / FIXTURES_DIR)
            (save / "SKILL.md").write_text(
                _update_skill_md(sub.skill_md, sub.version + 1, reason, limitations, still), encoding="utf-8"
            )
            result = self.library.save(
                save,
                run_id=self.ctx.workspace.run_id,
                task=f"evolve {self.name} from v{sub.version}",
                message=f"evolve: {reason}",
            )
        if not result.changed:
            out.verdict, out.reason = "rejected", "no change: the revision equals the saved version"
            return self._finish(out)
        record_gate_decision(
            self.ctx.emit,
            subagent=self.name,
            base_version=sub.version,
            accepted=True,
            reason=reason,
            report=report,
            version=result.version,
            source=SOURCE,
        )
        self.ctx.emit(
            ev.LIBRARY_CHANGE,
            action="save",
            subagent=self.name,
            version=result.version,
            commit=result.commit,
            parent_version=sub.version,
            cases=len(cases),
        )
        out.verdict, out.reason = "accepted", reason
        out.version_after = result.version
        out.passing_after = report.counts()
        out.held_out = report.counts("held_out")
        out.new_cases = len(cases) - len(sub.cases)
        return self._finish(out)

    def _finish(self, out: EvolveOutcome) -> EvolveOutcome:
        if out.verdict != "accepted" and out.passing_after == (0, 0):
            out.passing_after = out.passing_before
        self.emit(
            "done",
            verdict=out.verdict,
            reason=out.reason,
            version_before=out.version_before,
            version_after=out.version_after,
            rounds=len(out.rounds),
        )
        return out

    # -- prompt ------------------------------------------------------------------------------------

    def _first_message(
        self, sub: Any, stored: list[Case], shown: list[FailingCase], before: GateReport
    ) -> str:
        stored_view = [
            {"index": o.index + 1, "inputs": _short_json(c.inputs), "expected": _short_json(c.expected),
             "passed": o.passed, "failures": o.failures[:3]}
            for c, o in zip(stored, before.outcomes[: len(stored)], strict=True)
        ]  # fmt: skip
        failing_view = [
            {"index": i + 1, "inputs": _short_json(c.inputs), "expected": _short_json(c.expected),
             "error": c.error, "trace": _trace_view(c.trace, sub.code, sub.entry)}
            for i, c in enumerate(shown)
        ]  # fmt: skip
        return _render(
            "request",
            name=sub.name,
            version=sub.version,
            description=sub.description,
            entry=sub.entry,
            tools=list(sub.tools),
            skill_md=sub.skill_md,
            code=_numbered(sub.code),
            stored=stored_view,
            failing=failing_view,
            accept=self.options.accept,
            rounds=self.options.rounds,
        )


# ----------------------------------------------------------------------------------------- helpers


def _render(part: str, **values: Any) -> str:
    return _templates.get_template("evolve.j2").render(part=part, **values).strip()


def _numbered(code: str) -> str:
    lines = code.splitlines()
    width = len(str(len(lines)))
    return "\n".join(f"{i:>{width}} | {line}" for i, line in enumerate(lines, 1))


def _short_json(value: Any, limit: int = 600) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


def _trace_view(trace: Any, code: str, entry: str) -> str:
    """The compact trace, plus the lines of the module (as numbered in the listing) its frames point at."""
    if trace is None:
        return "(no trace recorded)"
    text = trace.compact(max_chars=TRACE_CHARS)
    frames = (trace.error or {}).get("frames", []) if trace.error else []
    lines = code.splitlines()
    mapped = []
    for frame in frames:
        number = frame.get("line")
        if frame.get("file") == entry and isinstance(number, int) and 1 <= number <= len(lines):
            mapped.append(f"  line {number} ({frame.get('function')}): {lines[number - 1].strip()}")
    if mapped:
        text += "\nFrames in the listing:\n" + "\n".join(mapped)
    return text


def _broken(report: GateReport | None, code: str | None) -> list[dict[str, Any]]:
    if report is None:
        return []
    out = []
    for o in report.broken()[:4]:
        if o.origin == "held_out":
            continue  # held-out cases stay hidden from the model, even when they fail
        trace = _trace_view(o.trace, code or "", o.trace.entry if o.trace is not None else "")
        out.append({"origin": "stored" if o.origin == "stored" else "failing", "index": o.index + 1,
                    "failures": o.failures[:3], "trace": trace})  # fmt: skip
    return out


def _feedback(response: Any, text: str) -> Message:
    """The rejection goes back as the result of each tool call (or as plain text if none was made)."""
    if not response.tool_calls:
        return Message.user(text)
    results = [ToolResult(call.id, text, is_error=True) for call in response.tool_calls]
    return Message(role="user", tool_results=results)


def _read_revision(response: Any, base_code: str) -> tuple[str, str, str | None, str | None]:
    """(new code, reason, limitations, problem): a problem means the round is rejected before running."""
    calls = [c for c in response.tool_calls if c.name == SUBMIT_REVISION.name] or response.tool_calls
    if not calls:
        return "", "", None, "no revision was submitted: call submit_revision with `code` or `edits`"
    call = calls[0]
    problem = check_tool_call(call, [SUBMIT_REVISION])
    if problem:
        return "", "", None, problem
    args = call.arguments or {}
    reason = " ".join(str(args["reason"]).split())
    code, edits = args.get("code"), args.get("edits")
    if (code is None) == (edits is None):
        return "", reason, None, "give exactly one of `code` or `edits`"
    if edits is not None:
        code = base_code
        for i, edit in enumerate(edits, 1):
            count = code.count(edit["old"])
            if count != 1:
                where = "not found" if count == 0 else f"found {count} times"
                return "", reason, None, f"edit {i}: the `old` text is {where}; it must occur exactly once"
            code = code.replace(edit["old"], edit["new"], 1)
    if code.strip() == base_code.strip():
        return "", reason, None, "no change: the revision is identical to the current code"
    return code, reason, args.get("limitations"), None


def _write_revision(base: Path, folder: Path, entry: str, code: str) -> None:
    """The current version's folder with the new module; validated like a library save."""
    shutil.copytree(base, folder)
    (folder / entry).write_text(code, encoding="utf-8")
    validate_folder(folder)


def _fixtures_dir(dest: Path, base: Path, failing: list[FailingCase]) -> Path:
    """One inputs/ tree for validation: the stored cases' fixtures plus the files failing inputs name."""
    dest.mkdir(parents=True)
    if (base / FIXTURES_DIR).is_dir():
        shutil.copytree(base / FIXTURES_DIR, dest, dirs_exist_ok=True)
    for case in failing:
        _copy_referenced(case, dest)
    return dest


def _copy_referenced(case: FailingCase, dest: Path) -> None:
    """Copy the files a case's inputs name (`inputs/...`) from where it failed, so it can be replayed."""
    if case.fixtures is None:
        return
    root = Path(case.fixtures).resolve()
    for value in case.inputs.values():
        if not isinstance(value, str) or not value.startswith("inputs/"):
            continue
        src = (root / value[len("inputs/") :]).resolve()
        if src.is_file() and root in src.parents:
            target = dest / src.relative_to(root)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)


def _case_from_fix(case: FailingCase, outcome: Any, version: int) -> Case:
    """The regression case a fixed failure becomes: what it must satisfy if known, else the new output,
    its files pinned by content like any case recorded from a run."""
    trace = outcome.trace
    derived = case_from_run(case.inputs, trace.result or {}, list(trace.output_files), outcome.files)
    return Case(
        inputs=dict(case.inputs),
        expected={**derived.expected, **case.expected},
        checks={**derived.checks, **case.checks},
        description=f"failed on v{version - 1} ({(case.error or case.kind)[:120]}); fixed in v{version}",
        run_id=case.run_id,
    )


def _dedupe(cases: list[Case]) -> list[Case]:
    seen, out = set(), []
    for case in cases:
        digest = event_digest(case.inputs)
        if digest not in seen:
            seen.add(digest)
            out.append(case)
    return out


_SECTION = r"^## {title}[ \t]*\n(.*?)(?=^## |\Z)"


def _update_skill_md(
    text: str, version: int, reason: str, limitations: str | None, still: list[FailingCase]
) -> str:
    """Append the changelog line and refresh known limitations in the SKILL.md body."""
    body_start = _body_start(text)
    head, body = text[:body_start], text[body_start:]
    entry = f"- v{version}: {reason} (evolve: all stored cases pass)."
    body = _edit_section(body, "Changelog", lambda old: (old.rstrip() + "\n" + entry).strip())
    notes = []
    if limitations and limitations.strip():
        notes.append(limitations.strip())
    for case in still:
        notes.append(
            f"- Still fails on inputs like {_short_json(case.inputs, 160)} ({case.error or case.kind})."
        )
    if notes:

        def merge(old: str) -> str:
            old = old.strip()
            kept = "" if old in ("", "None recorded.") else old + "\n"
            return (kept + "\n".join(notes)).strip()

        body = _edit_section(body, "Known limitations", merge)
    return head + body


def _body_start(text: str) -> int:
    if not text.startswith("---"):
        return 0
    match = re.search(r"^---[ \t]*$", text[3:], re.M)
    return 3 + match.end() if match else 0


def _edit_section(body: str, title: str, change: Any) -> str:
    pattern = re.compile(_SECTION.format(title=re.escape(title)), re.M | re.S)
    match = pattern.search(body)
    if match is None:
        return body.rstrip() + f"\n\n## {title}\n\n{change('')}\n"
    return body[: match.start(1)] + "\n" + change(match.group(1)) + "\n\n" + body[match.end(1) :].lstrip("\n")


def _describe(outcomes: list[Any], total: int, label: str) -> str:
    parts = []
    for o in outcomes[:3]:
        detail = "; ".join(o.failures[:2]) or o.status
        parts.append(f"{label} case {o.index + 1} ({o.status}): {detail}")
    more = f" and {len(outcomes) - 3} more" if len(outcomes) > 3 else ""
    return f"{len(outcomes)} of {total} {label} case(s) fail: " + " | ".join(parts) + more


def _sandbox_reason(report: GateReport, doing: str) -> str:
    o = report.sandbox_errors[0]
    detail = "; ".join(o.failures[:1]) or "sandbox error"
    return (
        f"sandbox error while {doing} ({len(report.sandbox_errors)} case(s), retried): {detail}; this is "
        "neither a pass nor a fail, so nothing was decided: check the sandbox and rerun"
    )


def _counts(report: GateReport) -> dict[str, Any]:
    return {
        "stored": list(report.counts("stored")),
        "failing": list(report.counts("new")),
        "held_out": list(report.counts("held_out")),
    }


def _counts_text(report: GateReport) -> str:
    s, f, h = report.counts("stored"), report.counts("new"), report.counts("held_out")
    text = f"stored {s[0]}/{s[1]}, failing {f[0]}/{f[1]} pass"
    return text + (f", held-out {h[0]}/{h[1]}" if h[1] else "")


# Verdicts that leave a subagent without the version evolve set out to make ("skipped" means there was
# nothing to do for it). One of them makes the evolve run a failed task and its exit code 1.
FAILED_VERDICTS = ("rejected", "refused", "error", "inconclusive")


def _run_status(outcomes: list[EvolveOutcome]) -> tuple[str, str]:
    """`success` when every subagent got an accepted version or had nothing to do, else `task_failed`
    with a reason that names the subagents left unchanged and why."""
    failed = [o for o in outcomes if o.verdict in FAILED_VERDICTS]
    if not failed:
        return "success", ""
    named = "; ".join(f"{o.name} {o.verdict} ({o.reason})" for o in failed)
    reason = f"no accepted version for {len(failed)} of {len(outcomes)} subagent(s): {named}"
    return "task_failed", reason[:2000]


def _summary_line(outcomes: list[EvolveOutcome]) -> str:
    accepted = [o for o in outcomes if o.verdict == "accepted"]
    return f"{len(accepted)} of {len(outcomes)} subagent(s) evolved" + (
        ": " + ", ".join(f"{o.name} v{o.version_before}→v{o.version_after}" for o in accepted)
        if accepted
        else ""
    )


# ----------------------------------------------------------------------------------------- run logs


def _recover_failure(workspaces: Path, name: str, record: Any, rated_bad: bool = False) -> FailingCase | str:
    """A failing case from an experience record, or why it cannot be replayed.

    rated_bad: the record is a successful execution in a run the user rated bad; its result, read from
    the trace, is what a revision must change.

    The store keeps a digest of the inputs, not the inputs. The run's trace files hold each
    execution's inputs in full; workspaces written before they did are searched through the event
    log's `run_subagent` calls, whose arguments are kept only up to a preview length.
    """
    from agentfactory.experience import inputs_digest as store_digest
    from agentfactory.sandbox import ExecutionTrace

    run_dir = workspaces / record.run_id
    events_path = run_dir / ev.EVENTS_FILE
    if not events_path.is_file():
        return f"run {record.run_id}: its workspace (with the inputs) is gone"
    inputs, trace_rel = None, None
    events = list(ev.read_events(events_path))
    for event in events:
        if event.get("type") != ev.SUBAGENT_EXECUTION or event.get("subagent") != name:
            continue
        recorded = _read_json(run_dir / str(event.get("trace") or ""))
        candidate = recorded.get("inputs") if isinstance(recorded, dict) else None
        if isinstance(candidate, dict) and store_digest(candidate) == record.inputs_digest:
            inputs = candidate
            break
    for event in events if inputs is None else []:
        if event.get("type") != ev.TOOL_CALL or event.get("tool") != "run_subagent":
            continue
        try:
            args = json.loads(event.get("arguments") or "")
        except (json.JSONDecodeError, TypeError):
            continue
        if isinstance(args, dict) and args.get("name") == name:
            candidate = args.get("inputs") or {}
            if isinstance(candidate, dict) and store_digest(candidate) == record.inputs_digest:
                inputs = candidate
                break
    if inputs is None:
        return (
            f"run {record.run_id}: the inputs were not recorded in full (long inputs are kept as a preview)"
        )
    digest = event_digest(inputs)
    for event in events:
        if (
            event.get("type") == ev.SUBAGENT_EXECUTION
            and event.get("subagent") == name
            and event.get("inputs_digest") == digest
            and (event.get("status") == "ok") == rated_bad
        ):
            trace_rel = event.get("trace")
    trace = None
    if trace_rel and (run_dir / trace_rel).is_file():
        try:
            trace = ExecutionTrace.from_dict(json.loads((run_dir / trace_rel).read_text()))
        except (json.JSONDecodeError, TypeError, ValueError):
            trace = None
    if rated_bad:
        if trace is None or trace.result is None:
            return f"run {record.run_id}: the result the user rated bad was not recorded"
        why = f"the user rated run {record.run_id} bad" + (f": {record.feedback}" if record.feedback else "")
        return FailingCase(
            inputs=inputs,
            kind=f"rated_bad|{record.inputs_shape}",
            error=why + "; the execution succeeded, but its result must change",
            run_id=record.run_id,
            fixtures=run_dir / "inputs",
            trace=trace,
            rated_bad=True,
            rejected_result=trace.result,
        )
    error = record.error or ""
    return FailingCase(
        inputs=inputs,
        kind=f"{record.error_kind or 'error'}|{record.inputs_shape}",
        error=f"{record.error_kind}: {error}".strip(": ") if record.error_kind else error,
        run_id=record.run_id,
        fixtures=run_dir / "inputs",
        trace=trace,
    )


def _same_result(trace: Any, rejected: Any) -> bool:
    """Whether an execution returned the result the user rated bad (compared as canonical JSON)."""
    if trace is None:
        return False
    return json.dumps(trace.result, sort_keys=True, default=str) == json.dumps(
        rejected, sort_keys=True, default=str
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None


def _assign_held_out(cases: list[FailingCase]) -> None:
    """In each kind with two or more failing inputs, hide the most recent one from the model."""
    by_kind: dict[str, list[FailingCase]] = {}
    for case in cases:
        by_kind.setdefault(case.kind, []).append(case)
    for siblings in by_kind.values():
        if len(siblings) >= 2:
            siblings[-1].held_out = True


__all__ = [
    "ACCEPT_ALL",
    "ACCEPT_MORE",
    "SUBMIT_REVISION",
    "EvolveOptions",
    "EvolveOutcome",
    "EvolvePlan",
    "EvolveReport",
    "Evolver",
    "FailingCase",
    "RoundRecord",
]
