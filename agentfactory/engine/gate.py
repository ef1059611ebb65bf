"""The regression gate: a revision replaces a saved subagent only if it passes every stored case.

Each case is executed in the sandbox and checked on its own; there is no averaging. A sandbox error
during a case is neither a pass nor a fail: it is retried, and if it persists the gate reports it and
refuses. The gate is shared by `finish` during a run and by `agentfactory evolve`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
from collections.abc import Callable
from dataclasses import field
from pathlib import Path
from typing import Any

from agentfactory import events as ev
from agentfactory.library import Case, check_case
from agentfactory.library.cases import MAX_NESTING, nesting_exceeds, summarise
from agentfactory.records import record

MAX_EXPECTED_CHARS = 4000
SANDBOX_RETRIES = 2
HEAD_CHARS = 200  # the first line of a text output file kept in its pin
MAX_TEXT_PIN_BYTES = 16 << 20  # larger text files are pinned by their bytes


@record
class CaseRun:
    """What a case runner hands back: the execution trace and the measured facts of the files it wrote
    (see `file_facts`), taken before the runner's output folder goes away."""

    trace: Any
    files: dict[str, dict[str, Any]] | None = None


# A case runner executes one case's inputs and returns the execution trace, or a CaseRun when it also
# measured the output files (needed by cases that pin file content).
CaseRunner = Callable[[Case], Any]


def collect(trace: Any, output_dir: Path | None) -> CaseRun:
    """A runner's result with the facts of the output files the execution reported."""
    if output_dir is None:
        return CaseRun(trace, None)
    return CaseRun(trace, file_facts(Path(output_dir), list(getattr(trace, "output_files", []) or [])))


