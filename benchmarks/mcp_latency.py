"""Latency of `run_subagent` over MCP (stdio client) against `agentfactory sandbox exec`, same subagent.

A temporary project holds one library subagent (word count, standard library only). The MCP side starts
`agentfactory mcp serve` once, as an MCP host does, and times N `run_subagent` calls from the official
mcp client (each one a recorded run: workspace, event log, experience store, sandbox execution, output
files read back). The CLI side times N `agentfactory sandbox exec` processes on the same module and
inputs (interpreter start, one sandbox execution, trace printed). Both use the same sandbox backend.
Prints every sample, then the median, min and max of each, and the server's cold start.

    python benchmarks/mcp_latency.py [--n 10] [--sandbox local|docker] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
NAME = "word-count"
CODE = '''"""Count the words of a text.

Purpose: the number of whitespace-separated words of `text`.
Inputs: text (str).
Outputs: words (int); writes outputs/report.txt with the count.
Limitations: none.
"""

import os


def run(text: str = "") -> dict:
    words = len(text.split())
    os.makedirs("outputs", exist_ok=True)
    with open("outputs/report.txt", "w", encoding="utf-8") as fh:
        fh.write(f"words: {words}\\n")
    return {"words": words}
'''
INPUTS = {"text": "the quick brown fox jumps over the lazy dog"}


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTFACTORY_", "OTEL_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    return env


def _project(root: Path) -> None:
    from agentfactory.library import Library, build_subagent_folder

    library = Library(root / "lib")
    library.ensure()
    folder = build_subagent_folder(
        root / "src" / NAME,
        name=NAME,
        description="Count the words of a text.",
        code=CODE,
        cases=[{"inputs": INPUTS, "expected": {"words": 9}}],
    )
    library.save(folder, message="benchmark")
    (root / "word_count.py").write_text(CODE, encoding="utf-8")


def time_mcp(root: Path, n: int, sandbox: str) -> tuple[float, list[float]]:
    import anyio
    from mcp import ClientSession, StdioServerParameters, stdio_client

    args = ["-m", "agentfactory", "mcp", "serve", "--project", str(root), "--sandbox", sandbox,
            "--library", str(root / "lib"), "--workspaces", str(root / "ws")]  # fmt: skip
    params = StdioServerParameters(command=sys.executable, args=args, env=_env())

    async def main() -> tuple[float, list[float]]:
        samples = []
        started = time.perf_counter()
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            first = await session.call_tool("run_subagent", {"name": NAME, "inputs": INPUTS})
            cold = time.perf_counter() - started
            assert not first.is_error, first.content[0].text
            for _ in range(n):
                t0 = time.perf_counter()
                answer = await session.call_tool("run_subagent", {"name": NAME, "inputs": INPUTS})
                samples.append(time.perf_counter() - t0)
                assert answer.structured_content["result"] == {"words": 9}, answer.content[0].text
        return cold, samples

    return anyio.run(main)


def time_exec(root: Path, n: int, sandbox: str) -> list[float]:
    command = [sys.executable, "-m", "agentfactory", "sandbox", "exec", str(root / "word_count.py"),
               "--inputs", json.dumps(INPUTS), "--sandbox", sandbox, "--json"]  # fmt: skip
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        run = subprocess.run(command, env=_env(), capture_output=True, text=True, cwd=root, timeout=300)
        samples.append(time.perf_counter() - t0)
        assert run.returncode == 0 and json.loads(run.stdout)["result"] == {"words": 9}, run.stderr
    return samples


def _stats(samples: list[float]) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(samples), 4),
        "min_s": round(min(samples), 4),
        "max_s": round(max(samples), 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10, help="timed calls of each kind (after one warm-up)")
    parser.add_argument("--sandbox", default="local", choices=["local", "docker"])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="af-mcp-bench-") as tmp:
        root = Path(tmp)
        _project(root)
        cold, mcp_samples = time_mcp(root, args.n, args.sandbox)
        time_exec(root, 1, args.sandbox)  # warm-up (page cache, image layers)
        exec_samples = time_exec(root, args.n, args.sandbox)
    report: dict[str, Any] = {
        "sandbox": args.sandbox,
        "n": args.n,
        "mcp_run_subagent": {**_stats(mcp_samples), "samples_s": [round(s, 4) for s in mcp_samples]},
        "sandbox_exec": {**_stats(exec_samples), "samples_s": [round(s, 4) for s in exec_samples]},
        "mcp_cold_start_s": round(cold, 4),
    }
    report["ratio_median"] = round(
        report["mcp_run_subagent"]["median_s"] / report["sandbox_exec"]["median_s"], 3
    )
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"sandbox: {args.sandbox}, {args.n} timed calls each (after one warm-up)")
    for label, key in (
        ("run_subagent over MCP (stdio)", "mcp_run_subagent"),
        ("agentfactory sandbox exec", "sandbox_exec"),
    ):
        s = report[key]
        print(f"  {label:32} median {s['median_s']:.3f} s   min {s['min_s']:.3f}   max {s['max_s']:.3f}")
    print(f"  MCP server cold start to first answer: {report['mcp_cold_start_s']:.3f} s")
    print(f"  ratio of medians (MCP / exec): {report['ratio_median']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
