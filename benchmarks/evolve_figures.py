"""Figures for `agentfactory evolve` on the core suite with the simulated model.

Steps, all with real components (library, experience store, sandbox) in a temporary folder:
1. seed: the Meta-Agent (sim) solves the suite's file-based tasks; the subagents it saves carry cases;
2. ship drafts: each saved subagent whose capability has a realistic first-draft bug gets that draft saved
   as its current version, outside the gate (as `library add` would) — the faults evolve must repair;
3. use: a replay run executes each drafted subagent on its stored cases' inputs, so the experience store
   records the failures of the current version (as reuse in later runs would);
4. evolve: `Evolver.run(all_=True)` with the sim model;
5. regressions admitted: independently of the gate, every case stored in the version before is run on
   the version after; any failure is an admitted regression (must be 0).

Prints: subagents with failures, evolved, cases passing before → after, held-out pass rate, regressions
admitted, tokens spent on evolution. Figures are from the simulated model and are labelled so.

    python benchmarks/evolve_figures.py [--sandbox local|docker]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from agentfactory_bench import CORE_SUITE, load_suite, sim

from agentfactory.config import Settings
from agentfactory.engine.candidates import FIXTURES_DIR
from agentfactory.engine.gate import run_subagent_cases
from agentfactory.evolve import Evolver
from agentfactory.experience import ExperienceStore, default_store_path
from agentfactory.library import Library
from agentfactory.llm import ScriptedProvider, get_provider
from agentfactory.meta.agent import MetaAgent
from agentfactory.sandbox import get_backend


def seed(settings: Settings, library: Library, store: ExperienceStore, backend) -> int:
    """Each file task solved once: the capability the sim model would write, run on the task's inputs, saved.

    Driven by a scripted Meta-Agent over the task's declared first capability and inputs (the reference
    code the sim model writes).
    """
    suite = load_suite(CORE_SUITE)
    tasks = [t for t in suite.tasks if not t.pages and not t.documents and t.capabilities]
    seeded = 0
    for task in tasks:
        cap = suite.capability(task.capabilities[0])
        inputs = task.inputs.get(cap.name, {})
        args = {"name": cap.name, "description": cap.description, "code": cap.code, "tools": list(cap.tools)}
        if cap.name in {i.name for i in library.list()}:
            script = [_call("run_subagent", name=cap.name, inputs=inputs)]
        else:
            script = [
                _call("create_subagent", **args),
                _call("run_subagent", name=cap.name, inputs=inputs),
            ]
        script.append(_call("finish", answer="done", save=[cap.name]))
        with sim.serving(task, suite):  # the subagents' llm calls get the task's declared answers
            MetaAgent(
                settings,
                provider=ScriptedProvider(script),
                library=library,
                backend=backend,
                experience=store,
            ).run(task.render_text(), input_files=list(task.files))
        seeded += 1
    return seeded


def _call(tool: str, **arguments) -> dict:
    return {"tool_calls": [{"name": tool, "arguments": arguments}]}


def ship_drafts(library: Library, root: Path) -> list[str]:
    shipped = []
    names = {info.name for info in library.list()}
    for cap in load_suite(CORE_SUITE).capabilities.values():
        if not cap.bug or cap.name not in names:
            continue
        sub = library.get(cap.name)
        code = sub.code
        if not all(e.old in code for e in cap.bug) or not sub.cases:
            continue
        for e in cap.bug:
            code = code.replace(e.old, e.new, 1)
        folder = library.export(cap.name, sub.version, root / "drafts")
        (folder / sub.entry).write_text(code, encoding="utf-8")
        library.save(folder, message="first draft shipped outside the gate")
        shipped.append(cap.name)
    return shipped


def replay(
    settings: Settings, library: Library, store: ExperienceStore, backend, names: list[str], root: Path
):
    """One run per subagent that executes it on its stored cases' inputs (the failures evolve reads)."""
    for name in names:
        sub = library.get(name)
        folder = library.export(name, sub.version, root / "replay" / name)
        files = sorted(p for p in (folder / FIXTURES_DIR).rglob("*") if p.is_file())
        script = [
            {"tool_calls": [{"name": "run_subagent", "arguments": {"name": name, "inputs": case.inputs}}]}
            for case in sub.cases
        ]
        script.append({"tool_calls": [{"name": "finish", "arguments": {"answer": "replayed"}}]})
        MetaAgent(
            settings, provider=ScriptedProvider(script), library=library, backend=backend, experience=store
        ).run(f"use {name} again", input_files=files)


