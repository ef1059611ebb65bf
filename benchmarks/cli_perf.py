"""Start-up cost of the command line, each figure beside `python -c pass` (medians of interleaved runs).

    python benchmarks/cli_perf.py [--runs 15] [--importtime] [--baseline OTHER_CHECKOUT]

Measured as new processes, from spawn to exit:

- `agentfactory --version`;
- `agentfactory --help` as this environment has it (with the command plugins it has installed: in a
  development environment the benchmark distribution, whose help is read by importing it), and as an
  installation without command plugins has it (`--help, no plugins`: the entry points read as none);
- `agentfactory run` up to its first model call (provider `scripted`, so no SDK is imported; the process
  leaves at the first call, so neither the model's answer nor the run's end is timed), with the local
  sandbox and, when a Docker daemon answers, with the docker sandbox (the default);
- a whole `agentfactory run` whose model finishes at once (scripted), local sandbox: start, run, exit;
- `agentfactory library search` on a small library;
- `import agentfactory.cli.app` alone.

Every process gets its .pyc files as an installation has them (PYTHONDONTWRITEBYTECODE is dropped from
their environment, and a first round, not timed, writes them).

Targets: `--help` <= 100 ms; `run` to its first model call <= 150 ms plus the provider SDK's own import
time. `--importtime` also prints the ten slowest imports of each command (`python -X importtime`).
`--baseline DIR` times the same commands with another source checkout first on PYTHONPATH, interleaved
with this one, and prints its medians beside.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agentfactory.sandbox.local import sweep_orphans

# Runs the CLI in this process and leaves at the first model call: agentfactory.llm.scripted gets its
# ScriptedProvider.complete replaced, as it is imported, by an immediate exit. (A plain finder class:
# importlib.abc would import importlib.resources and more, time that is not the CLI's.)
FIRST_CALL = r"""
import importlib.machinery, os, runpy, sys

class Hook:
    def find_spec(self, name, path, target=None):
        if name != "agentfactory.llm.scripted":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        run = spec.loader.exec_module
        def exec_module(module):
            run(module)
            module.ScriptedProvider.complete = lambda *a, **k: os._exit(0)
        spec.loader.exec_module = exec_module
        return spec

sys.meta_path.insert(0, Hook())
sys.argv = ["agentfactory", *sys.argv[1:]]
runpy.run_module("agentfactory", run_name="__main__", alter_sys=True)
os._exit(3)  # never reached when the run calls the model
"""


# `agentfactory ARGS` with no command plugin installed, as far as the command line can tell.
NO_PLUGINS = r"""
import importlib, sys
try:
    where = importlib.import_module("agentfactory.cli.surface")
except ImportError:  # an older checkout (--baseline)
    where = importlib.import_module("agentfactory.cli.app")
where.entry_points = lambda *, group: []
sys.argv = ["agentfactory", *sys.argv[1:]]
from agentfactory.cli import main
main()
"""


def _time(argv: list[str], env: dict[str, str], expect: int = 0) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system: less moved by other load on the machine). The
    process starts in a scratch folder: `python -m` and `-c` put the current folder first on sys.path,
    which would put this checkout before the --baseline one."""
    t = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=env["CLI_PERF_CWD"]
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code != expect:
        raise SystemExit(f"{' '.join(argv[:6])} exited with {code}: {err[-800:]!r}")
    # the runtime folder of the checkout this process ran (first on its PYTHONPATH)
    _settle([Path(env["PYTHONPATH"].split(os.pathsep)[0], "agentfactory", "sandbox", "runtime")])
    if "docker" in argv:
        _settle_docker()
    return wall, usage.ru_utime + usage.ru_stime


def _settle(runtimes: list[Path], timeout_s: float = 2.0) -> None:
    """A run left at its first model call leaves its local sandbox mid-start (it is started as that call
    goes out; see agentfactory.sandbox.local.sweep_orphans): ended here, untimed, so it never runs
    beside the next measurement. Its bubblewrap dies with the host a moment later, and only then is
    the sandbox an orphan: swept until no bubblewrap of ours is left (at most `timeout_s`)."""
    end = time.monotonic() + timeout_s
    while True:
        for runtime in runtimes:
            sweep_orphans(runtime)
        if not _bubblewraps(runtimes) or time.monotonic() > end:
            return
        time.sleep(0.01)


def _settle_docker() -> None:
    """A run left at its first model call may leave the containers its backend was starting: removed
    here, untimed (those whose owner is gone: sweep_orphans), so that no later run sweeps them."""
    from agentfactory.sandbox.docker_daemon import connect
    from agentfactory.sandbox.docker_daemon import sweep_orphans as sweep_containers

    sweep_containers(connect())


def _docker_answers() -> bool:
    from agentfactory.errors import SandboxError
    from agentfactory.sandbox.docker_daemon import connect

    try:
        connect(timeout=5)
    except SandboxError:
        return False
    return True


