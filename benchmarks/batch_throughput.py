"""Task streams: tasks per minute for 1, 2 and 4 local workers and on a local Ray cluster, and Ray's
per-task overhead against local workers. Scripted model, local sandbox, the same stream each time.

    python benchmarks/batch_throughput.py [--tasks 12] [--repeat 3] [--no-ray]

Each configuration runs `agentfactory batch` as a user would (a new project folder each time, so every
run starts from an empty library); medians over --repeat runs. Ray's figure includes nothing of its
start-up: the batch's own clock starts after the cluster is up.
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
    args = parser.parse_args()
    configs = [(f"local, {n} worker{'s' * (n > 1)}", ["--workers", str(n)]) for n in (1, 2, 4)]
    if not args.no_ray and importlib.util.find_spec("ray"):
        configs.append(("ray (local cluster), 2 workers", ["--workers", "2", "--ray", "auto"]))
    times: dict[str, list[float]] = {name: [] for name, _ in configs}
    with tempfile.TemporaryDirectory(prefix="af-batch-bench-") as tmp:
        for r in range(args.repeat):  # interleaved: each repeat runs every configuration once
            for i, (name, flags) in enumerate(configs):
                times[name].append(_run(_project(Path(tmp) / f"{r}-{i}", args.tasks), *flags))
    print(f"{args.tasks} tasks per batch, medians of {args.repeat} runs (scripted model, local sandbox, "
          f"{os.cpu_count()} cores)\n")  # fmt: skip
    print(f"{'configuration':34} {'batch s':>8} {'tasks/min':>10} {'s/task':>7}")
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"{name:34} {median:8.2f} {args.tasks / median * 60:10.1f} {median / args.tasks:7.2f}")
    ray_name = next((n for n in medians if n.startswith("ray")), None)
    if ray_name:
        local2 = medians["local, 2 workers"]
        overhead = (medians[ray_name] - local2) / args.tasks
        print(f"\nRay per-task overhead against 2 local workers: {overhead * 1000:+.0f} ms "
              f"(ratio {medians[ray_name] / local2:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
