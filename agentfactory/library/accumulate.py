"""Cases only accumulate: a new version carries every stored case and the fixtures they read."""

from __future__ import annotations

import dataclasses
import json
import re

from agentfactory.errors import ValidationError
from agentfactory.library.cases import Case, dump_cases
from agentfactory.library.format import CASES_FILE, SKILL_FILE, split_skill_md
from agentfactory.library.model import Subagent
from agentfactory.library.repo import _one_line

FIXTURES_DIR = "fixtures/"  # input files of the cases, kept beside them


def _case_key(case: Case) -> str:
    return json.dumps(case.inputs, sort_keys=True, default=str)


def _case_label(case: Case) -> str:
    return case.name or _one_line(_case_key(case), 80)


def _accumulate(new: Subagent, old: Subagent, *, prefer_new: bool = False) -> tuple[Subagent, list[str]]:
    """`new` carrying every case of `old` (the stored version) and the fixture files they read.

    Returns it with the redefinitions found: a case of `new` with the inputs of a stored case but another
    expectation, or a stored fixture `new` gives other content. The stored case and fixture are what the
    result carries (so they run with OUR expectation), unless `prefer_new`."""
    stored = {_case_key(c): c for c in old.cases}
    redefined: list[str] = []
    cases: list[Case] = []
    seen: set[str] = set()
    for case in new.cases:
        key = _case_key(case)
        if key in seen:
            continue
        seen.add(key)
        mine = stored.get(key)
        if mine is not None and _expectation(mine) != _expectation(case):
            redefined.append(f"case {_case_label(mine)} expects something else")
            case = case if prefer_new else mine
        cases.append(case)
    cases += [c for k, c in stored.items() if k not in seen]
    files = dict(new.files)
    for path, data in old.files.items():
        if not path.startswith(FIXTURES_DIR):
            continue
        if path in files and files[path] != data:
            redefined.append(f"{path} has other content")
            if prefer_new:
                continue
        files[path] = data
    if cases == list(new.cases) and files == new.files:
        return new, redefined
    files[CASES_FILE] = dump_cases(cases).encode("utf-8")
    return dataclasses.replace(new, cases=cases, files=files), redefined


def _expectation(case: Case) -> str:
    return json.dumps([case.expected, case.tolerance, case.checks], sort_keys=True, default=str)


def _code_key(sub: Subagent) -> tuple:
    """What a rollback restores: the description and every file but SKILL.md, the cases and fixtures."""
    code = {
        p: d
        for p, d in sub.files.items()
        if p not in (SKILL_FILE, CASES_FILE) and not p.startswith(FIXTURES_DIR)
    }
    return sub.description, sorted(code.items())


def _version_of_files(files: dict[str, bytes]) -> int:
    if SKILL_FILE not in files:
        return 0
    try:
        front, _ = split_skill_md(files[SKILL_FILE].decode("utf-8"))
    except (ValidationError, UnicodeDecodeError):
        return 0
    meta = front.get("metadata") or {}
    value = str(meta.get("version", "")) if isinstance(meta, dict) else ""
    return int(value) if re.fullmatch(r"\d+", value) else 0
