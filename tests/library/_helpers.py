"""Helpers for library tests: hand-written subagent folders and a library snapshot to prove 'nothing changed'."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agentfactory.library import Library

CODE = '''"""{purpose}

Inputs:
- text (str): the input text

Outputs:
- result (str): the answer
"""


def run(text: str, limit: int = 3) -> dict:
    return {{"result": text[:limit]}}
'''


def write_folder(
    root: Path,
    name: str,
    description: str = "Return the first characters of a text. Use to preview text.",
    *,
    purpose: str = "Preview a text.",
    code: str | None = None,
    skill_md: str | bytes | None = None,
    cases: str = '{"inputs": {"text": "abcdef"}, "expected": {"result": "abc"}}\n',
    metadata: str = "",
) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    if skill_md is None:
        skill_md = f"---\nname: {name}\ndescription: {description}\n{metadata}---\n\n# {name}\n\nBody.\n"
    if isinstance(skill_md, str):
        skill_md = skill_md.encode()
    (folder / "SKILL.md").write_bytes(skill_md)
    (folder / (name.replace("-", "_") + ".py")).write_text(
        code if code is not None else CODE.format(purpose=purpose)
    )
    (folder / "cases.jsonl").write_text(cases)
    return folder


def snapshot(path: Path) -> tuple:
    """Everything observable about a library folder: HEAD, status and the file list."""
    if not path.exists():
        return ("absent",)
    files = sorted(str(p.relative_to(path)) for p in path.rglob("*") if ".git" not in p.parts)
    head = status = ""
    if (path / ".git").exists():
        head = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True
        ).stdout
        status = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain", "--ignored"], capture_output=True, text=True
        ).stdout
    return head, status, files


def git(path: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(path), *args], capture_output=True, text=True, check=True).stdout


@pytest.fixture
def lib(tmp_path: Path) -> Library:
    library = Library(tmp_path / "lib")
    library.ensure()
    return library


@pytest.fixture
def src(tmp_path: Path) -> Path:
    path = tmp_path / "src"
    path.mkdir()
    return path
