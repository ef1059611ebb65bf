"""`agentfactory deploy`: export a mature subagent as a pip package, an Agent Skills folder or an MCP server."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from agentfactory.cli.common import (
    ConfigOpt,
    LibraryOpt,
    SandboxOpt,
    console,
    err_console,
    print_json,
    settings,
)
from agentfactory.cli.untrusted import visible


def register(app: typer.Typer) -> None:
    app.command("deploy")(deploy)


def deploy(
    name: str = typer.Argument(..., help="Subagent to export."),
    version: int = typer.Option(None, "--version", help="Version to export (default: latest)."),
    format: str = typer.Option(
        None,
        "--format",
        help="package, skill, mcp, all, or a comma-separated list. Default: every format whose optional "
        "SDK is installed (mcp needs the mcp extra; skipped with a warning without it).",
    ),
    out: Path = typer.Option(None, "--out", help="Output directory (default ./deploy/<name>)."),
    force: bool = typer.Option(False, "--force", help="Override the maturity gate and a non-empty --out."),
    build: bool = typer.Option(False, "--build", help="Also build the sdist and wheel of the package."),
    package_name: str = typer.Option(
        None,
        "--package-name",
        help="Distribution name of the package (default af-<name>; import name with '_'). Refused when it "
        "would replace a standard-library, installed or well-known package.",
    ),
    license: str = typer.Option(
        None, "--license", help="SPDX license expression for the package and skill (default MIT)."
    ),
    python: Path = typer.Option(
        None,
        "--python",
        help="Interpreter the MCP client configuration starts (default: the one running agentfactory).",
    ),
    json_: bool = typer.Option(False, "--json", help="Print the result as JSON (progress stays on stderr)."),
    library: Path = LibraryOpt,
    sandbox: str = SandboxOpt,
    config: Path = ConfigOpt,
) -> None:
    """Export a mature subagent as a standalone pip package, Agent Skills folder and MCP server.

    Gate: all stored cases pass in the sandbox now; deploy_min_runs (default 3) successful runs.

    --force exports anyway, and the exported README says so.

    Output: <out>/package, <out>/skill/<name>, <out>/mcp. The package installs as af-<name> (import
    af_<name>) unless --package-name says otherwise, so it never replaces another package.
    """
    from agentfactory.deploy import deploy as run_deploy

    def progress(line: str) -> None:
        err_console.print(f"[dim]{escape(visible(line))}[/]", highlight=False, soft_wrap=True)

    resolved = settings(config, library=library, sandbox=sandbox)
    result = run_deploy(
        resolved,
        name,
        version=version,
        formats=format,
        out=out,
        force=force,
        build=build,
        package_name=package_name,
        license=license,
        python=python,
        progress=progress,
    )
    gate = result.gate
    if result.forced:
        why = "; ".join(gate.reasons) or "not checked"
        err_console.print(
            f"[yellow]Maturity gate overridden with --force:[/] {escape(visible(why))}",
            highlight=False,
            soft_wrap=True,
        )
    for warning in result.warnings:
        err_console.print(f"[yellow]Warning:[/] {escape(visible(warning))}", highlight=False, soft_wrap=True)
    for note in gate.notes:  # what the export depends on beyond itself (MCP servers)
        err_console.print(f"Note: {escape(visible(note))}.", highlight=False, soft_wrap=True)
    if json_:
        print_json(result.to_json())
        return
    if not result.forced:
        console.print(
            f"Maturity gate passed: {gate.cases_passed}/{gate.cases_total} cases in the {gate.sandbox} "
            f"sandbox, {gate.successful_runs} successful runs (minimum {gate.min_runs}).",
            highlight=False,
            soft_wrap=True,
        )
    console.print(
        f"Exported [bold]{escape(visible(result.name))}[/] version {result.version}:", highlight=False
    )
    lines = []
    names = result.names
    if "package" in result.outputs and names is not None:
        lines.append(f"  package  {result.outputs['package']}  (pip install {result.outputs['package']})")
        lines.append(
            f"           installs {names.dist} (import {names.package}; commands {names.command}, "
            f"{names.mcp_command}), license {result.license}"
        )
    if result.distributions:
        lines += [f"           {result.distributions.wheel}", f"           {result.distributions.sdist}"]
    if "skill" in result.outputs:
        lines.append(f"  skill    {result.outputs['skill']}  (copy into .claude/skills/)")
    if "mcp" in result.outputs:
        lines.append(
            f"  mcp      {result.outputs['mcp']}  (client config: {result.outputs['mcp'] / 'mcp.json'}, "
            f"started with {result.mcp_python})"
        )
    for fmt in result.skipped:
        lines.append(f"  {fmt:<8} skipped (see the warning above)")
    for line in lines:
        console.print(escape(visible(line)), highlight=False, soft_wrap=True)
