"""`deploy`: check a library subagent, gate it on maturity, and export it in the asked formats.

Layout of the output directory (the same whatever the formats):

    <out>/package/          pip-installable project (dist/ after --build)
    <out>/skill/<name>/     Agent Skills folder
    <out>/mcp/              MCP server (stdio) with its client configuration snippet

Everything is rendered in a temporary sibling of `<out>` and moved into place only when every format
rendered (and built), so a refusal or a failure leaves `<out>` as it was.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentfactory.config import Settings
from agentfactory.deploy.analysis import package_name, scan_imports
from agentfactory.deploy.build import Distributions, build_distributions
from agentfactory.deploy.gate import CaseRunner, MaturityReport, RunCounter, check_maturity
from agentfactory.deploy.render import new_plan, render_mcp, render_package, render_skill
from agentfactory.deploy.source import SubagentSource, library_modules, load_source
from agentfactory.errors import AgentFactoryError, ConfigError, SandboxError, UsageError, ValidationError

FORMATS = ("package", "skill", "mcp")
MCP_EXTRA_HINT = "pip install 'agentfactory[mcp]'"


class DeployRefused(AgentFactoryError):
    """The maturity gate refused the export; the message gives each reason and the --force override."""


@dataclass(frozen=True)
class DeployResult:
    """What was exported and where."""

    name: str
    version: int
    out: Path
    outputs: dict[str, Path]  # format -> directory
    gate: MaturityReport
    forced: bool
    distributions: Distributions | None = None
    warnings: tuple[str, ...] = ()


def parse_formats(value: str) -> tuple[str, ...]:
    """`package`, `skill`, `mcp`, `all`, or a comma-separated list of the first three."""
    parts = [p.strip().lower() for p in value.split(",") if p.strip()]
    if parts == ["all"]:
        return FORMATS
    unknown = [p for p in parts if p not in FORMATS]
    if not parts or unknown:
        raise UsageError(f"Unknown --format '{value}': use package, skill, mcp or all.")
    return tuple(f for f in FORMATS if f in parts)


def require_mcp_sdk() -> None:
    """The MCP export is generated against the mcp SDK 2.x; say which extra to install when it is missing."""
    try:
        import mcp.server.lowlevel  # noqa: F401
    except ImportError:
        raise ConfigError(f"The MCP server export needs the mcp SDK 2.x: {MCP_EXTRA_HINT}.") from None
    try:
        major = int(importlib.metadata.version("mcp").split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        major = 2
    if major < 2:
        raise ConfigError(
            f"The MCP server export needs the mcp SDK 2.x, found an older one: {MCP_EXTRA_HINT} --upgrade."
        )


def check_out_dir(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"Output directory {out} is a file: pass --out with another path.")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise UsageError(
            f"Output directory {out} exists and is not empty: pass --out with another directory, or "
            "--force to replace the exported folders in it."
        )


def deploy(
    settings: Settings,
    name: str,
    *,
    version: int | None = None,
    formats: tuple[str, ...] = FORMATS,
    out: Path | None = None,
    force: bool = False,
    build: bool = False,
    library: Any = None,
    run_cases: CaseRunner | None = None,
    count_runs: RunCounter | None = None,
) -> DeployResult:
    """Export subagent `name` (latest version unless given) in `formats` into `out`.

    `library`, `run_cases` and `count_runs` default to the configured library, sandbox and experience
    store; tests and embedders may pass their own.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise UsageError(f"Unknown format(s) {unknown or formats}: use package, skill, mcp or all.")
    if "mcp" in formats:
        require_mcp_sdk()
    if library is None:
        from agentfactory.library import Library

        library = Library(settings.library)
    source = load_source(library, name, version)
    out = Path(out) if out is not None else Path.cwd() / "deploy" / source.name
    check_out_dir(out, force)

    package = package_name(source.name)
    scan = scan_imports(source.code, source.entry)
    crossing = library_modules(library, set(scan.unknown), source.name)
    if crossing:
        listed = ", ".join(f"'{module}' (subagent {owner})" for module, owner in crossing.items())
        raise ValidationError(
            f"'{source.name}' imports {listed} from the library; exporting subagents that depend on each "
            "other is not supported: inline what it needs and save a new version first."
        )
    warnings = tuple(
        f"'{source.name}' imports '{module}', which is neither in the standard library nor in the sandbox "
        "image; add its distribution to the package's dependencies by hand."
        for module in scan.unknown
        if module not in crossing
    )

    gate = _run_gate(settings, library, source, force, run_cases, count_runs)
    if not gate.passed and not force:
        raise DeployRefused(
            f"'{source.name}' version {source.version} is not mature enough to deploy: "
            + "; ".join(gate.reasons)
            + ". Pass --force to export it anyway (the exported README will say the gate was overridden)."
        )

    plan = new_plan(source, package, scan, gate, forced=force and not gate.passed)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.deploy-", dir=out.parent))
    try:
        outputs: dict[str, Path] = {}
        dists = None
        if "package" in formats:
            render_package(plan, staging / "package")
            if build:
                built = build_distributions(staging / "package")
                dists = Distributions(
                    sdist=out / "package" / "dist" / built.sdist.name,
                    wheel=out / "package" / "dist" / built.wheel.name,
                )
            outputs["package"] = out / "package"
        if "skill" in formats:
            render_skill(plan, staging / "skill" / source.name)
            outputs["skill"] = out / "skill" / source.name
        if "mcp" in formats:
            render_mcp(plan, staging / "mcp", out / "mcp")
            outputs["mcp"] = out / "mcp"
        _move_into(staging, out, [f for f in FORMATS if f in formats])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if build and "package" not in formats:
        warnings += ("--build applies to the package format only; nothing was built.",)
    return DeployResult(
        name=source.name,
        version=source.version,
        out=out,
        outputs=outputs,
        gate=gate,
        forced=plan.forced,
        distributions=dists,
        warnings=warnings,
    )


def _run_gate(
    settings: Settings,
    library: Any,
    source: SubagentSource,
    force: bool,
    run_cases: CaseRunner | None,
    count_runs: RunCounter | None,
) -> MaturityReport:
    from agentfactory.deploy.checks import experience_run_counter, sandbox_case_runner

    run_cases = run_cases or sandbox_case_runner(settings, library)
    count_runs = count_runs or experience_run_counter(settings)
    try:
        return check_maturity(source, run_cases, count_runs, settings.deploy_min_runs, settings.sandbox)
    except SandboxError as exc:
        if not force:
            raise
        # --force exports without the gate; the README says it could not even be checked.
        return MaturityReport(
            cases_total=len(source.cases),
            cases_passed=0,
            successful_runs=None,
            min_runs=settings.deploy_min_runs,
            sandbox=settings.sandbox,
            reasons=(f"the gate could not run ({exc})",),
            checked=False,
        )


def _move_into(staging: Path, out: Path, formats: list[str]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        target = out / fmt
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.exists():
            shutil.rmtree(target)
        os.replace(staging / fmt, target)
