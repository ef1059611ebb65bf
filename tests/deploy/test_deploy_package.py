"""Deploy `package --build`, install the wheel in a fresh virtual environment without AgentFactory, run
the console script on a stored case and the generated tests with pytest, all offline."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from typer.testing import CliRunner

from agentfactory.cli.app import app
from agentfactory.library import Case, check_case

from .conftest import CASES, NAME, Env

DIST = "af-num-stats"  # the default distribution name and command of an export

pytestmark = pytest.mark.slow


def pytest_only_path(dest: Path) -> Path:
    """A folder with pytest and its runtime dependencies only (symlinked from this interpreter).

    The venv must not see AgentFactory, and pip cannot fetch pytest offline, so the venv's Python runs
    the generated tests with exactly this folder on PYTHONPATH.
    """
    dest.mkdir()
    todo, seen = ["pytest"], set()
    while todo:
        dist = importlib.metadata.distribution(todo.pop())
        key = dist.metadata["Name"].lower()
        if key in seen:
            continue
        seen.add(key)
        for raw in dist.requires or []:
            req = Requirement(raw)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
        for file in dist.files or []:
            top = Path(str(file)).parts[0]
            if top in ("..", "__pycache__") or top.endswith(".pth"):
                continue
            src = Path(str(dist.locate_file(top)))
            if src.exists() and not (dest / top).exists():
                os.symlink(src, dest / top)
    return dest


def test_package_builds_installs_offline_and_runs_without_agentfactory(env: Env, tmp_path: Path) -> None:
    out = tmp_path / "export"
    result = CliRunner().invoke(
        app, ["deploy", NAME, "--format", "package", "--build", "--out", str(out), *env.cli_args()]
    )
    assert result.exit_code == 0, result.output
    project = out / "package"
    assert sorted(p.name for p in out.iterdir()) == ["package"]

    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == DIST
    assert pyproject["project"]["version"] == "1"
    assert pyproject["project"]["dependencies"] == []  # standard library only
    assert pyproject["project"]["scripts"][DIST] == "af_num_stats.cli:main"
    assert pyproject["project"]["license"] == "MIT"
    assert pyproject["build-system"]["build-backend"] == "hatchling.build"
    # The module is the library's code byte for byte, next to the tool shim.
    assert (project / "src/af_num_stats/num_stats.py").read_text() == env.library.get(NAME).code
    assert (project / "src/af_num_stats/agentfactory_tools.py").is_file()
    assert (project / "LICENSE").read_text().startswith("MIT License")
    readme = (project / "README.md").read_text()
    assert env.library.head() in readme and "version 1" in readme
    assert "An empty list raises StatisticsError." in readme  # limitations from SKILL.md
    assert "overridden" not in readme
    wheels = list((project / "dist").glob("*.whl"))
    assert len(wheels) == 1 and list((project / "dist").glob("*.tar.gz"))

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py, bindir = venv / "bin" / "python", venv / "bin"
    clean_env = {"PATH": f"{bindir}:/usr/bin:/bin", "HOME": str(tmp_path), "PIP_NO_INDEX": "1"}
    subprocess.run(
        [str(py), "-m", "pip", "install", "--no-index", "--quiet", str(wheels[0])],
        check=True,
        timeout=120,
        env=clean_env,
    )
    probe = subprocess.run([str(py), "-c", "import agentfactory"], capture_output=True, env=clean_env)
    assert probe.returncode != 0, "the fresh venv must not see AgentFactory"

    for stored in CASES:
        run = subprocess.run(
            [str(bindir / DIST), "--inputs", json.dumps(stored["inputs"])],
            capture_output=True,
            text=True,
            timeout=60,
            env=clean_env,
            cwd=tmp_path,
        )
        assert run.returncode == 0, run.stderr
        assert "computing" in run.stderr  # the subagent's print is kept off stdout
        output = json.loads(run.stdout)
        verdict = check_case(Case.from_dict(stored), output, [])
        assert verdict.passed, verdict.failures

    inputs_file = tmp_path / "inputs.json"
    inputs_file.write_text(json.dumps(CASES[0]["inputs"]))
    from_file = subprocess.run(
        [str(bindir / DIST), "--inputs", f"@{inputs_file}"], capture_output=True, text=True, env=clean_env
    )
    assert from_file.returncode == 0 and json.loads(from_file.stdout)["count"] == 3
    bad = subprocess.run(
        [str(bindir / DIST), "--inputs", "[1"], capture_output=True, text=True, env=clean_env
    )
    assert bad.returncode == 2 and "not valid JSON" in bad.stderr

    tests = subprocess.run(
        [str(py), "-m", "pytest", "-q", "-p", "no:cacheprovider", str(project / "tests")],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=project,
        env={**clean_env, "PYTHONPATH": str(pytest_only_path(tmp_path / "pytest-only"))},
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout
