"""The evolve run: one workspace, one budget, and per subagent retrieve → assess → revise × rounds.

One subagent at a time, under an inter-process lock: assess the current version on its stored and
failing cases in the sandbox for fresh traces, then talk to the model through the shared tool loop (the
one every orchestrator uses, so the run's budget, metering and stops apply): each `submit_revision`
call is one round, validated on every case by the regression gate. Only a revision that keeps every
stored case passing, each one, and fixes the failing cases is saved, as a new version through the
library's own writers of SKILL.md and cases.jsonl. A rejected revision leaves the library untouched.

The run ends with exactly one `run_finished`: written here with the evolve status, or by `open_run`
with status error when something unexpected escapes.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from agentfactory import events as ev
from agentfactory.config import Settings
from agentfactory.engine.gate import GateReport, record_gate_decision
from agentfactory.engine.loop import Outcome, run_tool_loop
from agentfactory.errors import AgentFactoryError, BudgetExhausted, ValidationError
from agentfactory.events import EVOLVE_ROUND
from agentfactory.evolve import revision as rv
from agentfactory.evolve.planning import Planner
from agentfactory.evolve.records import (
    FAILED_VERDICTS,
    SOURCE,
    STOPPING_VERDICTS,
    EvolveOptions,
    EvolveOutcome,
    EvolvePlan,
    EvolveReport,
    FailingCase,
    RoundRecord,
    run_status,
    summary_line,
)
from agentfactory.library import Case, Library
from agentfactory.library.format import read_folder
from agentfactory.library.writing import revised_files, write_folder
from agentfactory.llm.models import output_tokens_for
from agentfactory.llm.types import ModelProvider

# How the shared loop's endings become a subagent's verdict (a finishing round has set its own).
_LOOP_VERDICTS = {
    "budget_exhausted": "budget_exhausted",
    "interrupted": "interrupted",
    "provider_error": "error",
    "config_error": "error",
    "no_progress": "rejected",
}


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
        self.library = library or Library(settings.paths.library)
        self.backend = backend
        self._experience = experience
        self.options = options or EvolveOptions()
        self.on_event = on_event

    def experience(self) -> Any | None:
        if self._experience is None:
            from agentfactory.experience import ExperienceStore

            store = ExperienceStore.open(self.settings.paths, self.settings.policy)
            if not store.exists:
                return None
            self._experience = store
        return self._experience

    def planner(self) -> Planner:
        return Planner(self.settings, self.library, self.experience(), self.options)

    def plan(self, names: list[str] | None = None, all_: bool = False) -> list[EvolvePlan]:
        """Subagents to evolve with their failing cases; no model call, no execution, nothing written."""
        return self.planner().plan(names, all_)

    def plan_for(self, name: str, failing: list[FailingCase]) -> EvolvePlan:
        """A plan from failing cases given directly (tests, benchmarks, a caller that knows them)."""
        return self.planner().plan_for(name, failing)

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
            outcomes: list[EvolveOutcome] = []
            for plan in plans:
                outcomes.append(_SubagentLoop(self, opened, plan).run())
                if outcomes[-1].verdict in STOPPING_VERDICTS:
                    break  # the run's budget is spent or the user interrupted: start no other subagent
            status, reason = run_status(outcomes)
            # A crash before this line leaves `finished` False: open_run then writes the one
            # `run_finished` of status error. From here on, this is the run's end.
            opened.finished = True
            opened.emit(
                ev.RUN_FINISHED,
                status=status,
                reason=reason,
                answer=summary_line(outcomes),
                steps=opened.budget.steps if opened.budget is not None else 0,
                created=[],
                reused=[],
                saved=[(o.name, o.version_after) for o in outcomes if o.verdict == "accepted"],
                rejected={o.name: o.reason for o in outcomes if o.verdict in FAILED_VERDICTS},
            )
            return EvolveReport(
                run_id=opened.workspace.run_id,
                workspace=str(opened.workspace.root),
                model=opened.model,
                simulated=opened.simulated,
                outcomes=outcomes,
                tokens=opened.provider.usage.total_tokens,
                status=status,
                reason=reason,
            )


class _SubagentLoop:
    """Retrieve → assess → (analyse → modify → validate) × rounds for one subagent."""

    def __init__(self, evolver: Evolver, opened: Any, plan: EvolvePlan):
        self.settings = evolver.settings
        self.options = evolver.options
        self.library = evolver.library
        self.opened = opened
        self.provider = opened.provider
        self.plan = plan
        self.name = plan.name

    def emit(self, stage: str, **fields: Any) -> None:
        self.opened.emit(EVOLVE_ROUND, subagent=self.name, stage=stage, **fields)

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
        except BudgetExhausted as exc:  # an execution refused because the run's budget is spent
            outcome = EvolveOutcome(self.name, self.plan.version, None, "budget_exhausted", str(exc))
            self.emit("error", reason=str(exc))
        except AgentFactoryError as exc:  # a provider or library failure ends this subagent, not the run
            outcome = EvolveOutcome(self.name, self.plan.version, None, "error", str(exc))
            self.emit("error", reason=str(exc))
        except KeyboardInterrupt:  # between model turns (the tool loop answers those itself)
            reason = "interrupted by the user"
            outcome = EvolveOutcome(self.name, self.plan.version, None, "interrupted", reason)
            self.emit("error", reason=reason)
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
            fixtures = rv.fixtures_dir(tmp / "fixtures", base, self.plan.failing)
            before = rv.validate(self.opened.execute, base, sub, fixtures, None, stored, shown, held)
            out.passing_before = before.counts()
            self.emit("assess", **rv.counts(before))
            for case, outcome in zip(shown + held, before.outcomes[len(stored) :], strict=True):
                case.trace = outcome.trace
            if before.sandbox_errors:
                out.verdict = "inconclusive"
                out.reason = rv.sandbox_reason(before, "assessing the current version")
                return self._finish(out)
            if before.counts("new")[0] == len(shown) and shown:
                out.reason = "every failing case already passes on the current version; nothing to fix"
                out.passing_after = out.passing_before
                return self._finish(out)
            _Rounds(self, out, sub, tmp, base, fixtures, stored, shown, held, before).run()
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


class _Rounds:
    """The conversation about one subagent, through the shared tool loop: each `submit_revision` call
    is a round; the loop ends on an accepted revision, on the last round, or on the run's budget."""

    def __init__(
        self,
        owner: _SubagentLoop,
        out: EvolveOutcome,
        sub: Any,
        tmp: Path,
        base: Path,
        fixtures: Path,
        stored: list[Case],
        shown: list[FailingCase],
        held: list[FailingCase],
        before: GateReport,
    ):
        self.owner, self.out, self.sub, self.tmp, self.base = owner, out, sub, tmp, base
        self.fixtures, self.stored, self.shown, self.held, self.before = fixtures, stored, shown, held, before
        self.options = owner.options
        self.name = owner.name
        self.decided = False  # a round ended the conversation with this subagent's verdict

    def run(self) -> None:
        out = self.out
        out.verdict, out.reason = "rejected", "no revision was submitted"
        provider = self.owner.provider
        result = run_tool_loop(
            provider,
            rv.render("system"),
            rv.first_message(self.sub, self.stored, self.shown, self.before, self.options),
            [rv.SUBMIT_REVISION],
            self.dispatch,
            self.owner.opened.budget,
            self.owner.opened.emit,
            output_tokens_for(self.owner.settings.models.max_output_tokens, provider.spec),
        )
        if self.decided:
            return  # a round decided: accepted, or rejected / inconclusive with its reason
        # The loop ended without a deciding round: the budget, an interruption, the provider, a model
        # that refused or stopped making progress.
        out.verdict = _LOOP_VERDICTS.get(
            result.status, "rejected" if result.status == "task_failed" else "error"
        )
        last = f"; last round: {out.rounds[-1].reason}" if out.rounds else ""
        out.reason = f"{result.reason}{last}" if result.status == "no_progress" else result.reason
        if out.verdict != "rejected":
            self.owner.emit("error", reason=out.reason)

    def dispatch(self, tool: str, args: dict[str, Any]) -> Outcome:
        """One round. A failure of the sandbox, the library or the budget ends the conversation here,
        with this subagent's verdict, rather than going back to the model as a tool error."""
        try:
            outcome = self._round(args)
            self.decided = outcome.finished
            return outcome
        except BudgetExhausted as exc:  # an execution refused: the run's budget is spent
            self.out.verdict, self.out.reason = "budget_exhausted", str(exc)
        except AgentFactoryError as exc:
            self.out.verdict, self.out.reason = "error", str(exc)
        self.owner.emit("error", reason=self.out.reason)
        self.decided = True
        return Outcome(self.out.reason, is_error=True, finished=True, failure=self.out.reason)

    def _round(self, args: dict[str, Any]) -> Outcome:
        number = len(self.out.rounds) + 1
        code, reason, limitations, problem = rv.read_revision(args, self.sub.code)
        report = None
        folder = self.tmp / f"r{number}" / self.name
        if problem is None:
            try:
                rv.write_revision(self.base, folder, self.sub.entry, code)
            except ValidationError as exc:
                problem = f"the revision does not load (it must parse and define run()): {exc}"
        if problem is None:
            report = rv.validate(
                self.owner.opened.execute, folder, self.sub, self.fixtures, number, self.stored, self.shown,
                self.held,
            )  # fmt: skip
            verdict, why = rv.judge(report, self.before, self.options)
        else:
            verdict, why = "rejected", problem
        record = RoundRecord(number, verdict, why)
        if report is not None:
            record.stored, record.failing = report.counts("stored"), report.counts("new")
            record.held_out = report.counts("held_out")
        self.out.rounds.append(record)
        self.owner.emit(
            "round", round=number, verdict=verdict, reason=why, **(rv.counts(report) if report else {})
        )
        if verdict == "accepted":
            self._accept(folder, report, reason, limitations)
            if self.out.verdict == "accepted":
                return Outcome(f"Accepted as v{self.out.version_after}.", finished=True, answer=reason)
            return Outcome(self.out.reason, is_error=True, finished=True, failure=self.out.reason)
        self._rejected(why, report, round=number)
        self.out.verdict, self.out.reason = verdict, why
        if report is not None:
            self.out.passing_after = report.counts()
        if verdict == "inconclusive" or number >= self.options.rounds:
            return Outcome(rv.rejection(why, None, None), is_error=True, finished=True, failure=why)
        return Outcome(rv.rejection(why, report, code), is_error=True)

    def _rejected(self, why: str, report: GateReport | None, **extra: Any) -> None:
        record_gate_decision(
            self.owner.opened.emit, subagent=self.name, base_version=self.sub.version, accepted=False,
            reason=why, report=report, source=SOURCE, **extra,
        )  # fmt: skip

    def _accept(self, folder: Path, report: GateReport, reason: str, limitations: str | None) -> None:
        out, sub, library = self.out, self.sub, self.owner.library
        current = library.get(self.name)
        if current.version != sub.version:
            why = f"the library moved to v{current.version} during evolve; nothing saved, rerun evolve"
            out.verdict, out.reason = "rejected", why
            self._rejected(why, report)
            return
        failing = self.shown + self.held
        outcomes = report.outcomes[len(sub.cases) :]
        fixed = [(c, o) for c, o in zip(failing, outcomes, strict=True) if o.passed]
        still = [c for c, o in zip(failing, outcomes, strict=True) if not o.passed]
        notes = [limitations.strip()] if limitations and limitations.strip() else []
        notes += [
            f"- Still fails on inputs like {rv.short_json(c.inputs, 160)} ({c.error or c.kind})."
            for c in still
        ]
        fixtures = {rel: data for c, _ in fixed for rel, data in rv.referenced_files(c).items()}
        files = revised_files(
            read_folder(folder),  # the revision, read with the library's limits
            changelog=f"v{sub.version + 1}: {reason} (evolve: all stored cases pass).",
            limitations=notes,
            new_cases=[rv.case_from_fix(c, o, sub.version + 1) for c, o in fixed],
            fixtures=fixtures,
        )
        with tempfile.TemporaryDirectory(prefix="af-evolve-save-") as tmp:
            save = Path(tmp) / self.name
            write_folder(save, files)
            result = library.save(
                save,
                run_id=self.owner.opened.workspace.run_id,
                task=f"evolve {self.name} from v{sub.version}",
                message=f"evolve: {reason}",
            )
        if not result.changed:
            out.verdict, out.reason = "rejected", "no change: the revision equals the saved version"
            return
        record_gate_decision(
            self.owner.opened.emit, subagent=self.name, base_version=sub.version, accepted=True, reason=reason,
            report=report, version=result.version, source=SOURCE,
        )  # fmt: skip
        saved = library.get(self.name, result.version)
        self.owner.opened.emit(
            ev.LIBRARY_CHANGE,
            action="save",
            subagent=self.name,
            version=result.version,
            commit=result.commit,
            parent_version=sub.version,
            cases=len(saved.cases),
        )
        out.verdict, out.reason = "accepted", reason
        out.version_after = result.version
        out.passing_after = report.counts()
        out.held_out = report.counts("held_out")
        out.new_cases = len(saved.cases) - len(sub.cases)
