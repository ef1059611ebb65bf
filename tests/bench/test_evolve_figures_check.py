"""benchmarks/evolve_figures.py's own regression check: the cases of the version before, run on the
version after, count as passing when they pass (output files pinned by content included) and as
admitted regressions only when they fail."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

from agentfactory.config import load_settings
from agentfactory.engine.gate import file_facts
from agentfactory.library import Library, build_subagent_folder

WRITER = '''"""Write a note.

Purpose:
Write `text` to outputs/note.txt.

Inputs:
- text (str): what to write

Outputs:
- written (int): characters written
"""


def run(text: str) -> dict:
    with open("outputs/note.txt", "w", encoding="utf-8") as fh:
        fh.write(text)
    return {"written": len(text)}
'''


def _script():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "evolve_figures.py"
    spec = importlib.util.spec_from_file_location("evolve_figures", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _library(tmp_path: Path, second_code: str):
    settings = load_settings({"library": tmp_path / "lib", "sandbox": "local"}, env={}, cwd=tmp_path)
    library = Library(settings.paths.library)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "note.txt").write_text("hello")
    pins = file_facts(tmp_path / "out", ["note.txt"])
    case = {"inputs": {"text": "hello"}, "expected": {"written": 5},
            "checks": {"files": ["note.txt"], "file_pins": pins}}  # fmt: skip
    for n, code in enumerate((WRITER, second_code)):
        folder = build_subagent_folder(
            tmp_path / f"v{n + 1}", name="note-writer", description="Write a note to a file.", code=code,
            cases=[case],
        )  # fmt: skip
        library.save(folder)
    accepted = SimpleNamespace(name="note-writer", verdict="accepted", version_before=1, version_after=2)
    return settings, library, [accepted]


def test_an_accepted_version_that_keeps_the_pinned_file_admits_no_regression(tmp_path):
    settings, library, outcomes = _library(tmp_path, WRITER.replace("Write a note.", "Write one note."))
    assert _script().regressions(settings, library, outcomes) == (0, 1)


def test_an_accepted_version_that_changes_the_pinned_file_is_counted(tmp_path):
    settings, library, outcomes = _library(tmp_path, WRITER.replace("fh.write(text)", "fh.write(text + '!')"))
    assert _script().regressions(settings, library, outcomes) == (1, 1)
