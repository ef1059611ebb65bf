"""The meta skills: what each Meta-Agent tool does. The loop (agent.py) dispatches here.

Every handler returns an `Outcome` whose text goes back to the model inside <data> delimiters.
Handlers validate what the model asks before acting and act through the run's engine parts: a
candidate is written and saved by the run's `CandidateStore` (which checks it like a library save,
needs a successful execution in this run, and gates a revision of a library subagent), executions go
through the run's `Executor`. Nothing here writes to the library except `finish`, through the store.
"""

from __future__ import annotations

import json
import math
from typing import Any

from agentfactory.engine.loop import Outcome, declared_failure
from agentfactory.engine.run import OpenRun
from agentfactory.errors import ValidationError
from agentfactory.events import FINAL_DECISION
from agentfactory.library.edits import EditError, apply_edits, numbered
from agentfactory.meta.final import decide
from agentfactory.meta.skills import meta_tools

RESULT_PREVIEW_CHARS = 1500
# The meta skills that write a subagent's code: compaction keeps only the latest code of each subagent.
CODE_TOOLS = ("create_subagent", "modify_subagent")
MAX_MCP_MATCHES = 3  # MCP tools a search_subagents answer adds


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


def describe_hit(hit: Any, rates: dict[str, tuple[int, int]] | None) -> str:
    runs, ok = (rates or {}).get(hit.name, (0, 0))
    success = f"{ok}/{runs} runs ok" if runs else "no runs yet"
    return f"{hit.name} v{hit.version} — {hit.description} — {hit.signature} — {success}"


