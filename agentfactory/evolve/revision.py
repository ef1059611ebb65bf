"""One revision of a subagent: what the model is shown, how its `submit_revision` call becomes code, how
the code is validated on every case in the sandbox, and the verdict.

The model's arguments are hostile: edits go through the library's one edit applier, the new folder is
validated like a library save before anything runs, and held-out cases never reach the prompt.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentfactory.engine.gate import GateReport, case_from_run, collect, run_case, run_gate
from agentfactory.engine.templates import prompt_templates
from agentfactory.evolve.records import ACCEPT_ALL, ACCEPT_MORE, EvolveOptions, FailingCase
from agentfactory.library import Case, validate_folder
from agentfactory.library.edits import EditError, apply_edits, numbered
from agentfactory.library.format import FIXTURES_DIR
from agentfactory.llm.types import ToolSpec

TRACE_CHARS = 1500  # of each failing trace shown to the model


def _templates() -> Any:
    return prompt_templates("agentfactory.evolve")


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


def render(part: str, **values: Any) -> str:
    return _templates().get_template("evolve.j2").render(part=part, **values).strip()


# ----------------------------------------------------------------------------------------- the prompt


def first_message(sub: Any, stored: list[Case], shown: list[FailingCase], before: GateReport,
                  options: EvolveOptions) -> str:  # fmt: skip
    stored_view = [
        {"index": o.index + 1, "inputs": short_json(c.inputs), "expected": short_json(c.expected),
         "passed": o.passed, "failures": o.failures[:3]}
        for c, o in zip(stored, before.outcomes[: len(stored)], strict=True)
    ]  # fmt: skip
    failing_view = [
        {"index": i + 1, "inputs": short_json(c.inputs), "expected": short_json(c.expected),
         "error": c.error, "trace": trace_view(c.trace, sub.code, sub.entry)}
        for i, c in enumerate(shown)
    ]  # fmt: skip
    return render(
        "request",
        name=sub.name,
        version=sub.version,
        description=sub.description,
        entry=sub.entry,
        tools=list(sub.tools),
        skill_md=sub.skill_md,
        code=numbered(sub.code),
        stored=stored_view,
        failing=failing_view,
        accept=options.accept,
        rounds=options.rounds,
    )


def rejection(reason: str, report: GateReport | None, code: str | None) -> str:
    """What the model reads after a rejected round: the reason and the broken cases it may see."""
    return render("rejected", reason=reason, broken=_broken(report, code))


def short_json(value: Any, limit: int = 600) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"


def trace_view(trace: Any, code: str, entry: str) -> str:
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
        trace = trace_view(o.trace, code or "", o.trace.entry if o.trace is not None else "")
        out.append({"origin": "stored" if o.origin == "stored" else "failing", "index": o.index + 1,
                    "failures": o.failures[:3], "trace": trace})  # fmt: skip
    return out


# ----------------------------------------------------------------------------------------- the code


def read_revision(args: dict[str, Any], base_code: str) -> tuple[str, str, str | None, str | None]:
    """(new code, reason, limitations, problem) from `submit_revision`'s arguments, already checked
    against its schema; a problem means the round is rejected before anything runs."""
    reason = " ".join(str(args["reason"]).split())
    code, edits = args.get("code"), args.get("edits")
    if (code is None) == (edits is None):
        return "", reason, None, "give exactly one of `code` or `edits`"
    if edits is not None:
        try:
            code = apply_edits(base_code, edits)
        except EditError as exc:
            return "", reason, None, str(exc)
    if code.strip() == base_code.strip():
        return "", reason, None, "no change: the revision is identical to the current code"
    return code, reason, args.get("limitations"), None


def write_revision(base: Path, folder: Path, entry: str, code: str) -> None:
    """The current version's folder with the new module; validated like a library save."""
    shutil.copytree(base, folder)
    (folder / entry).write_text(code, encoding="utf-8")
    validate_folder(folder)


def fixtures_dir(dest: Path, base: Path, failing: list[FailingCase]) -> Path:
    """One inputs/ tree for validation: the stored cases' fixtures plus the files failing inputs name."""
    dest.mkdir(parents=True)
    if (base / FIXTURES_DIR).is_dir():
        shutil.copytree(base / FIXTURES_DIR, dest, dirs_exist_ok=True)
    for case in failing:
        for rel, data in referenced_files(case).items():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return dest


