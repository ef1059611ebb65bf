"""The Python API: what `agentfactory` exports, lazily, and the README's example, run as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import agentfactory
from agentfactory import load_settings
from agentfactory.errors import EXIT_TASK_FAILED, UsageError

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = ["MetaAgent", "RunResult", "Library", "Subagent", "Case", "Evolver", "EvolveOptions", "deploy"]
PUBLIC += ["Settings", "load_settings", "AgentFactoryError", "ConfigError", "UsageError", "ValidationError"]
PUBLIC += ["SandboxError", "ProviderError", "LibraryError", "BudgetExhausted", "DeployRefused"]
PUBLIC += [
    "AuthenticationError",
    "ContextWindowExceeded",
    "InvalidSetting",
    "MissingExtra",
    "ProviderTimeout",
]

UPPER = '''"""Upper-case a text.

Purpose: the text in capitals. Inputs: text (str). Outputs: upper (str). Limitations: none.
"""


def run(text: str) -> dict:
    return {"answer": text.upper(), "upper": text.upper()}
'''


def readme_python_example() -> str:
    """The fenced python block of the README's "Python API" section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Python API\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"^```python\n(.*?)^```$", section, re.S | re.M)
    assert match, "the README's Python API section has no python block"
    return match.group(1)


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTFACTORY_")}
    for key in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(key, None)
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.mark.parametrize("name", PUBLIC)
def test_public_name_is_exported(name):
    assert name in agentfactory.__all__
    assert getattr(agentfactory, name) is not None


def test_every_error_is_exported_with_its_exit_code():
    import inspect

    from agentfactory import errors

    for name, cls in inspect.getmembers(errors, inspect.isclass):
        if issubclass(cls, errors.AgentFactoryError) and name != "MissingSandboxExtra":  # a MissingExtra
            assert name in agentfactory.__all__, name
            assert getattr(agentfactory, name) is cls and cls.exit_code in (1, 2, 3, 4), name
    assert issubclass(agentfactory.DeployRefused, agentfactory.AgentFactoryError)


def test_public_records_build_as_documented(tmp_path):
    from agentfactory import Case, EvolveOptions, RunResult, Settings, Subagent

    assert Case.from_dict({"inputs": {"text": "a b a"}, "expected": {"top": [["a", 2]]}}).inputs == {
        "text": "a b a"
    }
    assert EvolveOptions(rounds=2).rounds == 2
    with pytest.raises(UsageError):
        EvolveOptions(rounds=0)
    assert Settings.from_keys(sandbox="local", credentials={}).resolved_model() == "sim"
    assert load_settings({"sandbox": "local"}, env={}, cwd=tmp_path).sandbox.backend == "local"
    assert "status" in RunResult.__dataclass_fields__ and "version" in Subagent.__dataclass_fields__


def test_every_name_in_all_resolves_and_import_is_lazy():
    code = (
        "import sys, agentfactory\n"
        "heavy = [m for m in ('agentfactory.meta.agent', 'agentfactory.evolve', 'agentfactory.deploy',"
        " 'agentfactory.library.store', 'jinja2', 'git') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "missing = [n for n in agentfactory.__all__ if getattr(agentfactory, n, None) is None]\n"
        "assert not missing, missing\n"
        "from agentfactory import *\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_clean_env())
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_deploy_is_the_function_whatever_was_imported_first():
    code = (
        "import agentfactory.deploy.gate\n"  # binds agentfactory.deploy to the subpackage
        "from agentfactory import deploy\n"
        "from agentfactory.deploy import deploy as function\n"
        "assert callable(deploy) and deploy.deploy is function\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_clean_env())
    assert out.returncode == 0, out.stderr


def test_calling_the_deploy_module_calls_the_function(tmp_path):
    settings, _ = _library_with_upper(tmp_path)
    with pytest.raises(UsageError, match="zip"):
        agentfactory.deploy(settings, "upper-text", formats=("zip",))


def test_unknown_name_or_attribute():
    with pytest.raises(AttributeError, match="no attribute 'NoSuchThing'"):
        agentfactory.NoSuchThing  # noqa: B018


def _library_with_upper(tmp_path: Path):
    from agentfactory.library import Library, build_subagent_folder

    settings = load_settings(
        {"library": "lib", "workspaces": "ws", "sandbox": "local", "model": "sim"}, env={}, cwd=tmp_path
    )
    library = Library(settings.paths.library)
    library.ensure()
    folder = build_subagent_folder(
        tmp_path / "src", name="upper-text", description="Upper-case a text.", code=UPPER
    )
    library.save(folder)
    return settings, library


def test_run_subagent_directly(tmp_path):
    from agentfactory import MetaAgent
    from agentfactory.experience import ExperienceStore, default_store_path

    settings, _ = _library_with_upper(tmp_path)
    result = MetaAgent(settings).run_subagent("upper-text", {"text": "sea"})
    assert result.status == "success" and result.exit_code == 0
    assert result.result == {"answer": "SEA", "upper": "SEA"} and result.answer == "SEA"
    assert result.reused == ["upper-text"] and result.model_calls == 0
    events = (Path(result.workspace) / "events.jsonl").read_text().splitlines()
    assert '"run_finished"' in events[-1]
    with ExperienceStore(default_store_path(settings.paths)) as store:
        assert store.get_run(result.run_id).success is True
        assert [e.success for e in store.executions()] == [True]


def test_run_subagent_directly_that_fails_is_task_failed(tmp_path):
    from agentfactory import MetaAgent
    from agentfactory.experience import ExperienceStore, default_store_path

    settings, _ = _library_with_upper(tmp_path)
    result = MetaAgent(settings).run_subagent("upper-text", {"text": 3})
    assert result.status == "task_failed" and result.exit_code == EXIT_TASK_FAILED
    assert result.reason.startswith("upper-text v1 ended with status error (AttributeError:")
    with ExperienceStore(default_store_path(settings.paths)) as store:
        assert store.get_run(result.run_id).success is False
        assert [e.success for e in store.executions()] == [False]


def test_run_subagent_directly_unknown_name_writes_nothing(tmp_path):
    from agentfactory import MetaAgent

    settings, _ = _library_with_upper(tmp_path)
    with pytest.raises(UsageError):
        MetaAgent(settings).run_subagent("no-such-subagent", {})
    assert not (tmp_path / "ws").exists() or not any((tmp_path / "ws").iterdir())


def test_readme_python_example_runs(tmp_path):
    script = tmp_path / "example.py"
    script.write_text(readme_python_example(), encoding="utf-8")
    out = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=_clean_env(),
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "success 0"
    assert "Invalid rows: 1 of 2" in out.stdout and "success 1" in lines
    assert any(line.startswith("csv-to-json-validate v1 ") for line in lines)
    assert "[]" in lines
    assert (tmp_path / "deploy" / "csv-to-json-validate" / "package" / "pyproject.toml").is_file()
    assert (
        tmp_path / "deploy" / "csv-to-json-validate" / "skill" / "csv-to-json-validate" / "SKILL.md"
    ).is_file()
