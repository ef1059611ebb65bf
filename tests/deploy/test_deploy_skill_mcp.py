"""Deploy `skill` (validated against the Agent Skills rules, its usage example run) and `mcp` (the server
started over stdio with the official client, its one tool listed and called)."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
import yaml
from mcp import ClientSession, StdioServerParameters, stdio_client
from typer.testing import CliRunner

from agentfactory.cli.app import app
from agentfactory.library import Case, check_case

from .conftest import CASES, DESCRIPTION, INPUTS_SCHEMA, NAME, Env

# The Agent Skills specification (agentskills.io): frontmatter fields and their limits.
SKILL_NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
ALLOWED_FIELDS = {"name", "description", "license", "compatibility", "metadata", "allowed-tools"}


def validate_skill_folder(folder: Path) -> dict:
    text = (folder / "SKILL.md").read_text(encoding="utf-8")
    match = re.match(r"\A---\n(.*?)\n---\n(.*)\Z", text, re.DOTALL)
    assert match, "SKILL.md must open with YAML frontmatter between --- lines"
    front = yaml.safe_load(match.group(1))
    body = match.group(2)
    assert set(front) <= ALLOWED_FIELDS, set(front) - ALLOWED_FIELDS
    name = front["name"]
    assert isinstance(name, str) and 1 <= len(name) <= 64 and SKILL_NAME_RE.match(name)
    assert name == folder.name, "the skill name must equal its folder name"
    description = front["description"]
    assert isinstance(description, str) and 1 <= len(description) <= 1024
    if "compatibility" in front:
        assert isinstance(front["compatibility"], str) and 1 <= len(front["compatibility"]) <= 500
    if "metadata" in front:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in front["metadata"].items())
    assert body.strip(), "the body carries the instructions"
    return {"front": front, "body": body}


def test_skill_folder_is_spec_valid_and_its_usage_example_runs(env: Env, tmp_path: Path) -> None:
    out = tmp_path / "export"
    result = CliRunner().invoke(
        app, ["deploy", NAME, "--format", "skill", "--out", str(out), *env.cli_args()]
    )
    assert result.exit_code == 0, result.output
    folder = out / "skill" / NAME
    skill = validate_skill_folder(folder)
    assert skill["front"]["description"] == DESCRIPTION  # says what it does and when to use it
    assert skill["front"]["metadata"]["version"] == "1"
    assert skill["front"]["metadata"]["library-commit"] == env.library.head()
    assert (folder / "scripts" / "num_stats.py").read_text() == env.library.get(NAME).code
    assert (folder / "scripts" / "agentfactory_tools.py").is_file()

    # The usage example in the body is a command that runs as written, from the skill folder.
    command = re.search(r"^python scripts/run\.py --inputs .*$", skill["body"], re.MULTILINE)
    assert command, skill["body"]
    argv = shlex.split(command.group(0))
    run = subprocess.run(
        [sys.executable, "-I", *argv[1:]], cwd=folder, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    verdict = check_case(Case.from_dict(CASES[0]), json.loads(run.stdout), [])
    assert verdict.passed, verdict.failures


async def _talk_to_server(server: Path, entry: dict) -> tuple[list, object, object]:
    # Started exactly as the written client configuration says (the SDK passes a minimal environment).
    params = StdioServerParameters(command=entry["command"], args=entry["args"], env=entry["env"] or None)
    with open(server.parent / "stderr.log", "w") as errlog, anyio.fail_after(60):
        async with (
            stdio_client(params, errlog=errlog) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = (await session.list_tools()).tools
            good = await session.call_tool(tools[0].name, CASES[1]["inputs"])
            bad = await session.call_tool(tools[0].name, {"numbers": "not a list"})
    return tools, good, bad


@pytest.mark.slow
def test_mcp_server_serves_the_subagent_as_one_tool_over_stdio(env: Env, tmp_path: Path) -> None:
    out = tmp_path / "export"
    result = CliRunner().invoke(app, ["deploy", NAME, "--format", "mcp", "--out", str(out), *env.cli_args()])
    assert result.exit_code == 0, result.output
    server = out / "mcp" / "server.py"
    config = json.loads((out / "mcp" / "mcp.json").read_text())
    entry = config["mcpServers"][NAME]
    assert entry["args"] == [str(server.resolve())]
    assert entry["command"] == os.path.abspath(sys.executable)
    assert "mcp>=2.0" in (out / "mcp" / "requirements.txt").read_text()

    tools, good, bad = anyio.run(_talk_to_server, server, entry)
    assert len(tools) == 1
    tool = tools[0]
    assert tool.name == "num_stats"
    assert tool.input_schema == INPUTS_SCHEMA
    assert tool.description == DESCRIPTION
    assert not good.is_error
    verdict = check_case(Case.from_dict(CASES[1]), good.structured_content, [])
    assert verdict.passed, verdict.failures
    assert json.loads(good.content[0].text) == good.structured_content
    assert bad.is_error and "not of type 'array'" in bad.content[0].text
    # The subagent's print went to stderr, never into the protocol stream.
    assert "computing" in (out / "mcp" / "stderr.log").read_text()


LINE_COUNT = '''"""Count the lines of a text file.

Purpose: the number of lines of a UTF-8 text file.
Inputs: path (str), a file under inputs/.
Outputs: lines (int).
Limitations: none.
"""


def run(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return {"lines": len(fh.read().splitlines())}
'''


def test_skill_carries_its_cases_and_their_input_files(env: Env, tmp_path: Path) -> None:
    from agentfactory.library import build_subagent_folder

    case = {"inputs": {"path": "inputs/notes.txt"}, "expected": {"lines": 3}}
    folder = build_subagent_folder(
        tmp_path / "work-lc", name="line-count", description="Count lines.", code=LINE_COUNT, cases=[case]
    )
    (folder / "fixtures").mkdir()
    (folder / "fixtures" / "notes.txt").write_text("a\nb\nc\n")
    env.library.save(folder)
    env.record_runs("line-count", 3)
    out = tmp_path / "export"
    result = CliRunner().invoke(
        app, ["deploy", "line-count", "--format", "skill", "--out", str(out), *env.cli_args()]
    )
    assert result.exit_code == 0, result.output
    skill_dir = out / "skill" / "line-count"
    body = validate_skill_folder(skill_dir)["body"]
    assert (skill_dir / "assets" / "inputs" / "notes.txt").read_text() == "a\nb\nc\n"
    assert json.loads((skill_dir / "assets" / "cases.json").read_text())[0]["inputs"] == case["inputs"]
    # The usage example, as written, runs from assets/ where the case's input file is.
    block = re.search(r"```bash\n(cd assets)\n(python .*)\n```", body)
    assert block, body
    argv = shlex.split(block.group(2))
    run = subprocess.run(
        [sys.executable, "-I", *argv[1:]],
        cwd=skill_dir / "assets",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"lines": 3}
