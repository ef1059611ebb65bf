"""A project folder as the current directory, no setting or key of the machine leaking in, and a
scripted model file for `run --model scripted:FILE`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agentfactory.cli import app

CODE = '''"""Test subagent.

Purpose: returns what the test needs.
Inputs: none.
Outputs: see the code.
Limitations: none.
"""


def run() -> dict:
{body}
'''


def call(tool: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": tool, "arguments": arguments}]}


def subagent_script(name: str, body: str, answer: str = "done", final: bool = True) -> list[dict[str, Any]]:
    """Create a subagent whose run() is `body` (indented), run it, finish with `answer`."""
    code = CODE.format(body="\n".join("    " + line for line in body.splitlines()))
    return [
        call("create_subagent", name=name, description="A test subagent.", code=code),
        call("run_subagent", name=name, inputs={}, final=final),
        call("finish", answer=answer),
    ]


class Project:
    def __init__(self, root: Path):
        self.root = root
        self.runner = CliRunner()

    def invoke(self, *args: str, input: str | bytes | None = None, env: dict[str, str] | None = None):
        return self.runner.invoke(app, list(args), input=input, env=env)

    def script(self, items: list[dict[str, Any]], name: str = "script.json") -> str:
        path = self.root / name
        path.write_text(json.dumps(items), encoding="utf-8")
        return f"scripted:{path}"

    def run(self, task: str, model: str, *extra: str, input: str | bytes | None = None):
        return self.invoke("run", task, "--model", model, "--sandbox", "local", *extra, input=input)

    @property
    def workspaces(self) -> Path:
        return self.root / "workspaces"

    def run_dirs(self) -> list[Path]:
        return sorted(p for p in self.workspaces.iterdir() if p.is_dir()) if self.workspaces.is_dir() else []


@pytest.fixture
def project(tmp_path, monkeypatch) -> Project:
    monkeypatch.chdir(tmp_path)
    for var in list(os.environ):
        if var.startswith("AGENTFACTORY_") or var in (
            "ANTHROPIC_API_KEY",
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
            "ANTHROPIC_BASE_URL",
        ):
            monkeypatch.delenv(var)
    return Project(tmp_path)