def referenced_files(case: FailingCase) -> dict[str, bytes]:
    """The files a case's inputs name (`inputs/...`) where it failed, by path under inputs/, so it can
    be replayed and stored as fixtures. Only regular files inside that folder are taken."""
    if case.fixtures is None:
        return {}
    root = Path(case.fixtures).resolve()
    out = {}
    for value in case.inputs.values():
        if not isinstance(value, str) or not value.startswith("inputs/"):
            continue
        src = (root / value[len("inputs/") :]).resolve()
        if src.is_file() and root in src.parents:
            out[src.relative_to(root).as_posix()] = src.read_bytes()
    return out


def case_from_fix(case: FailingCase, outcome: Any, version: int) -> Case:
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


# ----------------------------------------------------------------------------------------- validation


def validate(
    execute: Callable[..., Any],
    folder: Path,
    sub: Any,
    fixtures: Path,
    revision: int | None,
    stored: list[Case],
    shown: list[FailingCase],
    held: list[FailingCase],
) -> GateReport:
    """Every stored, failing and held-out case, each in its own fresh inputs folder. `execute` is the
    run's one execution path; every execution is marked validation (checking a version on cases is
    not usage of the subagent)."""

    def runner(case: Case) -> Any:
        with tempfile.TemporaryDirectory(prefix="af-case-") as tmp:
            shutil.copytree(fixtures, Path(tmp) / "inputs")
            trace = execute(
                folder,
                sub.entry,
                case.inputs,
                list(sub.tools),
                name=sub.name,
                version=sub.version if revision is None else None,
                revision=revision,
                inputs_dir=Path(tmp) / "inputs",
                # Each case writes into an empty outputs folder of its own, as in the save gate: in
                # the run's shared one, a file equal to an earlier case's would not count as produced.
                outputs_dir=Path(tmp) / "outputs",
                validation=True,
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


def _same_result(trace: Any, rejected: Any) -> bool:
    """Whether an execution returned the result the user rated bad (compared as canonical JSON)."""
    if trace is None:
        return False
    return json.dumps(trace.result, sort_keys=True, default=str) == json.dumps(
        rejected, sort_keys=True, default=str
    )


def judge(report: GateReport, before: GateReport, options: EvolveOptions) -> tuple[str, str]:
    """(verdict, reason) of a validated revision: accepted, rejected or inconclusive."""
    if report.sandbox_errors:
        return "inconclusive", sandbox_reason(report, "validating the revision")
    if report.broken("stored"):
        return "rejected", f"regression: {_failing_text(report, 'stored')}"
    passed, total = report.counts("new")
    if options.accept == ACCEPT_ALL and passed < total:
        return "rejected", f"failing cases still fail: {_failing_text(report, 'new')}"
    if options.accept == ACCEPT_MORE and passed <= before.counts("new")[0]:
        return "rejected", (
            f"no more failing cases pass than before ({passed} of {total} now, "
            f"{before.counts('new')[0]} before)"
        )
    if options.require_held_out and report.broken("held_out"):
        return "rejected", (
            "the revision fixes the cases it was shown but not held-out cases of the same kind "
            f"(it may special-case its inputs): {_failing_text(report, 'held_out')}"
        )
    if report.counts()[0] == 0:
        return "rejected", "no case passes, and a revision is accepted only with at least one passing case"
    return "accepted", counts_text(report)


def _failing_text(report: GateReport, origin: str) -> str:
    """The gate's own sentence about the broken cases, over the cases of one origin."""
    return GateReport([o for o in report.outcomes if o.origin == origin]).reason()


def sandbox_reason(report: GateReport, doing: str) -> str:
    o = report.sandbox_errors[0]
    detail = "; ".join(o.failures[:1]) or "sandbox error"
    return (
        f"sandbox error while {doing} ({len(report.sandbox_errors)} case(s), retried): {detail}; this is "
        "neither a pass nor a fail, so nothing was decided: check the sandbox and rerun"
    )


def counts(report: GateReport) -> dict[str, Any]:
    return {
        "stored": list(report.counts("stored")),
        "failing": list(report.counts("new")),
        "held_out": list(report.counts("held_out")),
    }


def counts_text(report: GateReport) -> str:
    s, f, h = report.counts("stored"), report.counts("new"), report.counts("held_out")
    text = f"stored {s[0]}/{s[1]}, failing {f[0]}/{f[1]} pass"
    return text + (f", held-out {h[0]}/{h[1]}" if h[1] else "")
