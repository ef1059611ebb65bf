"""Records the library hands to the rest of the system. Plain dataclasses: they cross module boundaries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from typing import Any

from agentfactory.library.cases import Case
from agentfactory.records import record

CASES_FILE = "cases.jsonl"
FIXTURES_DIR = "fixtures"  # input files of the cases, kept beside them; the cases see them under inputs/


@record
class Subagent:
    """One version of a subagent, parsed from its folder (on disk or in git) without running its code.

    `version` is 0 for a folder that was never saved (a candidate). `files` holds every file of the folder
    by its path relative to the folder.
    """

    name: str
    version: int
    description: str
    code: str
    entry: str
    skill_md: str
    cases: list[Case]
    tools: list[str]
    tags: list[str]
    inputs_schema: dict[str, Any]
    outputs_schema: dict[str, Any]
    parent_version: int | None
    source_run: str | None
    source_task: str | None
    files: dict[str, bytes]
    signature: str = ""
    docstring: str = ""
    body: str = ""
    metadata: dict[str, str] = field(default_factory=dict)  # extra, user-defined metadata keys only
    commit: str | None = None  # the library commit this was read from, if any

    def runtime_files(self) -> dict[str, bytes]:
        """The files an execution gets: all but the version's regression cases and their fixtures, which
        the library's gate reads from here and lays out under a case's inputs/ (so a subagent that read
        them from its own folder would pass its cases and fail in use)."""
        return {
            rel: data
            for rel, data in self.files.items()
            if rel != CASES_FILE and not rel.startswith(f"{FIXTURES_DIR}/")
        }

    def fixture_files(self) -> dict[str, bytes]:
        """The cases' fixtures, by their path below fixtures/ (as a case sees them under inputs/)."""
        prefix = f"{FIXTURES_DIR}/"
        return {rel[len(prefix) :]: data for rel, data in self.files.items() if rel.startswith(prefix)}

    def info(self) -> SubagentInfo:
        return SubagentInfo(
            name=self.name,
            version=self.version,
            description=self.description,
            signature=self.signature,
            tools=list(self.tools),
            tags=list(self.tags),
        )


@record(frozen=True)
class SubagentInfo:
    """What `list()` shows: enough to choose a subagent without reading it."""

    name: str
    version: int
    description: str
    signature: str
    tools: list[str]
    tags: list[str]


@record(frozen=True)
class SearchHit:
    name: str
    version: int
    description: str
    signature: str
    score: float  # higher is better; comparable only within one search


@record(frozen=True)
class SaveResult:
    name: str
    version: int
    commit: str
    changed: bool
    replaced_cases: list[str] = field(default_factory=list)  # stored cases a forced save redefined


@record(frozen=True)
class VersionInfo:
    version: int
    commit: str
    date: str  # ISO 8601
    message: str  # subject line
    run_id: str | None
    task: str | None = None
    removed: bool = False


@record(frozen=True)
class PullConflict:
    """Both sides changed a subagent since they last agreed: ours is kept, theirs stays reachable at `ref`."""

    name: str
    ours_version: int | None
    theirs_version: int | None
    theirs_commit: str
    ref: str


@record(frozen=True)
class PullRejection:
    """A remote revision of a local subagent that failed the local version's cases, redefined one of them,
    or removed the subagent (or a new subagent failing its own cases): ours stays current (a new one is
    not added), theirs stays reachable at `ref`."""

    name: str
    ours_version: int | None
    theirs_version: int | None
    theirs_commit: str
    ref: str
    reason: str


@record(frozen=True)
class PullResult:
    commit: str  # HEAD after the pull
    fast_forward: bool
    updated: list[str]  # subagents taken from the remote
    conflicts: list[PullConflict]
    rejected: list[PullRejection] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # subagents the remote removed (--accept-removals)
    experience: list[str] = field(default_factory=list)  # agents' experience files the pull changed
    # Our own agents' files to which the remote added lines: refused, ours kept (experience_files).
    experience_refused: list[str] = field(default_factory=list)


# Checks a version about to become current (its code with every case it will carry): None to allow it, or
# a one-line reason to refuse it. The library never runs code; callers pass one that runs the sandbox.
Verifier = Callable[[Subagent], "str | None"]
