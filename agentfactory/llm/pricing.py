"""Estimated cost of model calls from the configurable price table (`ModelSettings.prices`).

Prices are US dollars per million tokens. A model missing from the table costs 0.0 (the run report says
the cost is unknown rather than inventing one). Cache prices may be missing from a table entry; then
Claude models use Anthropic's published multipliers (reads 0.1x, writes 1.25x the input price) and
other models are charged the input price for both, i.e. no cache discount is assumed.
"""

from __future__ import annotations

from agentfactory.config import ModelSettings, Prices
from agentfactory.llm.types import Usage

_ANTHROPIC_READ_MULTIPLIER = 0.1
_ANTHROPIC_WRITE_MULTIPLIER = 1.25


def _is_claude(model_spec: str) -> bool:
    return model_spec.startswith("anthropic:") or model_spec.split(":", 1)[-1].startswith("claude")


def effective_cache_prices(prices: Prices, model_spec: str) -> tuple[float, float]:
    """(cache read, cache write) price per million tokens, filling gaps as the module docstring says."""
    claude = _is_claude(model_spec)
    read = prices.cache_read
    if read is None:
        read = prices.input * _ANTHROPIC_READ_MULTIPLIER if claude else prices.input
    write = prices.cache_write
    if write is None:
        write = prices.input * _ANTHROPIC_WRITE_MULTIPLIER if claude else prices.input
    return read, write


def cost_usd(usage: Usage, model_spec: str, models: ModelSettings) -> float:
    """Estimated US dollars for `usage` on `model_spec`; 0.0 for a model without a price."""
    prices = models.price_for(model_spec)
    if prices is None:
        return 0.0
    read, write = effective_cache_prices(prices, model_spec)
    total = (
        usage.input_tokens * prices.input
        + usage.output_tokens * prices.output
        + usage.cache_read_tokens * read
        + usage.cache_write_tokens * write
    )
    return round(total / 1_000_000, 8)
