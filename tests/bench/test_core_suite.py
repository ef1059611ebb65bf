"""Every core task is solved by its declared capabilities (the suite's reference code, run on the host
with the declared inputs and llm answers), checked successful, and every checker fails on a deliberately
wrong output (a wrong answer or corrupted files)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from agentfactory_bench import CORE_SUITE, check_task, load_suite, prepare_task, sandbox_runner
from agentfactory_bench.sim import Serving

from agentfactory.config import Settings

from .conftest import run_on_host

CORE_IDS = [t["id"] for t in __import__("yaml").safe_load((CORE_SUITE / "suite.yaml").read_text())["tasks"]]
RUNNER = sandbox_runner(Settings.from_keys(sandbox="local"))


def solve(task, server, run_dir: Path) -> str:
    """Run each declared capability on the host with its declared inputs; phrase the declared answer."""
    prepared = prepare_task(task, run_dir, server.base_url)
    served = Serving(task, load_suite(CORE_SUITE), server.base_url)
    llm = [{"when": list(a.when), "answer": a.answer} for a in task.llm]
    result: dict = {}
    for name in task.capabilities:
        cap = served.capability(name)
        result = run_on_host(
            cap.code, cap.entry, served.inputs(name), run_dir, prepared.search_dir, llm_answers=llm
        )
    return served.answer(result)


def wrong_answer(answer: str) -> str:
    """Every number scaled, trend words swapped: what a model that got the figures wrong would say."""
    swapped = answer.replace("improving", "@@").replace("declining", "improving").replace("@@", "declining")

    def scale(m: re.Match) -> str:
        return f"{float(m.group(0)) * 1.37 + 3:.4f}"

    return re.sub(r"(?<![\w.])\d+(?:\.\d+)?", scale, swapped)


def corrupt(outputs: Path) -> None:
    for f in sorted(p for p in outputs.rglob("*") if p.is_file()):
        if f.suffix == ".png":
            f.write_bytes(b"not an image")
        elif f.suffix == ".json":
            data = json.loads(f.read_text())
            if isinstance(data, dict):
                data = {k: (v * 2 + 1 if isinstance(v, (int, float)) else v) for k, v in data.items()}
            elif isinstance(data, list):
                data = data[:-1]
            f.write_text(json.dumps(data))
        elif f.suffix == ".md":
            f.write_text(re.sub(r"\]\([^)]*\)", "]()", f.read_text()))
        elif f.suffix == ".py":
            f.write_text(re.sub(r"return ", "return None and ", f.read_text()))
        elif f.suffix == ".csv":
            f.write_text(f.read_text().splitlines()[0] + "\n")


def test_core_suite_shape(core_suite):
    assert len(core_suite.batch(1)) >= 12 and len(core_suite.batch(2)) == len(core_suite.batch(1))
    families = {t.family for t in core_suite.tasks}
    assert len(families) == 8
    for t in core_suite.batch(2):
        assert core_suite.task(t.pair).family == t.family


@pytest.mark.slow
@pytest.mark.parametrize("task_id", CORE_IDS)
def test_reference_code_solves_task_and_checker_catches_wrong_output(
    task_id, core_suite, core_server, tmp_path
):
    task = core_suite.task(task_id)
    run_dir = tmp_path / "run"
    answer = solve(task, core_server, run_dir)
    outputs = run_dir / "outputs"
    good = check_task(task, answer, outputs, python_runner=RUNNER)
    assert good.passed, (answer, good.details)

    kinds = {c.kind for c in task.checks}
    if kinds & {"answer_number", "answer_regex"} or "improving" in answer or "declining" in answer:
        bad = check_task(task, wrong_answer(answer), outputs, python_runner=RUNNER)
        assert not bad.passed, ("wrong figures passed", bad.details)
    if any(k.startswith("answer_") for k in kinds):
        bad = check_task(task, "Done.", outputs, python_runner=RUNNER)
        assert not bad.passed, ("an empty answer passed", bad.details)

    broken = tmp_path / "broken"
    shutil.copytree(outputs, broken)
    corrupt(broken)
    bad = check_task(task, answer, broken, python_runner=RUNNER)
    assert not bad.passed, ("corrupted outputs passed", bad.details)

    empty = tmp_path / "empty"
    empty.mkdir()
    assert not check_task(task, "", empty, python_runner=RUNNER).passed


def test_make_fixtures_is_deterministic(tmp_path):
    copy = tmp_path / "core"
    copy.mkdir()
    shutil.copy(CORE_SUITE / "make_fixtures.py", copy)
    subprocess.run([sys.executable, str(copy / "make_fixtures.py")], check=True, capture_output=True)
    made = sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file())
    committed = sorted(
        p.relative_to(CORE_SUITE).as_posix()
        for p in CORE_SUITE.rglob("*")
        # the reference capabilities are written by hand, not generated
        if p.is_file()
        and "__pycache__" not in p.parts
        and "capabilities" not in p.relative_to(CORE_SUITE).parts
    )
    assert made == committed
    for rel in made:
        assert (copy / rel).read_bytes() == (CORE_SUITE / rel).read_bytes(), rel


def test_every_core_task_declares_what_the_oracle_needs(core_suite):
    assert core_suite.undeclared() == []
    for task in core_suite.tasks:
        assert set(task.inputs) == set(task.capabilities), task.id
    # every capability the suite defines is used, and each has a description and code
    used = {c for t in core_suite.tasks for c in t.capabilities}
    assert used == set(core_suite.capabilities)


@pytest.mark.parametrize("name", ["variants", "variants2", "variants3", "rephrased"])
def test_variant_suites_are_valid_and_cover_every_family(core_suite, name):
    from agentfactory_bench import load_suite

    variants = load_suite(CORE_SUITE.parent / name)
    # Family labels are each author's own words; what matters is that all eight families are there.
    families = {t.family for t in variants.tasks} - {"none", "outside", "other"}
    assert len(families) >= len({t.family for t in core_suite.tasks})
    for t in variants.batch(2):
        assert variants.task(t.pair).family == t.family
