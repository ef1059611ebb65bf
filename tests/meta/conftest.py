"""A real library and workspaces in tmp_path, a real sandbox, and a scripted Meta-Agent model.

Settings come from `load_settings(overrides, env={}, cwd=tmp_path)` so no variable of the machine leaks
in. The `sandbox` fixture is parametrised by the tests that care: `local` runs everywhere, `docker`
runs when a daemon answers (marked `docker`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agentfactory.config import Settings, load_settings
from agentfactory.engine.run import RunResult
from agentfactory.library import Library
from agentfactory.llm import ScriptedProvider
from agentfactory.meta.agent import MetaAgent

WORD_COUNT = '''"""Count the words of a text file.

Purpose: number of words and the most frequent word of a UTF-8 text file.
Inputs: path (str), a file under inputs/.
Outputs: words (int), top (str).
Limitations: splits on whitespace only.
"""
import collections


def run(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        words = fh.read().split()
    top = collections.Counter(words).most_common(1)
    return {"words": len(words), "top": top[0][0] if top else ""}
'''

COLUMN_SUM = '''"""Sum one column of a CSV file.

Purpose: the sum of a numeric column of a CSV file with a header row.
Inputs: path (str), column (str).
Outputs: total (float), rows (int).
Limitations: every cell of the column must be a number.
"""
import csv


def run(path: str, column: str) -> dict:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    total = sum(float(row[column]) for row in rows)
    return {"total": total, "rows": len(rows)}
'''

UPPER = '''"""Upper-case a text.

Purpose: the text in capitals.
Inputs: text (str).
Outputs: upper (str).
Limitations: none.
"""


def run(text: str) -> dict:
    return {"upper": text.upper()}
'''


def call(tool: str, **arguments: Any) -> dict[str, Any]:
    """One scripted model turn making one tool call."""
    return {"tool_calls": [{"name": tool, "arguments": arguments}]}


def text(message: str) -> dict[str, Any]:
    """One scripted model turn with text and no tool call."""
    return {"text": message}


@dataclass
class Env:
    root: Path
    settings: Settings
    providers: list[ScriptedProvider] = field(default_factory=list)

    @property
    def library(self) -> Library:
        return Library(self.settings.paths.library)

    def file(self, name: str, content: str) -> Path:
        path = self.root / "files" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        return path

    def run(
        self, task: str, script: list[Any], inputs: list[Path] | None = None, **components: Any
    ) -> RunResult:
        provider = ScriptedProvider(script)
        self.providers.append(provider)
        return MetaAgent(self.settings, provider=provider, **components).run(task, input_files=inputs)

    def events(self, result: RunResult) -> list[dict[str, Any]]:
        path = Path(result.workspace) / "events.jsonl"
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]

    def workspaces(self) -> list[Path]:
        root = self.settings.paths.workspaces
        return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def make_env(root: Path, sandbox: str = "local", **overrides: Any) -> Env:
    values = {
        "library": "lib",
        "workspaces": "ws",
        "sandbox": sandbox,
        "model": "scripted",
        "timeout_s": 30,
        **overrides,
    }
    return Env(root, load_settings(values, env={}, cwd=root))


def _docker_reachable() -> str | None:
    from agentfactory.errors import SandboxError
    from agentfactory.sandbox.docker_backend import connect

    try:
        connect(timeout=10)
    except SandboxError as exc:
        return str(exc)
    return None


@pytest.fixture(scope="session")
def docker_available() -> None:
    problem = _docker_reachable()
    if problem:
        pytest.skip(f"no Docker daemon reachable: {problem}")


@pytest.fixture(params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def sandbox(request) -> str:
    if request.param == "docker":
        request.getfixturevalue("docker_available")
    return request.param


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return make_env(tmp_path)