def regressions(settings: Settings, library: Library, outcomes) -> tuple[int, int]:
    """(failing, total) over every case of each version before, run on the version after.

    The cases run through the engine's case runner (`run_subagent_cases`), as the library's gate runs
    them: a fresh inputs folder with the version's fixtures and a fresh outputs folder per case, and the
    output files' facts collected for the file checks. (Run through a bare execution instead, every
    case that checks an output file failed with "its content could not be read": the script's flaw,
    not an admitted regression.)"""
    failing = total = 0
    for o in outcomes:
        if o.verdict != "accepted":
            continue
        before, after = library.get(o.name, o.version_before), library.get(o.name, o.version_after)
        report = run_subagent_cases(settings, replace(after, cases=before.cases), purpose="evolve-check")
        passed, count = report.counts()
        failing += count - passed
        total += count
    return failing, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sandbox", default="local", choices=["local", "docker"])
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="af-evolve-bench-") as tmp:
        root = Path(tmp)
        settings = Settings.from_keys(
            library=root / "lib", workspaces=root / "ws", sandbox=args.sandbox, model="sim", timeout_s=60
        )
        library, backend = Library(settings.paths.library), get_backend(settings.sandbox)
        store = ExperienceStore(default_store_path(settings.paths))
        try:
            tasks = seed(settings, library, store, backend)
            shipped = ship_drafts(library, root)
            replay(settings, library, store, backend, shipped, root)
            evolver = Evolver(settings, provider=get_provider("sim", settings.models, env={}), library=library,
                              backend=backend, experience=store)  # fmt: skip
            plans = evolver.plan(all_=True)
            with sim.revising(load_suite(CORE_SUITE)):  # the reviser knows the suite's reference code
                report = evolver.run(plans=plans)
            admitted, checked = regressions(settings, library, report.outcomes)
            library_size = len(library.list())
        finally:
            backend.close()
            store.close()
    outcomes = report.outcomes
    accepted = [o for o in outcomes if o.verdict == "accepted"]
    before = [sum(o.passing_before[i] for o in outcomes) for i in (0, 1)]
    after = [sum(o.passing_after[i] for o in outcomes) for i in (0, 1)]
    held = [sum(o.held_out[i] for o in accepted) for i in (0, 1)]
    print(
        f"evolve figures — core suite, {tasks} file tasks seeded, sim model (simulated), sandbox {args.sandbox}"
    )
    print(f"subagents in library: {library_size}; first drafts shipped: {len(shipped)}")
    print(f"subagents with failures since their version: {len(plans)}")
    print(f"subagents evolved (accepted): {len(accepted)} of {len(outcomes)}")
    for o in outcomes:
        print(f"  {o.name}: v{o.version_before} → v{o.version_after or o.version_before}, cases "
              f"{o.passing_before[0]}/{o.passing_before[1]} → {o.passing_after[0]}/{o.passing_after[1]}, "
              f"rounds {len(o.rounds)}, tokens {o.tokens:,}, {o.verdict}")  # fmt: skip
    print(f"cases passing before → after: {before[0]}/{before[1]} → {after[0]}/{after[1]}")
    print(f"held-out cases passed by accepted revisions: {held[0]}/{held[1]}")
    print(f"regressions admitted: {admitted} (of {checked} stored cases re-run on the new versions)")
    print(f"tokens spent on evolution: {report.tokens:,} (simulated: {report.simulated})")
    print(f"wall time: {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