def _bubblewraps(runtimes: list[Path]) -> list[int]:
    """The bubblewrap processes running one of these runtime folders."""
    wanted = {os.fsencode(str(runtime)) for runtime in runtimes}
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                argv = Path(entry.path, "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv and os.path.basename(argv[0]) == b"bwrap" and wanted & set(argv):
                found.append(int(entry.name))
    return found


def _slowest_imports(argv: list[str], env: dict[str, str], top: int = 10) -> list[str]:
    proc = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]],
        capture_output=True,
        text=True,
        env=env,
        cwd=env["CLI_PERF_CWD"],
    )
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if cumulative.strip().isdigit():
            rows.append((int(cumulative), name.rstrip()))
    return [f"{us / 1000:8.1f} ms  {name}" for us, name in sorted(rows, reverse=True)[:top]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--importtime", action="store_true", help="Also list each command's slowest imports.")
    parser.add_argument("--baseline", type=Path, default=None, help="Another checkout to time beside.")
    args = parser.parse_args()
    py = sys.executable
    root = Path(tempfile.mkdtemp(prefix="cliperf-"))
    try:
        lib, ws = root / "lib", root / "ws"
        from agentfactory.library import Library

        folder = root / "src" / "text-preview"
        folder.mkdir(parents=True)
        (folder / "SKILL.md").write_text(
            "---\nname: text-preview\ndescription: Return the first characters of a text.\n---\n\nBody.\n"
        )
        (folder / "text_preview.py").write_text(
            '"""Preview a text."""\n\n\ndef run(text: str) -> dict:\n    return {"head": text[:3]}\n'
        )
        Library(lib).save(folder)
        replies = root / "replies.json"
        replies.write_text(json.dumps([{"text": "unused"}]))
        finish = root / "finish.json"
        finish.write_text(json.dumps([{"tool_calls": [{"name": "finish", "arguments": {"answer": "hi"}}]}]))
        (root / "cwd").mkdir()
        env = {
            **os.environ,
            "NO_COLOR": "1",
            "AGENTFACTORY_NO_UPDATE_CHECK": "1",
            "CLI_PERF_CWD": str(root / "cwd"),
        }
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        cases = {
            "python -c pass": ([py, "-c", "pass"], 0),
            "import agentfactory.cli.app": ([py, "-c", "import agentfactory.cli.app"], 0),
            "agentfactory --version": ([py, "-m", "agentfactory", "--version"], 0),
            "agentfactory --help": ([py, "-m", "agentfactory", "--help"], 0),
            "--help, no plugins": ([py, "-c", NO_PLUGINS, "--help"], 0),
            "run to first model call": (
                [
                    py,
                    "-c",
                    FIRST_CALL,
                    "run",
                    "Say hello.",
                    "--model",
                    f"scripted:{replies}",
                    "--sandbox",
                    "local",
                    "--library",
                    str(lib),
                    "--workspaces",
                    str(ws),
                ],
                0,
            ),
            **(
                {
                    "run to first model call, docker": (
                        [py, "-c", FIRST_CALL, "run", "Say hello.", "--model", f"scripted:{replies}"]
                        + ["--sandbox", "docker", "--library", str(lib), "--workspaces", str(ws)],
                        0,
                    )
                }
                if _docker_answers()
                else {}
            ),
            "whole run, finished at once": (
                [
                    py,
                    "-m",
                    "agentfactory",
                    "run",
                    "Say hello.",
                    "--model",
                    f"scripted:{finish}",
                    "--sandbox",
                    "local",
                    "--library",
                    str(lib),
                    "--workspaces",
                    str(ws),
                    "--json",
                ],
                0,
            ),
            "library search": (
                [py, "-m", "agentfactory", "library", "search", "preview text", "--library", str(lib)],
                0,
            ),
        }
        checkout = str(Path(__file__).resolve().parents[1])  # the checkout this script belongs to
        path = env.get("PYTHONPATH", "")
        envs = {"this": {**env, "PYTHONPATH": os.pathsep.join([checkout, path])}}
        # Each checkout has its own copy of the library and workspaces: a baseline whose search index
        # has another format would otherwise rebuild the index in every run that follows one of this
        # checkout's, and both would be timed with that rebuild (GitPython and yaml imported).
        own = {"this": {}}
        if args.baseline is not None:
            old = str(args.baseline.resolve())
            envs["baseline"] = {**env, "PYTHONPATH": os.pathsep.join([old, path])}
            shutil.copytree(lib, root / "lib-baseline", symlinks=True)
            own["baseline"] = {str(lib): str(root / "lib-baseline"), str(ws): str(root / "ws-baseline")}

        def argv_of(which: str, argv: list[str]) -> list[str]:
            return [own[which].get(arg, arg) for arg in argv]

        times: dict[tuple[str, str], list[tuple[float, float]]] = {(n, e): [] for n in cases for e in envs}
        for argv, expect in cases.values():  # warm the page cache, .pyc files and indexes once
            for which, one in envs.items():
                _time(argv_of(which, argv), one, expect)
        for _ in range(args.runs):
            for name, (argv, expect) in cases.items():
                for which, one in envs.items():
                    times[name, which].append(_time(argv_of(which, argv), one, expect))
        wall = {key: statistics.median(v[0] for v in values) for key, values in times.items()}
        cpu = {key: statistics.median(v[1] for v in values) for key, values in times.items()}
        floor = wall["python -c pass", "this"]
        head = f"{'command':<30} {'wall':>9}  {'minus python -c pass':>20}  {'cpu':>9}"
        print(
            head
            + (f"  {'baseline wall':>13}  {'cpu':>9}" if args.baseline else "")
            + f"   (runs: {args.runs})"
        )
        for name in cases:
            this = (name, "this")
            line = f"{name:<30} {wall[this] * 1e3:>6.1f} ms  {(wall[this] - floor) * 1e3:>17.1f} ms"
            line += f"  {cpu[this] * 1e3:>6.1f} ms"
            if args.baseline:
                line += f"  {wall[name, 'baseline'] * 1e3:>10.1f} ms  {cpu[name, 'baseline'] * 1e3:>6.1f} ms"
            print(line)
        print(
            "targets: --help <= 100 ms; run to its first model call <= 150 ms plus the provider SDK's import"
        )
        print("(--help as installed also reads the help each command plugin declares beside its entry point)")
        if args.importtime:
            for name, (argv, _) in cases.items():
                if name == "python -c pass":
                    continue
                print(f"\nslowest imports (cumulative) of {name}:")
                print("\n".join(_slowest_imports(argv, envs["this"])))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
