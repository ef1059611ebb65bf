"""The headline figures: batch 1 vs batch 2 cost of AgentFactory against ReAct and text lessons.

Runs the core suite (or --suite PATH) for every method from an empty library, on the simulated model
unless --model names a real one; agentfactory runs with `final` answers on and off (--final). Prints per
method x batch, over all tasks and over the tasks every method solved: tokens (input, output, cache
read, cache write), orchestrator output tokens per task, model calls, cost in USD under the prompt-cache
model, success; then each headline ratio for each `final` mode, how often final answers were used and
failed their checker, and the output-only figures beside the AgentFactory paper's (a different
experiment: real models, output tokens only, no answer checking). No target is set: figures as measured.

    python benchmarks/token_savings.py [--sandbox docker|local] [--model SPEC] [--final on|off|both]
                                       [--repeat N] [--record DIR] [--out DIR] [--no-view-before-reuse]

On the simulated model (an oracle of equal competence, agentfactory_bench.rules) the figures measure
what orchestration costs; `--no-view-before-reuse` lets its Meta-Agent reuse a library subagent without
reading its code first.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from agentfactory_bench import CORE_SUITE, load_suite
from agentfactory_bench.harness import METHODS, run_bench, write_outputs

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
FINALS = {"on": ("on",), "off": ("off",), "both": ("on", "off")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=CORE_SUITE)
    parser.add_argument("--model", default="sim")
    parser.add_argument("--sandbox", default=None)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--final", choices=sorted(FINALS), default="both")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--record", type=Path, default=None, help="keep every model call as JSON lines")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--no-view-before-reuse",
        dest="view_before_reuse",
        action="store_false",
        help="the simulated Meta-Agent reuses a library subagent without viewing its code first",
    )
    args = parser.parse_args()
    settings = load_settings({"model": args.model, "sandbox": args.sandbox})
    out = args.out or args.record or Path(tempfile.mkdtemp(prefix="agentfactory-tokens-"))
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    suite = load_suite(args.suite)
    undeclared = suite.undeclared()
    if undeclared and args.model == "sim":
        print(
            f"Warning: {len(undeclared)} task(s) declare no capabilities, so the simulated model fails them: "
            + ", ".join(undeclared)
        )
    result = run_bench(
        suite,
        settings,
        methods=methods,
        finals=FINALS[args.final],
        repeat=args.repeat,
        root=out / "runs",
        record=args.record,
        view_before_reuse=args.view_before_reuse,
    )
    paths = write_outputs(result, out)
    label = "SIMULATED MODEL (sim): not a real model's figures" if result.simulated else result.model
    view = "views code before reuse" if args.view_before_reuse else "no view before reuse"
    print(f"Suite {result.suite} · {label} · {view}\n")
    print(result.markdown())
    unsolved = sorted({(r.label, r.task_id) for r in result.rows if not r.success})
    print(f"\nEvery task solved by every method: {'yes' if not unsolved else 'NO'}")
    for method, task in unsolved:
        print(f"  not solved: {method} · {task}")
    print("\nOrchestrator output tokens per task, the paper's metric (ours, all tasks | paper, Opus 4.6):")
    by = {(s["method"], s["batch"]): s for s in result.summary()}
    for key, paper in PAPER_OUTPUT.items():
        if key in by:
            print(f"  {key[0]:>13} batch {key[1]}: {by[key]['orchestrator_output_per_task']:7,} | {paper:,}")
    print(f"\nFiles: {paths['markdown']}, {paths['json']}, {paths['chart']}")


if __name__ == "__main__":
    main()
