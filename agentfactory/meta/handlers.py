"""The meta skills: what each Meta-Agent tool does. The loop (agent.py) dispatches here.

Every handler returns a `Outcome` whose text goes back to the model inside <data> delimiters.
Handlers validate what the model asks before acting: a candidate is checked like a library save, a
save needs a successful execution in this run, and a revision of a library subagent is saved only
through the regression gate. Nothing here writes to the library except `finish`, through `Library.save`.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

from agentfactory.errors import AgentFactoryError, ValidationError
from agentfactory.gate import GateReport, case_from_run, file_facts, record_gate_decision, run_gate
from agentfactory.meta.candidates import Candidate, inputs_digest
from agentfactory.meta.context import RunContext
from agentfactory.meta.final import FINAL_DECISION, decide
from agentfactory.meta.loop import Outcome, declared_failure, preview
from agentfactory.meta.skills import meta_tools

RESULT_PREVIEW_CHARS = 1500


def numbered(code: str) -> str:
    lines = code.splitlines()
    width = len(str(len(lines)))
    return "\n".join(f"{i:>{width}} | {line}" for i, line in enumerate(lines, 1))


def result_answer(result: dict[str, Any] | None, output_files: list[str]) -> str:
    """A subagent's result as the run's answer: its `answer` text when it gives one, else one
    `key: value` line per field; then its output files."""
    result = result or {}
    text = result.get("answer")
    if isinstance(text, str) and text.strip():
        lines = [text.strip()]
    else:
        lines = [
            f"{str(key).replace('_', ' ')}: "
            + (value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False))
            for key, value in result.items()
        ]
    if output_files:
        lines.append("Files: " + ", ".join(output_files))
    return "\n".join(lines) or "The subagent finished with an empty result."


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_finite(v) for v in value)
    return True


class MetaSkills:
    """The six meta skills over one run's context."""

    def __init__(self, ctx: RunContext):
        self.ctx = ctx

    # -- search and view -------------------------------------------------------------------------

    def search_subagents(self, query: str, k: int = 5) -> Outcome:
        hits = self.ctx.search(query, k)
        if not hits:
            return Outcome("No library subagent matches this query.")
        return Outcome("\n".join(self.ctx.describe_hit(h) for h in hits))

    def view_subagent(self, name: str, version: int | None = None) -> Outcome:
        cand = self.ctx.candidates.get(name)
        if cand is not None and version is None:
            skill_md = (cand.folder / "SKILL.md").read_text(encoding="utf-8")
            where = f"candidate {name} (revision {cand.revision}, tools: {', '.join(cand.tools) or 'none'})"
            return Outcome(
                f"{where}\n--- SKILL.md ---\n{skill_md}\n--- {cand.entry} ---\n{numbered(cand.code)}"
            )
        sub = self.ctx.get_library(name, version)
        if sub is None:
            return Outcome(f"No subagent named '{name}' in this run or the library.", is_error=True)
        return Outcome(
            f"library subagent {sub.name} v{sub.version} (tools: {', '.join(sub.tools) or 'none'})\n"
            f"--- SKILL.md ---\n{sub.skill_md}\n--- {sub.entry} ---\n{numbered(sub.code)}"
        )

    # -- create and modify -----------------------------------------------------------------------

    def create_subagent(
        self,
        name: str,
        description: str,
        code: str,
        tools: list[str] | None = None,
        inputs_schema: dict[str, Any] | None = None,
    ) -> Outcome:
        if name in self.ctx.candidates:
            return Outcome(f"A candidate named '{name}' exists in this run; use modify_subagent.", True)
        if self.ctx.get_library(name) is not None:
            return Outcome(
                f"'{name}' exists in the library; reuse it with run_subagent, change it with "
                "modify_subagent, or pick another name.",
                True,
            )
        try:
            cand = self.ctx.write_candidate(
                name=name,
                description=description,
                code=code,
                tools=list(tools or []),
                inputs_schema=inputs_schema,
            )
        except ValidationError as exc:
            return Outcome(f"Not created: {exc}", True)
        self.ctx.created.append(name)
        return Outcome(
            f"Candidate '{name}' created (revision 1, tools: {', '.join(cand.tools) or 'none'}, "
            f"signature: {cand.signature}). Run it with run_subagent."
        )

    def modify_subagent(
        self, name: str, reason: str, code: str | None = None, edits: list[dict[str, str]] | None = None
    ) -> Outcome:
        if (code is None) == (edits is None):
            return Outcome("Give exactly one of `code` or `edits`.", True)
        cand = self.ctx.candidates.get(name)
        if cand is not None:
            base_code, description, tools, schema, base_version = (
                cand.code,
                cand.description,
                cand.tools,
                cand.inputs_schema,
                cand.base_version,
            )
            changelog = list(cand.changelog)
        else:
            sub = self.ctx.get_library(name)
            if sub is None:
                return Outcome(f"No subagent named '{name}' in this run or the library.", True)
            base_code, description, tools, schema, base_version = (
                sub.code,
                sub.description,
                list(sub.tools),
                sub.inputs_schema,
                sub.version,
            )
            changelog = []
        if edits is not None:
            new_code = base_code
            for i, edit in enumerate(edits, 1):
                count = new_code.count(edit["old"])
                if count != 1:
                    where = "not found" if count == 0 else f"found {count} times"
                    return Outcome(
                        f"Edit {i}: `old` text {where}; it must occur exactly once. Nothing changed.", True
                    )
                new_code = new_code.replace(edit["old"], edit["new"], 1)
        else:
            new_code = code or ""
        if new_code == base_code:
            return Outcome("The revision is identical to the current code; nothing changed.", True)
        try:
            new = self.ctx.write_candidate(
                name=name,
                description=description,
                code=new_code,
                tools=tools,
                inputs_schema=schema,
                base_version=base_version,
                changelog=[*changelog, reason.strip() or "revised"],
            )
        except ValidationError as exc:
            return Outcome(f"Revision refused: {exc}", True)
        if name not in self.ctx.modified and base_version is not None:
            self.ctx.modified.append(name)
        origin = f"library v{base_version}" if base_version is not None and cand is None else "candidate"
        return Outcome(f"'{name}' revision {new.revision} written (from {origin}). Run it to check it.")

    # -- run -------------------------------------------------------------------------------------

    def run_subagent(self, name: str, inputs: dict[str, Any] | None = None, final: bool = False) -> Outcome:
        """`final`: when this run succeeds, its result is the answer and the run ends without another
        model turn (a candidate is saved as `finish` would); a failure comes back as usual."""
        inputs = inputs or {}
        cand = self.ctx.candidates.get(name)
        sub = None
        if cand is not None:
            trace = self.ctx.execute(
                cand.folder, cand.entry, inputs, cand.tools, name=name, version=None, revision=cand.revision
            )
            if trace.status == "ok":
                facts = file_facts(self.ctx.workspace.outputs, list(trace.output_files))
                cand.record_success(inputs, trace.result or {}, list(trace.output_files), facts)
            else:
                cand.failures += 1
        else:
            sub = self.ctx.get_library(name)
            if sub is None:
                return Outcome(
                    f"No subagent named '{name}' in this run or the library. Create it first.", True
                )
            trace = self.execute_library(sub, inputs)
        text = trace.compact(max_chars=RESULT_PREVIEW_CHARS)
        if final and trace.status == "ok":
            if not _finite(trace.result):
                # NaN or infinity is almost always a bug (missing values, a division by zero), and
                # never a valid JSON answer: the model gets the trace to judge instead.
                return Outcome(f"{text}\nNot final: the result holds NaN or infinite numbers.")
            verdict = decide(self.ctx.settings, self.ctx.experience, self.ctx.log.run_id, sub, trace.result)
            self.ctx.emit(
                FINAL_DECISION,
                subagent=name,
                version=getattr(sub, "version", None),
                used=verdict.used,
                reason=verdict.reason,
            )
            if not verdict.used:
                return Outcome(f"{text}\n{verdict.note()}", data={"status": trace.status})
            done = self.finish(result_answer(trace.result, trace.output_files), [name] if cand else [])
            return Outcome(f"{text}\n{done.text}", finished=True, answer=done.answer)
        return Outcome(text, is_error=trace.status != "ok", data={"status": trace.status})

    def execute_library(self, sub: Any, inputs: dict[str, Any]) -> Any:
        """Run one version of a library subagent in the sandbox; the run counts it as reused."""
        with tempfile.TemporaryDirectory(prefix="af-lib-") as tmp:
            folder = self.ctx.library.export(sub.name, sub.version, Path(tmp) / sub.name)
            trace = self.ctx.execute(
                folder, sub.entry, inputs, list(sub.tools), name=sub.name, version=sub.version, revision=None
            )
        if sub.name not in self.ctx.reused:
            self.ctx.reused.append(sub.name)
        return trace

    # -- finish ----------------------------------------------------------------------------------

    def finish(
        self, answer: str, save: list[str] | None = None, status: str = "done", reason: str = ""
    ) -> Outcome:
        """`status` "failed" (with `reason`) ends the run as task_failed; the loop also fails a
        finish without an answer. Saving does not depend on it: a candidate that worked is kept."""
        lines = []
        for name in dict.fromkeys(save or []):
            lines.append(self._save_one(name))
        summary = "\n".join(lines) if lines else "Nothing saved."
        failure = declared_failure(status, reason, answer)
        return Outcome(f"Run finished.\n{summary}", finished=True, answer=answer, failure=failure)

    def _save_one(self, name: str) -> str:
        cand = self.ctx.candidates.get(name)
        if cand is None:
            sub = self.ctx.get_library(name)
            if sub is not None:
                return f"{name}: already in the library as v{sub.version}, unchanged."
            self.ctx.rejected[name] = "no such candidate in this run"
            return f"{name}: not saved, no such candidate in this run."
        if not cand.successes:
            reason = "it never ran successfully in this run"
            self.ctx.rejected[name] = reason
            return f"{name}: not saved, {reason}."
        new_cases = [case_from_run(s.inputs, s.result, s.output_files, s.files) for s in cand.successes]
        new_cases, files = self.ctx.case_fixtures(cand, new_cases)
        if cand.base_version is not None:
            report = self._gate(cand, new_cases, files)
            if not report.passed:
                self.ctx.rejected[name] = report.reason()
                record_gate_decision(
                    self.ctx.emit,
                    subagent=name,
                    base_version=cand.base_version,
                    accepted=False,
                    reason=report.reason(),
                    report=report,
                )
                return f"{name}: not saved, the regression gate refused it: {report.reason()}"
        try:
            result = self.ctx.save_candidate(cand, new_cases, files)
        except AgentFactoryError as exc:
            self.ctx.rejected[name] = str(exc)
            return f"{name}: not saved: {exc}"
        if not result.changed:
            return f"{name}: identical to library v{result.version}; nothing to save."
        if cand.base_version is not None:
            record_gate_decision(
                self.ctx.emit,
                subagent=name,
                base_version=cand.base_version,
                accepted=True,
                reason=cand.changelog[-1] if cand.changelog else "revised",
                report=report,
                version=result.version,
            )
        self.ctx.saved.append((name, result.version))
        return f"{name}: saved as v{result.version}."

    def _gate(self, cand: Candidate, new_cases: list, files: dict[str, Path]) -> GateReport:
        stored = self.ctx.get_library(cand.name, cand.base_version)
        stored_cases = list(stored.cases) if stored is not None else []
        fixtures = self.ctx.workspace.inputs
        return run_gate(self.ctx.make_case_runner(cand, fixtures, files), stored_cases, new_cases)


def dispatch(skills: MetaSkills, name: str, arguments: dict[str, Any]) -> Outcome:
    # Only the meta skills the model is offered: MetaSkills' other methods are not tools.
    if name not in {t.name for t in meta_tools()}:
        return Outcome(f"Unknown tool '{name}'.", True)
    return getattr(skills, name)(**arguments)


__all__ = ["MetaSkills", "Outcome", "dispatch", "inputs_digest", "numbered", "preview"]
