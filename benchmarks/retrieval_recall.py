"""Retrieval quality with no model: for each batch-2 task of a suite, is the subagent it needs (its first
capability) among the matches the Meta-Agent's first message offers? recall@1 and recall@3 with 0, 100
and 1,000 distractor subagents in the library (plausible names and descriptions across many domains,
generated deterministically, saved through the product's Library API).

    python benchmarks/retrieval_recall.py [--suite PATH] [--distractors 0,100,1000] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from agentfactory_bench import CORE_SUITE, load_suite
from agentfactory_bench.retrieval import add_distractors, build_library, needed, recall

from agentfactory.config import load_settings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", type=Path, default=CORE_SUITE)
    parser.add_argument("--distractors", default="0,100,1000", help="comma-separated library sizes")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    suite = load_suite(args.suite)
    sizes = sorted({int(x) for x in args.distractors.split(",") if x.strip()})
    tasks = [t for t in suite.tasks if t.batch == 2 and needed(t)]
    if not tasks:
        print(f"Suite {suite.name} has no batch-2 task that declares capabilities: nothing to measure.")
        return 2
    settings = load_settings({})
    results = []
    with tempfile.TemporaryDirectory(prefix="af-retrieval-lib-") as tmp:
        library = build_library(Path(tmp) / "lib", suite, 0)
        skip = {c for t in suite.tasks for c in t.capabilities}
        have = 0
        for size in sizes:
            add_distractors(library, have, size, skip)
            have = size
            results.append(recall(suite, library, settings, size))
    if args.json:
        print(json.dumps({"suite": suite.name, "results": [r.to_json() for r in results]}, indent=2))
        return 0
    print(f"Suite {suite.name}: {len(tasks)} batch-2 tasks; the first message offers up to 3 matches.\n")
    print("| distractors | recall@1 | recall@3 |\n|---|---|---|")
    for r in results:
        print(f"| {r.distractors:,} | {r.at1:.0%} | {r.at3:.0%} |")
    for r in results:
        for task, want, shown in r.misses:
            print(
                f"  {r.distractors:>5} distractors · {task}: needs {want}, offered {', '.join(shown) or 'nothing'}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
