"""Everything one run needs, in one place: settings, library, workspace, sandbox, broker, event log.

The meta skills act through this object, so they never know which sandbox backend, model provider or
library location is in use. It also keeps the run's bookkeeping: candidates, what was created, reused,
modified, saved and rejected.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agentfactory import events as ev
from agentfactory.config import Settings
from agentfactory.gate import collect
from agentfactory.library import Case, Library, build_subagent_folder, validate_folder
from agentfactory.library.cases import dedupe_cases, inputs_digest
from agentfactory.meta.candidates import Candidate
from agentfactory.sandbox import ExecutionRequest
from agentfactory.sandbox.broker import settle_trace
from agentfactory.workspace import Workspace

FIXTURES_DIR = "fixtures"  # input files of a subagent's cases, stored beside them in its folder
MIN_EXECUTION_S = 1.0  # less left on the run's clock than this starts no execution


@dataclass
class RunContext:
    settings: Settings
    library: Library
    workspace: Workspace
    backend: Any
    log: ev.EventLog
    task: str = ""
    broker: Any = None
    experience: Any = None
    agent_id: str = "default"
    budget: Any = None  # the run's Budget: its wall clock caps each execution, a spent one starts none
    candidates: dict[str, Candidate] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    saved: list[tuple[str, int]] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)
    traces_written: int = 0
    executions_started: int = 0  # numbers execution_started and its subagent_execution alike
    _library_cache: dict[tuple[str, int | None], Any] = field(default_factory=dict)

    def emit(self, type: str, **fields: Any) -> None:
        self.log.emit(type, **fields)

    # -- library ---------------------------------------------------------------------------------

    def success_rates(self) -> dict[str, tuple[int, int]] | None:
        if self.experience is None:
            return None
        return self.experience.success_rates()

    def search(self, query: str, k: int) -> list[Any]:
        return self.library.search(query, k=k, success_rates=self.success_rates())

    def describe_hit(self, hit: Any) -> str:
        rates = self.success_rates() or {}
        runs, ok = rates.get(hit.name, (0, 0))
        success = f"{ok}/{runs} runs ok" if runs else "no runs yet"
        return f"{hit.name} v{hit.version} — {hit.description} — {hit.signature} — {success}"

    def get_library(self, name: str, version: int | None = None) -> Any | None:
        key = (name, version)
        if key not in self._library_cache:
            try:
                self._library_cache[key] = self.library.get(name, version)
            except Exception:  # unknown name or version: the caller reports it to the model
                return None
        return self._library_cache[key]

    # -- candidates ------------------------------------------------------------------------------

    def write_candidate(
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
        unknown = sorted(set(tools) - set(self.available_tools()))
        if unknown:
            from agentfactory.errors import ValidationError

            raise ValidationError(
                f"unknown tool skill(s) {', '.join(unknown)}; available: {', '.join(self.available_tools())}"
            )
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
            signature=getattr(sub, "signature", "run(**inputs)"),
        )
        self.candidates[name] = cand
        return cand

    def available_tools(self) -> list[str]:
        if self.broker is None:
            return []
        return sorted(self.broker.handlers)

    def save_candidate(
        self, cand: Candidate, new_cases: list[Case], files: dict[str, Path] | None = None
    ) -> Any:
        """Commit a candidate with its cases (stored ones first for a revision) and case fixtures.

        `files` maps fixture paths (below inputs/) to the run's files, as `case_fixtures` returns them.
        """
        if files is None:
            new_cases, files = self.case_fixtures(cand, new_cases)
        stored: list[Case] = []
        if cand.base_version is not None:
            base = self.get_library(cand.name, cand.base_version)
            stored = list(base.cases) if base is not None else []
        with tempfile.TemporaryDirectory(prefix="af-save-") as tmp:
            folder = Path(tmp) / cand.name
            base_fixtures = None
            if cand.base_version is not None:
                exported = self.library.export(cand.name, cand.base_version, Path(tmp) / "base")
                base_fixtures = exported / FIXTURES_DIR
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
            if base_fixtures is not None and base_fixtures.is_dir():
                shutil.copytree(base_fixtures, folder / FIXTURES_DIR, dirs_exist_ok=True)
            _copy_files(files, folder / FIXTURES_DIR)
            result = self.library.save(folder, run_id=self.workspace.run_id, task=self.task[:500])
        if result.changed:
            self._library_cache.clear()
            self.emit(
                ev.LIBRARY_CHANGE,
                action="save",
                subagent=cand.name,
                version=result.version,
                commit=result.commit,
                parent_version=cand.base_version,
                cases=len(stored) + len(new_cases),
            )
        return result

    def case_fixtures(self, cand: Candidate, new_cases: list[Case]) -> tuple[list[Case], dict[str, Path]]:
        """The new cases and the run's input files they refer to, as fixture path -> file.

        Fixtures of all versions share one `fixtures/` folder, and runs often name their input alike
        (data.csv). A new file whose name a stored fixture already uses with other content is kept under
        a content-hash name and its case points there, so every case replays with its own data.
        """
        base: Path | None = None
        tmp = None
        if cand.base_version is not None:
            tmp = tempfile.TemporaryDirectory(prefix="af-fix-")
            base = self.library.export(cand.name, cand.base_version, Path(tmp.name) / "base") / FIXTURES_DIR
        try:
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
                    taken = base / rel if base is not None else None
                    if taken is not None and taken.is_file() and taken.read_bytes() != src.read_bytes():
                        digest = hashlib.sha256(src.read_bytes()).hexdigest()[:8]
                        path = Path(rel)
                        rel = path.with_name(f"{path.stem}-{digest}{path.suffix}").as_posix()
                        inputs[key] = f"inputs/{rel}"
                    files[rel] = src
                cases.append(replace(case, inputs=inputs))
            return cases, files
        finally:
            if tmp is not None:
                tmp.cleanup()

    # -- execution -------------------------------------------------------------------------------

    def execute(
        self,
        code_dir: Path,
        entry: str,
        inputs: dict[str, Any],
        tools: list[str],
        *,
        name: str,
        version: int | None,
        revision: int | None,
        inputs_dir: Path | None = None,
        outputs_dir: Path | None = None,
        validation: bool = False,
    ) -> Any:
        """Run one subagent in the sandbox and record the execution (event log, experience store).

        `validation`: a gate or evolve checking a version on cases; the experience store keeps it apart
        from usage, so it never counts as a run, a success or a failure of the subagent.
        """
        out_dir = outputs_dir or self.workspace.outputs
        timeout_s = self.execution_timeout()
        self.executions_started += 1
        number = self.executions_started
        self.emit(ev.EXECUTION_STARTED, subagent=name, version=version, revision=revision, execution=number)
        request = ExecutionRequest(
            code_dir=code_dir,
            # The library names the entry file (x.py); the sandbox imports a module name (x).
            entry=entry[:-3] if entry.endswith(".py") else entry,
            inputs=inputs,
            # The sandbox takes the folder that holds inputs/, not inputs/ itself.
            workdir=(inputs_dir or self.workspace.inputs).parent,
            output_dir=out_dir,
            timeout_s=timeout_s,
            memory_mb=self.settings.memory_mb,
            tools=list(tools),
            # The broker's tool calls end with the execution's wall clock (a slow web server or model
            # never holds a broker thread past it).
            broker=self.broker.for_execution(timeout_s) if self.broker is not None else None,
            run_id=self.workspace.run_id,
            labels={"subagent": name},
            on_output=self._output_observer(number, name),
        )
        started = time.time()
        trace = settle_trace(self.backend.execute(request))
        self.traces_written += 1
        trace_path = self.workspace.traces / f"{self.traces_written:03d}-{name}.json"
        # The inputs go with the trace: the event log keeps only a preview of long ones, and evolve
        # replays a failure from this file.
        record = {**trace.to_dict(), "inputs": inputs}
        ev.write_json(trace_path, record)  # strict, valid UTF-8 whatever the result holds
        tool_usage = trace.usage_totals()
        self.emit(
            ev.SUBAGENT_EXECUTION,
            subagent=name,
            version=version,
            revision=revision,
            status=trace.status,
            duration_s=trace.duration_s,
            inputs_digest=inputs_digest(inputs),
            trace=str(trace_path.relative_to(self.workspace.root)),
            tool_calls=len(trace.tool_calls),
            tool_usage=tool_usage,
            execution=number,
            error=error_summary(trace),
        )
        if self.experience is not None:
            from agentfactory.experience.records import USE, VALIDATION

            self.experience.record_subagent_execution(
                self, name, version, inputs, trace, time.time() - started,
                kind=VALIDATION if validation else USE,
            )  # fmt: skip
        return trace

    def execution_timeout(self) -> float:
        """The wall clock of the next execution: the per-execution limit, capped by what is left of the
        run's time limit. Raises BudgetExhausted when the run's budget is spent (no execution starts)."""
        timeout_s = self.settings.timeout_s
        if self.budget is None:
            return timeout_s
        self.budget.check_request()
        remaining = self.budget.remaining_time()
        if remaining is not None:
            if remaining < MIN_EXECUTION_S:
                from agentfactory.errors import BudgetExhausted

                raise BudgetExhausted(
                    f"Budget exhausted: time limit nearly reached ({remaining:.1f} s left of "
                    f"{self.budget.max_time:g} s), too little for an execution."
                )
            timeout_s = min(timeout_s, remaining)
        return timeout_s

    def _output_observer(self, number: int, name: str) -> Any:
        """The sandbox's line callback when a live view watches: each printed line becomes a notice."""
        if not self.log.observed:
            return None

        def on_output(stream: str, line: str) -> None:
            self.log.notify(ev.EXECUTION_OUTPUT, execution=number, subagent=name, stream=stream, line=line)

        return on_output

    def make_case_runner(
        self, cand: Candidate, extra_fixtures: Path | None = None, files: dict[str, Path] | None = None
    ):
        """A gate runner executing the candidate on a case, with the case fixtures as inputs/.

        inputs/ is laid out as the saved folder will be: the run's inputs, the stored fixtures over
        them, then the new cases' files under their fixture paths (see `case_fixtures`).
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
            if extra_fixtures is not None and extra_fixtures.is_dir():
                shutil.copytree(extra_fixtures, inputs_dir, dirs_exist_ok=True)
            if cand.base_version is not None:
                exported = self.library.export(cand.name, cand.base_version, root / "base")
                if (exported / FIXTURES_DIR).is_dir():
                    shutil.copytree(exported / FIXTURES_DIR, inputs_dir, dirs_exist_ok=True)
            _copy_files(files or {}, inputs_dir)
            staged.append(inputs_dir)
            return inputs_dir

        def runner(case: Case) -> Any:
            inputs_dir = layout()
            with tempfile.TemporaryDirectory(prefix="af-case-") as tmp:
                trace = self.execute(
                    cand.folder,
                    cand.entry,
                    case.inputs,
                    cand.tools,
                    name=cand.name,
                    version=None,
                    revision=cand.revision,
                    inputs_dir=inputs_dir,
                    outputs_dir=Path(tmp) / "outputs",
                    validation=True,
                )
                return collect(trace, Path(tmp) / "outputs")  # file contents, for cases that pin them

        return runner


def error_summary(trace: Any) -> dict[str, Any] | None:
    """What went wrong in a failed execution, for the event and the live view: the exception type, the
    first 300 characters of its message, and the innermost line of the subagent's own code."""
    if trace.error is None:
        return None
    frames = [f for f in trace.error.get("frames") or [] if isinstance(f, dict)]
    last = frames[-1] if frames else {}
    return {
        "type": str(trace.error.get("type") or trace.status)[:200],
        "message": str(trace.error.get("message") or "")[:300],
        "file": str(last.get("file") or "")[:200],
        "line": last.get("line") if isinstance(last.get("line"), int) else None,
    }


def _copy_files(files: dict[str, Path], dest: Path) -> None:
    for rel, src in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
