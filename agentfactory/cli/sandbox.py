"""`agentfactory sandbox ...`: build the sandbox image, check the backends, execute one module."""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import typer

from agentfactory.cli.common import JsonOpt, SandboxOpt, console, print_json, settings
from agentfactory.cli.untrusted import plain
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

    name = image or settings().image
    build_image(connect(timeout=600), name, from_registry=from_registry, force=force, log=console.print)


@app.command("check")
def check(json_out: bool = JsonOpt) -> None:
    """Report which sandbox backends are available: Docker daemon, sandbox image, bubblewrap."""
    from agentfactory.sandbox.docker_backend import check_image, connect, docker_host

    s = settings()
    report: dict[str, Any] = {"docker_host": docker_host(), "image": s.image}
    try:
        client = connect(timeout=10)
        report["docker"] = True
        report["docker_version"] = client.version().get("Version")
        try:
            check_image(client, s.image)
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
    report["default_backend"] = s.sandbox
    report["docker_ready"] = bool(report["docker"] and report["image_present"])
    if json_out:
        print_json(report)
    else:
        mark = {True: "[green]yes[/]", False: "[red]no[/]", None: "-"}
        console.print(f"docker daemon ({report['docker_host']}): {mark[report['docker']]}")
        if report.get("docker_problem"):
            console.print(plain(f"  {report['docker_problem']}"))
        console.print(f"image {s.image}: {mark[report['image_present']]}")
        if report.get("image_problem"):
            console.print(plain(f"  {report['image_problem']}"))
        console.print(f"bubblewrap: {mark[bool(report['bwrap'])]}")
        console.print(plain(f"local backend: {report['local_isolation']}"))
    if s.sandbox == "docker" and not report["docker_ready"]:
        raise typer.Exit(EXIT_TASK_FAILED)


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
        raise UsageError(f"{file} is not a Python file.")
    args = _parse_inputs(inputs)
    unknown = sorted(set(tool) - {"echo"})
    if unknown:
        raise UsageError(f"Unknown tool '{unknown[0]}': the CLI only offers the test tool 'echo'.")
    s = settings(sandbox=sandbox, timeout_s=timeout, memory_mb=memory)
    with tempfile.TemporaryDirectory(prefix="af-exec-") as tmp:
        code = Path(tmp) / "code"
        code.mkdir()
        shutil.copyfile(file, code / file.name)
        workdir = None
        if inputs_dir is not None:
            if not inputs_dir.is_dir():
                raise UsageError(f"Inputs folder {inputs_dir} does not exist.")
            workdir = Path(tmp) / "work"
            shutil.copytree(inputs_dir, workdir / "inputs", symlinks=True)
        req = ExecutionRequest(
            code_dir=code,
            entry=file.stem,
            inputs=args,
            workdir=workdir,
            output_dir=output_dir,
            timeout_s=s.timeout_s,
            memory_mb=s.memory_mb,
            tools=list(tool),
            broker=ToolBroker({"echo": echo_tool}) if tool else None,
        )
        with sigterm_as_interrupt():
            backend = get_backend(s, pool_size=0)
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
        console.print(plain(trace.compact(max_chars=8000), newlines=True))
        if trace.backend == "local":
            console.print(f"[yellow]{trace.isolation}[/]", highlight=False)
    raise typer.Exit(code_out)


def _parse_inputs(text: str) -> dict[str, Any]:
    if text.startswith("@"):
        path = Path(text[1:])
        try:
            text = path.read_text()
        except OSError as exc:
            raise UsageError(f"Cannot read inputs file {path}: {exc.strerror}.") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--inputs is not valid JSON ({exc.msg} at position {exc.pos}).") from None
    if not isinstance(value, dict):
        raise UsageError("--inputs must be a JSON object of keyword arguments.")
    return value


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
