"""Installing as a newcomer does: every import of the base package is a declared dependency, a fresh
venv without extras imports every module, and the README's scripts install only into a virtual
environment (they work where pip refuses to install outside one: PEP 668, PIP_REQUIRE_VIRTUALENV=1)."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "agentfactory"
# Code that runs inside the sandbox, not on the host.
IN_SANDBOX = (PACKAGE / "sandbox" / "runtime",)
SCRIPTS = sorted((ROOT / "scripts").glob("*.sh"))


def _requirement_name(spec: str) -> str:
    return re.split(r"[\s<>=!~\[;]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _declared() -> tuple[set[str], set[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = {_requirement_name(s) for s in project["dependencies"]}
    extras = {
        _requirement_name(s)
        for name, specs in project["optional-dependencies"].items()
        if name != "dev"
        for s in specs
    }
    return base, extras


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(top-level module, imported at module level) for every absolute import of a file; imports under
    `if TYPE_CHECKING:` (never executed) and in a `try` that catches ImportError (optional) are skipped."""
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.Try) and any(
                h.type is not None
                and re.search(r"\b(ImportError|ModuleNotFoundError)\b", ast.unparse(h.type))
                for h in child.handlers
            ):
                continue  # an optional import with its fallback
            if isinstance(child, ast.Import):
                found.extend((a.name.split(".")[0], not lazy) for a in child.names)
            elif isinstance(child, ast.ImportFrom) and not child.level and child.module:
                found.append((child.module.split(".")[0], not lazy))
            visit(child, lazy or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda))

    visit(ast.parse(path.read_text(encoding="utf-8")), False)
    return found


def _distributions(module: str) -> set[str]:
    names = importlib.metadata.packages_distributions().get(module, [])
    return {n.lower().replace("_", "-") for n in names}


def test_every_import_of_the_base_package_is_declared():
    """A module-level import needs a base dependency; an import inside a function may need an extra
    (it then fails with the install hint), never an undeclared package."""
    base, extras = _declared()
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if any(path.is_relative_to(d) for d in IN_SANDBOX):
            continue
        for module, eager in _imports(path):
            if module in sys.stdlib_module_names or module == "agentfactory" or module == "__future__":
                continue
            dists = _distributions(module)
            allowed = base if eager else base | extras
            if not dists & allowed:
                where = "at module level" if eager else "in a function"
                problems.append(f"{path.relative_to(ROOT)} imports {module} {where} ({dists or 'unknown'})")
    assert not problems, "undeclared imports:\n" + "\n".join(problems)


@pytest.mark.slow
def test_the_product_wheel_holds_no_simulator_and_no_harness(tmp_path):
    """The simulated model, the harness, the baselines and the suites ship in the benchmark's own
    distribution (benchmarks/); the product's wheel registers only its own providers."""
    wheels = {}
    for name, source in (("agentfactory", ROOT), ("agentfactory_bench", ROOT / "benchmarks")):
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "build",
                "--wheel",
                "--no-isolation",
                "--outdir",
                str(tmp_path / name),
                str(source),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
        (wheel,) = (tmp_path / name).glob("*.whl")
        wheels[name] = zipfile.ZipFile(wheel)
    product = wheels["agentfactory"].namelist()
    assert not [n for n in product if n.startswith("agentfactory/bench") or "sim" in Path(n).stem.split("_")]
    assert not [n for n in product if n.startswith("agentfactory_bench") or "suites/" in n]
    entry_points = next(n for n in product if n.endswith("entry_points.txt"))
    text = wheels["agentfactory"].read(entry_points).decode()
    assert "[agentfactory.providers]" in text and "sim" not in text.split("[agentfactory.providers]")[1]
    bench = wheels["agentfactory_bench"].namelist()
    assert "agentfactory_bench/sim.py" in bench and "agentfactory_bench/suites/core/suite.yaml" in bench
    bench_points = wheels["agentfactory_bench"].read(next(n for n in bench if n.endswith("entry_points.txt")))
    assert b"sim = agentfactory_bench.sim:PLUGIN" in bench_points and b"demo = " in bench_points


