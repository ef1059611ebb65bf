"""Evolve reuses what exists elsewhere instead of a copy: the edit applier `modify_subagent` uses, the
regression gate's text, and no Meta-Agent internals."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import agentfactory.evolve
from agentfactory.evolve import EvolveOptions, Evolver, FailingCase
from agentfactory.library.edits import EditError, apply_edits
from agentfactory.llm import ScriptedProvider
from agentfactory.meta.agent import MetaAgent

from .conftest import NAME, call, revision

BAD_EDIT = [{"old": "not in the code", "new": "x"}]
TWICE = [{"old": "numbers", "new": "values"}]
EMPTY = FailingCase(inputs={"numbers": []}, expected={"mean": None}, error="ZeroDivisionError")


def test_modify_subagent_and_evolve_refuse_a_bad_edit_with_one_sentence(env):
    script = [
        call("modify_subagent", name=NAME, reason="x", edits=BAD_EDIT),
        call("modify_subagent", name=NAME, reason="x", edits=TWICE),
        call("finish", status="failed", answer="", reason="no edit applied"),
    ]
    provider = ScriptedProvider(script)
    MetaAgent(env.settings, provider=provider, library=env.library, backend=env.backend).run("mean")
    meta_said = [
        m.tool_results[0].content for m in (provider.requests[1][1][-1], provider.requests[2][1][-1])
    ]

    evolver = Evolver(
        env.settings, provider=ScriptedProvider([revision("x", edits=BAD_EDIT), revision("x", edits=TWICE)]),
        library=env.library, backend=env.backend, options=EvolveOptions(rounds=2),
    )  # fmt: skip
    [outcome] = evolver.run(plans=[evolver.plan_for(NAME, [EMPTY])]).outcomes
    evolve_said = [r.reason for r in outcome.rounds]

    for problem, meta, evolve in zip(
        ("the `old` text is not found", "the `old` text is found"), meta_said, evolve_said, strict=True
    ):
        assert f"dit 1: {problem}" in meta and f"dit 1: {problem}" in evolve
    assert evolve_said[1] == "edit 1: the `old` text is found 5 times; it must occur exactly once"
    assert (
        "Edit 1: the `old` text is found 5 times; it must occur exactly once. Nothing changed."
        in meta_said[1]
    )


@pytest.mark.parametrize(
    "edits",
    [[{"old": "", "new": "x"}], [{"old": 1, "new": "x"}], [{"old": "a", "new": None}], [{"new": "x"}]],
)
def test_hostile_edits_are_refused_not_raised(edits):
    with pytest.raises(EditError, match="edit 1"):
        apply_edits("a = 1\n", edits)


def test_edits_apply_in_order_on_the_code_as_it_is_then():
    code = apply_edits("a = 1\nb = 2\n", [{"old": "a = 1", "new": "a = 3"}, {"old": "a = 3\nb", "new": "c"}])
    assert code == "c = 2\n"


def test_evolve_imports_no_meta_agent_internals_but_the_shared_loop():
    """Evolve runs on the engine (its loop, its run) and imports nothing of the Meta-Agent."""
    package = Path(agentfactory.evolve.__file__).parent
    imported = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
            elif isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
    assert {m for m in imported if m.startswith("agentfactory.meta")} == set()
    assert {"agentfactory.engine.loop", "agentfactory.engine.run"} <= imported
