"""The environment is read in one place: config.py. API keys travel in `Settings.credentials`."""

from __future__ import annotations

import pickle
import re
from dataclasses import asdict
from pathlib import Path

import pytest

import agentfactory
from agentfactory.config import Credentials, ToolSettings, load_settings, resolve_settings
from agentfactory.errors import ConfigError
from agentfactory.events import to_json
from agentfactory.llm.registry import get_provider

PACKAGE = Path(agentfactory.__file__).parent
# Readers that stay, each for a reason: inside the sandbox (the runner and the tool module read the
# socket path the job gives them); the Docker SDK's own DOCKER_HOST; git's identity fallback; a crash
# injection hook of the library's tests (library/repo.py); the terminal's width and a shell asking for
# completions (cli/surface.py, as typer and rich read them); whether rich would find a terminal
# (cli/live.py: TTY_COMPATIBLE and FORCE_COLOR, as rich reads them). Everything else goes through
# load_settings.
ALLOWED = {
    "config.py",
    "sandbox/runtime/runner.py",
    "sandbox/runtime/agentfactory_tools.py",
    "sandbox/docker_daemon.py",
    "library/_git.py",
    "library/repo.py",
    "cli/surface.py",
    "cli/live.py",
    # The OpenTelemetry environment contract (OTEL_EXPORTER_OTLP_*, OTEL_SDK_DISABLED, OTEL_SERVICE_NAME):
    # the SDK reads the same variables itself; otel.py only decides whether to load it at all.
    "otel.py",
}


def test_only_config_reads_the_environment():
    readers = set()
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        if re.search(r"os\.environ|getenv\(|environ\.get", text):
            readers.add(path.relative_to(PACKAGE).as_posix())
    assert readers - ALLOWED == set()


def test_keys_come_from_load_settings_not_the_process(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "from-the-process")
    settings = load_settings(env={}, cwd=Path("/"))
    assert settings.credentials == {}
    with pytest.raises(ConfigError, match="ANTHROPIC_API_KEY is not set"):
        get_provider("anthropic:claude-haiku-4-5", settings.models, env=settings.credentials)
    assert settings.resolved_model() == "sim"


def test_credentials_are_carried_but_never_shown(tmp_path):
    env = {"ANTHROPIC_API_KEY": "sk-secret-1", "BRAVE_API_KEY": "b-secret", "PATH": "/bin"}
    resolved = resolve_settings(env=env, cwd=tmp_path)
    settings = resolved.settings
    assert settings.credentials == {"ANTHROPIC_API_KEY": "sk-secret-1", "BRAVE_API_KEY": "b-secret"}
    assert "secret" not in repr(settings) and "secret" not in repr(settings.credentials)
    assert "secret" not in to_json(settings) and "secret" not in str(asdict(settings))  # never in a file
    assert pickle.loads(pickle.dumps(settings)).credentials["BRAVE_API_KEY"] == "b-secret"  # to workers
    assert "credentials" not in resolved.sources  # not a setting: `config show` never lists it
    assert settings.resolved_model() == "anthropic:claude-sonnet-4-6"


def test_credentials_are_not_a_setting(tmp_path):
    (tmp_path / "agentfactory.toml").write_text('credentials = "x"\n')
    with pytest.raises(ConfigError, match="Unknown setting 'credentials'"):
        load_settings(env={}, cwd=tmp_path)


def test_web_search_takes_its_key_from_settings():
    from agentfactory.tools.web_search import WebSearchTool

    tool = WebSearchTool.from_settings(ToolSettings(), Credentials({"TAVILY_API_KEY": "t-key"}))
    assert (tool.backend, tool.api_key) == ("tavily", "t-key")
    assert WebSearchTool.from_settings(ToolSettings(), Credentials()).backend == "local"
