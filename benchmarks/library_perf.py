"""Library performance at scale (default 50,000 subagents), each figure beside its anchor.

    python benchmarks/library_perf.py [--n 50000] [--saves 30] [--searches 300] [--keep DIR]

The library is built with git plumbing (blobs through `git fast-import`, folder trees through
`git mktree --batch`, one commit, repacked and checked out, as a long-lived library is), then the search
index is rebuilt from it. Then, measured in the same run, medians each beside its anchor:

- save (`Library.save` of an edited subagent)   vs  raw `git add` + `git commit` of the same edit;
- search p50 / p99 (`Library.search`, k=5)       vs  the raw ranked FTS5 query (bm25 with the same
                                                     weights) over the same columns, built beside;
- `agentfactory library list --json` as a new process (wall time and peak RSS)
                                                 vs  a raw process selecting every row and printing JSON.

Targets at 50,000: save <= 100 ms, search p50 <= 10 ms, list --json <= 0.5 s and <= 60 MB. Each figure
also has its CPU time beside the anchor's (git children included): on a shared machine the load inflates
wall times, not CPU times. `--keep DIR --reuse` measures a library kept by an earlier run again.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agentfactory.library import Library
from agentfactory.library.index import query_phrases, query_terms, search_columns
from agentfactory.library.ranking import COLUMNS, TOKENIZE, WEIGHTS

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

RAW_LIST = r"""
import json, sqlite3, sys
conn = sqlite3.connect(sys.argv[1])
rows = conn.execute("SELECT name, version, description, signature, tools, tags FROM subagents ORDER BY name")
keys = ("name", "version", "description", "signature", "tools", "tags")
sys.stdout.write(json.dumps([dict(zip(keys, r)) for r in rows], indent=2) + "\n")
"""


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


def _git(path: Path, *args: str, input: bytes | None = None) -> bytes:
    return subprocess.run(
        ["git", "-C", str(path), *args], input=input, capture_output=True, check=True
    ).stdout


def build(path: Path, n: int) -> None:
    """N subagent folders in one commit on top of a fresh library, through git plumbing only: the blobs
    in one `fast-import` pack, the folder trees in one `mktree --batch`, the root tree by `mktree`.
    (fast-import's own tree building is quadratic in the entries of one folder, hence not used for it.)"""
    lib = Library(path)
    lib.ensure()
    head = lib.head()
    rng = random.Random(n)
    marks = path / ".git" / "bench-marks"
    proc = subprocess.Popen(
        ["git", "-C", str(path), "fast-import", "--quiet", "--done", f"--export-marks={marks}"],
        stdin=subprocess.PIPE,
    )
    assert proc.stdin is not None
    folders: list[tuple[str, list[tuple[str, int]]]] = []
    mark = 0
    for i in range(n):
        name, files = _corpus(i, rng)
        rows = []
        for rel, data in sorted(files.items()):
            mark += 1
            proc.stdin.write(b"blob\nmark :%d\ndata %d\n%s\n" % (mark, len(data), data))
            rows.append((rel, mark))
        folders.append((name, rows))
    proc.stdin.write(b"done\n")
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    sha = {}
    for line in marks.read_text().splitlines():
        key, value = line.split()
        sha[int(key[1:])] = value.encode()
    marks.unlink()
    folders.sort()
    batch = b"".join(
        b"".join(b"100644 blob %s\t%s\n" % (sha[m], rel.encode()) for rel, m in rows) + b"\n"
        for _, rows in folders
    )
    trees = _git(path, "mktree", "--batch", input=batch).split()
    root = _git(path, "ls-tree", head)
    root += b"".join(
        b"040000 tree %s\t%s\n" % (t, name.encode()) for t, (name, _) in zip(trees, folders, strict=True)
    )
    tree = _git(path, "mktree", input=root).strip().decode()
    commit = _git(path, "commit-tree", tree, "-p", head, "-m", f"import {n} subagents").strip().decode()
    _git(path, "update-ref", "HEAD", commit, head)
    _git(path, "repack", "-adq")  # a long-lived library is packed; loose objects would flatter nothing
    _git(path, "prune")
    _git(path, "read-tree", "-u", "--reset", "HEAD")  # the work tree and git index a real library has


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


# Spawns the measured command and reports its wall time and peak RSS: measured from a small parent, as
# a child's peak RSS starts from its parent's size (the benchmark process is large).
TIMER = r"""
import os, sys, time
t = time.perf_counter()
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ, file_actions=[(os.POSIX_SPAWN_OPEN, 1, sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)])
_, status, usage = os.wait4(pid, 0)
sys.stderr.write(f"{time.perf_counter() - t} {usage.ru_utime + usage.ru_stime} {usage.ru_maxrss}\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _process(argv: list[str], out: Path) -> tuple[float, float, float, bytes]:
    """Wall seconds, CPU seconds, peak RSS in MB and stdout of one new process."""
    proc = subprocess.run([sys.executable, "-c", TIMER, str(out), *argv], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[:4]}... exited with {proc.returncode}: {proc.stderr[-500:]}")
    wall, cpu, rss_kb = proc.stderr.split()[-3:]
    return float(wall), float(cpu), int(rss_kb) / 1024, out.read_bytes()


def _cpu() -> float:
    """CPU seconds of this process and its finished children (git): a figure the machine's load does
    not inflate the way it inflates wall time."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _edit(lib: Library, name: str, dest: Path, j: int) -> Path:
    lib.export(name, None, dest)
    code = dest / name / (name.replace("-", "_") + ".py")
    code.write_text(code.read_text() + f"\n# edit {j}\n")
    return dest / name


def measure(root: Path, n: int, saves: int, searches: int, runs: int, reuse: bool = False) -> None:
    path = root / f"lib-{n}"
    if reuse and Library(path).exists():
        print(f"reusing the library at {path} ({len(Library(path).list())} subagents)", flush=True)
    else:
        t0 = time.perf_counter()
        build(path, n)
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        count = Library(path).reindex()
        rebuild_s = time.perf_counter() - t0
        assert count == n, (count, n)
        print(f"built {n} subagents in {build_s:.1f} s, index rebuilt in {rebuild_s:.1f} s", flush=True)

    lib = Library(path)
    names = [i.name for i in lib.list()]
    rng = random.Random(7)
    tmp = root / "edits"
    shutil.rmtree(tmp, ignore_errors=True)
    ours, raw, ours_cpu, raw_cpu = [], [], [], []
    for j in range(saves):
        folder = _edit(lib, rng.choice(names), tmp / f"s{j}", j)
        t, c = time.perf_counter(), _cpu()
        assert lib.save(folder, run_id=f"bench-{j}").changed
        ours.append(time.perf_counter() - t)
        ours_cpu.append(_cpu() - c)
    for j in range(saves):  # after ours: a commit behind the library's back makes its index stale
        name = rng.choice(names)
        target = path / name / (name.replace("-", "_") + ".py")
        target.write_text(target.read_text() + f"\n# raw edit {j}\n")
        t, c = time.perf_counter(), _cpu()
        _git(path, "add", "--", name)
        _git(path, "commit", "-q", "--no-verify", "-m", f"raw edit {j}")
        raw.append(time.perf_counter() - t)
        raw_cpu.append(_cpu() - c)
    row(
        "save (median)",
        statistics.median(ours) * 1e3,
        "ms",
        "raw git add + commit",
        statistics.median(raw) * 1e3,
    )
    # The first save after git wrote a new shared index walks it once (the positions sidecar, see
    # library/_gitindex.py); every later save reads only the small split part.
    print(f"  first save {ours[0] * 1e3:.0f} ms, p90 {pct(ours, 0.9) * 1e3:.0f} ms", flush=True)
    row(
        "  its CPU (median)",
        statistics.median(ours_cpu) * 1e3,
        "ms",
        "raw git CPU",
        statistics.median(raw_cpu) * 1e3,
    )

    lib = Library(path)
    lib.search("warm up")
    conn = sqlite3.connect(fts_anchor(lib, root / f"fts-{n}.sqlite"))
    ours, raw, ours_cpu, raw_cpu = [], [], [], []
    for i in range(searches):
        q = QUERIES[i % len(QUERIES)]
        t, c = time.perf_counter(), time.process_time()
        hits = lib.search(q, k=5)
        ours.append(time.perf_counter() - t)
        ours_cpu.append(time.process_time() - c)
        assert hits
        t, c = time.perf_counter(), time.process_time()
        conn.execute(
            "SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY bm25(fts, ?, ?, ?, ?, ?) LIMIT 5",
            (fts_query(query_terms(q)), *WEIGHTS),
        ).fetchall()
        raw.append(time.perf_counter() - t)
        raw_cpu.append(time.process_time() - c)
    conn.close()
    row("search p50", pct(ours, 0.5) * 1e3, "ms", "raw ranked FTS5 query", pct(raw, 0.5) * 1e3)
    row("  its CPU p50", pct(ours_cpu, 0.5) * 1e3, "ms", "raw query CPU", pct(raw_cpu, 0.5) * 1e3)
    row("search p99", pct(ours, 0.99) * 1e3, "ms", "raw ranked FTS5 query", pct(raw, 0.99) * 1e3)

    cli = [sys.executable, "-m", "agentfactory", "library", "list", "--json", "--library", str(path)]
    bare = [sys.executable, "-c", RAW_LIST, str(path / ".git" / "agentfactory" / "index.sqlite")]
    walls, rss, raw_walls, raw_rss, cpus, raw_cpus = [], [], [], [], [], []
    for _ in range(runs):
        wall, cpu, mb, out = _process(cli, root / "out.json")
        assert len(json.loads(out)) == len(names)
        walls.append(wall)
        cpus.append(cpu)
        rss.append(mb)
        wall, cpu, mb, out = _process(bare, root / "out.json")
        raw_walls.append(wall)
        raw_cpus.append(cpu)
        raw_rss.append(mb)
    row(
        "library list --json",
        statistics.median(walls),
        "s",
        "raw select process",
        statistics.median(raw_walls),
    )
    row("  its CPU", statistics.median(cpus), "s", "raw select process", statistics.median(raw_cpus))
    row("  its peak RSS", statistics.median(rss), "MB", "raw select process", statistics.median(raw_rss))
    shutil.rmtree(tmp, ignore_errors=True)


def fts_anchor(lib: Library, file: Path) -> Path:
    """An FTS5 table of the same columns and tokenizer as the library's search, at its HEAD: the raw
    ranked query the search is compared with. Kept beside the library and rebuilt when HEAD moves."""
    head = lib.head() + " prefix 3 4, optimized"  # what the table was built from, and how
    conn = sqlite3.connect(file)
    conn.execute("CREATE TABLE IF NOT EXISTS meta(head TEXT)")
    if conn.execute("SELECT head FROM meta").fetchone() != (head,):
        conn.execute("DROP TABLE IF EXISTS fts")
        conn.execute(
            f"CREATE VIRTUAL TABLE fts USING fts5({', '.join(COLUMNS)}, tokenize = '{TOKENIZE}', prefix = '3 4')"
        )  # the table the index searched before it kept postings of its own
        subs = lib._index._parse_many(lib.head(), None)
        conn.executemany("INSERT INTO fts VALUES (?,?,?,?,?)", map(search_columns, subs))
        conn.execute("INSERT INTO fts(fts) VALUES ('optimize')")  # one segment: FTS5 at its fastest
        conn.execute("DELETE FROM meta")
        conn.execute("INSERT INTO meta VALUES (?)", (head,))
        conn.commit()
    conn.close()
    return file


def fts_query(terms: list[str]) -> str:
    """The search's phrases as an FTS5 MATCH expression."""
    return " OR ".join(f'"{word}"*' if prefix else f'"{word}"' for word, prefix in query_phrases(terms))


def row(label: str, value: float, unit: str, anchor: str, anchor_value: float) -> None:
    fmt = "{:>9.3f} {}" if unit == "s" else "{:>9.1f} {}"
    print(
        f"{label:<22} {fmt.format(value, unit):<13}  {anchor:<24} {fmt.format(anchor_value, unit)}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000, help="Subagents in the library (default 50000).")
    parser.add_argument("--saves", type=int, default=30)
    parser.add_argument("--searches", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5, help="New `library list` processes to time.")
    parser.add_argument("--keep", type=Path, default=None, help="Build the library here and keep it.")
    parser.add_argument("--reuse", action="store_true", help="With --keep: measure the library kept there.")
    args = parser.parse_args()
    # The figures are wall times: on a shared machine, say how busy it was.
    print("load average at start: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()), flush=True)
    root = args.keep or Path(tempfile.mkdtemp(prefix="libperf-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        measure(root, args.n, args.saves, args.searches, args.runs, args.reuse)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    print("load average at end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    print("targets at 50,000: save <= 100 ms, search p50 <= 10 ms, list --json <= 0.5 s and <= 60 MB")


if __name__ == "__main__":
    main()
