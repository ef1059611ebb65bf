"""The names an exported package takes when installed, chosen so that installing it never replaces
another package.

An export installs a distribution, a top-level import package and two console scripts. A subagent named
`pip`, `requests` or `json` must not install a package of that name: `pip install` would overwrite the
real one. So by default every exported name carries the prefix `af-` (distribution and commands) /
`af_` (import package): the subagent `csv-stats` installs as the distribution `af-csv-stats`, imported as
`af_csv_stats`, with the commands `af-csv-stats` and `af-csv-stats-mcp`. `--package-name` chooses
another distribution name; the import package is that name with `-` and `.` as `_`.

Whatever the source of a name, it is refused when it collides with
- the standard library (`sys.stdlib_module_names`),
- a distribution installed here, or a top-level module importable here,
- a well-known PyPI distribution or its import names (`data/well_known_packages.txt`), installed or not,
- a command already on PATH (the console scripts would shadow it),
except an earlier export of the same subagent (marked in its metadata), which an install upgrades.

Nothing here imports the modules it looks for: `importlib.util.find_spec` only locates them.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import keyword
import re
import shutil
import sys
from functools import lru_cache
from pathlib import Path

from agentfactory.errors import UsageError, ValidationError
from agentfactory.records import record

DEFAULT_PREFIX = "af-"
EXPORT_KEYWORD = "agentfactory-export"  # in every exported pyproject's keywords
WELL_KNOWN_FILE = Path(__file__).parent / "data" / "well_known_packages.txt"
# Modules the exported code itself needs under these names.
RESERVED = {"agentfactory", "agentfactory_tools", "tests", "test", "src"}

_DIST_RE = re.compile(r"^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$", re.IGNORECASE)


def normalize(name: str) -> str:
    """PEP 503 form of a distribution name: lower case, runs of -, _ and . as one '-'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def import_name(dist: str) -> str:
    """The import package of a distribution name: `af-csv-stats` -> `af_csv_stats`."""
    return re.sub(r"[-.]+", "_", dist).lower()


def subagent_marker(subagent: str) -> str:
    """The keyword that ties an exported distribution to the subagent it came from."""
    return f"agentfactory-subagent:{subagent}"


@record(frozen=True)
class ExportNames:
    """The installed names of one export."""

    dist: str  # distribution name, e.g. af-csv-stats
    package: str  # top-level import package, e.g. af_csv_stats
    tool: str  # the MCP tool name: the subagent's name with '_' (not installed anywhere)
    chosen: bool = False  # given with --package-name

    @property
    def command(self) -> str:
        return self.dist

    @property
    def mcp_command(self) -> str:
        return f"{self.dist}-mcp"


@lru_cache(maxsize=1)
def well_known() -> tuple[frozenset[str], frozenset[str]]:
    """(normalized distribution names, lower-case import names) of the bundled list."""
    return _well_known()[:2]


def well_known_commands() -> frozenset[str]:
    """Lower-case names of the commands well-known distributions install (`cmd` lines of the list)."""
    return _well_known()[2]


@functools.lru_cache(maxsize=1)
def _well_known() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    dists: set[str] = set()
    modules: set[str] = set()
    commands: set[str] = set()
    for raw in WELL_KNOWN_FILE.read_text(encoding="utf-8").splitlines():
        fields = raw.split("#", 1)[0].split()
        if not fields:
            continue
        if fields[0] == "cmd":
            commands.update(c.lower() for c in fields[1:])
            continue
        dists.add(normalize(fields[0]))
        commands.add(normalize(fields[0]))
        modules.add(import_name(fields[0]))
        modules.update(m.lower() for m in fields[1:])
    return frozenset(dists), frozenset(modules), frozenset(commands)


def _installed() -> dict[str, importlib.metadata.Distribution]:
    found: dict[str, importlib.metadata.Distribution] = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] if dist.metadata else None
        if name:
            found.setdefault(normalize(str(name)), dist)
    return found


def _is_export_of(dist: importlib.metadata.Distribution, subagent: str) -> bool:
    keywords = str(dist.metadata.get("Keywords") or "")
    return subagent_marker(subagent) in {k.strip() for k in keywords.replace(",", " ").split()}


def _module_owners() -> dict[str, list[str]]:
    try:
        owners = importlib.metadata.packages_distributions()
    except Exception:  # a broken dist-info somewhere must not stop the check; find_spec still runs
        return {}
    return {module.lower(): [normalize(d) for d in dists] for module, dists in owners.items()}


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return True  # something of that name is there, only broken: still a collision


