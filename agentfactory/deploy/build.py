"""Build the sdist and wheel of an exported package with the PyPA `build` front end.

With hatchling installed the build runs without isolation (offline); otherwise `build` makes an isolated
environment and pip fetches hatchling from PyPI, the only network a build ever needs.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from agentfactory.errors import AgentFactoryError, ConfigError
from agentfactory.records import record

BUILD_TIMEOUT_S = 600


class BuildFailed(AgentFactoryError):
    """The exported package did not build; the message carries the builder's last lines."""


@record(frozen=True)
class Distributions:
    sdist: Path
    wheel: Path


def build_distributions(project: Path, outdir: Path | None = None) -> Distributions:
    """Build `project` into `outdir` (default `project/dist`) and return the two files."""
    if importlib.util.find_spec("build") is None:
        raise ConfigError(
            "--build needs the PyPA 'build' package: pip install build (or pip install 'agentfactory[dev]')."
        )
    outdir = outdir or project / "dist"
    command = [sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(outdir)]
    if importlib.util.find_spec("hatchling") is not None:
        command.append("--no-isolation")
    command.append(str(project))
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise BuildFailed(
            f"Building {project.name} took longer than {BUILD_TIMEOUT_S} s; nothing was built."
        ) from None
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-4:])
        raise BuildFailed(f"Building the package failed ({tail}); the project is left unbuilt.")
    wheels = sorted(outdir.glob("*.whl"))
    sdists = sorted(outdir.glob("*.tar.gz"))
    if not wheels or not sdists:
        raise BuildFailed(f"The build of {project.name} finished without producing a wheel and an sdist.")
    return Distributions(sdist=sdists[-1], wheel=wheels[-1])
