"""Exported names never replace another package: a subagent named `pip`, `requests`, `numpy` or `json`
exports under the `af-` prefix, and `--package-name` is refused when it would collide with the standard
library, an installed distribution or module, or a well-known PyPI name."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentfactory.cli.app import app
from agentfactory.deploy.names import export_module, export_names, subagent_marker
from agentfactory.errors import EXIT_USAGE, UsageError, ValidationError

from .conftest import CASES, CODE, NAME, Env


def deploy(env: Env, *args: str):
    result = CliRunner().invoke(app, ["deploy", *args, *env.cli_args()])
    return result, " ".join(result.output.split())


def _save(env: Env, name: str) -> None:
    env.save(name, CODE, CASES)
    env.record_runs(name, 3)


@pytest.mark.slow
def test_subagent_named_pip_installs_beside_pip_without_replacing_it(env: Env, tmp_path: Path) -> None:
    _save(env, "pip")
    out = tmp_path / "export"
    result, text = deploy(env, "pip", "--format", "package", "--build", "--out", str(out))
    assert result.exit_code == 0, text
    wheel = next((out / "package" / "dist").glob("*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        tops = {name.split("/")[0] for name in zf.namelist()}
        entry_points = zf.read(next(n for n in zf.namelist() if n.endswith("entry_points.txt"))).decode()
    assert tops == {"af_pip", "af_pip-1.dist-info"}
    scripts = [line.split("=")[0].strip() for line in entry_points.splitlines() if "=" in line]
    assert sorted(scripts) == ["af-pip", "af-pip-mcp"]

    # Installed into a virtual environment that has the real pip, pip still is pip afterwards.
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=180)
    py = venv / "bin" / "python"
    clean = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "PIP_NO_INDEX": "1"}
    before = subprocess.run([str(py), "-m", "pip", "--version"], capture_output=True, text=True, env=clean)
    install = subprocess.run(
        [str(py), "-m", "pip", "install", "--no-index", "--quiet", str(wheel)],
        capture_output=True,
        text=True,
        timeout=180,
        env=clean,
    )
    assert install.returncode == 0, install.stderr
    after = subprocess.run([str(py), "-m", "pip", "--version"], capture_output=True, text=True, env=clean)
    assert after.returncode == 0 and after.stdout == before.stdout and after.stdout.startswith("pip ")
    assert (venv / "bin" / "pip").read_text() == (venv / "bin" / "pip3").read_text()  # untouched script
    run = subprocess.run(
        [str(venv / "bin" / "af-pip"), "--inputs", json.dumps(CASES[0]["inputs"])],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean,
    )
    assert run.returncode == 0 and json.loads(run.stdout)["count"] == 3, run.stderr


@pytest.mark.parametrize("name", ["requests", "numpy", "setuptools", "json", "os"])
def test_subagent_named_after_a_package_exports_under_the_prefix(env: Env, tmp_path: Path, name: str) -> None:
    _save(env, name)
    out = tmp_path / "export"
    # A module named after the standard library cannot even run in the sandbox (the runner imports the
    # real one first), so its gate fails; --force exports it anyway, which is what the names must survive.
    force = ["--force"] if name in sys.stdlib_module_names else []
    result, text = deploy(env, name, "--format", "package,skill", "--out", str(out), *force)
    assert result.exit_code == 0, text
    pyproject = tomllib.loads((out / "package" / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == f"af-{name}"
    assert set(pyproject["project"]["scripts"]) == {f"af-{name}", f"af-{name}-mcp"}
    assert sorted(p.name for p in (out / "package" / "src").iterdir()) == [f"af_{name}"]
    # In scripts/ the module sits first on sys.path: under its own name it would replace the real one.
    scripts = out / "skill" / name / "scripts"
    assert not (scripts / f"{name}.py").exists()
    assert (scripts / f"af_{name}.py").read_text() == CODE
    run = subprocess.run(
        [sys.executable, "-I", "scripts/run.py", "--inputs", json.dumps(CASES[0]["inputs"])],
        cwd=scripts.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0 and json.loads(run.stdout)["count"] == 3, run.stderr


@pytest.mark.parametrize(
    ("requested", "reason"),
    [
        ("pip", "a distribution named 'pip' is installed here"),
        ("requests", "a distribution named 'requests' is installed here"),
        ("numpy", "a distribution named 'numpy' is installed here"),
        ("json", "'json' is a module of the Python standard library"),
        ("os", "'os' is a module of the Python standard library"),
        ("pytest-timeout", "a distribution named 'pytest-timeout' is installed here"),  # not in the list
        ("tensorflow", "'tensorflow' is a well-known PyPI distribution"),  # not installed here
        ("PyYAML", "a distribution named 'PyYAML' is installed here"),
        ("scikit_learn", "'scikit_learn' is a well-known PyPI distribution"),
        ("sklearn", "'sklearn' is the import name of a well-known PyPI distribution"),
        ("agentfactory-tools", "'agentfactory_tools' is a name the exported code needs for itself"),
    ],
)
def test_package_name_that_collides_is_refused(env: Env, tmp_path: Path, requested: str, reason: str) -> None:
    result, text = deploy(env, NAME, "--package-name", requested, "--out", str(tmp_path / "x"))
    assert result.exit_code == EXIT_USAGE, text
    assert f"--package-name '{requested}' would replace something when installed ({reason})" in text
    assert "choose another name" in text and "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_package_name_collides_with_a_module_installed_under_another_name(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A distribution 'zq-tools' providing the module 'zqmod': both names are taken.
    site = tmp_path / "site"
    (site / "zqmod").mkdir(parents=True)
    (site / "zqmod" / "__init__.py").write_text("")
    info = site / "zq_tools-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zq-tools\nVersion: 1.0\n")
    (info / "RECORD").write_text("zqmod/__init__.py,,\n")
    monkeypatch.syspath_prepend(str(site))
    for requested, reason in (
        ("zq-tools", "a distribution named 'zq-tools' is installed here"),
        ("zqmod", "the installed distribution 'zq-tools' provides the module 'zqmod'"),
    ):
        result, text = deploy(env, NAME, "--package-name", requested, "--out", str(tmp_path / "x"))
        assert result.exit_code == EXIT_USAGE, text
        assert reason in text
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("requested", ["-bad", "1stats", "a b", "stats.", "déjà"])
def test_malformed_package_name_is_refused(env: Env, tmp_path: Path, requested: str) -> None:
    result, text = deploy(env, NAME, "--package-name", requested, "--out", str(tmp_path / "x"))
    assert result.exit_code == EXIT_USAGE, text
    assert f"--package-name '{requested}'" in text and "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_chosen_package_name_is_used_everywhere(env: Env, tmp_path: Path) -> None:
    out = tmp_path / "export"
    result, text = deploy(
        env, NAME, "--format", "package", "--package-name", "team.num-stats", "--out", str(out)
    )
    assert result.exit_code == 0, text
    pyproject = tomllib.loads((out / "package" / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "team.num-stats"
    assert pyproject["project"]["scripts"] == {
        "team.num-stats": "team_num_stats.cli:main",
        "team.num-stats-mcp": "team_num_stats.mcp_server:main",
    }
    assert subagent_marker(NAME) in pyproject["project"]["keywords"]
    assert (out / "package" / "src" / "team_num_stats" / "num_stats.py").is_file()


def test_an_earlier_export_of_the_same_subagent_is_not_a_collision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    (site / "af_num_stats").mkdir(parents=True)
    (site / "af_num_stats" / "__init__.py").write_text("")
    info = site / "af_num_stats-1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: af-num-stats\nVersion: 1\n"
        f"Keywords: agentfactory-export,{subagent_marker(NAME)}\n"
    )
    (info / "RECORD").write_text("af_num_stats/__init__.py,,\n")
    monkeypatch.syspath_prepend(str(site))
    assert export_names(NAME).dist == "af-num-stats"  # an upgrade of its own earlier export
    with pytest.raises(UsageError, match="'af-num-stats' is installed here"):
        export_names("other-stats", "af-num-stats")  # another subagent may not take it over
    with pytest.raises(ValidationError, match="pass --package-name"):
        export_names("num_stats")  # its default name 'af-num_stats' is that same, foreign distribution


def test_export_module_keeps_plain_names_and_prefixes_shadowing_ones() -> None:
    assert export_module("num_stats") == "num_stats"
    for module in ("json", "numpy", "requests", "cli", "server", "agentfactory_tools", "3d", "class"):
        assert export_module(module) == f"af_{module}"


@pytest.mark.parametrize(
    "requested",
    ["google", "streamlit", "datasets", "langchain", "xgboost", "psycopg2-binary", "sentencepiece",
     "Pip3", "jupyter-lab", "django-admin", "huggingface-cli"],
)  # fmt: skip
def test_more_well_known_names_and_their_commands_are_refused(
    env: Env, tmp_path: Path, requested: str
) -> None:
    # Not installed here: the bundled list (distributions, their import names, the commands they install)
    # and a case-insensitive look at PATH refuse them.
    from agentfactory.deploy.names import collision, import_name

    assert collision(requested, import_name(requested), NAME) is not None
    result, text = deploy(env, NAME, "--package-name", requested, "--out", str(tmp_path / "x"))
    assert result.exit_code == EXIT_USAGE, text
    assert not (tmp_path / "x").exists()
