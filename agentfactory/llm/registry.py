"""Turn a model spec string into a provider: the one place that knows every prefix.

Specs: `anthropic:<model>`, `openai:<model>` (with a base URL: any OpenAI-compatible server),
`scripted:<file.json>`, and `sim` / `sim:<variant>` (the deterministic simulated model; its module
`agentfactory.llm.sim` exposes `create_provider(spec: str, settings: Settings) -> ModelProvider`, or a
`SimProvider` class taking the same two arguments).
Adapters are imported only when chosen, so a missing SDK matters only to those who ask for it. API keys
are read from the environment here, at construction, so a missing key fails before any work starts.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from agentfactory.config import Settings
from agentfactory.errors import ConfigError
from agentfactory.llm.retry import RetryPolicy
from agentfactory.llm.types import ModelProvider

KNOWN_PREFIXES = ("anthropic", "openai", "scripted", "sim")


def _missing_key(var: str) -> ConfigError:
    return ConfigError(f"{var} is not set: export it, or choose another model with --model.")


def get_provider(
    spec: str,
    settings: Settings,
    *,
    retry: RetryPolicy | None = None,
    env: Mapping[str, str] | None = None,
    thinking_budget: int | None = None,
) -> ModelProvider:
    """The provider for `spec`; ConfigError with one clear sentence when it cannot be built.

    `thinking_budget` turns extended thinking on (Anthropic): only the callers that should think pass
    it (the Meta-Agent: setting thinking_budget; evolve: evolve_thinking_budget), so a subagent's `llm`
    calls, the gate and the deploy checks never do."""
    env = settings.credentials if env is None else env
    spec = (spec or "").strip()
    prefix, _, rest = spec.partition(":")
    rest = rest.strip()

    if prefix == "anthropic":
        if not rest:
            raise ConfigError("Model spec 'anthropic:' needs a model name, e.g. anthropic:claude-sonnet-4-6.")
        key = env.get("ANTHROPIC_API_KEY")
        if not key:
            raise _missing_key("ANTHROPIC_API_KEY")
        from agentfactory.llm.anthropic import AnthropicProvider

        base_url = settings.anthropic_base_url or env.get("ANTHROPIC_BASE_URL") or None
        return AnthropicProvider(
            rest,
            api_key=key,
            base_url=base_url,
            retry=retry,
            call_timeout_s=settings.call_timeout_s,
            thinking_budget=thinking_budget,
        )

    if prefix == "openai":
        if not rest:
            raise ConfigError("Model spec 'openai:' needs a model name, e.g. openai:gpt-4.1.")
        base_url = settings.openai_base_url or env.get("OPENAI_BASE_URL") or None
        key = env.get("OPENAI_API_KEY")
        if not key and not base_url:
            raise _missing_key("OPENAI_API_KEY")
        from agentfactory.llm.openai import OpenAIProvider

        return OpenAIProvider(
            rest,
            api_key=key,
            base_url=base_url,
            retry=retry,
            call_timeout_s=settings.call_timeout_s,
            thinking_budget=thinking_budget,  # sent to reasoning models as reasoning_effort
        )

    if prefix == "scripted":
        if not rest:
            raise ConfigError(
                "Model spec 'scripted:' needs a JSON file of responses, e.g. scripted:replies.json."
            )
        from agentfactory.llm.scripted import ScriptedProvider

        return ScriptedProvider.from_file(rest)

    if prefix == "sim":
        try:
            module = importlib.import_module("agentfactory.llm.sim")
        except ModuleNotFoundError as exc:
            if exc.name not in ("agentfactory.llm.sim",):
                raise
            raise ConfigError(
                "The simulated model is not available in this installation: choose a real model with --model."
            ) from None
        factory = getattr(module, "create_provider", None) or getattr(module, "SimProvider", None)
        if factory is None:
            raise ConfigError("The simulated model module has no create_provider(): reinstall AgentFactory.")
        return factory(spec, settings)

    known = ", ".join(f"{p}:<model>" if p in ("anthropic", "openai") else p for p in KNOWN_PREFIXES)
    known = known.replace("scripted", "scripted:<file.json>")
    raise ConfigError(f"Unknown model spec '{spec}': {_suggestion(spec)}use one of {known}.")


# Model-name prefixes that tell the provider of a spec given without one ("gpt-4o" -> openai).
MODEL_FAMILIES = (("claude", "anthropic"), ("gpt-", "openai"), ("chatgpt", "openai"), ("o1", "openai"),
                  ("o3", "openai"), ("o4", "openai"))  # fmt: skip


def provider_for_model(name: str) -> str | None:
    """The provider a bare model name belongs to, when its family says so."""
    return next((provider for start, provider in MODEL_FAMILIES if name.startswith(start)), None)


def _suggestion(spec: str) -> str:
    prefix, colon, rest = spec.partition(":")
    name = rest if colon else prefix
    if not name or any(c.isspace() for c in name):
        return ""
    provider = provider_for_model(name)
    if provider:
        return f"write {provider}:{name}, or "
    return f"write openai:{name} with --base-url for an OpenAI-compatible server (Ollama, vLLM), or "