def test_cli_no_longer_imports_click():
    """typer >= 0.29 vendors click and no longer depends on it: the CLI must use typer's own types."""
    assert ("click", True) not in _imports(PACKAGE / "cli" / "app.py")


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("AGENTFACTORY_CLEAN_VENV_SMOKE") == "passed",
    reason="scripts/test.sh ran scripts/smoke-clean-venv.sh (this check and more) before pytest",
)
def test_fresh_venv_without_extras_imports_every_module():
    """Also, without extras: `--help` works; `run --model anthropic:x` / `openai:x` / `--sandbox docker`
    each exit 3 with one sentence naming `pip install 'agentfactory[<extra>]'`; deploy of an unknown
    name says so (exit 2) though the mcp SDK is missing (scripts/smoke-clean-venv.sh)."""
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "smoke-clean-venv.sh"), "--imports-only"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "0 failed to import" in out.stdout and "clean venv smoke: imports ok" in out.stdout
    assert "each missing extra is one sentence with its pip install, exit 3" in out.stdout


# -- the README's scripts and virtual environments ----------------------------------------------------

BARE = [
    (
        re.compile(r"(^|[\s;&|(])(python3?\s+-m\s+)?pip3?\s+install"),
        "a pip install not through a venv's python",
    ),
    (re.compile(r"(^|[\s;&|(])python3?\s+-m\s+pytest"), "pytest from the system python"),
    (re.compile(r"(^|[\s;&|(])agentfactory\s"), "`agentfactory` from PATH"),
]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_never_call_the_system_pip_python_or_agentfactory(script):
    problems = []
    for number, line in enumerate(script.read_text().splitlines(), 1):
        code = line.split("#", 1)[0]
        # A venv's interpreter named by a variable ("$VENV_PY" -m pip, "$PY" -m agentfactory) is fine.
        code = re.sub(r'"\$\{?\w+\}?"\s+-m\s+\w+', "VENV-COMMAND", code)
        code = re.sub(r'"[^"]*"|\'[^\']*\'', '""', code)  # messages and arguments, not commands
        for pattern, what in BARE:
            if pattern.search(code):
                problems.append(f"{script.name}:{number}: {what}: {line.strip()}")
    assert not problems, "\n".join(problems)


def test_scripts_install_through_the_venv_interpreter():
    for name in ("demo.sh", "test.sh"):
        text = (ROOT / "scripts" / name).read_text()
        assert "source scripts/venv.sh" in text and '"$VENV_PY" -m pip install' in text, name
    assert '"$VENV_PY" -m pytest' in (ROOT / "scripts" / "test.sh").read_text()
    assert '"$PY" -m agentfactory sandbox build-image' in (ROOT / "scripts" / "setup-docker.sh").read_text()


def _dependencies_path() -> str:
    """This interpreter's site-packages: on PYTHONPATH, pip finds the dependencies there and downloads none."""
    return sysconfig.get_paths()["purelib"]


@pytest.mark.slow
def test_demo_script_creates_and_uses_a_venv_where_pip_requires_one(tmp_path):
    venv = tmp_path / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AGENTFACTORY_", "VIRTUAL_ENV"))},
        "PIP_REQUIRE_VIRTUALENV": "1",  # pip refuses every install outside a virtual environment
        "PYTHONPATH": _dependencies_path(),
        "AGENTFACTORY_VENV": str(venv),
        "AGENTFACTORY_BASE_PYTHON": base,
        "AGENTFACTORY_SETUP_DOCKER": "0",
    }
    # The control: the same pip, asked outside a virtual environment, refuses.
    refused = subprocess.run(
        [base, "-m", "pip", "install", "--dry-run", "-e", str(ROOT)], env=env, capture_output=True, text=True
    )
    assert refused.returncode != 0 and "virtualenv" in (refused.stdout + refused.stderr).lower()

    first = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo.sh"), "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-2000:]
    assert "Creating the project virtual environment" in first.stdout and "Usage" in first.stdout
    assert (venv / "bin" / "agentfactory").is_file()
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import agentfactory; print(agentfactory.__file__)"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.stdout.strip() == str(PACKAGE / "__init__.py")

    again = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo.sh"), "--help"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0 and "Creating" not in again.stdout  # reused, not made anew
