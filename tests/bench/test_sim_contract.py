"""The contract between the product's prompts and tool results and what the simulated model reads.

The simulator never reads task text to decide, but it does read the conversation the product builds:
the library matches offered in the first message, the traces of runs, the code view_subagent shows,
the lesson extractor's system prompt and the evolve prompt's subagent name. Each detail is checked
here on the real product (a real Meta-Agent run with a scripted model), so a change of wording in the
product that would blind the simulator fails this test rather than the figures.
"""

from __future__ import annotations

from pathlib import Path

from agentfactory_bench import sim
from agentfactory_bench.react import LESSONS_SYSTEM

import agentfactory
from agentfactory.config import load_settings
from agentfactory.library import Library, build_subagent_folder
from agentfactory.llm import ScriptedProvider
from agentfactory.meta.agent import MetaAgent

CODE = '''"""Upper-case a text.

Inputs: text (str).
Outputs: answer, upper.
"""


def run(text):
    return {"answer": text.upper(), "upper": text.upper()}
'''


def _call(tool: str, **arguments) -> dict:
    return {"tool_calls": [{"name": tool, "arguments": arguments}]}


def _run_scripted(tmp_path: Path, script: list[dict]) -> ScriptedProvider:
    settings = load_settings(
        {"library": "lib", "workspaces": "ws", "sandbox": "local", "model": "sim"}, env={}, cwd=tmp_path
    )
    library = Library(settings.paths.library)
    library.ensure()
    folder = build_subagent_folder(
        tmp_path / "src", name="upper-text", description="Upper-case a text.", code=CODE
    )
    library.save(folder)
    provider = ScriptedProvider(script)
    MetaAgent(settings, provider=provider).run("Upper-case a text: sea")
    return provider


def test_the_first_message_holds_the_task_tags_and_the_match_lines_the_sim_reads(tmp_path):
    provider = _run_scripted(tmp_path, [_call("finish", answer="done")])
    _system, messages, tools = provider.requests[0]
    assert "create_subagent" in {t.name for t in tools}  # how the sim recognises the Meta-Agent
    assert sim._TASK.search(messages[0].text).group(1).strip() == "Upper-case a text: sea"
    assert sim._read(messages).offered == {"upper-text": 1}


def test_a_run_trace_and_a_code_view_read_back_as_the_sim_expects(tmp_path):
    script = [
        _call("view_subagent", name="upper-text"),
        _call("run_subagent", name="upper-text", inputs={"text": "sea"}),
        _call("finish", answer="done"),
    ]
    provider = _run_scripted(tmp_path, script)
    _system, messages, _tools = provider.requests[-1]
    reading = sim._read(messages)
    view = reading.calls("view_subagent", "upper-text")[0]
    assert sim._code_from_view(view.result) == CODE
    run = reading.calls("run_subagent", "upper-text")[0]
    assert sim._ok(run)  # "status: ok" first
    assert sim.parse_result(run.result) == {"answer": "SEA", "upper": "SEA"}


def test_the_lesson_extractor_and_the_evolve_prompt_say_what_the_sim_looks_for():
    assert LESSONS_SYSTEM.startswith(sim.LESSONS_SYSTEM_MARK)
    root = Path(agentfactory.__file__).resolve().parent
    evolve = [p for p in root.rglob("*.j2") if "Revise the subagent `{{ name }}`" in p.read_text()]
    assert evolve, "the evolve prompt no longer names the subagent as the reviser role reads it"
    assert sim._REVISE.search("Revise the subagent `upper-text` (library v1)").group(1) == "upper-text"
