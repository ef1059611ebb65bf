"""The maturity gate and every bad input: one clear sentence, the right exit code, nothing written."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentfactory.cli.app import app
from agentfactory.errors import EXIT_CONFIG, EXIT_TASK_FAILED, EXIT_USAGE

from .conftest import CASES, CODE, NAME, Env


def deploy(env: Env, *args: str):
    result = CliRunner().invoke(app, ["deploy", *args, *env.cli_args()])
    return result, " ".join(result.output.split())  # rich wraps long sentences


def test_gate_refuses_a_subagent_with_a_failing_case_and_force_overrides_it(env: Env, tmp_path: Path) -> None:
    wrong = [CASES[0], {"inputs": {"numbers": [2, 4]}, "expected": {"mean": 5.0, "count": 2, "max": 4}}]
    env.save("wrong-stats", CODE, wrong)
    env.record_runs("wrong-stats", 5)
    out = tmp_path / "export"

    result, text = deploy(env, "wrong-stats", "--out", str(out))
    assert result.exit_code == EXIT_TASK_FAILED, text
    assert "not mature enough to deploy" in text
    assert "1 of 2 stored cases fail in the local sandbox" in text and "case 2" in text and "mean" in text
    assert "--force" in text
    assert "Traceback" not in result.output
    assert not out.exists()

    result, text = deploy(env, "wrong-stats", "--out", str(out), "--force", "--format", "package")
    assert result.exit_code == 0, text
    assert "overridden" in text
    readme = (out / "package" / "README.md").read_text()
    assert "The maturity gate was overridden with `--force`." in readme
    assert "1 of 2 stored cases fail" in readme


def test_gate_refuses_too_few_successful_runs(env: Env, tmp_path: Path) -> None:
    env.save("fresh-stats", CODE, CASES)
    env.record_runs("fresh-stats", 1)
    result, text = deploy(env, "fresh-stats", "--out", str(tmp_path / "x"))
    assert result.exit_code == EXIT_TASK_FAILED
    assert "1 successful recorded runs, fewer than the required 3" in text
    assert not (tmp_path / "x").exists()


def test_gate_minimum_runs_is_a_setting(env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env.save("fresh-stats", CODE, CASES)
    monkeypatch.setenv("AGENTFACTORY_DEPLOY_MIN_RUNS", "0")
    result, text = deploy(env, "fresh-stats", "--format", "skill", "--out", str(tmp_path / "x"))
    assert result.exit_code == 0, text
    assert "0 successful runs (minimum 0)" in text


def test_unknown_name(env: Env, tmp_path: Path) -> None:
    result, text = deploy(env, "no-such-agent", "--out", str(tmp_path / "x"))
    assert result.exit_code == EXIT_USAGE
    assert "No subagent named 'no-such-agent'" in text
    assert not (tmp_path / "x").exists()


def test_unknown_version(env: Env, tmp_path: Path) -> None:
    result, text = deploy(env, NAME, "--version", "7", "--out", str(tmp_path / "x"))
    assert result.exit_code == EXIT_USAGE
    assert "has no version 7" in text
    assert not (tmp_path / "x").exists()


def test_unknown_format(env: Env, tmp_path: Path) -> None:
    result, text = deploy(env, NAME, "--format", "wheel", "--out", str(tmp_path / "x"))
    assert result.exit_code == EXIT_USAGE
    assert "Unknown --format 'wheel'" in text


def test_non_empty_out_is_refused_unless_force(env: Env, tmp_path: Path) -> None:
    out = tmp_path / "export"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    result, text = deploy(env, NAME, "--out", str(out))
    assert result.exit_code == EXIT_USAGE
    assert "exists and is not empty" in text and "--force" in text
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]

    (out / "skill").mkdir()
    (out / "skill" / "stale.txt").write_text("old export")
    result, text = deploy(env, NAME, "--out", str(out), "--force", "--format", "skill")
    assert result.exit_code == 0, text
    # Only the exported folders are replaced; other files in --out stay.
    assert (out / "keep.txt").read_text() == "mine"
    assert not (out / "skill" / "stale.txt").exists()
    assert (out / "skill" / NAME / "SKILL.md").is_file()
    assert "overridden" not in text  # --force on a mature subagent overrides nothing


def test_name_that_is_not_a_python_package_name_exports_under_the_prefix(env: Env, tmp_path: Path) -> None:
    # A valid library name whose bare package form would start with a digit: the prefixed name is valid.
    folder = tmp_path / "hand" / "3d-stats"
    folder.mkdir(parents=True)
    (folder / "SKILL.md").write_text(
        "---\nname: 3d-stats\ndescription: Statistics. Use for numbers.\nmetadata:\n  entry: stats3d.py\n---\n"
        "# 3d-stats\n"
    )
    (folder / "stats3d.py").write_text(CODE)
    (folder / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in CASES))
    env.library.save(folder)
    env.record_runs("3d-stats", 3)
    result, text = deploy(env, "3d-stats", "--format", "package", "--out", str(tmp_path / "x"))
    assert result.exit_code == 0, text
    assert (tmp_path / "x" / "package" / "src" / "af_3d_stats" / "stats3d.py").read_text() == CODE


def test_subagent_importing_another_library_subagent_is_refused(env: Env, tmp_path: Path) -> None:
    code = CODE.replace("import statistics\n", "import statistics\n\nimport num_stats\n")
    env.save("stats-wrapper", code, CASES)
    env.record_runs("stats-wrapper", 3)
    result, text = deploy(env, "stats-wrapper", "--out", str(tmp_path / "x"))
    assert result.exit_code == EXIT_USAGE
    assert "imports 'num_stats' (subagent num-stats) from the library" in text
    assert "not supported" in text
    assert not (tmp_path / "x").exists()


def test_missing_mcp_sdk_names_the_extra(env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for module in [m for m in sys.modules if m == "mcp" or m.startswith("mcp.")]:
        monkeypatch.setitem(sys.modules, module, None)  # an entry of None makes `import` fail
    monkeypatch.setitem(sys.modules, "mcp", None)
    result, text = deploy(env, NAME, "--format", "mcp", "--out", str(tmp_path / "x"))
    assert result.exit_code == EXIT_CONFIG
    assert "pip install 'agentfactory[mcp]'" in text
    assert not (tmp_path / "x").exists()
    # The other formats do not need the SDK.
    result, text = deploy(env, NAME, "--format", "skill", "--out", str(tmp_path / "y"))
    assert result.exit_code == 0, text


def test_generated_mcp_server_without_the_sdk_names_what_to_install(env: Env, tmp_path: Path) -> None:
    import subprocess

    out = tmp_path / "export"
    result, text = deploy(env, NAME, "--format", "package,mcp", "--out", str(out))
    assert result.exit_code == 0, text
    blocker = tmp_path / "no-mcp"
    blocker.mkdir()
    (blocker / "mcp.py").write_text("raise ImportError('mcp is not installed here')\n")
    for script, hint in (
        (out / "mcp" / "server.py", "pip install -r requirements.txt"),
        (out / "package" / "src" / "af_num_stats" / "mcp_server.py", "pip install 'af-num-stats[mcp]'"),
    ):
        env_vars = {"PYTHONPATH": f"{blocker}:{out / 'package' / 'src'}", "PATH": "/usr/bin:/bin"}
        run = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, timeout=60, env=env_vars
        )
        assert run.returncode == 3, run.stderr
        assert hint in run.stderr
        assert run.stdout == ""


def test_gate_reason_quoting_subagent_output_reaches_the_terminal_escaped(env: Env, tmp_path: Path) -> None:
    code = 'def run(numbers, scale=1.0):\n    raise ValueError("\\x1b[2J\\x1b]0;pwned\\x07\\u202e" + "x" * 5000)\n'
    env.save("loud-stats", code, CASES[:1])
    env.record_runs("loud-stats", 3)
    result, text = deploy(env, "loud-stats", "--out", str(tmp_path / "x"))
    assert result.exit_code == EXIT_TASK_FAILED
    assert "(case 1: ValueError: \\x1b[2J\\x1b]0;pwned\\x07\\u202e" in text
    assert "\x1b" not in result.output and "\u202e" not in result.output
    assert len(result.output) < 2000  # one case's detail is cut, not 5,000 characters long
    result, text = deploy(env, "loud-stats", "--out", str(tmp_path / "x"), "--force", "--format", "package")
    assert result.exit_code == 0
    readme = (tmp_path / "x" / "package" / "README.md").read_text()
    assert "\x1b" not in readme and "\\x1b[2J" in readme


def _pulled_runs(env: Env, agent: str, name: str, version: int, count: int) -> None:
    """`count` successful task runs of `name` in another agent's experience file, as a pull brings it."""
    lines = []
    for i in range(count):
        run_id = f"{agent}-{i}"
        lines.append({"type": "run", "uid": f"r{i}", "run_id": run_id, "agent_id": agent, "task": "t",
                      "status": "success", "success": True, "started": 1.0})  # fmt: skip
        lines.append({"type": "execution", "uid": f"e{i}", "run_id": run_id, "agent_id": agent,
                      "subagent": name, "version": version, "success": True, "ts": 1.0})  # fmt: skip
    path = env.library.path / "experience" / f"{agent}.jsonl"
    path.write_text("".join(json.dumps({"v": 1, **line}) + "\n" for line in lines))


