"""Task streams: tasks per minute for 1, 2 and 4 local workers and the same on a local Ray cluster,
Ray's per-task overhead against local workers, Ray nodes on clones of one library remote (`--remote`:
a pull before and a push after every task), and what a push and a pull cost per save.
Scripted model, local sandbox, the same stream each time.

    python benchmarks/batch_throughput.py [--tasks 12] [--repeat 3] [--no-ray] [--saves 10] [--preload 50]

Each configuration runs `agentfactory batch` as a user would (a new project folder each time, so every
run starts from an empty library, and a new bare remote for `--remote`); medians over --repeat runs,
the configurations interleaved. Ray's figures include nothing of its start-up: the batch's own clock
starts after the cluster is up. The push + pull cost per save comes from library_sync_perf.py (two
libraries sharing a bare remote, medians over --saves rounds, a library of --preload subagents).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CODE = '''"""Upper-case a text.

Purpose: the text in capitals.
Inputs: text (str).
Outputs: upper (str).
Limitations: none.
"""


def run(text: str) -> dict:
    return {"upper": text.upper()}
'''


def _project(root: Path, tasks: int) -> Path:
    root.mkdir(parents=True)
    call = lambda tool, **args: {"tool_calls": [{"name": tool, "arguments": args}]}  # noqa: E731
    script = [
        call("create_subagent", name="upper", description="Upper-case a text.", code=CODE),
        call("run_subagent", name="upper", inputs={"text": "abc"}),
        call("finish", answer="ABC", save=["upper"]),
    ]
    (root / "replies.json").write_text(json.dumps(script))
    (root / "agentfactory.toml").write_text(
        f'model = "scripted:{root / "replies.json"}"\nsandbox = "local"\nlibrary = "lib"\nworkspaces = "ws"\n'
    )
    lines = [json.dumps({"id": f"t{i:03d}", "task": f"Upper-case abc ({i})"}) for i in range(tasks)]
    (root / "tasks.jsonl").write_text("\n".join(lines) + "\n")
    return root


def _run(root: Path, *args: str) -> float:
    if "--remote" in args:
        remote = Path(args[args.index("--remote") + 1])
        subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTFACTORY_")}
    out = subprocess.run(
        [sys.executable, "-m", "agentfactory", "batch", "tasks.jsonl", "--json", *args],
        cwd=root, capture_output=True, text=True, env=env, timeout=3600,
    )  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"batch failed ({out.returncode}): {out.stderr[-2000:]}")
    summary = json.loads(out.stdout)
    assert summary["counts"] == {"success": summary["tasks"]}, summary["counts"]
    return summary["duration_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=12)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--saves", type=int, default=10, help="rounds of library_sync_perf.py")
    parser.add_argument("--preload", type=int, default=50, help="library size of library_sync_perf.py")
    args = parser.parse_args()
    workers = (1, 2, 4)
    plural = lambda n: f"{n} worker{'s' * (n > 1)}"  # noqa: E731
    configs = [(f"local, {plural(n)}", ["--workers", str(n)]) for n in workers]
    ray = not args.no_ray and importlib.util.find_spec("ray") is not None
    if ray:
        configs += [
            (f"ray (local cluster), {plural(n)}", ["--workers", str(n), "--ray", "auto"]) for n in workers
        ]
    times: dict[str, list[float]] = {name: [] for name, _ in configs}
    with tempfile.TemporaryDirectory(prefix="af-batch-bench-") as tmp:
        if ray:  # nodes on clones of one remote: a pull before and a push after every task
            name = "ray, 2 workers on clones (--remote)"
            times[name] = []
            configs.append(
                (name, ["--workers", "2", "--ray", "auto", "--remote", "{remote}", "--clones", "{clones}"])
            )
        for r in range(args.repeat):  # interleaved: each repeat runs every configuration once
            for i, (name, flags) in enumerate(configs):
                folder = Path(tmp) / f"{r}-{i}"
                flags = [f.format(remote=folder / "team.git", clones=folder / "clones") for f in flags]
                times[name].append(_run(_project(folder / "project", args.tasks), *flags))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{args.tasks} tasks per batch, medians of {args.repeat} runs (scripted model, local sandbox, "
          f"{os.cpu_count()} cores, load average {load} at the end: a shared machine slows every figure)\n")  # fmt: skip
    print(f"{'configuration':38} {'batch s':>8} {'tasks/min':>10} {'s/task':>7}")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"{name:38} {median:8.2f} {args.tasks / median * 60:10.1f} {median / args.tasks:7.2f}")
    if ray:
        print()
        for n in workers:
            local, on_ray = medians[f"local, {plural(n)}"], medians[f"ray (local cluster), {plural(n)}"]
            print(f"Ray per-task overhead against {plural(n)} on this machine: "
                  f"{(on_ray - local) / args.tasks * 1000:+.0f} ms (ratio {on_ray / local:.2f})")  # fmt: skip
        clones, ray2 = (
            medians["ray, 2 workers on clones (--remote)"],
            medians["ray (local cluster), 2 workers"],
        )
        print(f"Clones of one remote against one shared library, 2 Ray workers: "
              f"{(clones - ray2) / args.tasks * 1000:+.0f} ms per task (pull + push, rebases included)")  # fmt: skip
    print(
        f"\nPush and pull per save (benchmarks/library_sync_perf.py --saves {args.saves} --preload {args.preload}):"
    )
    out = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("library_sync_perf.py")), "--saves", str(args.saves),
         "--preload", str(args.preload)], capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    print(
        out.stdout.rstrip() if out.returncode == 0 else f"  library_sync_perf.py failed: {out.stderr[-500:]}"
    )


if __name__ == "__main__":
    main()
