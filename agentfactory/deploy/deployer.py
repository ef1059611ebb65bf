"""`deploy`: check a library subagent, gate it on maturity, and export it in the asked formats.

Layout of the output directory (the same whatever the formats):

    <out>/package/          pip-installable project (dist/ after --build)
    <out>/skill/<name>/     Agent Skills folder
    <out>/mcp/              MCP server (stdio) with its client configuration snippet

Everything is rendered in a temporary sibling of `<out>` and moved into place only when every format
rendered (and built), so a refusal or a failure leaves `<out>` as it was.

Order of the checks: the subagent and version first (an unknown name is reported before anything
else), then the names, license and interpreter asked for, the output directory, the optional SDKs of the
formats, the code, and last the maturity gate (the only slow check). Formats asked for by default are
skipped with a warning when their SDK is missing; a format asked for by name is an error then.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import field
from pathlib import Path
from typing import Any

from agentfactory.config import Settings
from agentfactory.deploy.analysis import scan_imports
from agentfactory.deploy.build import Distributions, build_distributions
from agentfactory.deploy.gate import CaseRunner, MaturityReport, RunCounter, check_maturity
from agentfactory.deploy.names import ExportNames, export_module, export_names
from agentfactory.deploy.render import new_plan, render_mcp, render_package, render_skill
from agentfactory.deploy.source import SubagentSource, library_modules, load_source
from agentfactory.errors import AgentFactoryError, ConfigError, SandboxError, UsageError, ValidationError
from agentfactory.records import record

FORMATS = ("package", "skill", "mcp")
MCP_EXTRA_HINT = "pip install 'agentfactory[mcp]'"
DEFAULT_LICENSE = "MIT"
PROBE_TIMEOUT_S = 30
Progress = Callable[[str], None]


class DeployRefused(AgentFactoryError):
    """The maturity gate refused the export; the message gives each reason and the --force override."""


@record(frozen=True)
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
    names: ExportNames | None = None
    license: str = DEFAULT_LICENSE
    mcp_python: str | None = None  # the interpreter the written MCP client configuration starts
    skipped: dict[str, str] = field(default_factory=dict)  # format -> why it was not exported

    def to_json(self) -> dict[str, Any]:
        """The result as plain JSON values (`deploy --json`)."""
        gate = self.gate
        names = self.names
        return {
            "name": self.name,
            "version": self.version,
            "out": str(self.out),
            "outputs": {fmt: str(path) for fmt, path in self.outputs.items()},
            "skipped": dict(self.skipped),
            "package": None
            if names is None
            else {
                "distribution": names.dist,
                "import": names.package,
                "commands": [names.command, names.mcp_command],
                "mcp_tool": names.tool,
            },
            "license": self.license,
            "distributions": None
            if self.distributions is None
            else {"wheel": str(self.distributions.wheel), "sdist": str(self.distributions.sdist)},
            "mcp_config": None
            if "mcp" not in self.outputs
            else {"path": str(self.outputs["mcp"] / "mcp.json"), "python": self.mcp_python},
            "gate": {
                "passed": gate.passed,
                "checked": gate.checked,
                "forced": self.forced,
                "cases_passed": gate.cases_passed,
                "cases_total": gate.cases_total,
                "successful_runs": gate.successful_runs,
                "min_runs": gate.min_runs,
                "sandbox": gate.sandbox,
                "reasons": list(gate.reasons),
                "notes": list(gate.notes),
            },
            "warnings": list(self.warnings),
        }


def parse_formats(value: str) -> tuple[str, ...]:
    """`package`, `skill`, `mcp`, `all`, or a comma-separated list of the first three."""
    if not isinstance(value, str):
        raise UsageError("--format takes package, skill, mcp or all.")
    parts = [p.strip().lower() for p in value.split(",") if p.strip()]
    if parts == ["all"]:
        return FORMATS
    unknown = [p for p in parts if p not in FORMATS]
    if not parts or unknown:
        raise UsageError(f"Unknown --format '{value}': use package, skill, mcp or all.")
    return tuple(f for f in FORMATS if f in parts)


def mcp_sdk_problem() -> str | None:
    """Why the MCP export cannot be generated here, or None when the mcp SDK 2.x is installed."""
    try:
        require_mcp_sdk()
    except ConfigError as exc:
        return str(exc)
    return None


def check_license(value: str | None) -> str:
    """An SPDX license expression (`MIT`, `Apache-2.0`, `MIT OR Apache-2.0`), in its canonical form."""
    text = (value if value is not None else DEFAULT_LICENSE).strip()
    try:
        from packaging.licenses import InvalidLicenseExpression, canonicalize_license_expression
    except ImportError:  # packaging < 24.2: a syntax check only
        if re.fullmatch(r"[A-Za-z0-9.+-]+(?: (?:AND|OR|WITH) [A-Za-z0-9.+-]+)*", text):
            return text
        raise UsageError(
            f"--license '{value}' is not an SPDX license expression (e.g. MIT, Apache-2.0)."
        ) from None
    try:
        return str(canonicalize_license_expression(text))
    except InvalidLicenseExpression:
        raise UsageError(
            f"--license '{value}' is not an SPDX license expression (e.g. MIT, Apache-2.0, "
            "LicenseRef-Proprietary)."
        ) from None


def check_python(value: Path | str | None) -> str:
    """The absolute path of the interpreter the MCP client configuration will start (default: this one).

    Not resolved through symbolic links: a virtual environment's `bin/python` is a link to the base
    interpreter, and resolving it would lose the environment and the packages installed in it.
    """
    if value is None:
        return os.path.abspath(sys.executable)
    path = os.path.abspath(os.path.expanduser(str(value)))
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise UsageError(
            f"--python {value} is not an executable file: give the path of a Python interpreter."
        )
    return path


def missing_modules(python: str, modules: list[str]) -> list[str] | None:
    """The modules `python` cannot find (without importing them), or None when it could not be asked.

    An mcp SDK older than 2.x counts as missing (`mcp>=2.0`): the generated server needs 2.x.
    """
    probe = (
        "import importlib.metadata as md, importlib.util, sys\n"
        "def old(m):\n"
        "    try:\n"
        "        return m == 'mcp' and int(md.version('mcp').split('.')[0]) < 2\n"
        "    except Exception:\n"
        "        return False\n"
        "print(' '.join(m + ('>=2.0' if old(m) else '') for m in sys.argv[1:]"
        " if importlib.util.find_spec(m) is None or old(m)))"
    )
    try:
        proc = subprocess.run(
            [python, "-E", "-c", probe, *modules],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return proc.stdout.split()


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
    formats: tuple[str, ...] | str | None = None,
    out: Path | None = None,
    force: bool = False,
    build: bool = False,
    package_name: str | None = None,
    license: str | None = None,
    python: Path | str | None = None,
    library: Any = None,
    run_cases: CaseRunner | None = None,
    count_runs: RunCounter | None = None,
    progress: Progress | None = None,
) -> DeployResult:
    """Export subagent `name` (latest version unless given) in `formats` into `out`.

    `formats` None means every format whose optional SDK is installed (the others are skipped with a
    warning); formats given by name must all be exportable. `package_name` replaces the default
    distribution name (`af-<name>`); `license` is an SPDX expression (default MIT); `python` is the
    interpreter written into the MCP client configuration (default: the one running this).
    `library`, `run_cases` and `count_runs` default to the configured library, sandbox and experience
    store; tests and embedders may pass their own. `progress` receives one status line per stage.
    """
    say = progress or (lambda _line: None)
    if library is None:
        from agentfactory.library import Library

        library = Library(settings.paths.library)
    source = load_source(library, name, version)  # an unknown name or version is the first thing said

    asked = formats is not None
    if formats is None:
        formats = FORMATS
    elif isinstance(formats, str):
        formats = parse_formats(formats)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise UsageError(f"Unknown format(s) {unknown or formats}: use package, skill, mcp or all.")
    names = export_names(source.name, package_name)
    license_expr = check_license(license)
    mcp_python = check_python(python)
    out = Path(out) if out is not None else Path.cwd() / "deploy" / source.name
    check_out_dir(out, force)

    warnings: list[str] = []
    skipped: dict[str, str] = {}
    if "mcp" in formats:
        problem = mcp_sdk_problem()
        if problem and asked:
            raise ConfigError(problem)
        if problem:
            skipped["mcp"] = problem
            warnings.append(f"The mcp format was skipped: {problem[0].lower()}{problem[1:]}")
            formats = tuple(f for f in formats if f != "mcp")

    entry_module = export_module(source.module)
    scan = scan_imports(source.code, source.entry)
    crossing = library_modules(library, set(scan.unknown), source.name)
    if crossing:
        listed = ", ".join(f"'{module}' (subagent {owner})" for module, owner in crossing.items())
        raise ValidationError(
            f"'{source.name}' imports {listed} from the library; exporting subagents that depend on each "
            "other is not supported: inline what it needs and save a new version first."
        )
    warnings += [
        f"'{source.name}' imports '{module}', which is neither in the standard library nor in the sandbox "
        "image; add its distribution to the package's dependencies by hand."
        for module in scan.unknown
        if module not in crossing
    ]
    if license_expr != "MIT" and "package" in formats:
        warnings.append(
            f"LICENSE names {license_expr} but does not hold its text: put the full license text in it "
            "before publishing."
        )

    say(
        f"Checking '{source.name}' version {source.version}: {len(source.cases)} stored case(s) in the "
        f"{settings.sandbox.backend} sandbox, successful runs in the experience store."
    )
    gate = _run_gate(settings, source, force, run_cases, count_runs, say)
    if not gate.passed and not force:
        raise DeployRefused(
            f"'{source.name}' version {source.version} is not mature enough to deploy: "
            + "; ".join(gate.reasons)
            + ". Pass --force to export it anyway (the exported README will say the gate was overridden)."
        )

    mcp_servers = exported_mcp_servers(settings, source)
    warnings += [
        f"'{source.name}' calls tools of the MCP server '{server}', which agentfactory.toml does not "
        "declare: the export's README asks for its configuration."
        for server, config in mcp_servers.items()
        if config is None
    ]
    plan = new_plan(
        source,
        names,
        entry_module,
        scan,
        gate,
        forced=force and not gate.passed,
        license=license_expr,
        mcp_python=mcp_python,
        mcp_servers=mcp_servers,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.deploy-", dir=out.parent))
    try:
        outputs: dict[str, Path] = {}
        dists = None
        if "package" in formats:
            say(f"Rendering the package {names.dist} (import {names.package}).")
            render_package(plan, staging / "package")
            if build:
                say("Building the sdist and the wheel (python -m build).")
                built = build_distributions(staging / "package")
                dists = Distributions(
                    sdist=out / "package" / "dist" / built.sdist.name,
                    wheel=out / "package" / "dist" / built.wheel.name,
                )
            outputs["package"] = out / "package"
        if "skill" in formats:
            say(f"Rendering the Agent Skills folder {source.name}.")
            render_skill(plan, staging / "skill" / source.name)
            outputs["skill"] = out / "skill" / source.name
        if "mcp" in formats:
            say("Rendering the MCP server and its client configuration.")
            render_mcp(plan, staging / "mcp", out / "mcp")
            outputs["mcp"] = out / "mcp"
            warnings += _mcp_python_notes(mcp_python, plan.scan.dependencies, out / "mcp", python is None)
        _move_into(staging, out, [f for f in FORMATS if f in formats])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if build and "package" not in formats:
        warnings.append("--build applies to the package format only; nothing was built.")
    return DeployResult(
        name=source.name,
        version=source.version,
        out=out,
        outputs=outputs,
        gate=gate,
        forced=plan.forced,
        distributions=dists,
        warnings=tuple(warnings),
        names=names,
        license=license_expr,
        mcp_python=mcp_python if "mcp" in outputs else None,
        skipped=skipped,
    )


def exported_mcp_servers(settings: Settings, source: Any) -> dict[str, dict[str, Any] | None]:
    """The servers of the subagent's MCP tools as an export ships them (no credential); None for a
    server agentfactory.toml does not declare."""
    servers = sorted({t.split(".", 1)[0] for t in source.tools if "." in t})
    configured = settings.tools.mcp_servers
    return {name: configured[name].exported() if name in configured else None for name in servers}


def _mcp_python_notes(python: str, dependencies: tuple[str, ...], folder: Path, default: bool) -> list[str]:
    """What the interpreter written into mcp.json still needs, said as a warning (nothing when complete)."""
    from agentfactory.deploy.analysis import SANDBOX_DISTRIBUTIONS

    modules = ["mcp", *sorted(m for m, d in SANDBOX_DISTRIBUTIONS.items() if d in dependencies)]
    missing = missing_modules(python, modules)
    chosen = "this interpreter" if default else "the --python interpreter"
    install = f"{python} -m pip install -r {folder / 'requirements.txt'}"
    if missing is None:
        return [
            f"mcp.json starts the server with {python} ({chosen}), which could not be asked what it has: {install}."
        ]
    if missing:
        return [
            f"mcp.json starts the server with {python} ({chosen}), which lacks {', '.join(missing)}: "
            f"{install}, or pass --python with an interpreter that has them."
        ]
    return []


def _run_gate(
    settings: Settings,
    source: SubagentSource,
    force: bool,
    run_cases: CaseRunner | None,
    count_runs: RunCounter | None,
    progress: Progress | None = None,
) -> MaturityReport:
    from agentfactory.deploy.checks import experience_run_counter, sandbox_case_runner

    run_cases = run_cases or sandbox_case_runner(settings, progress)
    count_runs = count_runs or experience_run_counter(settings)
    try:
        return check_maturity(
            source, run_cases, count_runs, settings.policy.deploy_min_runs, settings.sandbox.backend
        )
    except SandboxError as exc:
        if not force:
            raise
        # --force exports without the gate; the README says it could not even be checked.
        return MaturityReport(
            cases_total=len(source.cases),
            cases_passed=0,
            successful_runs=None,
            min_runs=settings.policy.deploy_min_runs,
            sandbox=settings.sandbox.backend,
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
