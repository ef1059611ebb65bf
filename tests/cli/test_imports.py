"""Start-up imports: the command line loads a heavy module only when a command needs it.

Each check runs in a fresh interpreter and reads its `sys.modules`, so modules an earlier test imported
cannot hide a regression.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Imported on first use, never by `import agentfactory.cli.app`, `--help` or a library search.
HEAVY = [
    "jsonschema",
    "git",
    "filelock",
    "jinja2",
    "httpx",
    "httpcore",
    "anthropic",
    "openai",
    "docker",
    "yaml",
    "pydantic",  # typer converts parameters with it; the command line's plain ones do without
    "importlib.metadata",  # entry points are read without it (agentfactory/plugins.py)
]

REPORT = r"""
import atexit, json, os, runpy, sys
heavy, out = json.loads(sys.argv[1]), sys.argv[2]
def report():
    with open(out, "w") as fh:
        json.dump(sorted(m for m in heavy if m in sys.modules), fh)
atexit.register(report)
sys.argv = ["agentfactory", *sys.argv[3:]]
runpy.run_module("agentfactory", run_name="__main__", alter_sys=True)
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _loaded_by(tmp_path: Path, *args: str) -> list[str]:
    out = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", REPORT, json.dumps(HEAVY), str(out), *args],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text())


def test_importing_the_cli_loads_no_heavy_module() -> None:
    code = "import json, sys, agentfactory.cli.app; print(json.dumps([m for m in sys.argv[1:] if m in sys.modules]))"
    proc = subprocess.run(
        [sys.executable, "-c", code, *HEAVY], capture_output=True, text=True, env=_env(), timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout) == []


@pytest.mark.parametrize("module", ["agentfactory", "agentfactory.llm", "agentfactory.library"])
def test_public_packages_load_no_heavy_module(module: str) -> None:
    code = f"import json, sys, {module}; print(json.dumps([m for m in sys.argv[1:] if m in sys.modules]))"
    proc = subprocess.run(
        [sys.executable, "-c", code, *HEAVY], capture_output=True, text=True, env=_env(), timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout) == []


def test_help_loads_no_heavy_module(tmp_path: Path) -> None:
    # (a benchmark plugin installed beside the product may load what it likes; the product's own help not)
    assert [m for m in _loaded_by(tmp_path, "--help") if m != "yaml"] == []


def test_library_search_loads_no_heavy_module(tmp_path: Path) -> None:
    from agentfactory.library import Library
    from tests.library._helpers import write_folder

    lib = Library(tmp_path / "lib")
    lib.save(write_folder(tmp_path / "src", "text-preview"))
    lib.search("preview")  # the index is fresh: the search process only reads it
    assert _loaded_by(tmp_path, "library", "search", "preview text", "--library", str(lib.path)) == []
