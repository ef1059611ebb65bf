"""The whole command surface exists, has help, and fails with one clear sentence on bad input."""

import pytest
from typer.testing import CliRunner

from agentfactory.cli import app

runner = CliRunner()

COMMANDS = [
    ["init"],
    ["run"],
    ["evolve"],
    ["deploy"],
    ["bench"],
    ["demo"],
    ["stats"],
    ["report"],
    ["feedback"],
    ["library"],
    ["library", "list"],
    ["runs"],
    ["runs", "list"],
    ["runs", "show"],
    ["runs", "prune"],
    ["sandbox"],
]


def test_root_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in (
        "init",
        "run",
        "evolve",
        "deploy",
        "library",
        "runs",
        "sandbox",
        "bench",
        "demo",
        "stats",
        "report",
    ):
        assert name in result.output


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c))
def test_every_command_has_help(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_unknown_flag_is_a_usage_error():
    result = runner.invoke(app, ["runs", "list", "--no-such-flag"])
    assert result.exit_code == 2
    assert "No such option" in result.output


def test_unknown_command_is_a_usage_error():
    result = runner.invoke(app, ["frobnicate"])
    assert result.exit_code == 2


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and "agentfactory" in result.output


def test_init_writes_config_and_folders(tmp_path):
    result = runner.invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "agentfactory.toml").is_file()
    assert (tmp_path / "subagent_library").is_dir() and (tmp_path / "workspaces").is_dir()
    again = runner.invoke(app, ["init", str(tmp_path)])
    assert again.exit_code == 0 and "leaving it as is" in again.output


def test_runs_show_unknown_run(tmp_path):
    result = runner.invoke(app, ["runs", "show", "no-such-run", "--workspaces", str(tmp_path)])
    assert result.exit_code == 2
    assert "No run 'no-such-run'" in result.output
    assert "Traceback" not in result.output


def test_bad_config_file_is_one_sentence(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "agentfactory.toml").write_text("model = [")
    result = runner.invoke(app, ["runs", "list"])
    assert result.exit_code == 3
    assert "not valid TOML" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "spec, variable",
    [("anthropic:claude-opus-4-6", "ANTHROPIC_API_KEY"), ("openai:gpt-4.1", "OPENAI_API_KEY")],
)
def test_missing_api_key_names_the_variable(tmp_path, monkeypatch, spec, variable):
    monkeypatch.chdir(tmp_path)
    for var in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "AGENTFACTORY_OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    result = runner.invoke(app, ["run", "say hi", "--model", spec, "--sandbox", "local"])
    assert result.exit_code == 3, result.output
    assert variable in result.output and "Traceback" not in result.output
    assert not (tmp_path / "workspaces").exists() or not any((tmp_path / "workspaces").iterdir())


def test_empty_task_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["run", "   ", "--model", "sim", "--sandbox", "local"])
    assert result.exit_code == 2 and "task is empty" in result.output


def test_python_dash_m_runs_the_same_command_line():
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "agentfactory", "--help"], capture_output=True, text=True, cwd=root, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "evolve" in done.stdout and "deploy" in done.stdout
