"""`bench --dry-run`: what a run would do and cost, before anything is spent. No provider is built and no
key is read: the figures come from the suite, the methods' measured prompt prefixes and stated
assumptions about the shape of a task (calls per task, output per call, context added per call),
costed under the same prompt-cache model as a real run. The ceiling is what the budget allows:
`max_cost` per task run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentfactory.config import Settings
from agentfactory.llm.tokens import count_request_tokens, count_tokens
from agentfactory.llm.types import ToolSpec, Usage
from agentfactory_bench.costs import DEFAULT_PRICE_MODEL, PromptCache
from agentfactory_bench.harness import FINAL_OFF_LABEL, variants
from agentfactory_bench.recording import CallStat
from agentfactory_bench.suite import Suite

# Assumptions (orchestrator calls per task; a reused subagent saves the writing and fixing turns).
CALLS_PER_TASK = {
    ("agentfactory", 1): 6,
    ("agentfactory", 2): 3,
    ("react", 1): 6,
    ("react", 2): 6,
    ("text-lessons", 1): 7,
    ("text-lessons", 2): 7,
}
OUTPUT_PER_CALL = 700  # tokens a call writes (code, arguments, a thought)
GROWTH_PER_CALL = 1_500  # tokens each call adds to the conversation (its output and the tool result)


@dataclass(frozen=True)
class Estimate:
    runs: int  # task runs (methods x final modes x repeats x tasks)
    calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    ceiling_usd: float  # max_cost x runs: no run can spend more
    price_model: str
    rows: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "calls": self.calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_usd": round(self.cost_usd, 4),
            "ceiling_usd": round(self.ceiling_usd, 2),
            "price_model": self.price_model,
            "assumptions": {
                "calls_per_task": {f"{m} b{b}": n for (m, b), n in CALLS_PER_TASK.items()},
                "output_tokens_per_call": OUTPUT_PER_CALL,
                "context_tokens_added_per_call": GROWTH_PER_CALL,
            },
            "rows": self.rows,
        }


def _prefix(method: str) -> tuple[str, list[ToolSpec]]:
    if method == "agentfactory":
        from agentfactory.meta.agent import system_prompt
        from agentfactory.meta.skills import meta_tools

        return system_prompt(), meta_tools()
    from agentfactory_bench import react

    tools = [v for v in vars(react).values() if isinstance(v, ToolSpec)]
    return react.REACT_SYSTEM, tools


def estimate(
    suite: Suite,
    settings: Settings,
    *,
    methods: tuple[str, ...],
    finals: tuple[str, ...],
    repeat: int,
    price_model: str | None = None,
) -> Estimate:
    model = settings.resolved_model()
    price_model = price_model or (model if settings.models.price_for(model) else DEFAULT_PRICE_MODEL)
    rows, runs, calls, tokens_in, tokens_out, usd = [], 0, 0, 0, 0, 0.0
    for method, final in variants(methods, finals):
        label = FINAL_OFF_LABEL if final is False else method
        system, tools = _prefix(method)
        prefix = count_request_tokens(system, [], tools)
        key = f"{method}-prefix"
        cache = PromptCache.for_model(settings, price_model)  # one cache over batch 1 then batch 2
        for batch in (1, 2):
            tasks = suite.batch(batch)
            n = CALLS_PER_TASK.get((method, batch), 6)
            stats: list[CallStat] = []
            for task in tasks:
                base = prefix + count_tokens(task.text) + 50 * len(task.files)
                for i in range(n):
                    usage = Usage(input_tokens=base + i * GROWTH_PER_CALL, output_tokens=OUTPUT_PER_CALL)
                    stats.append(CallStat(usage, True, prefix, key))
            cost = cache.cost(stats).usd * repeat  # repeats start from nothing, so each costs the same
            row = {
                "method": label,
                "batch": batch,
                "tasks": len(tasks) * repeat,
                "calls": len(stats) * repeat,
                "prefix_tokens": prefix,
                "input_tokens": sum(s.usage.input_tokens for s in stats) * repeat,
                "output_tokens": sum(s.usage.output_tokens for s in stats) * repeat,
                "cost_usd": round(cost, 4),
            }
            rows.append(row)
            runs += row["tasks"]
            calls += row["calls"]
            tokens_in += row["input_tokens"]
            tokens_out += row["output_tokens"]
            usd += cost
    return Estimate(
        runs, calls, tokens_in, tokens_out, usd, settings.budgets.max_cost * runs, price_model, rows
    )
