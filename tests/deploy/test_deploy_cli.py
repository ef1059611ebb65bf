"""The deploy command for a newcomer: the name checked first, the default format without optional SDKs,
--license, --json with progress on stderr, and an MCP client configuration that names a real
interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from agentfactory.cli.app import app
from agentfactory.errors import EXIT_CONFIG, EXIT_USAGE

from .conftest import NAME, Env


def invoke(env: Env, *args: str):
    return CliRunner().invoke(app, ["deploy", *args, *env.cli_args()])


def _no_mcp_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    for module in [m for m in sys.modules if m == "mcp" or m.startswith("mcp.")]:
        monkeypatch.setitem(sys.modules, module, None)  # an entry of None makes `import` fail
    monkeypatch.setitem(sys.modules, "mcp", None)


def test_unknown_name_is_said_before_the_missing_sdk(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_mcp_sdk(monkeypatch)
    result = invoke(
        env, "no-such-agent", "--format", "mcp", "--package-name", "pip", "--out", str(tmp_path / "x")
    )
    assert result.exit_code == EXIT_USAGE
    assert "No subagent named 'no-such-agent'" in result.output
    assert "mcp" not in result.output.lower().replace("no-such-agent", "")
    assert not (tmp_path / "x").exists()


def test_default_format_skips_mcp_with_a_warning_when_the_sdk_is_missing(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_mcp_sdk(monkeypatch)
    out = tmp_path / "export"
    result = invoke(env, NAME, "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["package", "skill"]
    stderr = " ".join(result.stderr.split())
    assert "Warning: The mcp format was skipped" in stderr and "pip install 'agentfactory[mcp]'" in stderr
    data = json.loads(result.stdout)
    assert set(data["outputs"]) == {"package", "skill"} and "mcp" in data["skipped"]
    assert data["mcp_config"] is None

    # Asked for by name, the same missing SDK is an error with the install hint.
    result = invoke(env, NAME, "--format", "mcp", "--out", str(tmp_path / "y"))
    assert result.exit_code == EXIT_CONFIG
    assert "pip install 'agentfactory[mcp]'" in result.output and not (tmp_path / "y").exists()


def test_json_output_and_progress_on_stderr(env: Env, tmp_path: Path) -> None:
    out = tmp_path / "export"
    result = invoke(env, NAME, "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # stdout is the JSON document and nothing else
    assert data["name"] == NAME and data["version"] == 1 and data["out"] == str(out)
    assert data["outputs"] == {
        "package": str(out / "package"),
        "skill": str(out / "skill" / NAME),
        "mcp": str(out / "mcp"),
    }
    assert data["package"] == {
        "distribution": "af-num-stats",
        "import": "af_num_stats",
        "commands": ["af-num-stats", "af-num-stats-mcp"],
        "mcp_tool": "num_stats",
    }
    assert data["gate"]["passed"] is True and data["gate"]["cases_passed"] == 2
    assert data["license"] == "MIT" and data["skipped"] == {}
    assert data["mcp_config"] == {
        "path": str(out / "mcp" / "mcp.json"),
        "python": os.path.abspath(sys.executable),
    }
    stderr = " ".join(result.stderr.split())
    for line in (
        f"Checking '{NAME}' version 1: 2 stored case(s) in the local sandbox",
        "case 1/2: passed case 2/2: passed",
        "Rendering the package af-num-stats (import af_num_stats).",
        f"Rendering the Agent Skills folder {NAME}.",
        "Rendering the MCP server and its client configuration.",
    ):
        assert line in stderr, stderr
    assert stderr.index("Checking") < stderr.index("Rendering the package")


def test_license_goes_into_pyproject_readme_license_and_skill(env: Env, tmp_path: Path) -> None:
    out = tmp_path / "export"
    result = invoke(env, NAME, "--format", "package,skill", "--license", "apache-2.0", "--out", str(out))
    assert result.exit_code == 0, result.output
    pyproject = tomllib.loads((out / "package" / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "Apache-2.0"
    assert "License: Apache-2.0 (see `LICENSE`)." in (out / "package" / "README.md").read_text()
    license_file = (out / "package" / "LICENSE").read_text()
    assert license_file.startswith("SPDX-License-Identifier: Apache-2.0") and "MIT" not in license_file
    assert "LICENSE names Apache-2.0 but does not hold its text" in " ".join(result.stderr.split())
    front = yaml.safe_load((out / "skill" / NAME / "SKILL.md").read_text().split("---")[1])
    assert front["license"] == "Apache-2.0"

    result = invoke(env, NAME, "--license", "not a license!", "--out", str(tmp_path / "y"))
    assert result.exit_code == EXIT_USAGE
    assert "--license 'not a license!' is not an SPDX license expression" in " ".join(result.output.split())
    assert not (tmp_path / "y").exists()


def test_default_license_is_mit_with_its_text(env: Env, tmp_path: Path) -> None:
    out = tmp_path / "export"
    assert invoke(env, NAME, "--format", "package", "--out", str(out)).exit_code == 0
    assert (out / "package" / "LICENSE").read_text().startswith("MIT License")
    assert tomllib.loads((out / "package" / "pyproject.toml").read_text())["project"]["license"] == "MIT"


def test_mcp_config_names_this_interpreter_by_absolute_path(env: Env, tmp_path: Path) -> None:
    out = tmp_path / "export"
    result = invoke(env, NAME, "--format", "mcp", "--out", str(out))
    assert result.exit_code == 0, result.output
    entry = json.loads((out / "mcp" / "mcp.json").read_text())["mcpServers"][NAME]
    assert entry["command"] == os.path.abspath(sys.executable) != "python"
    assert os.path.isabs(entry["command"])
    # That interpreter has the mcp SDK: it can import what server.py needs, so no warning was given.
    probe = subprocess.run([entry["command"], "-c", "import mcp.server.lowlevel"], capture_output=True)
    assert probe.returncode == 0
    assert "lacks" not in result.stderr
    readme = (out / "mcp" / "README.md").read_text()
    assert f"{entry['command']} -m pip install -r requirements.txt" in readme


def test_mcp_config_uses_the_python_given_and_says_what_it_lacks(env: Env, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    out = tmp_path / "export"
    result = invoke(env, NAME, "--format", "mcp", "--python", str(python), "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    entry = json.loads((out / "mcp" / "mcp.json").read_text())["mcpServers"][NAME]
    assert entry["command"] == str(python)  # the venv's own path, not the interpreter it links to
    assert json.loads(result.stdout)["mcp_config"]["python"] == str(python)
    stderr = " ".join(result.stderr.split())
    assert f"mcp.json starts the server with {python} (the --python interpreter), which lacks mcp" in stderr
    assert f"{python} -m pip install -r {out / 'mcp' / 'requirements.txt'}" in stderr

    result = invoke(
        env, NAME, "--format", "mcp", "--python", str(tmp_path / "nope"), "--out", str(tmp_path / "z")
    )
    assert result.exit_code == EXIT_USAGE
    assert "is not an executable file" in " ".join(result.output.split()) and not (tmp_path / "z").exists()
