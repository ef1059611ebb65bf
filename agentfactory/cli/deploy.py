"""`agentfactory deploy`: export a mature subagent as a pip package, an Agent Skills folder or an MCP server."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from agentfactory.cli.common import ConfigOpt, LibraryOpt, SandboxOpt, console, err_console, settings
from agentfactory.cli.untrusted import visible


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy)


def deploy(
    name: str = typer.Argument(..., help="Subagent to export."),
    version: int = typer.Option(None, "--version", help="Version to export (default: latest)."),
    format: str = typer.Option("all", "--format", help="package, skill, mcp or all."),
    out: Path = typer.Option(None, "--out", help="Output directory (default ./deploy/<name>)."),
    force: bool = typer.Option(False, "--force", help="Override the maturity gate and a non-empty --out."),
    build: bool = typer.Option(False, "--build", help="Also build the sdist and wheel of the package."),
    library: Path = LibraryOpt,
    sandbox: str = SandboxOpt,
    config: Path = ConfigOpt,
) -> None:
    """Export a mature subagent as a standalone pip package, Agent Skills folder and MCP server.

    Gate: all stored cases pass in the sandbox now; deploy_min_runs (default 3) successful runs.

    --force exports anyway, and the exported README says so.

    Output: <out>/package, <out>/skill/<name>, <out>/mcp.
    """
    from agentfactory.deploy import deploy as run_deploy
    from agentfactory.deploy import parse_formats

    formats = parse_formats(format)
    resolved = settings(config, library=library, sandbox=sandbox)
    result = run_deploy(resolved, name, version=version, formats=formats, out=out, force=force, build=build)
    gate = result.gate
    if result.forced:
        why = "; ".join(gate.reasons) or "not checked"
        err_console.print(
            f"[yellow]Maturity gate overridden with --force:[/] {escape(visible(why))}",
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print(
            f"Maturity gate passed: {gate.cases_passed}/{gate.cases_total} cases in the {gate.sandbox} "
            f"sandbox, {gate.successful_runs} successful runs (minimum {gate.min_runs}).",
            highlight=False,
            soft_wrap=True,
        )
    for warning in result.warnings:
        err_console.print(f"[yellow]Warning:[/] {escape(visible(warning))}", highlight=False, soft_wrap=True)
    console.print(f"Exported [bold]{result.name}[/] version {result.version}:", highlight=False)
    lines = []
    if "package" in result.outputs:
        lines.append(f"  package  {result.outputs['package']}  (pip install {result.outputs['package']})")
    if result.distributions:
        lines += [f"           {result.distributions.wheel}", f"           {result.distributions.sdist}"]
    if "skill" in result.outputs:
        lines.append(f"  skill    {result.outputs['skill']}  (copy into .claude/skills/)")
    if "mcp" in result.outputs:
        lines.append(
            f"  mcp      {result.outputs['mcp']}  (client config: {result.outputs['mcp'] / 'mcp.json'})"
        )
    for line in lines:
        console.print(escape(visible(line)), highlight=False, soft_wrap=True)