def file_facts(folder: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    """Size, sha256 and, for UTF-8 text, line count and first line of each named file under `folder`.

    The files were copied out of a sandbox: each is opened without following links and must be a regular
    file; anything else is left out (so a pin on it fails)."""
    facts: dict[str, dict[str, Any]] = {}
    root = os.path.abspath(folder)
    for name in names:
        parts = name.replace("\\", "/").split("/")
        if not name or name.startswith("/") or ".." in parts or "\x00" in name:
            continue
        one = _facts_of(root, parts)
        if one is not None:
            facts[name] = one
    return facts


def _facts_of(root: str, parts: list[str]) -> dict[str, Any] | None:
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None
    try:
        for part in parts[:-1]:
            nxt = os.open(part, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | nofollow, dir_fd=fd)
            os.close(fd)
            fd = nxt
        leaf = os.open(parts[-1], os.O_RDONLY | nofollow | getattr(os, "O_NONBLOCK", 0), dir_fd=fd)
    except OSError:
        os.close(fd)
        return None
    os.close(fd)
    with os.fdopen(leaf, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return None
        digest, size, lines, first, text = hashlib.sha256(), 0, 0, b"", True
        body = bytearray()  # kept for the text digest while small enough to hold
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            if size < (1 << 16):
                first = (first + chunk)[: 1 << 16]
            size += len(chunk)
            lines += chunk.count(b"\n")
            text = text and b"\x00" not in chunk
            if size <= MAX_TEXT_PIN_BYTES:
                body += chunk
    out: dict[str, Any] = {"size": size, "sha256": digest.hexdigest(), "kind": "binary"}
    image = _image_kind(first)
    if image is not None:
        out["kind"], out["format"], out["pixels"] = "image", image[0], image[1]
        return out
    try:
        head = first.split(b"\n", 1)[0].decode("utf-8")
        content = bytes(body).decode("utf-8") if text and size <= MAX_TEXT_PIN_BYTES else None
    except UnicodeDecodeError:
        text, content = False, None
    if text:
        out["lines"] = lines
        out["head"] = head.rstrip("\r")[:HEAD_CHARS]
    if content is not None:
        # Line endings and trailing spaces aside, the text must stay the same.
        normalised = "\n".join(line.rstrip() for line in content.splitlines()).strip("\n")
        out["kind"] = "text"
        out["text_sha256"] = hashlib.sha256(normalised.encode("utf-8", "surrogatepass")).hexdigest()
    return out


def _image_kind(head: bytes) -> tuple[str, str | None] | None:
    """(format, "WxH" or None) of a PNG or JPEG file from its first bytes, else None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") and len(head) >= 24 and head[12:16] == b"IHDR":
        width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        return "png", f"{width}x{height}"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg", None
    return None


@record
class CaseOutcome:
    index: int
    origin: str  # "stored" or "new"
    passed: bool
    failures: list[str] = field(default_factory=list)
    status: str = "ok"
    trace: Any = None
    files: dict[str, dict[str, Any]] | None = None  # facts of the files it wrote, when the runner measured


@record
class GateReport:
    outcomes: list[CaseOutcome]

    @property
    def passed(self) -> bool:
        return bool(self.outcomes) and all(o.passed for o in self.outcomes)

    def counts(self, origin: str | None = None) -> tuple[int, int]:
        chosen = [o for o in self.outcomes if origin is None or o.origin == origin]
        return sum(o.passed for o in chosen), len(chosen)

    @property
    def sandbox_errors(self) -> list[CaseOutcome]:
        """Cases whose execution failed in the sandbox itself even after retries: neither pass nor fail."""
        return [o for o in self.outcomes if o.status == "sandbox_error"]

    def broken(self, origin: str | None = None) -> list[CaseOutcome]:
        return [o for o in self.outcomes if not o.passed and (origin is None or o.origin == origin)]

    def reason(self) -> str:
        if not self.outcomes:
            return "no case to validate against"
        broken = [o for o in self.outcomes if not o.passed]
        if not broken:
            return "all cases pass"
        parts = []
        for o in broken[:3]:
            detail = "; ".join(o.failures[:2]) or o.status
            parts.append(f"{o.origin} case {o.index + 1} ({o.status}): {detail}")
        more = f" and {len(broken) - 3} more" if len(broken) > 3 else ""
        return f"{len(broken)} of {len(self.outcomes)} cases fail: " + " | ".join(parts) + more


def case_from_run(
    inputs: dict[str, Any],
    result: dict[str, Any],
    output_files: list[str],
    files: dict[str, dict[str, Any]] | None = None,
) -> Case:
    """A regression case recorded from a successful execution: small values exact, large ones by a
    structural summary, NaN or infinite numbers by type only (no later revision could equal them), and
    each output file by its content (`files`: the facts `file_facts` measured) or, unmeasured, its name."""
    expected: dict[str, Any] = {}
    summaries: dict[str, Any] = {}
    types: dict[str, str] = {}
    for key, value in (result or {}).items():
        if nesting_exceeds(value, MAX_NESTING):  # too deep to store or hash safely: its type only
            types[key] = "object" if isinstance(value, dict) else "array"
        elif not _finite(value):
            # NaN or infinities: a fix may replace them, so the content is not pinned; a list or object
            # keeps its shape (type, length, keys), a number its type.
            if isinstance(value, float):
                types[key] = "number"
            else:
                summaries[key] = {k: v for k, v in summarise(value).items() if k != "digest"}
        elif len(json.dumps(value, default=str)) <= MAX_EXPECTED_CHARS:
            expected[key] = value
        else:
            summaries[key] = summarise(value)
    checks: dict[str, Any] = {}
    if types:
        checks["types"] = types
    if summaries:
        checks["summaries"] = summaries
    pins = {name: files[name] for name in sorted(output_files) if files and name in files}
    if output_files:
        checks["files"] = sorted(output_files)  # readers that know no pins still check the names
    if pins:
        checks["file_pins"] = pins
    return Case(inputs=dict(inputs), expected=expected, checks=checks)


def _finite(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return False
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return True


def run_gate(runner: CaseRunner, stored: list[Case], new: list[Case]) -> GateReport:
    outcomes = []
    for origin, cases in (("stored", stored), ("new", new)):
        for index, case in enumerate(cases):
            outcomes.append(run_case(runner, case, index, origin))
    return GateReport(outcomes)


def run_case(runner: CaseRunner, case: Case, index: int = 0, origin: str = "stored") -> CaseOutcome:
    for _attempt in range(SANDBOX_RETRIES + 1):
        run = runner(case)
        run = run if isinstance(run, CaseRun) else CaseRun(run)
        trace = run.trace
        if trace.status != "sandbox_error":
            break
    if trace.status != "ok":
        message = ""
        if trace.error:
            message = f"{trace.error.get('type', '')}: {trace.error.get('message', '')}".strip(": ")
        return CaseOutcome(index, origin, False, [message or trace.status], trace.status, trace)
    check = check_case(case, trace.result, list(trace.output_files), run.files)
    return CaseOutcome(index, origin, check.passed, list(check.failures), trace.status, trace, run.files)


BROKEN_IN_RECORD = 5  # broken cases described in one gate record
TRACE_IN_RECORD = 800  # characters of each broken case's compact trace kept in the record


def record_gate_decision(
    emit: Callable[..., Any],
    *,
    subagent: str,
    base_version: int | None,
    accepted: bool,
    reason: str,
    report: GateReport | None = None,
    version: int | None = None,
    source: str = "run",
    **extra: Any,
) -> None:
    """The one record of a gate decision (a `library_change` event, action accepted or rejected).

    Shared by `finish` during a run (source "run") and `agentfactory evolve` (source "evolve"), so both
    leave the same trail: per-origin case counts and, for each broken case, its failures and trace.
    """
    fields: dict[str, Any] = {
        "action": "accepted" if accepted else "rejected",
        "subagent": subagent,
        "base_version": base_version,
        "source": source,
        "reason": reason,
    }
    if version is not None:
        fields["version"] = version
    if report is not None:
        origins = dict.fromkeys(o.origin for o in report.outcomes)
        fields["cases"] = {origin: list(report.counts(origin)) for origin in origins}
        fields["broken"] = [
            {
                "origin": o.origin,
                "case": o.index + 1,
                "status": o.status,
                "failures": o.failures[:3],
                "trace": _compact(o.trace),
            }
            for o in report.broken()[:BROKEN_IN_RECORD]
        ]
    emit(ev.LIBRARY_CHANGE, **fields, **extra)


def _compact(trace: Any) -> str:
    if trace is None or not hasattr(trace, "compact"):
        return ""
    return trace.compact(max_chars=TRACE_IN_RECORD)


# ----------------------------------------------------------------------------- outside a run


def sandbox_verifier(settings: Any) -> Callable[[Any], str | None]:
    """A library `Verifier` for work outside a run (`library add`, `library pull`): it runs a version's
    code on every case it carries, each in a fresh inputs folder holding the version's fixtures, in the
    sandbox backend of `settings`, and returns None when all pass or the gate's reason."""

    def verify(sub: Any) -> str | None:
        if not sub.cases:
            return None
        report = run_subagent_cases(settings, sub)
        return None if report.passed else report.reason()

    return verify


def run_subagent_cases(
    settings: Any,
    sub: Any,
    *,
    purpose: str = "library-gate",
    on_case: Callable[[CaseOutcome], None] | None = None,
) -> GateReport:
    """Run `sub` (a library Subagent, possibly not saved yet) on its own cases in the sandbox, each in a
    fresh inputs folder holding its fixtures. `purpose` labels the executions (the library's gate,
    deploy's checks) and names their run id `<first word of purpose>-<name>`; `on_case` hears each
    case's outcome as it is known."""
    import contextlib
    import tempfile

    from agentfactory.library.writing import write_folder
    from agentfactory.sandbox import ExecutionRequest, get_backend

    fixtures = sub.fixture_files()
    backend = get_backend(settings.sandbox, pool_size=0)
    with contextlib.ExitStack() as stack:
        stack.callback(backend.close)
        broker = tool_broker(settings, list(sub.tools), stack)
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="af-gate-")))
        code = sub.runtime_files()  # as a run executes the version: no cases, no fixtures beside the code

        def runner(case: Case) -> CaseRun:
            work = Path(tempfile.mkdtemp(prefix="case-", dir=tmp))
            write_folder(work / "inputs", fixtures)
            request = ExecutionRequest(
                code_dir=Path(f"{sub.name} v{sub.version}"),  # names it in messages
                code_files=code,
                entry=Path(sub.entry).stem,  # the sandbox takes a module name
                inputs=case.inputs,
                workdir=work,
                output_dir=work / "outputs",
                timeout_s=settings.sandbox.timeout_s,
                memory_mb=settings.sandbox.memory_mb,
                tools=list(sub.tools),
                broker=broker,
                run_id=f"{purpose.split('-')[0]}-{sub.name}",
                labels={"subagent": sub.name, "purpose": purpose},
            )
            return collect(backend.execute(request), work / "outputs")

        outcomes = []
        for index, case in enumerate(sub.cases):
            outcomes.append(run_case(runner, case, index, "stored"))
            if on_case is not None:
                on_case(outcomes[-1])
        return GateReport(outcomes)


def tool_broker(settings: Any, tools: list[str], stack: Any) -> Any:
    """A tool broker for a subagent's tools when its cases run outside a run (library gate, deploy's
    checks), closed with `stack`; None when it uses none (no model is needed then)."""
    if not tools:
        return None
    from agentfactory.llm.models import output_tokens_for
    from agentfactory.llm.registry import get_provider
    from agentfactory.sandbox import ToolBroker
    from agentfactory.tools import build_handlers

    provider = None
    cap = None
    if "llm" in tools:
        spec = settings.resolved_subagent_model()
        provider = get_provider(spec, settings.models, env=settings.credentials)
        cap = output_tokens_for(settings.models.max_output_tokens, spec)
    mcp_tools = None
    if any("." in tool for tool in tools):  # MCP tools (SERVER.tool): their servers stop with `stack`
        from agentfactory.tools.mcp import mcp_tools_for

        mcp_tools = mcp_tools_for(settings.tools)
        if mcp_tools is not None:
            stack.callback(mcp_tools.close)
    broker = ToolBroker(
        build_handlers(settings.tools, settings.credentials, provider, cap), resolver=mcp_tools
    )
    stack.callback(broker.close)
    return broker
