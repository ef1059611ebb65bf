"""The one execution path: every subagent execution of a run, whoever asks for it, goes through here.

`Executor.execute` builds the sandbox request (the run's wall clock caps it, a spent budget starts
none), runs it, writes the trace file, emits the `subagent_execution` event and hands the experience
store a typed `SubagentExecution`. A Meta-Agent tool call, a gate case and an evolve validation differ
only in their arguments. It knows no Meta-Agent and never writes to the library.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
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
from agentfactory.library.format import write_folder
from agentfactory.sandbox import ExecutionRequest
from agentfactory.sandbox.broker import settle_trace

MIN_EXECUTION_S = 1.0  # less left on the run's clock than this starts no execution


@dataclass
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
    ) -> Any:
        """Run one subagent in the sandbox and record the execution (trace file, event, experience).

        `validation`: a gate or evolve checking a version on cases; the experience store keeps it apart
        from usage, so it never counts as a run, a success or a failure of the subagent.
        """
        timeout_s = self.execution_timeout()
        self.executions_started += 1
        number = self.executions_started
        self.log.emit(
            ev.EXECUTION_STARTED, subagent=name, version=version, revision=revision, execution=number
        )
        request = ExecutionRequest(
            code_dir=code_dir,
            # The library names the entry file (x.py); the sandbox imports a module name (x).
            entry=entry[:-3] if entry.endswith(".py") else entry,
            inputs=inputs,
            # The sandbox takes the folder that holds inputs/, not inputs/ itself.
            workdir=(inputs_dir or self.workspace.inputs).parent,
            output_dir=outputs_dir or self.workspace.outputs,
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
        wall = time.time() - started
        trace_path = self._write_trace(trace, name, inputs)
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
        if self.experience is not None:
            self.experience.record_subagent_execution(
                self._record(trace, name, version, inputs, wall, VALIDATION if validation else USE)
            )
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
        """Run one library version, as already read (a `Subagent`), in the sandbox: its files are
        written out from memory, not read from the library again. `options` as for `execute`."""
        with tempfile.TemporaryDirectory(prefix="af-lib-") as tmp:
            folder = Path(tmp) / sub.name
            write_folder(folder, sub.files)
            return self.execute(
                folder,
                sub.entry,
                inputs,
                list(sub.tools),
                name=sub.name,
                version=sub.version,
                revision=None,
                **options,
            )

    def _write_trace(self, trace: Any, name: str, inputs: dict[str, Any]) -> Path:
        self.traces_written += 1
        path = self.workspace.traces / f"{self.traces_written:03d}-{name}.json"
        # The inputs go with the trace: the event log keeps only a preview of long ones, and evolve
        # replays a failure from this file.
        ev.write_json(path, {**trace.to_dict(), "inputs": inputs})  # strict UTF-8 whatever the result
        return path

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
