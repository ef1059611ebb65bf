"""Candidates: subagents written or modified during one run, kept in the run's workspace until saved.

A candidate has revisions (`candidates/<name>/r<N>/`, each a complete subagent folder); only the
current revision counts. Its successful executions in this run become its regression cases on save.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentfactory.library.cases import inputs_digest  # the one digest of inputs


@dataclass
class SuccessfulRun:
    inputs: dict[str, Any]
    result: dict[str, Any]
    output_files: list[str]
    files: dict[str, dict[str, Any]] | None = None  # facts of the output files (gate.file_facts)


@dataclass
class Candidate:
    name: str
    description: str
    code: str
    tools: list[str]
    inputs_schema: dict[str, Any] | None
    folder: Path
    entry: str
    revision: int = 1
    base_version: int | None = None  # the library version this candidate revises, if any
    changelog: list[str] = field(default_factory=list)
    signature: str = "run(**inputs)"
    successes: list[SuccessfulRun] = field(default_factory=list)
    failures: int = 0

    def record_success(
        self,
        inputs: dict[str, Any],
        result: dict[str, Any],
        output_files: list[str],
        files: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        digest = inputs_digest(inputs)
        if all(inputs_digest(s.inputs) != digest for s in self.successes):
            self.successes.append(SuccessfulRun(inputs, result, output_files, files))
