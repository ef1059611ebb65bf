"""Which of the runner's two interpreters serves a subagent (runner._needs_warm): the warm one, with the
preload imported, when its code may import anything beyond the standard library and its own files;
the cold one, whose exit costs a fraction of the warm one's, otherwise. Only the speed depends on it."""

from __future__ import annotations

import importlib.util
import os
import shutil
import textwrap
from pathlib import Path

import pytest

RUNNER = Path(__file__).parents[2] / "agentfactory" / "sandbox" / "runtime" / "runner.py"


def _load(name: str, path: Path):
    """A script that is not a package's module (the runner, a benchmark), loaded as one."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def runner():
    return _load("sandbox_runner", RUNNER)


def _code(tmp_path: Path, files: dict[str, str]) -> str:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return str(tmp_path)


@pytest.mark.parametrize(
    "files",
    [
        {"sub.py": "import os, sys\nimport json as j\nfrom collections import Counter\n"},
        {"sub.py": "from __future__ import annotations\nimport agentfactory_tools\n"},
        {"sub.py": "import helper\nfrom helper import x\n", "helper.py": "import re\nx = 1\n"},
        {"sub.py": "from pkg.inner import f\n", "pkg/__init__.py": "", "pkg/inner.py": "from . import g\n"},
        {"sub.py": "def run():\n    import csv\n    from .local import y\n"},
        {"sub.py": "# pandas is not imported here\nx = 'numpy'\n", "SKILL.md": "import pandas\n"},
    ],
    ids=["stdlib", "future-and-tools", "own-module", "own-package", "in-function", "mentions-only"],
)
def test_code_of_the_standard_library_and_its_own_files_runs_cold(runner, tmp_path, files):
    assert runner._needs_warm(_code(tmp_path, files)) is False


@pytest.mark.parametrize(
    "files",
    [
        {"sub.py": "import numpy\n"},
        {"sub.py": "from pandas import DataFrame\n"},
        {"sub.py": "import os, requests\n"},
        {"sub.py": "import os,json as j,  matplotlib.pyplot as plt\n"},
        {"sub.py": "def run():\n    import scipy.stats\n"},
        {"sub.py": "import helper\n", "helper.py": "import seaborn\n"},
        {"sub.py": "from pkg import f\n", "pkg/__init__.py": "from sklearn import svm\n"},
        {"sub.py": "m = __import__('numpy')\n"},
        {"sub.py": "import importlib\nm = importlib.import_module('pandas')\n"},
    ],
    ids=[
        "import",
        "from",
        "in-a-list",
        "aliased",
        "in-function",
        "helper-imports",
        "package-imports",
        "dunder-import",
        "import-module",
    ],
)
def test_code_that_may_import_beyond_the_standard_library_runs_warm(runner, tmp_path, files):
    assert runner._needs_warm(_code(tmp_path, files)) is True


def test_more_code_than_the_scan_reads_runs_warm(runner, tmp_path):
    files = {f"m{i}.py": "import os\n" for i in range(runner._SCAN_FILES + 1)}
    assert runner._needs_warm(_code(tmp_path, files)) is True
    big = tmp_path / "big"
    big.mkdir()
    assert runner._needs_warm(_code(big, {"sub.py": "import os\n" + "#" * runner._SCAN_BYTES})) is True


def test_code_the_scan_cannot_read_runs_warm(runner, tmp_path):
    assert runner._needs_warm(str(tmp_path / "missing")) is True
    code = _code(tmp_path, {"sub.py": "import os\n"})
    os.symlink("sub.py", tmp_path / "link.py")  # never followed: not a file of its own
    assert runner._needs_warm(code) is False
    os.mkfifo(tmp_path / "fifo.py")  # never opened: a FIFO is not a regular file
    assert runner._needs_warm(code) is False


@pytest.mark.skipif(not shutil.which("bwrap"), reason="bubblewrap is not installed")
def test_the_interpreter_benchmark_runs_and_prints_both(capsys):
    module = _load("interpreter_perf", Path(__file__).parents[2] / "benchmarks" / "interpreter_perf.py")
    assert module.main(["--runs", "2", "--backends", "local"]) == 0
    row = capsys.readouterr().out.splitlines()[-1].split()
    assert row[0] == "local" and all(float(value) > 0 for value in row[1:3])
