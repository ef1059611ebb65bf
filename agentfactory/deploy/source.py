"""The subagent as deploy sees it: one record with everything the exporters render, read from the library.

Exporters work on `SubagentSource` only, so they do not depend on how the library stores a subagent.
"""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
from typing import Any

from agentfactory.errors import LibraryError, UsageError, ValidationError
from agentfactory.records import record

DEFAULT_TOLERANCE = 1e-6


@record(frozen=True)
class CaseRecord:
    """One stored regression case: the inputs and the values the output must have."""

    inputs: dict[str, Any]
    expected: dict[str, Any]
    tolerance: float | None = None
    checks: dict[str, Any] = field(default_factory=dict)  # {"types": {...}, "keys": [...], "files": [...]}
    name: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"inputs": self.inputs, "expected": self.expected}
        if self.name:
            out = {"name": self.name, **out}
        if self.tolerance is not None:
            out["tolerance"] = self.tolerance
        if self.checks:
            out["checks"] = self.checks
        return out


@record(frozen=True)
class SubagentSource:
    """One version of one library subagent, as exported."""

    name: str
    version: int
    description: str
    code: str
    entry: str  # file name of the entry module, e.g. "csv_stats.py"
    skill_md: str
    cases: tuple[CaseRecord, ...]
    inputs_schema: dict[str, Any]
    outputs_schema: dict[str, Any] | None = None
    tools: tuple[str, ...] = ()
    files: dict[str, bytes] = field(default_factory=dict)  # other files of the folder, by relative path
    library_commit: str = "unknown"
    original: Any = None  # the library's own record, handed back to the library's case check

    @property
    def module(self) -> str:
        return Path(self.entry).stem


def case_record(case: Any) -> CaseRecord:
    """A CaseRecord from a library case object or a plain cases.jsonl dict."""
    get = case.get if isinstance(case, dict) else lambda key, default=None: getattr(case, key, default)
    inputs = get("inputs") or {}
    expected = get("expected") or {}
    if not isinstance(inputs, dict) or not isinstance(expected, dict):
        raise ValidationError("A stored case has inputs or expected that are not JSON objects.")
    tolerance = get("tolerance")
    checks = get("checks") or {}
    return CaseRecord(
        dict(inputs),
        dict(expected),
        float(tolerance) if tolerance is not None else None,
        dict(checks) if isinstance(checks, dict) else {},
        get("name"),
    )


def load_source(library: Any, name: str, version: int | None) -> SubagentSource:
    """Read one subagent version from an `agentfactory.library.Library`; unknown name or version is refused."""
    if version is not None and version < 1:
        raise UsageError(f"Version {version} does not exist: versions are numbered from 1.")
    subagent = library.get(name, version)
    entry = str(_first(subagent, "entry", "entry_file", "entry_name", default=f"{name.replace('-', '_')}.py"))
    cases = tuple(case_record(c) for c in (getattr(subagent, "cases", None) or ()))
    files = {str(k): v for k, v in (getattr(subagent, "files", None) or {}).items()}
    try:
        commit = str(library.head())
    except (LibraryError, ValueError):  # an empty or unborn repository has no head
        commit = "unknown"
    return SubagentSource(
        name=subagent.name,
        version=int(subagent.version),
        description=str(subagent.description or ""),
        code=str(subagent.code),
        entry=entry,
        skill_md=str(getattr(subagent, "skill_md", "") or ""),
        cases=cases,
        inputs_schema=dict(getattr(subagent, "inputs_schema", None) or {"type": "object"}),
        outputs_schema=getattr(subagent, "outputs_schema", None) or None,
        tools=tuple(getattr(subagent, "tools", None) or ()),
        files=files,
        library_commit=commit,
        original=subagent,
    )


def library_modules(library: Any, wanted: set[str], own_name: str) -> dict[str, str]:
    """Which of the module names in `wanted` belong to other subagents of the library (module -> owner).

    Only the names an import scan could not place elsewhere are asked about, so a subagent whose imports
    are all standard library or sandbox image costs no library reads here.
    """
    found: dict[str, str] = {}
    if not wanted:
        return found
    for info in library.list():
        name = str(info.name)
        if name == own_name:
            continue
        module = name.replace("-", "_")
        if module in wanted:
            found[module] = name
            continue
        entry = Path(str(getattr(library.get(name), "entry", "") or "")).stem
        if entry in wanted:
            found[entry] = name
    return found


def _first(obj: Any, *names: str, default: Any) -> Any:
    for attr in names:
        value = getattr(obj, attr, None)
        if value:
            return value
    return default