def collision(dist: str, package: str, subagent: str) -> str | None:
    """Why installing `dist` / `package` would replace something, or None when it would not."""
    key, module = normalize(dist), package.lower()
    stdlib = {m.lower() for m in sys.stdlib_module_names}
    if module in RESERVED or key in {normalize(r) for r in RESERVED}:
        return f"'{package}' is a name the exported code needs for itself"
    if module in stdlib:
        return f"'{package}' is a module of the Python standard library"
    installed = _installed()
    own = key in installed and _is_export_of(installed[key], subagent)
    if key in installed and not own:
        return f"a distribution named '{installed[key].metadata['Name']}' is installed here"
    owners = _module_owners()
    if module in owners and set(owners[module]) - {key}:
        return f"the installed distribution '{owners[module][0]}' provides the module '{package}'"
    if not own and _importable(package):
        return f"a module named '{package}' is importable here"
    dists, modules = well_known()
    if key in dists:
        return f"'{dist}' is a well-known PyPI distribution"
    if module in modules:
        return f"'{package}' is the import name of a well-known PyPI distribution"
    for command in (dist, f"{dist}-mcp"):
        if own:
            break
        # A file system may ignore case (a `Pip3` script would replace `pip3`): compare in lower case too.
        where = shutil.which(command) or shutil.which(command.lower())
        if where:
            return f"a command named '{command}' is already on PATH ({where})"
        if command.lower() in well_known_commands() or normalize(command) in well_known_commands():
            return f"'{command}' is the name of a command a well-known distribution installs"
    return None


def export_names(subagent: str, requested: str | None = None) -> ExportNames:
    """The checked names for exporting `subagent`, from `--package-name` when given.

    Raises UsageError (exit 2) for a requested name that is malformed or collides, ValidationError for
    a default name that cannot be used (the message points to --package-name).
    """
    tool = subagent.replace("-", "_")
    if requested is not None:
        dist = requested.strip()
        if not _DIST_RE.match(dist) or len(dist) > 100:
            raise UsageError(
                f"--package-name '{requested}' is not a valid distribution name: use letters, digits, '-', "
                "'_' and '.', starting and ending with a letter or digit."
            )
        package = import_name(dist)
        if not package.isidentifier() or keyword.iskeyword(package) or not package.isascii():
            raise UsageError(
                f"--package-name '{requested}' gives the import name '{package}', which is not a valid "
                "Python package name (it must not start with a digit): choose another name."
            )
        reason = collision(dist, package, subagent)
        if reason:
            raise UsageError(
                f"--package-name '{requested}' would replace something when installed ({reason}): "
                "choose another name."
            )
        return ExportNames(dist, package, tool, chosen=True)
    dist = f"{DEFAULT_PREFIX}{subagent}"
    package = import_name(dist)
    if not _DIST_RE.match(dist) or not package.isidentifier() or not package.isascii():
        raise ValidationError(
            f"Subagent name '{subagent}' does not make a valid package name ('{dist}'): pass "
            "--package-name with one."
        )
    reason = collision(dist, package, subagent)
    if reason:
        raise ValidationError(
            f"The default package name '{dist}' of '{subagent}' would replace something when installed "
            f"({reason}): pass --package-name with another name."
        )
    return ExportNames(dist, package, tool)


# Names the generated code takes next to the subagent module (in the package and in scripts/).
GENERATED_MODULES = {"__init__", "__main__", "cli", "mcp_server", "agentfactory_tools", "run", "server"}


def export_module(module: str) -> str:
    """The file name (without .py) the subagent module gets in the exports.

    Its own name when that is a plain identifier that shadows nothing; otherwise `af_<name>`. In
    `scripts/` of a skill and in the MCP folder the module sits first on `sys.path`, where a module named
    `json` or `requests` would replace the real one for the generated code; in the package it sits next
    to the generated modules. The code is copied unchanged: only the file name differs.
    """
    plain = module.isidentifier() and module.isascii() and not keyword.iskeyword(module)
    if plain and module not in GENERATED_MODULES and module.lower() not in RESERVED:
        stdlib = {m.lower() for m in sys.stdlib_module_names}
        if module.lower() not in stdlib and module.lower() not in well_known()[1] and not _importable(module):
            return module
    candidate = "af_" + re.sub(r"\W", "_", module)
    if not candidate.isidentifier() or not candidate.isascii():
        raise ValidationError(
            f"The subagent's module name '{module}' cannot be made a Python module name: rename its entry "
            "file before deploying it."
        )
    return candidate
