"""Input tokens per model call over a 40-step run, with and without context compaction.

A scripted Meta-Agent (the real system prompt and tool definitions) writes a ~400-line module, then
runs it again and again; every execution prints a longer trace (as a subagent logging its progress
does), and every tenth step it rewrites the module. The same 40 calls are run through the real tool
loop twice: once with a context window the run never nears (no compaction), once with the model's
window and `compact_at` (default: claude-sonnet-4's 200,000 tokens at 0.75). Token counts are
AgentFactory's tokenizer (`agentfactory.llm.tokens`), the estimate compaction itself uses; the model is
scripted, so no provider is asked and the figures are labelled simulated.

Prints the input tokens of each call in both runs, then the maximum and median of each, the bound
(`compact_at` × window) and how often the conversation was compacted. Exit status 1 when the compacted
run went over its bound.

    python benchmarks/context_compaction.py [--window 200000] [--compact-at 0.75] [--steps 40] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from typing import Any

from agentfactory.config import Settings
from agentfactory.engine.budget import Budget
from agentfactory.engine.compaction import estimate_tokens
from agentfactory.engine.loop import Outcome, run_tool_loop
from agentfactory.llm import ScriptedProvider
from agentfactory.llm.metered import MeteredProvider
from agentfactory.meta.agent import system_prompt
from agentfactory.meta.handlers import CODE_TOOLS
from agentfactory.meta.skills import meta_tools

TASK = "Compute per-region sales statistics from inputs/sales.csv and report the three best regions."
MODEL = "anthropic:claude-sonnet-4-6"


def module(version: int, lines: int = 400) -> str:
    body = "\n".join(
        f"    total_{i} = sum(float(r['v{i % 9}']) for r in rows)  # v{version}" for i in range(lines)
    )
    return (
        f'"""Sales statistics, revision {version}.\n\nPurpose: per-region sums.\n"""\n\n\ndef run(path):\n'
        + (f"    rows = []\n{body}\n    return {{'rows': len(rows)}}\n")
    )


def trace(step: int) -> str:
    """An execution's output: longer every step (the subagent logs each region it processed)."""
    lines = 40 + 10 * step
    rows = (
        f"[{step:02d}] region r{i:03d}: {step * 37 + i} rows, total {step * 1013 + i * 7}.25 ok"
        for i in range(lines)
    )
    body = "\n".join(rows)
    return f'status ok, 1.2 s\nresult: {{"regions": {lines}}}\nstdout:\n{body}'


def script(steps: int) -> list[Any]:
    items: list[Any] = []
    for step in range(steps - 1):
        if step % 10 == 0:
            tool = "create_subagent" if step == 0 else "modify_subagent"
            args = {"name": "sales-stats", "code": module(step)}
            args.update({"description": "Per-region sales sums."} if step == 0 else {"reason": "faster"})
            items.append({"tool_calls": [{"name": tool, "arguments": args}]})
        else:
            items.append({"tool_calls": [{"name": "run_subagent", "arguments": {"name": "sales-stats"}}]})
    items.append({"tool_calls": [{"name": "finish", "arguments": {"answer": "r1, r2, r3"}}]})
    return items


def dispatch(name: str, args: dict[str, Any], counter: list[int]) -> Outcome:
    counter[0] += 1
    if name == "finish":
        return Outcome("Run finished.", finished=True, answer=str(args.get("answer")))
    if name == "run_subagent":
        return Outcome(trace(counter[0]), data={"status": "ok"})
    return Outcome(f"'{args['name']}' revision {counter[0]} written. Run it to check it.")


class Measured(ScriptedProvider):
    """A scripted model that notes the estimated input of each request as it is sent."""

    def __init__(self, items: list[Any]):
        super().__init__(items, spec=MODEL)
        self.inputs: list[int] = []

    def complete(self, system, messages, tools=None, max_tokens=4096, **kw):  # noqa: ANN001
        self.inputs.append(estimate_tokens(system, messages, tools))
        return super().complete(system, messages, tools, max_tokens, **kw)


def run(steps: int, window: int, compact_at: float) -> dict[str, Any]:
    settings = Settings.from_keys(
        max_steps=steps + 10,
        max_tokens=10_000_000_000,
        max_cost=1_000_000,
        context_window=window,
        compact_at=compact_at,
    )
    provider = Measured(script(steps))
    budget = Budget.from_limits(settings.budgets)
    metered = MeteredProvider(provider, settings.models, budget=budget)
    events: list[str] = []
    counter = [0]
    result = run_tool_loop(
        metered,
        system_prompt(),
        TASK,
        meta_tools(),
        lambda name, args: dispatch(name, args, counter),
        budget,
        lambda kind, **_: events.append(kind),
        code_tools=CODE_TOOLS,
    )
    return {
        "status": result.status,
        "inputs": provider.inputs,
        "max": max(provider.inputs),
        "median": statistics.median(provider.inputs),
        "total": sum(provider.inputs),
        "compactions": events.count("context_compacted"),
    }


def measure(steps: int = 40, window: int = 200_000, compact_at: float = 0.75) -> dict[str, Any]:
    whole = run(steps, 100_000_000, 0.99)
    compacted = run(steps, window, compact_at)
    bound = int(window * compact_at)
    return {
        "steps": steps,
        "window": window,
        "compact_at": compact_at,
        "bound": bound,
        "without": whole,
        "with": compacted,
        "within_bound": compacted["max"] <= bound,
        "simulated": True,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--window", type=int, default=200_000)
    parser.add_argument("--compact-at", type=float, default=0.75)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    m = measure(args.steps, args.window, args.compact_at)
    if args.json:
        print(json.dumps(m, indent=2))
        return 0 if m["within_bound"] else 1
    print(f"{'call':>4} {'without':>10} {'with':>10}")
    for index, (a, b) in enumerate(zip(m["without"]["inputs"], m["with"]["inputs"], strict=True), 1):
        print(f"{index:>4} {a:>10,} {b:>10,}")
    for key in ("max", "median", "total"):
        print(f"{key:>6} {m['without'][key]:>8,.0f} {m['with'][key]:>10,.0f}")
    verdict = "within" if m["within_bound"] else "OVER"
    print(
        f"\nbound {m['bound']:,} tokens ({m['compact_at']:g} of a {m['window']:,}-token window): compacted run "
        f"{verdict} it, {m['with']['compactions']} compaction(s); both runs {m['without']['status']}/"
        f"{m['with']['status']}. Input tokens estimated with agentfactory.llm.tokens (simulated model)."
    )
    return 0 if m["within_bound"] else 1


if __name__ == "__main__":
    sys.exit(main())
