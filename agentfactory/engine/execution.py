"""The one execution path: every subagent execution of a run, whoever asks for it, goes through here.

`Executor.execute` builds the sandbox request (the run's wall clock caps it, a spent budget starts
none), runs it, and once its caller has the trace has the experience store record a typed
`SubagentExecution` (there before anything reads the store), the trace file written and the
`subagent_execution` event emitted (there before anything the run logs next, and before its log
closes). A Meta-Agent tool call, a gate case and an evolve validation differ only in their arguments.
It knows no Meta-Agent and never writes to the library.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from agentfactory import events as ev
from agentfactory.config import Settings
from agentfactory.engine.budget import Budget
from agentfactory.engine.workspace import Workspace
from agentfactory.errors import BudgetExhausted
from agentfactory.experience.recording import SubagentExecution, execution_cost
from agentfactory.experience.records import USE, VALIDATION
from agentfactory.library.cases import inputs_digest  # the one digest of inputs
from agentfactory.records import record
from agentfactory.sandbox import ExecutionRequest
from agentfactory.sandbox.broker import settle_trace

MIN_EXECUTION_S = 1.0  # less left on the run's clock than this starts no execution


@record
class Executor:
    settings: Settings
    workspace: Workspace
    backend: Any  # a sandbox backend: `execute(ExecutionRequest) -> ExecutionTrace`
    log: ev.EventLog
    task: str = ""
    agent_id: str = "default"
    broker: Any = None  # the run's ToolBroker, or None: no tool skill answers
    experience: Any = None  # an ExperienceStore, or None: nothing is recorded there
    budget: Budget | None = None  # its wall clock caps each execution; a spent one starts none
    traces_written: int = 0
    executions_started: int = 0  # numbers execution_started and its subagent_execution alike

    def available_tools(self) -> list[str]:
        return self.broker.tool_names() if self.broker is not None else []

    def tool_problem(self, tool: str) -> str | None:
        """None when `tool` may be allocated to a subagent; else why not (an MCP tool's server is
        started to know)."""
        if self.broker is None:
            return f"unknown tool skill {tool}"
        return self.broker.tool_problem(tool)

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
        kind: str = USE,
        code_files: dict[str, bytes] | None = None,
    ) -> Any:
        """Run one subagent in the sandbox and record the execution (trace file, event, experience).
        `code_files`: its files themselves, written into the sandbox (`code_dir` then only names them).

        `validation`: a gate or evolve checking a version on cases; the experience store keeps it apart
        from usage, so it never counts as a run, a success or a failure of the subagent. `kind`: how the
        experience store records it otherwise (USE, or DIRECT for a subagent run on its own).
        """
        timeout_s = self.execution_timeout()
        self.executions_started += 1
        number = self.executions_started
        early = _Early(self, name, inputs, version, revision, number)
        if self.log.observed:  # a live view shows the start before any printed line
            early.announce()
        request = ExecutionRequest(
            code_dir=code_dir,
            code_files=code_files,
            # The library names the entry file (x.py); the sandbox imports a module name (x).
            entry=entry[:-3] if entry.endswith(".py") else entry,
            inputs=inputs,
            # The sandbox takes the folder that holds inputs/, not inputs/ itself (the run's own folder).
            workdir=inputs_dir.parent if inputs_dir is not None else self.workspace.root,
            output_dir=outputs_dir or self.workspace.outputs,
            timeout_s=timeout_s,
            memory_mb=self.settings.sandbox.memory_mb,
            tools=list(tools),
            # The broker's tool calls end with the execution's wall clock (a slow web server or model
            # never holds a broker thread past it).
            broker=self.broker.for_execution(timeout_s) if self.broker is not None else None,
            run_id=self.workspace.run_id,
            labels={"subagent": name},
            on_output=self._output_observer(number, name),
            on_started=early,
        )
        started = time.time()

        def record(trace: Any) -> None:
            """The experience row, the trace file and the event, made once the caller has the trace:
            the background thread makes them at once; the row is in the store before anything reads it
            (`Database.later`), the file and the event in the log before any later event, run_finished
            included, and before it closes (`EventLog.later`). The backend calls it (on_finished)
            before it starts its own background work (teardown, refill)."""
            if early.recorded:
                return
            early.recorded = True
            wall = time.time() - started
            early()  # a backend that never called it
            if self.experience is not None:  # made in the background; any read of the store waits
                use = VALIDATION if validation else kind
                self.experience.record_subagent_execution_later(
                    lambda: self._record(trace, name, version, inputs, wall, use)
                )

            def event() -> None:
                trace_path = early.write_trace(trace)
                self.log.emit(
                    ev.SUBAGENT_EXECUTION,
                    subagent=name,
                    version=version,
                    revision=revision,
                    status=trace.status,
                    duration_s=trace.duration_s,
                    inputs_digest=inputs_digest(inputs),
                    trace=str(trace_path.relative_to(self.workspace.root)),
                    tool_calls=len(trace.tool_calls),
                    tool_usage=trace.usage_totals(),
                    execution=number,
                    error=error_summary(trace),
                )

            self.log.later(event)

        request.on_finished = lambda trace: record(settle_trace(trace))
        try:
            trace = settle_trace(self.backend.execute(request))
        except BaseException:
            early.abandon()
            raise
        record(trace)  # a backend that never called on_finished
        return trace

    def _record(
        self, trace: Any, name: str, version: int | None, inputs: dict[str, Any], wall: float, kind: str
    ) -> SubagentExecution:
        """The experience store's record of one execution."""
        usage = trace.usage_totals()
        return SubagentExecution(
            run_id=self.workspace.run_id,
            agent_id=self.agent_id,
            task=self.task,
            subagent=name,
            version=version,
            inputs=inputs,
            status=trace.status,
            error=trace.error,
            duration_s=float(trace.duration_s or wall),
            usage=usage,
            cost_usd=execution_cost(self.settings, usage),
            kind=kind,
        )

    def execute_version(self, sub: Any, inputs: dict[str, Any], **options: Any) -> Any:
        """Run one library version, as already read (a `Subagent`), in the sandbox: its files go from
        memory into the sandbox, with no folder written and read again on the way, and without its
        cases and their fixtures (`Subagent.runtime_files`). `options` as for `execute`."""
        return self.execute(
            Path(f"{sub.name} v{sub.version}"),  # names it in messages
            sub.entry,
            inputs,
            list(sub.tools),
            name=sub.name,
            version=sub.version,
            revision=None,
            code_files=sub.runtime_files(),
            **options,
        )

    def execute_candidate(self, cand: Any, inputs: dict[str, Any], **options: Any) -> Any:
        """Run one revision of a run's candidate (`engine.candidates.Candidate`) from the files it was
        validated with, as a library version runs (`execute_version`): its folder only names it.
        `options` as for `execute`."""
        return self.execute(
            cand.folder,
            cand.entry,
            inputs,
            list(cand.tools),
            name=cand.name,
            version=None,
            revision=cand.revision,
            code_files=cand.files,
            **options,
        )

    def execution_timeout(self) -> float:
        """The wall clock of the next execution: the per-execution limit, capped by what is left of the
        run's time limit. Raises BudgetExhausted when the run's budget is spent (no execution starts)."""
        timeout_s = self.settings.sandbox.timeout_s
        if self.budget is None:
            return timeout_s
        self.budget.check_request()
        remaining = self.budget.remaining_time()
        if remaining is not None:
            if remaining < MIN_EXECUTION_S:
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


