"""Two writers, one new name: a run writes a subagent while another writer (a batch worker, an MCP client)
saves the same name first. The run's save is then a revision of that version and goes through the gate:
it is refused when it breaks the other's stored case, and kept beside it when it passes."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from agentfactory.library import Case, Library, build_subagent_folder
from agentfactory.llm import ScriptedProvider
from agentfactory.meta.agent import MetaAgent

from .conftest import call, make_env

OURS = '''"""Upper-case a text.

Purpose: the text in capitals.
Inputs: text (str).
Outputs: upper (str).
Limitations: none.
"""


def run(text: str) -> dict:
    return {"upper": text.upper()}
'''
# What the other writer saved first: the same name, which also strips the text; its case pins that.
THEIRS = OURS.replace("text.upper()", "text.strip().upper()")


def _save_theirs(library: Library) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "upper"
        build_subagent_folder(
            folder,
            name="upper",
            description="Upper-case a text, without surrounding blanks.",
            code=THEIRS,
            tools=[],
            cases=[Case(inputs={"text": "  ab  "}, expected={"upper": "AB"})],
        )
        library.save(folder)


class _OtherWriterFirst(ScriptedProvider):
    """Replays the script; just before the model's `finish`, another writer saves `upper` v1."""

    def __init__(self, items, library: Library):
        super().__init__(items)
        self.library = library

    def complete(self, *args, **kwargs):
        if self.remaining == 1:
            _save_theirs(self.library)
        return super().complete(*args, **kwargs)


def _run(env, inputs: dict, code: str = OURS) -> object:
    script = [
        call("create_subagent", name="upper", description="Upper-case a text.", code=code),
        call("run_subagent", name="upper", inputs=inputs),
        call("finish", answer="done", save=["upper"]),
    ]
    provider = _OtherWriterFirst(script, env.library)
    return MetaAgent(env.settings, provider=provider).run("Upper-case a text.")


def test_a_save_racing_another_writer_is_gated_against_its_version(tmp_path):
    env = make_env(tmp_path)
    result = _run(env, {"text": "ab"})
    # Ours breaks their stored case ("  ab  " -> "  AB  ", not "AB"): not saved, theirs stays v1.
    assert result.saved == [] and "upper" in result.rejected
    assert "fails its stored cases" in result.rejected["upper"]
    latest = env.library.get("upper")
    assert latest.version == 1 and latest.code == THEIRS


def test_a_save_racing_another_writer_that_passes_its_cases_is_kept_with_them(tmp_path):
    env = make_env(tmp_path)
    passes_theirs = THEIRS.replace("Upper-case a text.", "Upper-case a text (ours).")
    result = _run(env, {"text": " cd "}, code=passes_theirs)
    assert result.saved == [("upper", 2)]
    latest = env.library.get("upper")
    inputs = sorted(json.dumps(c.inputs) for c in latest.cases)
    assert inputs == sorted([json.dumps({"text": "  ab  "}), json.dumps({"text": " cd "})])
    assert latest.parent_version == 1
