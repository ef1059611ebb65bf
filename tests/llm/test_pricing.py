from __future__ import annotations

import pytest

from agentfactory.config import Prices, Settings
from agentfactory.llm import Usage, cost_usd


def test_cost_from_price_table_with_cache_prices():
    usage = Usage(
        input_tokens=1_000_000, output_tokens=100_000, cache_read_tokens=2_000_000, cache_write_tokens=400_000
    )
    # claude-sonnet-4-6: 3 in, 15 out, 0.3 read, 3.75 write per million
    assert cost_usd(usage, "anthropic:claude-sonnet-4-6", Settings().models) == pytest.approx(
        3 + 1.5 + 0.6 + 1.5
    )


def test_unknown_model_costs_nothing():
    assert cost_usd(Usage(1000, 1000), "openai:my-local-llama", Settings().models) == 0.0
    assert cost_usd(Usage(1000, 1000), "sim", Settings().models) == 0.0
    assert cost_usd(Usage(1000, 1000), "scripted", Settings().models) == 0.0


def test_missing_cache_prices_fall_back():
    settings = Settings.from_keys(prices={"claude-x": Prices(10.0, 20.0), "gpt-x": Prices(2.0, 8.0)})
    reads = Usage(cache_read_tokens=1_000_000)
    writes = Usage(cache_write_tokens=1_000_000)
    # Claude: Anthropic's multipliers 0.1x read, 1.25x write.
    assert cost_usd(reads, "anthropic:claude-x", settings.models) == pytest.approx(1.0)
    assert cost_usd(writes, "anthropic:claude-x", settings.models) == pytest.approx(12.5)
    # Others: the input price, no discount assumed.
    assert cost_usd(reads, "openai:gpt-x", settings.models) == pytest.approx(2.0)
    assert cost_usd(writes, "openai:gpt-x", settings.models) == pytest.approx(2.0)
    # gpt-4.1 in the defaults has a read price but no write price.
    assert cost_usd(Usage(cache_read_tokens=1_000_000), "openai:gpt-4.1", Settings().models) == pytest.approx(
        0.5
    )


def test_dated_model_names_match_by_prefix():
    assert cost_usd(
        Usage(output_tokens=1_000_000), "anthropic:claude-haiku-4-5-20251001", Settings().models
    ) == pytest.approx(5.0)
