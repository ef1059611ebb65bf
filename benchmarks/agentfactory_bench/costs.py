"""The prompt-cache cost model: US dollars as Anthropic would charge them, the same rule for every method.

Every orchestrator call's stable prefix (system prompt + tool definitions) is cached: the first call with
a given prefix in a method's sequence of tasks writes it (1.25x the input price), every later call with
the same prefix reads it (0.1x); the rest of the input is charged in full, output at the output price.
When a provider reports cache tokens itself (a real Anthropic run with caching), those are used as
reported instead. Calls without tools (a subagent's `llm`, text-lessons' extraction) are not cached.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agentfactory.config import Settings
from agentfactory_bench.recording import CallStat

CACHE_READ = 0.1
CACHE_WRITE = 1.25
# The price the simulated model (which has none) is costed at.
DEFAULT_PRICE_MODEL = "anthropic:claude-sonnet-4-6"


@dataclass
class CallCost:
    uncached_input: int = 0
    cache_read: int = 0
    cache_write: int = 0
    output: int = 0
    usd: float = 0.0

    def add(self, other: CallCost) -> None:
        self.uncached_input += other.uncached_input
        self.cache_read += other.cache_read
        self.cache_write += other.cache_write
        self.output += other.output
        self.usd += other.usd


@dataclass
class PromptCache:
    """One method's cache over its sequence of tasks (batch 1 then batch 2)."""

    input_price: float  # USD per million tokens
    output_price: float
    seen: set[str] = field(default_factory=set)

    @classmethod
    def for_model(cls, settings: Settings, model: str) -> PromptCache:
        """Prices of `model`, or of DEFAULT_PRICE_MODEL when the table has none (the sim)."""
        prices = settings.models.price_for(model) or settings.models.price_for(DEFAULT_PRICE_MODEL)
        if prices is None:  # a price table without Claude: costs stay 0 rather than invented
            return cls(0.0, 0.0)
        return cls(prices.input, prices.output)

    def cost(self, calls: list[CallStat]) -> CallCost:
        total = CallCost()
        for call in calls:
            u = call.usage
            c = CallCost(output=u.output_tokens)
            if u.cache_read_tokens or u.cache_write_tokens or not call.orchestrator:
                c.uncached_input, c.cache_read, c.cache_write = (
                    u.input_tokens,
                    u.cache_read_tokens,
                    u.cache_write_tokens,
                )
            else:
                prefix = min(call.prefix_tokens, u.input_tokens)
                if call.prefix_key in self.seen:
                    c.cache_read = prefix
                else:
                    c.cache_write = prefix
                    self.seen.add(call.prefix_key)
                c.uncached_input = u.input_tokens - prefix
            c.usd = (
                c.uncached_input * self.input_price
                + c.cache_read * self.input_price * CACHE_READ
                + c.cache_write * self.input_price * CACHE_WRITE
                + c.output * self.output_price
            ) / 1_000_000
            total.add(c)
        return total