def test_gate_counts_no_runs_of_untrusted_agents(env: Env, tmp_path: Path) -> None:
    env.save("fresh-stats", CODE, CASES)
    _pulled_runs(env, "mallory", "fresh-stats", 1, 5)
    result, text = deploy(env, "fresh-stats", "--out", str(tmp_path / "x"))
    assert result.exit_code == EXIT_TASK_FAILED
    assert "0 successful recorded runs, fewer than the required 3" in text
    assert not (tmp_path / "x").exists()


def test_gate_counts_runs_of_trusted_agents(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.save("fresh-stats", CODE, CASES)
    _pulled_runs(env, "bob", "fresh-stats", 1, 3)
    monkeypatch.setenv("AGENTFACTORY_TRUSTED_AGENTS", "bob")
    result, text = deploy(env, "fresh-stats", "--format", "skill", "--out", str(tmp_path / "x"))
    assert result.exit_code == 0, text


def test_gate_counts_only_runs_of_the_exported_version(env: Env, tmp_path: Path) -> None:
    revised = CODE.replace('print("computing")', 'print("computing v2")')
    env.save(NAME, revised, CASES)  # v2: other code; the fixture's three runs were of v1
    result, text = deploy(env, NAME, "--out", str(tmp_path / "x"))
    assert result.exit_code == EXIT_TASK_FAILED
    assert "version 2" in text and "0 successful recorded runs" in text
    result, text = deploy(env, NAME, "--version", "1", "--format", "skill", "--out", str(tmp_path / "y"))
    assert result.exit_code == 0, text
