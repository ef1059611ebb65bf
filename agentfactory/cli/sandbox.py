"""`agentfactory sandbox ...`: build the sandbox image, check the backends, execute one module."""

from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path
from typing import Any

import typer

from agentfactory.cli.common import JsonOpt, SandboxOpt, console, print_json, read_json_arg, settings
from agentfactory.cli.untrusted import plain, show, visible
from agentfactory.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_TASK_FAILED, SandboxError, UsageError

app = typer.Typer(
    help="Build the sandbox image, check the backends, run one module in the sandbox.", no_args_is_help=True
)


@app.command("build-image")
def build_image_cmd(
    from_registry: bool = typer.Option(
        False, "--from-registry", help="Build from python:3.12-slim (needs a reachable registry)."
    ),
    force: bool = typer.Option(False, "--force", help="Rebuild even if the image exists."),
    image: str = typer.Option(None, "--image", help="Image name (default from settings)."),
) -> None:
    """Build the sandbox image: offline from Debian packages (mmdebstrap + docker import) by default."""
    from agentfactory.sandbox.docker_backend import connect
    from agentfactory.sandbox.image import build_image

    name = image or settings().sandbox.image
    build_image(connect(timeout=600), name, from_registry=from_registry, force=force, log=console.print)


@app.command("check")
def check(
    json_out: bool = JsonOpt,
    ray: str = typer.Option(
        None, "--ray", help="Also have every node of a Ray cluster check itself: auto or an address."
    ),
) -> None:
    """Report which sandbox backends are available: Docker daemon, sandbox image, bubblewrap."""
    from agentfactory.sandbox.docker_backend import check_image, connect, docker_host

    s = settings()
    report: dict[str, Any] = {"docker_host": docker_host(), "image": s.sandbox.image}
    try:
        client = connect(timeout=10)
        report["docker"] = True
        report["docker_version"] = client.version().get("Version")
        try:
            check_image(client, s.sandbox.image)
            report["image_present"] = True
        except SandboxError as exc:
            report["image_present"] = False
            report["image_problem"] = str(exc)
    except SandboxError as exc:
        report["docker"] = False
        report["docker_problem"] = str(exc)
        report["image_present"] = None
    report["bwrap"] = shutil.which("bwrap")
    report["local_isolation"] = _local_isolation()
    report["local_missing_packages"] = _local_missing_packages()
    report["default_backend"] = s.sandbox.backend
    report["docker_ready"] = bool(report["docker"] and report["image_present"])
    if ray:
        report["ray_nodes"] = _ray_nodes(ray, s.sandbox.backend)
    if json_out:
        print_json(report)
    else:
        mark = {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}
        console.print(f"docker daemon ({report['docker_host']}): {mark[report['docker']]}")
        if report.get("docker_problem"):
            console.print(f"  {show(report['docker_problem'])}", highlight=False)
        console.print(f"image {s.sandbox.image}: {mark[report['image_present']]}")
        if report.get("image_problem"):
            console.print(f"  {show(report['image_problem'])}", highlight=False)
        console.print(f"bubblewrap: {mark[bool(report['bwrap'])]}")
        console.print(plain(f"local backend: {report['local_isolation']}"))
        if report["local_missing_packages"]:
            missing = ", ".join(report["local_missing_packages"])
            console.print(
                plain(
                    f"  local backend lacks packages subagents commonly use ({missing}): it runs them "
                    "with this Python; pip install 'agentfactory[local]' adds them.",
                    "yellow",
                )
            )
        for node in report.get("ray_nodes", []):
            state = "[green]ready[/]" if node["ready"] else f"[red]not ready[/]: {show(node['problem'])}"
            console.print(f"ray node {show(node['host'])}: {state}", highlight=False)
    if s.sandbox.backend == "docker" and not report["docker_ready"]:
        raise typer.Exit(EXIT_TASK_FAILED)
    if ray and not all(node["ready"] for node in report["ray_nodes"]):
        raise typer.Exit(EXIT_TASK_FAILED)


def _ray_nodes(address: str, sandbox: str) -> list[dict[str, Any]]:
    """Each node of the Ray cluster runs `agentfactory sandbox check` itself (what `batch --ray` does
    before a batch: a node that is not ready takes no task)."""
    import contextlib

    from agentfactory.batch.on_ray import join_cluster, node_readiness

    ray = join_cluster(address)
    try:
        return list(node_readiness(ray, sandbox, Path.cwd()).values())
    finally:
        with contextlib.suppress(Exception):
            ray.shutdown()


# What the sandbox image offers subagents; the local backend runs them with this interpreter instead.
IMAGE_PACKAGES = ("numpy", "pandas", "matplotlib", "requests", "bs4", "yaml")


def _local_missing_packages() -> list[str]:
    import importlib.util

    return [name for name in IMAGE_PACKAGES if importlib.util.find_spec(name) is None]