class MetaSkills:
    """The six meta skills over one open run."""

    def __init__(self, run: OpenRun):
        self.run = run
        self.library = run.library
        self.ledger = run.ledger

    @property
    def candidates(self) -> Any:
        return self.run.candidates  # made at first use (engine/run.py)

    # -- search and view -------------------------------------------------------------------------

    def search_subagents(self, query: str, k: int = 5) -> Outcome:
        hits = self.library.search(query, k)
        tools = self.run.mcp_tools.search(query, MAX_MCP_MATCHES) if self.run.mcp_tools is not None else []
        extra = "\nMCP tools:\n" + "\n".join(m.line for m in tools) if tools else ""
        if not hits:
            return Outcome("No library subagent matches this query." + extra)
        rates = self.library.success_rates()
        return Outcome("\n".join(describe_hit(h, rates) for h in hits) + extra)

    def view_subagent(self, name: str, version: int | None = None) -> Outcome:
        if "." in name and self.run.mcp_tools is not None:  # an MCP tool, SERVER.tool
            from agentfactory.tools.mcp import tool_view

            tool = self.run.mcp_tools.describe(name)
            if tool is None:
                problem = self.run.mcp_tools.problem(name) or f"no MCP tool named {name}"
                return Outcome(f"{problem[0].upper()}{problem[1:]}.", is_error=True)
            return Outcome(tool_view(tool))
        cand = self.candidates.get(name)
        if cand is not None and version is None:
            skill_md = (cand.folder / "SKILL.md").read_text(encoding="utf-8")
            where = f"candidate {name} (revision {cand.revision}, tools: {', '.join(cand.tools) or 'none'})"
            return Outcome(
                f"{where}\n--- SKILL.md ---\n{skill_md}\n--- {cand.entry} ---\n{numbered(cand.code)}"
            )
        sub = self.library.get(name, version)
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
        if name in self.candidates:
            return Outcome(f"A candidate named '{name}' exists in this run; use modify_subagent.", True)
        if self.library.get(name) is not None:
            return Outcome(
                f"'{name}' exists in the library; reuse it with run_subagent, change it with "
                "modify_subagent, or pick another name.",
                True,
            )
        try:
            cand = self.candidates.write(
                name=name,
                description=description,
                code=code,
                tools=list(tools or []),
                inputs_schema=inputs_schema,
            )
        except ValidationError as exc:
            return Outcome(f"Not created: {exc}", True)
        self.ledger.created.append(name)
        return Outcome(
            f"Candidate '{name}' created (revision 1, tools: {', '.join(cand.tools) or 'none'}, "
            f"signature: {cand.signature}). Run it with run_subagent."
        )

    def modify_subagent(
        self, name: str, reason: str, code: str | None = None, edits: list[dict[str, str]] | None = None
    ) -> Outcome:
        if (code is None) == (edits is None):
            return Outcome("Give exactly one of `code` or `edits`.", True)
        cand = self.candidates.get(name)
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
            sub = self.library.get(name)
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
            try:
                new_code = apply_edits(base_code, edits)
            except EditError as exc:
                return Outcome(f"{str(exc)[0].upper()}{str(exc)[1:]}. Nothing changed.", True)
        else:
            new_code = code or ""
        if new_code == base_code:
            return Outcome("The revision is identical to the current code; nothing changed.", True)
        try:
            new = self.candidates.write(
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
        if name not in self.ledger.modified and base_version is not None:
            self.ledger.modified.append(name)
        origin = f"library v{base_version}" if base_version is not None and cand is None else "candidate"
        return Outcome(f"'{name}' revision {new.revision} written (from {origin}). Run it to check it.")

    # -- run -------------------------------------------------------------------------------------

    def run_subagent(self, name: str, inputs: dict[str, Any] | None = None, final: bool = False) -> Outcome:
        """`final`: when this run succeeds, its result is the answer and the run ends without another
        model turn (a candidate is saved as `finish` would); a failure comes back as usual."""
        inputs = inputs or {}
        cand = self.candidates.get(name)
        sub = None
        if cand is not None:
            trace = self.run.executor.execute_candidate(cand, inputs)
            if trace.status == "ok":
                from agentfactory.engine.gate import file_facts  # on first use, with the gate

                facts = file_facts(self.run.workspace.outputs, list(trace.output_files))
                cand.record_success(inputs, trace.result or {}, list(trace.output_files), facts)
            else:
                cand.failures += 1
        else:
            sub = self.library.get(name)
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
            verdict = decide(
                self.run.settings.policy, self.run.experience, self.run.log.run_id, sub, trace.result
            )
            self.run.emit(
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

    def execute_library(self, sub: Any, inputs: dict[str, Any], **options: Any) -> Any:
        """Run one version of a library subagent in the sandbox; the run counts it as reused.
        `options` as for `Executor.execute` (the kind of execution recorded)."""
        trace = self.run.executor.execute_version(sub, inputs, **options)
        if sub.name not in self.ledger.reused:
            self.ledger.reused.append(sub.name)
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
        cand = self.candidates.get(name)
        if cand is None:
            sub = self.library.get(name)
            if sub is not None:
                return f"{name}: already in the library as v{sub.version}, unchanged."
            self.ledger.rejected[name] = "no such candidate in this run"
            return f"{name}: not saved, no such candidate in this run."
        saved = self.candidates.save(cand)
        if saved.outcome == "saved":
            self.ledger.saved.append((name, saved.version))
            return f"{name}: saved as v{saved.version}."
        if saved.outcome == "unchanged":
            return f"{name}: identical to library v{saved.version}; nothing to save."
        self.ledger.rejected[name] = saved.reason
        if saved.outcome == "refused":
            return f"{name}: not saved, the regression gate refused it: {saved.reason}"
        if saved.outcome == "never_ran":
            return f"{name}: not saved, {saved.reason}."
        return f"{name}: not saved: {saved.reason}"


def dispatch(skills: MetaSkills, name: str, arguments: dict[str, Any]) -> Outcome:
    # Only the meta skills the model is offered: MetaSkills' other methods are not tools.
    if name not in {t.name for t in meta_tools()}:
        return Outcome(f"Unknown tool '{name}'.", True)
    return getattr(skills, name)(**arguments)


__all__ = ["MetaSkills", "dispatch", "numbered", "result_answer"]
