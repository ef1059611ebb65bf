"""Library performance at 100, 1,000 and 10,000 subagents: search, save, list and index rebuild.

    python benchmarks/library_perf.py [--sizes 100,1000,10000] [--keep DIR]

Each library is built quickly (all folders written, then one commit), the index is rebuilt from it
(timed), then real `Library` calls are timed on it: 300 searches, 30 saves of changed subagents,
`list()` in-process and `agentfactory library list` as a fresh process. Targets at 10,000: search
p50 <= 5 ms and p99 <= 20 ms, save p50 <= 200 ms, list < 1 s, rebuild < 30 s.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agentfactory.library import Library
from agentfactory.library._git import ZERO

VERBS = [
    "parse",
    "count",
    "plot",
    "fetch",
    "clean",
    "merge",
    "split",
    "convert",
    "summarize",
    "detect",
    "extract",
    "rank",
    "score",
    "filter",
    "dedupe",
]
OBJECTS = [
    "csv",
    "json",
    "html",
    "text",
    "dates",
    "emails",
    "images",
    "logs",
    "reviews",
    "prices",
    "tables",
    "urls",
    "words",
    "columns",
    "series",
]
ADJ = ["fast", "robust", "simple", "nested", "large", "streaming", "fuzzy", "weighted", "rolling", "daily"]
QUERIES = [
    "summary statistics of a csv file",
    "count the words in a text",
    "extract links from an html page",
    "plot a time series chart",
    "remove duplicate rows",
    "parse dates into iso format",
    "score sentiment of reviews",
    "convert json to csv",
    "detect anomalies in logs",
    "rank urls by price",
]

SKILL = """---
name: {name}
description: {desc}
metadata:
  version: '1'
  tags: {tags}
---

# {name}

## Purpose

{desc}
"""
CODE = '''"""{desc}

Inputs:
- {obj}_path (str): where the {obj} are
- window: size of the {adj} window
"""


def run({obj}_path: str, window: int = 30) -> dict:
    return {{"n": window}}
'''


def _corpus(i: int, rng: random.Random) -> tuple[str, dict[str, bytes]]:
    verb, obj, adj = rng.choice(VERBS), rng.choice(OBJECTS), rng.choice(ADJ)
    name = f"{verb}-{adj}-{obj}-{i}"
    desc = f"{verb.capitalize()} {adj} {obj} and return the result; use it to {rng.choice(VERBS)} {rng.choice(OBJECTS)}."
    files = {
        "SKILL.md": SKILL.format(name=name, desc=desc, tags=f"{obj}, {verb}").encode(),
        name.replace("-", "_") + ".py": CODE.format(desc=desc, obj=obj, adj=adj).encode(),
        "cases.jsonl": (f'{{"inputs": {{"{obj}_path": "x"}}, "expected": {{"n": 30}}}}\n').encode(),
    }
    return name, files


def build(path: Path, n: int) -> Library:
    """N folders written straight into the work tree, committed once (plumbing, like a save)."""
    lib = Library(path)
    lib.ensure()
    rng = random.Random(n)
    for i in range(n):
        name, files = _corpus(i, rng)
        folder = path / name
        folder.mkdir()
        for rel, data in files.items():
            (folder / rel).write_bytes(data)
    lib.git.run("add", "-A", "-f", "--", ".")
    tree = lib.git.text("write-tree")
    head = lib.head()
    commit = lib.git.text("commit-tree", tree, "-p", head, input=f"import {n} subagents\n".encode())
    lib.git.run("update-ref", "HEAD", commit, head)
    lib.git.run("gc", "--quiet")  # a long-lived library is packed; loose objects would flatter nothing
    assert ZERO not in commit
    return lib


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def measure(root: Path, n: int) -> dict[str, float]:
    path = root / f"lib-{n}"
    t0 = time.perf_counter()
    lib = build(path, n)
    build_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    count = Library(path).reindex()
    rebuild_s = time.perf_counter() - t0
    assert count == n, (count, n)

    lib = Library(path)
    lib.search("warm up")
    times = []
    for i in range(300):
        q = QUERIES[i % len(QUERIES)]
        t = time.perf_counter()
        hits = lib.search(q, k=5)
        times.append(time.perf_counter() - t)
        assert hits
    search_p50, search_p99 = pct(times, 0.5) * 1e3, pct(times, 0.99) * 1e3

    names = [i.name for i in lib.list()]
    rng = random.Random(7)
    tmp = root / f"edit-{n}"
    saves = []
    for j in range(30):
        name = rng.choice(names)
        dest = tmp / str(j)
        lib.export(name, None, dest)
        code = dest / name / (name.replace("-", "_") + ".py")
        code.write_text(code.read_text() + f"\n# edit {j}\n")
        t = time.perf_counter()
        result = lib.save(dest / name, run_id=f"bench-{j}")
        saves.append(time.perf_counter() - t)
        assert result.changed
    save_p50 = statistics.median(saves) * 1e3

    fresh = Library(path)
    t = time.perf_counter()
    listed = fresh.list()
    list_api_s = time.perf_counter() - t
    assert len(listed) == n
    t = time.perf_counter()
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from agentfactory.cli import main; main()",
            "library",
            "list",
            "--library",
            str(path),
        ],
        capture_output=True,
        text=True,
    )
    list_cli_s = time.perf_counter() - t
    if out.returncode != 0 or out.stdout.count("\n") != n + 1:
        print(out.stderr[-500:], file=sys.stderr)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import agentfactory.cli"], capture_output=True)
    import_s = time.perf_counter() - t
    shutil.rmtree(tmp, ignore_errors=True)
    return {
        "n": n,
        "build_s": build_s,
        "rebuild_s": rebuild_s,
        "search_p50_ms": search_p50,
        "search_p99_ms": search_p99,
        "save_p50_ms": save_p50,
        "save_max_ms": max(saves) * 1e3,
        "list_api_s": list_api_s,
        "list_cli_s": list_cli_s,
        "cli_import_s": import_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--keep", type=Path, default=None, help="Build the libraries here and keep them.")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="libperf-"))
    root.mkdir(parents=True, exist_ok=True)
    header = (
        f"{'subagents':>9}  {'search p50':>10}  {'search p99':>10}  {'save p50':>9}  {'save max':>9}  "
        f"{'list()':>7}  {'list CLI':>8}  {'(CLI import)':>12}  {'rebuild':>8}  {'build':>7}"
    )
    print(header)
    try:
        for n in (int(s) for s in args.sizes.split(",")):
            r = measure(root, n)
            print(
                f"{r['n']:>9}  {r['search_p50_ms']:>8.2f}ms  {r['search_p99_ms']:>8.2f}ms  {r['save_p50_ms']:>7.1f}ms  "
                f"{r['save_max_ms']:>7.1f}ms  {r['list_api_s']:>6.3f}s  {r['list_cli_s']:>7.3f}s  "
                f"{r['cli_import_s']:>11.3f}s  {r['rebuild_s']:>7.2f}s  {r['build_s']:>6.1f}s",
                flush=True,
            )
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print(
        "targets at 10,000: search p50 <= 5 ms, p99 <= 20 ms; save p50 <= 200 ms; list < 1 s; rebuild < 30 s"
    )


if __name__ == "__main__":
    main()