def _local_isolation() -> str:
    from agentfactory.sandbox.local import ISOLATION_BWRAP, ISOLATION_PLAIN

    return ISOLATION_BWRAP if shutil.which("bwrap") else ISOLATION_PLAIN


@app.command("exec")
def exec_cmd(
    file: Path = typer.Argument(..., help="A Python file defining run(**inputs)."),
    inputs: str = typer.Option("{}", "--inputs", help="JSON object of keyword arguments, or @file.json."),
    timeout: float = typer.Option(None, "--timeout", help="Wall-clock limit in seconds (default 120)."),
    memory: int = typer.Option(None, "--memory", help="Memory limit in MB (default 512)."),
    sandbox: str = SandboxOpt,
    inputs_dir: Path = typer.Option(
        None, "--inputs-dir", help="Folder whose files the module sees read-only as inputs/."
    ),
    output_dir: Path = typer.Option(
        None, "--output-dir", help="Where to copy the files written to outputs/."
    ),
    tool: list[str] = typer.Option([], "--tool", help="Allocate a broker tool (only the test tool `echo`)."),
    json_out: bool = JsonOpt,
) -> None:
    """Run FILE's run(**inputs) in the sandbox and print the trace. Exit code 0 only when it succeeded.

    --sandbox local is weaker isolation: a host subprocess with rlimits (inside bubblewrap if installed).
    """
    from agentfactory.sandbox import ExecutionRequest, SandboxInterrupted, ToolBroker, echo_tool, get_backend
    from agentfactory.sandbox.base import sigterm_as_interrupt

    if not file.is_file() or file.suffix != ".py":
        raise UsageError(f"{visible(file)} is not a Python file.")
    args = read_json_arg(inputs, "--inputs")
    if not isinstance(args, dict):
        raise UsageError("--inputs must be a JSON object of keyword arguments.")
    unknown = sorted(set(tool) - {"echo"})
    if unknown:
        raise UsageError(f"Unknown tool '{visible(unknown[0])}': the CLI only offers the test tool 'echo'.")
    s = settings(sandbox=sandbox, timeout_s=timeout, memory_mb=memory)
    if output_dir is not None:
        _prepare_output_dir(output_dir)
    with tempfile.TemporaryDirectory(prefix="af-exec-") as tmp:
        code = Path(tmp) / "code"
        code.mkdir()
        shutil.copyfile(file, code / file.name)
        workdir = None
        if inputs_dir is not None:
            workdir = Path(tmp) / "work"
            _copy_inputs(inputs_dir, workdir / "inputs")
        req = ExecutionRequest(
            code_dir=code,
            entry=file.stem,
            inputs=args,
            workdir=workdir,
            output_dir=output_dir,
            timeout_s=s.sandbox.timeout_s,
            memory_mb=s.sandbox.memory_mb,
            tools=list(tool),
            broker=ToolBroker({"echo": echo_tool}) if tool else None,
        )
        with sigterm_as_interrupt():
            backend = get_backend(s.sandbox, pool_size=0)
            try:
                trace = backend.execute(req)
                code_out = EXIT_OK if trace.ok else EXIT_TASK_FAILED
            except SandboxInterrupted as exc:
                trace, code_out = exc.trace, EXIT_INTERRUPTED
            finally:
                backend.close()
    if json_out:
        print_json(trace.to_dict())
    else:
        console.print(visible(trace.compact(max_chars=8000), newlines=True), highlight=False, markup=False)
        if trace.backend == "local":
            console.print(f"[yellow]{show(trace.isolation)}[/]", highlight=False)
    raise typer.Exit(code_out)


def _prepare_output_dir(path: Path) -> None:
    """--output-dir must be a folder (made here if missing), before anything runs."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"--output-dir {visible(path)} exists and is not a folder: give a folder.")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"Cannot create --output-dir {visible(path)}: {exc.strerror or exc}.") from None


def _copy_inputs(src: Path, dest: Path) -> None:
    """Copy --inputs-dir: regular files and folders only (links stay links, which the sandbox refuses)."""
    if not src.is_dir():
        raise UsageError(f"Inputs folder {visible(src)} does not exist or is not a folder.")

    def special(folder: str, names: list[str]) -> list[str]:  # FIFOs, devices, sockets: never read
        skip = []
        for name in names:
            mode = os.lstat(os.path.join(folder, name)).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)):
                skip.append(name)
        return skip

    try:
        shutil.copytree(src, dest, symlinks=True, ignore=special)
    except (OSError, shutil.Error, RecursionError) as exc:
        detail = "nested too deeply" if isinstance(exc, RecursionError) else "a file could not be copied"
        raise UsageError(f"Cannot copy the inputs folder {visible(src)}: {detail}.") from None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
