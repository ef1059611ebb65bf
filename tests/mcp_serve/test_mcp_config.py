"""`agentfactory mcp config`: the client configuration, printed or merged into the client's file, with
absolute paths that start this installation's server for this project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentfactory.cli.app import app

from .conftest import Project


def _config(tmp_path: Path, *args: str):
    return CliRunner().invoke(app, ["mcp", "config", "--project", str(tmp_path), *args])


@pytest.mark.parametrize(
    ("client", "section", "kind"),
    [("claude-code", "mcpServers", "stdio"), ("claude-desktop", "mcpServers", None),
     ("cursor", "mcpServers", None), ("vscode", "servers", "stdio")],
)  # fmt: skip
def test_prints_each_client_configuration_with_absolute_paths(
    tmp_path: Path, client: str, section: str, kind: str | None
) -> None:
    (tmp_path / "agentfactory.toml").write_text('sandbox = "local"\n')
    result = _config(tmp_path, "--client", client)
    assert result.exit_code == 0, result.output
    entry = json.loads(result.output)[section]["agentfactory"]
    assert entry.get("type") == kind
    assert entry["command"] == os.path.abspath(sys.executable)
    assert entry["args"] == [
        "-m", "agentfactory", "--config", str((tmp_path / "agentfactory.toml").resolve()),
        "mcp", "serve", "--project", str(tmp_path.resolve()),
    ]  # fmt: skip


def test_write_merges_into_the_existing_file(tmp_path: Path) -> None:
    target = tmp_path / ".cursor" / "mcp.json"
    target.parent.mkdir()
    target.write_text(json.dumps({"mcpServers": {"github": {"command": "gh-mcp"}}, "other": 1}))
    result = _config(tmp_path, "--client", "cursor", "--write")
    assert result.exit_code == 0, result.output
    written = json.loads(target.read_text())
    assert written["other"] == 1 and written["mcpServers"]["github"] == {"command": "gh-mcp"}
    assert written["mcpServers"]["agentfactory"]["args"][-2:] == ["--project", str(tmp_path.resolve())]


def test_write_refuses_a_file_that_is_not_json(tmp_path: Path) -> None:
    target = tmp_path / ".mcp.json"
    target.write_text("{not json")
    result = _config(tmp_path, "--client", "claude-code", "--write")
    assert result.exit_code == 2 and "is not valid JSON" in result.output
    assert target.read_text() == "{not json"


def test_unknown_client(tmp_path: Path) -> None:
    result = _config(tmp_path, "--client", "emacs")
    assert (
        result.exit_code == 2 and "choose one of claude-code, claude-desktop, cursor, vscode" in result.output
    )


def test_the_printed_configuration_starts_a_working_server(project: Project) -> None:
    """The command and args exactly as a client would run them, from another folder."""
    import anyio
    from mcp import ClientSession, StdioServerParameters, stdio_client

    (project.root / "agentfactory.toml").write_text('library = "lib"\nworkspaces = "ws"\nsandbox = "local"\n')
    printed = subprocess.run(
        [sys.executable, "-m", "agentfactory", "mcp", "config", "--client", "claude-code"],
        cwd=project.root, env=project.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    entry = json.loads(printed.stdout)["mcpServers"]["agentfactory"]

    async def talk():
        params = StdioServerParameters(command=entry["command"], args=entry["args"], env=project.env, cwd="/")
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            return await session.call_tool("search_subagents", {"query": "words"})

    answer = anyio.run(talk)
    assert not answer.is_error and answer.structured_content["subagents"][0]["name"] == "word-count"
