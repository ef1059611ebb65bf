"""The product's own providers, registered under the `agentfactory.providers` entry-point group.

Each is a `ProviderPlugin`: how its spec is written, what it needs, and a `create` function that
imports its adapter (and SDK) only when that provider is chosen. Another distribution adds a provider
the same way: a module holding a `ProviderPlugin`, named in its own entry points; nothing here changes.
"""

from __future__ import annotations

from agentfactory.errors import ConfigError
from agentfactory.llm.registry import ProviderPlugin, ProviderRequest, missing_key
from agentfactory.llm.types import ModelProvider


def _anthropic(request: ProviderRequest) -> ModelProvider:
    if not request.model:
        raise ConfigError("Model spec 'anthropic:' needs a model name, e.g. anthropic:claude-sonnet-4-6.")
    key = request.env.get("ANTHROPIC_API_KEY")
    if not key:
        raise missing_key("ANTHROPIC_API_KEY")
    from agentfactory.llm.anthropic import AnthropicProvider

    models = request.settings  # the models group
    return AnthropicProvider(
        request.model,
        api_key=key,
        base_url=models.anthropic_base_url or request.env.get("ANTHROPIC_BASE_URL") or None,
        retry=request.retry,
        call_timeout_s=models.call_timeout_s,
        thinking_budget=request.thinking_budget,
    )


def _openai(request: ProviderRequest) -> ModelProvider:
    if not request.model:
        raise ConfigError("Model spec 'openai:' needs a model name, e.g. openai:gpt-4.1.")
    models = request.settings  # the models group
    base_url = models.openai_base_url or request.env.get("OPENAI_BASE_URL") or None
    key = request.env.get("OPENAI_API_KEY")
    if not key and not base_url:
        raise missing_key("OPENAI_API_KEY")
    from agentfactory.llm.openai import OpenAIProvider

    return OpenAIProvider(
        request.model,
        api_key=key,
        base_url=base_url,
        retry=request.retry,
        call_timeout_s=models.call_timeout_s,
        thinking_budget=request.thinking_budget,  # sent to reasoning models as reasoning_effort
    )


def _scripted(request: ProviderRequest) -> ModelProvider:
    if not request.model:
        raise ConfigError(
            "Model spec 'scripted:' needs a JSON file of responses, e.g. scripted:replies.json."
        )
    from agentfactory.llm.scripted import ScriptedProvider

    return ScriptedProvider.from_file(request.model)


anthropic = ProviderPlugin(
    name="anthropic",
    spec="anthropic:<model>",
    needs="ANTHROPIC_API_KEY",
    module="anthropic",
    extra="anthropic",
    about="Anthropic's API (prompt caching on the stable prefix).",
    create=_anthropic,
    configured=lambda models, env: bool(env.get("ANTHROPIC_API_KEY")),
)
openai = ProviderPlugin(
    name="openai",
    spec="openai:<model>",
    needs="OPENAI_API_KEY, or a base URL",
    module="openai",
    extra="openai",
    about="OpenAI's API, or any OpenAI-compatible server (Ollama, vLLM, LM Studio) via --base-url.",
    create=_openai,
    configured=lambda models, env: bool(env.get("OPENAI_API_KEY") or models.openai_base_url),
)
scripted = ProviderPlugin(
    name="scripted",
    spec="scripted:<file.json>",
    module="agentfactory.llm.scripted",
    about="Replays the responses of a JSON file (tests, reproducible demos).",
    create=_scripted,
)