class _Early:
    """The bookkeeping of one execution that does not depend on its result, done while the sandbox starts
    (the backend calls it right after handing the job over; `execute` calls it after the backend returns
    otherwise): the `execution_started` event (before, when a live view watches) and the trace file's
    number. The trace file itself, with the inputs' digest, is written once the caller has the trace
    (`Executor.execute`). If the execution raises, the event is still emitted, as before, and the number
    given back."""

    def __init__(
        self, executor: Executor, name: str, inputs: dict[str, Any], version: Any, revision: Any, number: int
    ):
        self.executor = executor
        self.name = name
        self.inputs = inputs
        self.started = {"subagent": name, "version": version, "revision": revision, "execution": number}
        self.announced = False
        self.recorded = False
        self.trace_number: int | None = None  # the trace file's, taken in order; its path made later

    def announce(self) -> None:
        """The `execution_started` event: written at once for a live view, else in the background with
        this moment as its time (`EventLog.emit_later`), before any later event of the run."""
        if not self.announced:
            self.announced = True
            log = self.executor.log
            if log.observed:
                log.emit(ev.EXECUTION_STARTED, **self.started)
            else:
                log.emit_later(ev.EXECUTION_STARTED, **self.started)

    def __call__(self) -> None:
        self.announce()
        if self.trace_number is None:
            self.executor.traces_written += 1
            self.trace_number = self.executor.traces_written

    def write_trace(self, trace: Any) -> Path:
        """The trace file: the trace with its inputs (the event log keeps only a preview of long ones, and
        evolve replays a failure from this file), strict UTF-8 whatever the result."""
        assert self.trace_number is not None
        path = self.executor.workspace.traces / f"{self.trace_number:03d}-{self.name}.json"
        data = memoryview(ev.json_bytes({**trace.to_dict(), "inputs": self.inputs}, indent=1) + b"\n")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            while data:
                data = data[os.write(fd, data) :]
        finally:
            os.close(fd)
        return path

    def abandon(self) -> None:
        """The execution raised: its started event stays (as before), its trace file's number is given
        back (the file is written only for an execution that returned)."""
        self.announce()
        if self.recorded:  # recorded already (the backend raised afterwards): the trace file stays
            return
        if self.trace_number is not None:
            self.trace_number = None
            self.executor.traces_written -= 1


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
