"""What sharing a library costs per save: save, `library push`, and the teammate's `library pull`.

Two libraries (two "machines") share one bare git remote on this disk. Each round, machine A saves a
new version of a subagent and pushes; machine B pulls it (a fast-forward: nothing of B's own to merge).
Every 5th round B also saves a subagent of its own first, so its pull is a merge. Medians over --saves
rounds, beside raw `git push` / `git fetch` of the same repositories as anchors.

    python benchmarks/library_sync_perf.py [--saves 20] [--preload 200]

`--preload` subagents are saved before timing starts, so the figures are for a library of that size.
A pull here runs no sandbox: it carries no revision of a subagent B has changed itself (that would run
B's cases in the sandbox, which sandbox_perf.py measures).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from agentfactory.library import Library, build_subagent_folder

CODE = '''"""Add a constant.

Purpose: x plus {k}.
Inputs: x (int).
Outputs: y (int).
Limitations: none.
"""


def run(x: int) -> dict:
    return {{"y": x + {k}}}
'''


def _folder(root: Path, name: str, k: int) -> Path:
    folder = root / f"{name}-{k}" / name
    build_subagent_folder(folder, name=name, description=f"Adds {k} to a number ({name}).",
                          code=CODE.format(k=k), tools=[])  # fmt: skip
    return folder


def _timed(fn) -> float:  # noqa: ANN001
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=20)
    parser.add_argument("--preload", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="af-sync-") as tmp:
        root = Path(tmp)
        remote = root / "remote.git"
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
        a, b = Library(root / "a"), Library(root / "b")
        for i in range(args.preload):
            a.save(_folder(root / "src", f"tool-{i:05d}", 0))
        a.push(str(remote))
        b.pull(str(remote))
        times: dict[str, list[float]] = {k: [] for k in ("save", "push", "pull", "pull (merge)", "git push", "git fetch")}  # fmt: skip
        for r in range(1, args.saves + 1):
            times["save"].append(_timed(lambda r=r: a.save(_folder(root / "src", "shared", r))))
            times["push"].append(_timed(lambda: a.push(str(remote))))
            merge = r % 5 == 0
            if merge:
                b.save(_folder(root / "src", f"b-own-{r}", r))
            key = "pull (merge)" if merge else "pull"
            times[key].append(_timed(lambda: b.pull(str(remote))))
            if merge:
                b.push(str(remote))
                a.pull(str(remote))
            # Anchors: git itself moving the same objects (nothing new to send: the floor of a round trip).
            times["git push"].append(_timed(lambda: subprocess.run(
                ["git", "-C", str(a.path), "push", "-q", str(remote), "main"], capture_output=True)))  # fmt: skip
            times["git fetch"].append(_timed(lambda: subprocess.run(
                ["git", "-C", str(b.path), "fetch", "-q", str(remote), "main"], capture_output=True)))  # fmt: skip
        print(f"library of {args.preload} subagents, {args.saves} rounds, medians (ms)")
        for name, values in times.items():
            if values:
                print(f"  {name:14} {1000 * statistics.median(values):8.1f}   (n={len(values)})")
        per_save = statistics.median(times["push"]) + statistics.median(times["pull"])
        print(f"  push + pull per save: {1000 * per_save:.1f} ms")


if __name__ == "__main__":
    main()
