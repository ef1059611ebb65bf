from __future__ import annotations

import json
import sys

import pytest

from agentfactory.config import Settings
from agentfactory.errors import ConfigError
from agentfactory.llm import ScriptedProvider, get_provider
from agentfactory.llm.anthropic import AnthropicProvider
from agentfactory.llm.openai import OpenAIProvider


def test_unknown_prefix_lists_the_known_ones():
    with pytest.raises(ConfigError) as info:
        get_provider("gemini:pro", Settings(), env={})
    message = str(info.value)
    assert "gemini:pro" in message
    for prefix in ("anthropic:<model>", "openai:<model>", "scripted:<file.json>", "sim"):
        assert prefix in message


def test_missing_anthropic_key_names_the_variable():
    with pytest.raises(
        ConfigError,
        match=r"^ANTHROPIC_API_KEY is not set: export it, or choose another model with --model\.$",
    ):
        get_provider("anthropic:claude-sonnet-4-6", Settings(), env={})


def test_missing_openai_key_names_the_variable():
    with pytest.raises(ConfigError, match=r"^OPENAI_API_KEY is not set"):
        get_provider("openai:gpt-4.1", Settings(), env={})


def test_missing_model_name():
    with pytest.raises(ConfigError, match="needs a model name"):
        get_provider("anthropic:", Settings(), env={"ANTHROPIC_API_KEY": "k"})


def test_openai_with_base_url_needs_no_key():
    provider = get_provider("openai:llama3.1", Settings(openai_base_url="http://127.0.0.1:11434/v1"), env={})
    assert isinstance(provider, OpenAIProvider)
    assert provider.spec == "openai:llama3.1"
    provider = get_provider("openai:qwen", Settings(), env={"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"})
    assert provider.base_url == "http://127.0.0.1:8000/v1"


def test_real_providers_are_built_with_keys():
    a = get_provider("anthropic:claude-haiku-4-5", Settings(), env={"ANTHROPIC_API_KEY": "k"})
    assert isinstance(a, AnthropicProvider) and a.spec == "anthropic:claude-haiku-4-5" and not a.simulated
    o = get_provider("openai:gpt-4.1", Settings(), env={"OPENAI_API_KEY": "k"})
    assert isinstance(o, OpenAIProvider) and o.base_url is None


def test_scripted_spec_loads_the_file(tmp_path):
    path = tmp_path / "replies.json"
    path.write_text(json.dumps([{"text": "hello"}]))
    provider = get_provider(f"scripted:{path}", Settings(), env={})
    assert isinstance(provider, ScriptedProvider)
    assert provider.complete("", []).text == "hello"


def test_scripted_spec_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        get_provider(f"scripted:{tmp_path / 'nope.json'}", Settings(), env={})


def test_sim_missing_module_is_a_config_error(monkeypatch):
    # Simulate an installation without agentfactory.llm.sim, whether or not it exists in this tree.
    monkeypatch.setitem(sys.modules, "agentfactory.llm.sim", None)
    with pytest.raises(ConfigError, match="simulated model is not available"):
        get_provider("sim", Settings(), env={})


def test_sim_module_contract(monkeypatch):
    import types

    built = []
    module = types.ModuleType("agentfactory.llm.sim")
    module.create_provider = lambda spec, settings: built.append(spec) or ScriptedProvider([], spec=spec)
    monkeypatch.setitem(sys.modules, "agentfactory.llm.sim", module)
    provider = get_provider("sim:fast", Settings(), env={})
    assert built == ["sim:fast"] and provider.spec == "sim:fast"


def test_production_adapters_import_nothing_from_the_test_double():
    # The OpenAI adapters read tool arguments with the neutral helper of llm/reply.py, not the scripted
    # provider's: a test double is never a dependency of a production path.
    import ast
    from pathlib import Path

    import agentfactory.llm as llm

    folder = Path(llm.__file__).parent
    for name in ("openai.py", "openai_compat.py", "openai_stream.py", "anthropic.py", "anthropic_stream.py"):
        tree = ast.parse((folder / name).read_text(encoding="utf-8"))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "agentfactory.llm.scripted" not in imported, name
