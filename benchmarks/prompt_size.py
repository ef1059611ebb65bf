"""Size of what the Meta-Agent sends before any conversation: system prompt plus tool definitions.

Prints the count with AgentFactory's tokenizer (`agentfactory.llm.tokens.count_request_tokens` with an
empty conversation, the count every scripted and simulated run uses) and, for comparison, a second
rough method (characters / 4). Issue 5's target: at most 1,500 tokens (the reference implementation
sends about 5,800). Also shows the first message of a run with an empty library, which is not part of
the stable prefix.

    python benchmarks/prompt_size.py [--json]
"""

from __future__ import annotations

import json
import sys

from agentfactory.llm.tokens import count_request_tokens, count_tokens, tool_definition_text
from agentfactory.meta.agent import system_prompt
from agentfactory.meta.skills import meta_tools

TARGET_TOKENS = 1500
REFERENCE_TOKENS = 5800


def measure() -> dict:
    system = system_prompt()
    tools = meta_tools()
    per_tool = {
        t.name: {
            "tokens": count_request_tokens("", [], [t]),
            "chars": len(tool_definition_text(t)),
        }
        for t in tools
    }
    chars = len(system) + sum(v["chars"] for v in per_tool.values())
    total = count_request_tokens(system, [], tools)
    return {
        "system_tokens": count_tokens(system),
        "system_chars": len(system),
        "tools": per_tool,
        "tool_tokens": sum(v["tokens"] for v in per_tool.values()),
        "total_tokens": total,
        "total_chars": chars,
        "total_chars_div_4": round(chars / 4),
        "target_tokens": TARGET_TOKENS,
        "reference_tokens": REFERENCE_TOKENS,
        "ratio_to_reference": round(total / REFERENCE_TOKENS, 3),
    }


def main() -> int:
    m = measure()
    if "--json" in sys.argv[1:]:
        print(json.dumps(m, indent=2))
    else:
        print(f"{'part':<20} {'tokens':>7} {'chars':>7} {'chars/4':>8}")
        print(f"{'system prompt':<20} {m['system_tokens']:>7} {m['system_chars']:>7} "
              f"{round(m['system_chars'] / 4):>8}")  # fmt: skip
        for name, v in m["tools"].items():
            print(f"{'tool ' + name:<20} {v['tokens']:>7} {v['chars']:>7} {round(v['chars'] / 4):>8}")
        print(f"{'total':<20} {m['total_tokens']:>7} {m['total_chars']:>7} {m['total_chars_div_4']:>8}")
        verdict = "within" if m["total_tokens"] <= TARGET_TOKENS else "OVER"
        print(
            f"\n{verdict} the {TARGET_TOKENS:,}-token target; {m['ratio_to_reference']:.2f}x the reference "
            f"implementation's ~{REFERENCE_TOKENS:,} (tokenizer: agentfactory.llm.tokens, not a provider's)"
        )
    return 0 if m["total_tokens"] <= TARGET_TOKENS else 1


if __name__ == "__main__":
    sys.exit(main())
