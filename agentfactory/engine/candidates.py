"""Candidates: subagents written or revised during one run, kept in the run's workspace until saved.

A candidate has revisions (`candidates/<name>/r<N>/`, each a complete subagent folder); only the
current revision counts. Its successful executions in this run become its regression cases on save.

`CandidateStore` is the whole life of a candidate: write (validated like a library save), the case
fixtures, the regression gate for a revision of a library version, and the save. The library version a
revision starts from is read once (through the run's `LibraryView`) and serves the gate's stored cases,
the fixtures and the saved folder alike. The store decides nothing about which candidate to save: the
orchestrator asks.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from dataclasses import field, replace
from pathlib import Path
from typing import Any

from agentfactory import events as ev
from agentfactory.engine.execution import Executor
from agentfactory.engine.gate import (
    GateReport,
    case_from_run,
    collect,
    record_gate_decision,
    run_gate,
    run_subagent_cases,
)
from agentfactory.engine.library_view import LibraryView
from agentfactory.engine.workspace import Workspace
from agentfactory.errors import AgentFactoryError, ValidationError
from agentfactory.library import Case, build_subagent_folder, validate_folder
from agentfactory.library.cases import dedupe_cases, inputs_digest
from agentfactory.records import record

FIXTURES_DIR = "fixtures"  # input files of a subagent's cases, stored beside them in its folder


@record
class SuccessfulRun:
    inputs: dict[str, Any]
    result: dict[str, Any]
    output_files: list[str]
    files: dict[str, dict[str, Any]] | None = None  # facts of the output files (gate.file_facts)


@record
class Candidate:
    name: str
    description: str
    code: str
    tools: list[str]
    inputs_schema: dict[str, Any] | None
    folder: Path
    entry: str
    revision: int = 1
    base_version: int | None = None  # the library version this candidate revises, if any
    changelog: list[str] = field(default_factory=list)
    signature: str = "run(**inputs)"
    # What an execution gets, as validated when the revision was written (`Subagent.runtime_files`: all
    # but its cases and their fixtures, as for a library version): it runs from memory, so an edit of
    # its folder afterwards never runs unvalidated.
    files: dict[str, bytes] = field(default_factory=dict, repr=False)
    successes: list[SuccessfulRun] = field(default_factory=list)
    failures: int = 0

    def record_success(
        self,
        inputs: dict[str, Any],
        result: dict[str, Any],
        output_files: list[str],
        files: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        digest = inputs_digest(inputs)
        if all(inputs_digest(s.inputs) != digest for s in self.successes):
            self.successes.append(SuccessfulRun(inputs, result, output_files, files))


@record
class Saved:
    """What asking to save a candidate came to."""

    name: str
    outcome: str  # "saved", "unchanged" (identical to `version`), "never_ran", "refused" (gate), "error"
    version: int | None = None
    reason: str = ""
    report: GateReport | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in ("saved", "unchanged")


@record
class CandidateStore:
    workspace: Workspace
    library: LibraryView
    executor: Executor
    log: ev.EventLog
    task: str = ""
    candidates: dict[str, Candidate] = field(default_factory=dict)

    def get(self, name: str) -> Candidate | None:
        return self.candidates.get(name)

    def __contains__(self, name: str) -> bool:
        return name in self.candidates

    # -- write -----------------------------------------------------------------------------------

    def write(
        self,
        *,
        name: str,
        description: str,
        code: str,
        tools: list[str],
        inputs_schema: dict[str, Any] | None,
        base_version: int | None = None,
        changelog: list[str] | None = None,
    ) -> Candidate:
        """Write and validate a new candidate revision; raises ValidationError leaving nothing behind."""
        problems = [p for p in map(self.executor.tool_problem, dict.fromkeys(tools)) if p]
        if problems:
            available = ", ".join(t for t in self.executor.available_tools() if "." not in t)
            raise ValidationError(f"{'; '.join(problems)}; the built-in tool skills are {available}")
        previous = self.candidates.get(name)
        revision = previous.revision + 1 if previous else 1
        # The folder must carry the subagent's name (Agent Skills rule), so revisions nest above it.
        folder = self.workspace.candidate_dir(name) / f"r{revision}" / name
        staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=self.workspace.candidates))
        try:
            build_subagent_folder(
                staging / name,
                name=name,
                description=description,
                code=code,
                tools=tools,
                inputs_schema=inputs_schema,
                source_run=self.workspace.run_id,
                source_task=self.task[:500],
                changelog=changelog or None,
            )
            sub = validate_folder(staging / name)
            folder.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(staging / name), folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        cand = Candidate(
            name=name,
            description=description,
            code=code,
            tools=list(tools),
            inputs_schema=inputs_schema,
            folder=folder,
            entry=sub.entry,
            revision=revision,
            base_version=base_version if previous is None else previous.base_version,
            changelog=list(changelog or []),
            signature=sub.signature,
            files=sub.runtime_files(),
        )
        self.candidates[name] = cand
        return cand

    # -- save ------------------------------------------------------------------------------------

    def save(self, cand: Candidate) -> Saved:
        """Commit a candidate with cases from its successful runs; a revision of a library version only
        through the regression gate (every stored case and every new one must pass)."""
        if not cand.successes:
            return Saved(cand.name, "never_ran", reason="it never ran successfully in this run")
        base = self._base(cand)
        new_cases = [case_from_run(s.inputs, s.result, s.output_files, s.files) for s in cand.successes]
        new_cases, files = self._fixtures(base, new_cases)
        report = None
        if cand.base_version is not None:
            stored = list(base.cases) if base is not None else []
            report = run_gate(self._case_runner(cand, base, files), stored, new_cases)
            if not report.passed:
                record_gate_decision(
                    self.log.emit,
                    subagent=cand.name,
                    base_version=cand.base_version,
                    accepted=False,
                    reason=report.reason(),
                    report=report,
                )
                return Saved(cand.name, "refused", reason=report.reason(), report=report)
        try:
            result = self._commit(cand, base, new_cases, files)
        except AgentFactoryError as exc:
            return Saved(cand.name, "error", reason=str(exc))
        if not result.changed:
            return Saved(cand.name, "unchanged", version=result.version)
        if cand.base_version is not None:
            record_gate_decision(
                self.log.emit,
                subagent=cand.name,
                base_version=cand.base_version,
                accepted=True,
                reason=cand.changelog[-1] if cand.changelog else "revised",
                report=report,
                version=result.version,
            )
        return Saved(cand.name, "saved", version=result.version, report=report)

    def _base(self, cand: Candidate) -> Any | None:
        """The library version the candidate revises (read once for the run), or None."""
        if cand.base_version is None:
            return None
        return self.library.get(cand.name, cand.base_version)

    def _fixtures(self, base: Any | None, new_cases: list[Case]) -> tuple[list[Case], dict[str, Path]]:
        """The new cases and the run's input files they refer to, as fixture path -> file.

        Fixtures of all versions share one `fixtures/` folder, and runs often name their input alike
        (data.csv). A new file whose name a stored fixture already uses with other content is kept under
        a content-hash name and its case points there, so every case replays with its own data.
        """
        stored = _fixture_files(base)
        inputs_root = self.workspace.inputs.resolve()
        files: dict[str, Path] = {}
        cases = []
        for case in new_cases:
            inputs = dict(case.inputs)
            for key, value in case.inputs.items():
                if not isinstance(value, str) or not value.startswith("inputs/"):
                    continue
                src = (self.workspace.root / value).resolve()
                if not src.is_file() or inputs_root not in src.parents:
                    continue
                rel = src.relative_to(inputs_root).as_posix()
                taken = stored.get(rel)
                if taken is not None and taken != src.read_bytes():
                    digest = hashlib.sha256(src.read_bytes()).hexdigest()[:8]
                    path = Path(rel)
                    rel = path.with_name(f"{path.stem}-{digest}{path.suffix}").as_posix()
                    inputs[key] = f"inputs/{rel}"
                files[rel] = src
            cases.append(replace(case, inputs=inputs))
        return cases, files

    def _case_runner(self, cand: Candidate, base: Any | None, files: dict[str, Path]):
        """A gate runner executing the candidate on a case, with the case fixtures as inputs/.

        inputs/ is laid out as the saved folder will be: the run's inputs, the stored fixtures over
        them, then the new cases' files under their fixture paths (see `_fixtures`).
        """
        # The layout is the same for every case: build it once, on first use, in the workspace (the
        # sandbox copies inputs/ into each execution, so cases cannot disturb one another).
        staged: list[Path] = []

        def layout() -> Path:
            if staged:
                return staged[0]
            (self.workspace.root / "gate").mkdir(exist_ok=True)
            root = Path(
                tempfile.mkdtemp(prefix=f"{cand.name}-r{cand.revision}-", dir=self.workspace.root / "gate")
            )
            inputs_dir = root / "inputs"
            inputs_dir.mkdir()
            if self.workspace.inputs.is_dir():
                shutil.copytree(self.workspace.inputs, inputs_dir, dirs_exist_ok=True)
            _write_bytes(_fixture_files(base), inputs_dir)
            _copy_files(files, inputs_dir)
            staged.append(inputs_dir)
            return inputs_dir

        def runner(case: Case) -> Any:
            inputs_dir = layout()
            with tempfile.TemporaryDirectory(prefix="af-case-") as tmp:
                trace = self.executor.execute_candidate(
                    cand,
                    case.inputs,
                    inputs_dir=inputs_dir,
                    outputs_dir=Path(tmp) / "outputs",
                    validation=True,
                )
                return collect(trace, Path(tmp) / "outputs")  # file contents, for cases that pin them

        return runner

    def _commit(self, cand: Candidate, base: Any | None, new_cases: list[Case], files: dict[str, Path]):
        """Commit the candidate with its cases (a revision's stored ones first) and case fixtures."""
        stored = list(base.cases) if base is not None else []
        with tempfile.TemporaryDirectory(prefix="af-save-") as tmp:
            folder = Path(tmp) / cand.name
            build_subagent_folder(
                folder,
                name=cand.name,
                description=cand.description,
                code=cand.code,
                tools=cand.tools,
                inputs_schema=cand.inputs_schema,
                cases=dedupe_cases([*stored, *new_cases]),
                parent_version=cand.base_version,
                source_run=self.workspace.run_id,
                source_task=self.task[:500],
                changelog=cand.changelog or None,
            )
            _write_bytes(_fixture_files(base), folder / FIXTURES_DIR)
            _copy_files(files, folder / FIXTURES_DIR)
            result = self.library.library.save(
                folder, run_id=self.workspace.run_id, task=self.task[:500], verify=self._verifier(cand)
            )
        if result.changed:
            self.library.changed()
            self.log.emit(
                ev.LIBRARY_CHANGE,
                action="save",
                subagent=cand.name,
                version=result.version,
                commit=result.commit,
                parent_version=cand.base_version,
                cases=len(stored) + len(new_cases),
            )
        return result

    def _verifier(self, cand: Candidate) -> Any:
        """The library's last check, under its lock. A candidate is gated against the version it was
        written from (above); if another writer (a batch worker, a teammate's pull, an MCP client) saved
        this name since, the save is a revision of *that* version and must pass every case it will
        carry, theirs and ours, in the sandbox: no version is lost and none skips the gate."""

        def verify(sub: Any) -> str | None:
            if (sub.parent_version or None) == cand.base_version:
                return None
            report = run_subagent_cases(self.executor.settings, sub)
            return None if report.passed else report.reason()

        return verify


def _fixture_files(base: Any | None) -> dict[str, bytes]:
    """A library version's case fixtures, as path below fixtures/ -> content."""
    return base.fixture_files() if base is not None else {}


def _write_bytes(files: dict[str, bytes], dest: Path) -> None:
    for rel, data in files.items():
        parts = rel.split("/")
        if not rel or rel.startswith("/") or ".." in parts:  # library content is not trusted
            continue
        target = dest.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _copy_files(files: dict[str, Path], dest: Path) -> None:
    for rel, src in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
