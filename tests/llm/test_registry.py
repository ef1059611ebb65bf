from __future__ import annotations

import json
import sys
from importlib.metadata import EntryPoint

import pytest

from agentfactory.config import Settings
from agentfactory.errors import ConfigError
from agentfactory.llm import ScriptedProvider, get_provider, provider_names, registry
from agentfactory.llm.anthropic import AnthropicProvider
from agentfactory.llm.openai import OpenAIProvider


def test_unknown_prefix_lists_the_known_ones():
    with pytest.raises(ConfigError) as info:
        get_provider("gemini:pro", Settings().models, env={})
    message = str(info.value)
    assert "gemini:pro" in message
    for prefix in ("anthropic:<model>", "openai:<model>", "scripted:<file.json>", "sim"):
        assert prefix in message


def test_missing_anthropic_key_names_the_variable():
    with pytest.raises(
        ConfigError,
        match=r"^ANTHROPIC_API_KEY is not set: export it, or choose another model with --model\.$",
    ):
        get_provider("anthropic:claude-sonnet-4-6", Settings().models, env={})


def test_missing_openai_key_names_the_variable():
    with pytest.raises(ConfigError, match=r"^OPENAI_API_KEY is not set"):
        get_provider("openai:gpt-4.1", Settings().models, env={})


def test_missing_model_name():
    with pytest.raises(ConfigError, match="needs a model name"):
        get_provider("anthropic:", Settings().models, env={"ANTHROPIC_API_KEY": "k"})


def test_openai_with_base_url_needs_no_key():
    provider = get_provider(
        "openai:llama3.1", Settings.from_keys(openai_base_url="http://127.0.0.1:11434/v1").models, env={}
    )
    assert isinstance(provider, OpenAIProvider)
    assert provider.spec == "openai:llama3.1"
    provider = get_provider(
        "openai:qwen", Settings().models, env={"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"}
    )
    assert provider.base_url == "http://127.0.0.1:8000/v1"


def test_real_providers_are_built_with_keys():
    a = get_provider("anthropic:claude-haiku-4-5", Settings().models, env={"ANTHROPIC_API_KEY": "k"})
    assert isinstance(a, AnthropicProvider) and a.spec == "anthropic:claude-haiku-4-5" and not a.simulated
    o = get_provider("openai:gpt-4.1", Settings().models, env={"OPENAI_API_KEY": "k"})
    assert isinstance(o, OpenAIProvider) and o.base_url is None


def test_scripted_spec_loads_the_file(tmp_path):
    path = tmp_path / "replies.json"
    path.write_text(json.dumps([{"text": "hello"}]))
    provider = get_provider(f"scripted:{path}", Settings().models, env={})
    assert isinstance(provider, ScriptedProvider)
    assert provider.complete("", []).text == "hello"


def test_scripted_spec_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        get_provider(f"scripted:{tmp_path / 'nope.json'}", Settings().models, env={})


def _registered(monkeypatch, *extra: EntryPoint, drop: str = "") -> None:
    """The entry points of this installation, minus `drop`, plus `extra` (the registry's only source)."""
    real = registry.entry_points

    def entry_points(*, group: str, name: str | None = None):
        found = [e for e in real(group=group) if e.name != drop] + [e for e in extra if e.group == group]
        return [e for e in found if name is None or e.name == name]

    monkeypatch.setattr(registry, "entry_points", entry_points)


def test_the_products_providers_come_from_its_entry_points():
    assert {"anthropic", "openai", "scripted"} <= set(provider_names())


def test_a_provider_not_installed_says_where_it_comes_from(monkeypatch):
    _registered(monkeypatch, drop="sim")  # an installation without the benchmark distribution
    with pytest.raises(ConfigError, match=r"benchmark distribution: .*pip install -e benchmarks/"):
        get_provider("sim", Settings().models, env={})


def test_a_new_provider_is_a_module_and_an_entry_point(monkeypatch, tmp_path):
    (tmp_path / "echo_provider.py").write_text(
        "from agentfactory.llm import ProviderPlugin, ScriptedProvider\n"
        "BUILT = []\n"
        "def create(request):\n"
        "    BUILT.append((request.spec, request.model, request.thinking_budget))\n"
        "    return ScriptedProvider([], spec=request.spec)\n"
        "PLUGIN = ProviderPlugin(name='echo', spec='echo:<name>', about='test', create=create)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    _registered(monkeypatch, EntryPoint("echo", "echo_provider:PLUGIN", registry.GROUP))
    provider = get_provider("echo:fast", Settings().models, env={}, thinking_budget=2000)
    import echo_provider

    assert echo_provider.BUILT == [("echo:fast", "fast", 2000)] and provider.spec == "echo:fast"
    assert "echo" in provider_names()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("raise RuntimeError('no SDK here')", "cannot be loaded: RuntimeError: no SDK here"),
        ("PLUGIN = 42", "not a ProviderPlugin"),
    ],
)
def test_a_broken_provider_plugin_is_one_configuration_error(monkeypatch, tmp_path, source, message):
    (tmp_path / "broken_provider.py").write_text(source + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "broken_provider", raising=False)
    _registered(monkeypatch, EntryPoint("broken", "broken_provider:PLUGIN", registry.GROUP))
    with pytest.raises(ConfigError, match=message):
        get_provider("broken:x", Settings().models, env={})


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
