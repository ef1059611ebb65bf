"""The maturity gate: a subagent is exported only when every stored case passes now and it has enough
successful recorded runs (task runs that succeeded and were not rated bad; checks made by gates and by
evolve are validation, not runs).

The gate takes the case runner and the run counter as functions, so it judges without knowing which
sandbox backend ran the cases or where runs are recorded.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import field

from agentfactory.deploy.source import SubagentSource
from agentfactory.records import record


@record(frozen=True)
class CaseOutcome:
    """One stored case, run now."""

    index: int  # 1-based, as in cases.jsonl
    passed: bool
    detail: str = ""  # why it failed


@record(frozen=True)
class MaturityReport:
    """What the gate found; `reasons` is empty when the subagent may be exported."""

    cases_total: int
    cases_passed: int
    successful_runs: int | None  # None when no run record could be read
    min_runs: int
    sandbox: str
    reasons: tuple[str, ...] = field(default=())
    checked: bool = True  # False when the gate could not run at all (only possible with --force)
    notes: tuple[str, ...] = field(default=())  # what the export depends on beyond itself (MCP servers)

    @property
    def passed(self) -> bool:
        return self.checked and not self.reasons


DETAIL_LIMIT = 300  # characters of one failed case's detail in a reason


def printable(text: str, limit: int = DETAIL_LIMIT) -> str:
    """`text` with every control, format or surrogate character written as an escape (`\\x1b`, `\\u202e`),
    cut to `limit` characters: case details quote subagent output, which reaches terminals, JSON and the
    exported READMEs."""
    out = []
    for ch in text[: limit + 1]:
        if unicodedata.category(ch)[0] == "C" and ch != " ":
            code = ord(ch)
            out.append(
                f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
            )
        else:
            out.append(ch)
    shown = "".join(out)
    return shown[:limit] + "…" if len(text) > limit or len(shown) > limit else shown


CaseRunner = Callable[[SubagentSource], list[CaseOutcome]]
RunCounter = Callable[[str, int], int]  # (name, version) -> successful runs of that version


def check_maturity(
    source: SubagentSource,
    run_cases: CaseRunner,
    count_runs: RunCounter,
    min_runs: int,
    sandbox: str,
) -> MaturityReport:
    """Run every stored case and count successful runs; each shortfall becomes one reason."""
    reasons: list[str] = []
    outcomes = run_cases(source) if source.cases else []
    passed = sum(1 for o in outcomes if o.passed)
    if not source.cases:
        reasons.append("it has no stored cases, so nothing shows that it works")
    failed = [o for o in outcomes if not o.passed]
    if failed:
        shown = "; ".join(f"case {o.index}: {printable(o.detail)}" for o in failed[:3])
        more = f" (and {len(failed) - 3} more)" if len(failed) > 3 else ""
        reasons.append(
            f"{len(failed)} of {len(source.cases)} stored cases fail in the {sandbox} sandbox ({shown}{more})"
        )
    runs = count_runs(source.name, source.version)
    if runs < min_runs:
        reasons.append(f"it has {runs} successful recorded runs, fewer than the required {min_runs}")
    return MaturityReport(
        cases_total=len(source.cases),
        cases_passed=passed,
        successful_runs=runs,
        min_runs=min_runs,
        sandbox=sandbox,
        reasons=tuple(reasons),
        notes=dependency_notes(source),
    )


def dependency_notes(source: SubagentSource) -> tuple[str, ...]:
    """What the cases' passing depends on outside the subagent: the MCP servers of its tools."""
    mcp_tools = sorted(t for t in source.tools if "." in t)
    if not mcp_tools:
        return ()
    servers = sorted({t.split(".", 1)[0] for t in mcp_tools})
    return (
        f"it calls the MCP tools {', '.join(mcp_tools)}: its cases ran against the MCP server(s) "
        f"{', '.join(servers)} of this project, and the export needs the same server(s) to work",
    )
