"""What AgentFactory knows about models by name: context window and output limits.

One table, looked up by the longest matching name prefix (after the provider prefix), for the
defaults a provider cannot be asked for: how many output tokens a call may request (a real module is
~6,000 tokens; a 400-line one more) and how large the context window is (for compaction). Settings
override both (`max_output_tokens`, `context_window`). A model missing here gets the conservative
`DEFAULT`.
"""

from __future__ import annotations

from agentfactory.records import record


@record(frozen=True)
class ModelLimits:
    context_window: int  # tokens the model accepts, input and output together
    max_output: int  # output tokens one call may request
    default_output: int  # what a call requests when settings say nothing


DEFAULT = ModelLimits(context_window=128_000, max_output=16_384, default_output=16_384)

LIMITS: dict[str, ModelLimits] = {
    "claude-opus-4": ModelLimits(200_000, 32_000, 32_000),
    "claude-sonnet-4": ModelLimits(200_000, 64_000, 32_000),
    "claude-haiku-4": ModelLimits(200_000, 64_000, 32_000),
    "claude-3-7-sonnet": ModelLimits(200_000, 64_000, 32_000),
    "claude-3-5-haiku": ModelLimits(200_000, 8_192, 8_192),
    "gpt-4.1": ModelLimits(1_047_576, 32_768, 32_768),
    "gpt-4o": ModelLimits(128_000, 16_384, 16_384),
    "gpt-5": ModelLimits(400_000, 128_000, 32_768),
    "o3": ModelLimits(200_000, 100_000, 32_768),
    "o4-mini": ModelLimits(200_000, 100_000, 32_768),
}


def limits_for(model_spec: str) -> ModelLimits:
    """The limits of `model_spec` ("anthropic:claude-sonnet-4-6", "openai:gpt-4.1", "gpt-4o")."""
    name = model_spec.split(":", 1)[-1].lower()
    matches = [prefix for prefix in LIMITS if name.startswith(prefix)]
    return LIMITS[max(matches, key=len)] if matches else DEFAULT


def output_tokens_for(max_output_tokens: int | None, model_spec: str) -> int:
    """Output tokens one call of `model_spec` requests: the setting `max_output_tokens`, else the
    model's default."""
    return max_output_tokens or limits_for(model_spec).default_output
