"""The headline figures: batch 1 vs batch 2 token cost of AgentFactory against ReAct and text lessons.

Runs the core suite (or --suite PATH) for every method from an empty library, on the simulated model
unless --model names a real one, and prints per method x batch totals, the ratios the project is
judged on, whether each target is met, and the output-only figures beside the AgentFactory paper's.

    python benchmarks/token_savings.py [--sandbox docker|local] [--model SPEC] [--out DIR]
                                       [--no-view-before-reuse]

On the simulated model (an oracle of equal competence, agentfactory_bench.rules) the figures measure
what orchestration costs; `--no-view-before-reuse` lets its Meta-Agent reuse a library subagent without
reading its code first.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from agentfactory_bench import CORE_SUITE, load_suite
from agentfactory_bench.harness import run_bench, write_outputs

from agentfactory.config import load_settings

# Average orchestrator output tokens per task reported by the AgentFactory paper (Opus 4.6).
PAPER_OUTPUT = {
    ("react", 1): 8298,
    ("react", 2): 7022,
    ("text-lessons", 1): 8608,
    ("text-lessons", 2): 6210,
    ("agentfactory", 1): 4324,
    ("agentfactory", 2): 2971,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=CORE_SUITE)
    parser.add_argument("--model", default="sim")
    parser.add_argument("--sandbox", default=None)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--no-view-before-reuse",
        dest="view_before_reuse",
        action="store_false",
        help="the simulated Meta-Agent reuses a library subagent without viewing its code first",
    )
    args = parser.parse_args()
    settings = load_settings({"model": args.model, "sandbox": args.sandbox})
    out = args.out or Path(tempfile.mkdtemp(prefix="agentfactory-tokens-"))
    suite = load_suite(args.suite)
    undeclared = suite.undeclared()
    if undeclared and args.model == "sim":
        print(
            f"Warning: {len(undeclared)} task(s) declare no capabilities, so the simulated model fails them: "
            + ", ".join(undeclared)
        )
    result = run_bench(suite, settings, root=out / "runs", view_before_reuse=args.view_before_reuse)
    paths = write_outputs(result, out)
    by = {(s["method"], s["batch"]): s for s in result.summary()}
    label = "SIMULATED MODEL (sim): not a real model's figures" if result.simulated else result.model
    view = "views code before reuse" if args.view_before_reuse else "no view before reuse"
    print(f"Suite {result.suite} · {label} · {view}\n")
    print(result.markdown())
    print("\nTargets:")
    af1, af2 = by[("agentfactory", 1)]["total_tokens"], by[("agentfactory", 2)]["total_tokens"]
    re1, re2 = by[("react", 1)]["total_tokens"], by[("react", 2)]["total_tokens"]
    all_ok = all(s["successes"] == s["tasks"] for s in result.summary())
    for name, value, limit in (
        ("AgentFactory batch 2 / ReAct batch 2", af2 / re2, 0.30),
        ("AgentFactory batch 2 / its batch 1", af2 / af1, 0.50),
        ("AgentFactory batch 1 / ReAct batch 1", af1 / re1, 1.00),
    ):
        print(f"  {name}: {value:.1%} (target <= {limit:.0%}) {'met' if value <= limit else 'NOT met'}")
    print(f"  every task checked successful: {'yes' if all_ok else 'NO'}")
    print("\nAverage orchestrator output tokens per task (ours | paper, Opus 4.6):")
    for key, paper in PAPER_OUTPUT.items():
        if key in by:
            ours = by[key]["orchestrator_output_tokens"] / max(1, by[key]["tasks"])
            print(f"  {key[0]:>13} batch {key[1]}: {ours:7.0f} | {paper}")
    print(f"\nFiles: {paths['markdown']}, {paths['json']}, {paths['chart']}")


if __name__ == "__main__":
    main()
