"""Turn a model spec string into a provider, through the providers registered as plugins.

A spec is `<provider>:<model>` (`anthropic:claude-sonnet-4-6`, `openai:gpt-4.1`, `scripted:replies.json`)
or a bare provider name (`sim`). Providers register under the `agentfactory.providers` entry-point group,
the product's own ones included (`agentfactory.llm.providers`); the benchmark distribution adds `sim`.
Only the chosen provider's plugin is loaded, and its adapter imports its SDK only when it is built, so a
missing SDK matters only to those who ask for it (MissingExtra names the extra to install). API keys come
with the settings (`settings.credentials`, from load_settings) and are checked at construction, so a
missing key fails before any work starts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from agentfactory.config import ModelSettings
from agentfactory.errors import ConfigError
from agentfactory.llm.retry import RetryPolicy
from agentfactory.llm.types import ModelProvider
from agentfactory.plugins import entry_points
from agentfactory.records import record

GROUP = "agentfactory.providers"
# Where a provider that is not installed comes from (for the error that says so).
NOT_INSTALLED = {
    "sim": "The simulated model comes with the benchmark distribution: from a source checkout run "
    "`pip install -e benchmarks/`, or choose a real model with --model.",
}


@record(frozen=True)
class ProviderRequest:
    """Everything a plugin's `create` gets: the model part of the spec and the run's options."""

    spec: str
    model: str  # the part after "<provider>:" ("" for a bare provider name)
    settings: ModelSettings  # the models group of the settings (base URLs, call deadline)
    env: Mapping[str, str]
    retry: RetryPolicy | None = None
    thinking_budget: int | None = None


@record(frozen=True)
class ProviderPlugin:
    """One provider: its spec prefix, how a spec is written, what it needs, and how it is built."""

    name: str
    spec: str
    about: str
    create: Callable[[ProviderRequest], ModelProvider]
    needs: str = ""
    module: str = ""  # the module `agentfactory models` checks is importable (its SDK)
    extra: str = ""  # the agentfactory extra that installs that module, if any
    # Whether what it `needs` is there (keys, a base URL); None: being installed is enough.
    configured: Callable[[ModelSettings, Mapping[str, str]], bool] | None = None


def missing_key(var: str) -> ConfigError:
    return ConfigError(f"{var} is not set: export it, or choose another model with --model.")


def provider_names() -> list[str]:
    """Every registered provider's name, in a stable order."""
    return sorted({ep.name for ep in entry_points(group=GROUP)})


def load_plugin(name: str) -> ProviderPlugin | None:
    """The plugin registered as `name`, or None. A broken plugin is a configuration error."""
    found = entry_points(group=GROUP, name=name)
    if not found:
        return None
    entry = next(iter(found))
    try:
        plugin = entry.load()
    except Exception as exc:  # a third-party plugin may fail any way on import
        raise ConfigError(
            f"The model provider plugin '{name}' ({entry.value}) cannot be loaded: {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(plugin, ProviderPlugin):
        raise ConfigError(f"The model provider plugin '{name}' ({entry.value}) is not a ProviderPlugin.")
    return plugin


def get_provider(
    spec: str,
    models: ModelSettings,
    *,
    env: Mapping[str, str],
    retry: RetryPolicy | None = None,
    thinking_budget: int | None = None,
) -> ModelProvider:
    """The provider for `spec`; ConfigError with one clear sentence when it cannot be built.

    `models` is the models group of the settings (`Settings.models`), `env` the credentials
    (`Settings.credentials`: API keys and provider endpoints, as load_settings read them).

    `thinking_budget` turns extended thinking on (Anthropic): only the callers that should think pass
    it (the Meta-Agent: setting thinking_budget; evolve: evolve_thinking_budget), so a subagent's `llm`
    calls, the gate and the deploy checks never do."""
    spec = (spec or "").strip()
    prefix, _, rest = spec.partition(":")
    plugin = load_plugin(prefix) if prefix else None
    if plugin is None:
        if prefix in NOT_INSTALLED:
            raise ConfigError(NOT_INSTALLED[prefix])
        known = ", ".join(p.spec for p in map(load_plugin, provider_names()) if p is not None)
        raise ConfigError(f"Unknown model spec '{spec}': {_suggestion(spec)}use one of {known}.")
    request = ProviderRequest(
        spec=spec,
        model=rest.strip(),
        settings=models,
        env=env,
        retry=retry,
        thinking_budget=thinking_budget,
    )
    return plugin.create(request)


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
