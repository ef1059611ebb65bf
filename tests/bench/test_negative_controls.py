"""Negative controls: an empty answer with no files, a generic refusal and the echoed task text must fail
every check that counts as evidence, or the suite is invalid (exit 2, naming the task and the check).
Run by `bench --validate` and before every bench run."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from agentfactory_bench import load_suite
from agentfactory_bench.controls import sandbox_control_runner, validate_suite
from agentfactory_bench.harness import run_bench
from typer.testing import CliRunner

from agentfactory.cli import app
from agentfactory.config import Settings, load_settings
from agentfactory.errors import ValidationError

COUNT = {
    "id": "count-rows",
    "batch": 1,
    "family": "csv",
    "text": "Count the data rows of rows.csv and report the count.",
    "fixtures": {"files": ["data/rows.csv"]},
    "check": [{"answer_number": {"label": "count", "value": 3, "tolerance": 0}}],
}


def make_suite(root: Path, *tasks: dict, checks: dict[str, str] | None = None) -> Path:
    folder = root / "suite"
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "data" / "rows.csv").write_text("a,b\n1,2\n3,4\n5,6\n")
    for name, code in (checks or {}).items():
        (folder / "checks").mkdir(exist_ok=True)
        (folder / "checks" / name).write_text(code)
    (folder / "suite.yaml").write_text(
        yaml.safe_dump({"name": "tiny", "tasks": list(tasks)}, sort_keys=False)
    )
    return folder


def invalid(folder: Path) -> str:
    with pytest.raises(ValidationError) as caught:
        validate_suite(load_suite(folder), None)
    return str(caught.value)


def test_a_sound_suite_is_valid(tmp_path):
    assert validate_suite(load_suite(make_suite(tmp_path, COUNT)), None) == 3


def test_an_answer_check_the_echoed_text_passes_is_flagged(tmp_path):
    task = {**COUNT, "check": [*COUNT["check"], {"answer_contains": "rows.csv"}]}
    message = invalid(make_suite(tmp_path, task))
    assert message.startswith(
        "Suite tiny is invalid: task 'count-rows': check 'answer_contains' passes the echo negative "
        "control (the task text echoed back)"
    )


def test_an_out_of_scope_check_that_accepts_a_refusal_is_flagged(tmp_path):
    task = {
        **COUNT,
        "id": "translate",
        "family": "none",
        "out_of_scope": True,
        "text": "Translate rows.csv into French.",
        "check": [{"answer_contains_any": ["cannot", "unable", "outside"]}],
    }
    message = invalid(make_suite(tmp_path, task))
    assert "task 'translate': check 'answer_contains_any' passes the refusal negative control" in message


def test_a_task_of_guards_only_is_flagged(tmp_path):
    task = {**COUNT, "check": [{"answer_not_contains": "error"}]}
    assert "task 'count-rows': check 'all checks' passes the empty negative control" in invalid(
        make_suite(tmp_path, task)
    )


def test_an_answer_check_backed_by_a_guard_is_evidence(tmp_path):
    # The echoed text holds both words; "improving" counts because "getting worse" must be absent.
    task = {
        **COUNT,
        "text": "Is opinion in rows.csv improving or getting worse?",
        "check": [{"answer_contains": "improving"}, {"answer_not_contains": "getting worse"}],
    }
    assert validate_suite(load_suite(make_suite(tmp_path, task)), None) == 3


def test_an_answer_number_fed_by_the_echoed_text_is_flagged(tmp_path):
    # The task text itself holds the expected number next to the label.
    task = {**COUNT, "text": "There are 3 rows; report the count of rows in rows.csv."}
    task["check"] = [{"answer_number": {"label": "rows", "value": 3, "tolerance": 0}}]
    assert "check 'answer_number' passes the echo negative control" in invalid(make_suite(tmp_path, task))


VACUOUS_PY = "def check(answer, outputs_dir, fixtures_dir):\n    return True, 'fine'\n"
SOUND_PY = (
    "def check(answer, outputs_dir, fixtures_dir):\n"
    "    done = (outputs_dir / 'count.txt').is_file()\n"
    "    return done, 'count.txt written' if done else 'no count.txt'\n"
)


def test_a_vacuous_python_check_is_flagged_in_the_sandbox(tmp_path):
    task = {**COUNT, "check": [*COUNT["check"], {"python": "checks/vacuous.py"}]}
    suite = load_suite(make_suite(tmp_path, task, checks={"vacuous.py": VACUOUS_PY}))
    runner = sandbox_control_runner(Settings.from_keys(sandbox="local", timeout_s=60))
    with pytest.raises(ValidationError, match="task 'count-rows': check 'python' passes the empty"):
        validate_suite(suite, runner)


def test_a_sound_python_check_passes_the_controls_in_the_sandbox(tmp_path):
    task = {**COUNT, "check": [{"python": "checks/sound.py"}]}
    suite = load_suite(make_suite(tmp_path, task, checks={"sound.py": SOUND_PY}))
    assert (
        validate_suite(suite, sandbox_control_runner(Settings.from_keys(sandbox="local", timeout_s=60))) == 3
    )


def test_cli_validate_exits_2_naming_the_task_and_the_check(tmp_path):
    task = {**COUNT, "check": [*COUNT["check"], {"answer_contains": "rows.csv"}]}
    bad = CliRunner().invoke(app, ["bench", "--suite", str(make_suite(tmp_path, task)), "--validate"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert "task 'count-rows': check 'answer_contains' passes the echo negative control" in bad.output
    good = CliRunner().invoke(
        app, ["bench", "--suite", str(make_suite(tmp_path / "ok", COUNT)), "--validate"]
    )
    assert good.exit_code == 0 and "Suite tiny is valid: 1 tasks" in good.output


def test_a_bench_run_refuses_an_invalid_suite_before_any_model_call(tmp_path, monkeypatch):
    import agentfactory_bench.harness as harness

    def no_model(*_a, **_k):
        raise AssertionError("a provider was built for an invalid suite")

    monkeypatch.setattr(harness, "_provider_for", no_model)
    task = {**COUNT, "check": [{"answer_not_contains": "error"}]}
    settings = load_settings({"model": "scripted", "sandbox": "local"}, env={}, cwd=tmp_path)
    with pytest.raises(ValidationError, match="check 'all checks' passes the empty negative control"):
        run_bench(load_suite(make_suite(tmp_path, task)), settings, root=tmp_path / "runs")
    assert not (tmp_path / "runs" / "agentfactory").exists()
