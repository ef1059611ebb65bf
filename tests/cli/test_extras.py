"""Each optional SDK missing is one sentence naming `pip install 'agentfactory[<extra>]'`, exit 3, and
nothing of a traceback. The SDKs are installed here: an entry of None in sys.modules makes their import
fail as it does in an environment without the extra (scripts/smoke-clean-venv.sh checks that for real)."""

from __future__ import annotations

import json
import sys

import pytest

from agentfactory.errors import EXIT_CONFIG, MissingExtra, SandboxError, import_extra
from tests.cli.conftest import Project, call


def _without(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, module, None)


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_provider_without_its_sdk_names_the_extra(project: Project, monkeypatch, provider):
    _without(monkeypatch, provider)
    key = f"{provider.upper()}_API_KEY"
    result = project.invoke(
        "run", "Say hi.", "--model", f"{provider}:x", "--sandbox", "local", env={key: "k"}
    )
    assert result.exit_code == EXIT_CONFIG, result.output
    assert f"pip install 'agentfactory[{provider}]'" in result.stderr
    assert "Traceback" not in result.output
    assert [line for line in result.stderr.splitlines() if line.strip()] == [result.stderr.strip()]


def test_the_docker_sandbox_without_its_sdk_names_the_extra(project: Project, monkeypatch):
    _without(monkeypatch, "docker")
    model = project.script([call("finish", answer="hi")])
    result = project.invoke("run", "Say hi.", "--model", model, "--sandbox", "docker")
    assert result.exit_code == EXIT_CONFIG, result.output
    assert "pip install 'agentfactory[docker]', or pass --sandbox local." in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


def test_the_missing_docker_sdk_is_still_a_sandbox_problem_for_checks(monkeypatch):
    _without(monkeypatch, "docker")
    from agentfactory.sandbox.docker_backend import connect

    with pytest.raises(SandboxError) as raised:  # `sandbox check` and deploy --force report it as such
        connect(timeout=1)
    assert isinstance(raised.value, MissingExtra) and raised.value.exit_code == EXIT_CONFIG


def test_a_broken_sdk_is_not_reported_as_a_missing_extra(tmp_path, monkeypatch):
    # The SDK is there but one of its own dependencies is missing: that ImportError stays visible.
    (tmp_path / "half_installed_sdk.py").write_text("import dependency_nobody_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match="dependency_nobody_installed"):
        import_extra("half_installed_sdk", "anthropic", "The anthropic provider")
    with pytest.raises(MissingExtra, match=r"pip install 'agentfactory\[anthropic\]'"):
        import_extra("sdk_nobody_installed", "anthropic", "The anthropic provider")


def test_models_names_the_extra_of_a_provider_whose_sdk_is_missing(project: Project, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "anthropic" else real(name, *a)
    )
    result = project.invoke("models", "--json")
    assert result.exit_code == 0, result.output
    needs = {p["name"]: p["needs"] for p in json.loads(result.stdout)["providers"]}
    assert needs["anthropic"] == "pip install 'agentfactory[anthropic]', then ANTHROPIC_API_KEY"
    assert needs["openai"] == "OPENAI_API_KEY, or a base URL"
    table = project.invoke("models", env={"COLUMNS": "300"})
    assert "pip install 'agentfactory[anthropic]'" in table.stdout  # not eaten as rich markup
