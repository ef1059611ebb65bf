"""`agentfactory mcp serve` over stdio, driven by the official mcp client; subagents run in the real local
sandbox (one test in Docker)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest

from agentfactory.experience.store import ExperienceStore

from .conftest import CODE, DESCRIPTION, NAME, Project

SHOUT = '''"""Upper-case a text.

Purpose: the text in capitals.
Inputs: text (str).
Outputs: text (str).
Limitations: none.
"""


def run(text: str) -> dict:
    return {"text": text.upper()}
'''


async def _session(project: Project, body, errlog=None):
    from mcp import ClientSession, stdio_client

    async with (
        stdio_client(project.stdio_params(), errlog=errlog or sys.stderr) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        return await body(session)


def talk(project: Project, body):
    return anyio.run(_session, project, body)


def test_lists_the_four_tools_and_each_skill_md_as_a_resource(project: Project) -> None:
    async def body(s):
        tools = (await s.list_tools()).tools
        resources = (await s.list_resources()).resources
        read = await s.read_resource(resources[0].uri)
        return tools, resources, read

    tools, resources, read = talk(project, body)
    assert [t.name for t in tools] == ["search_subagents", "view_subagent", "run_subagent", "save_subagent"]
    assert all(t.input_schema["additionalProperties"] is False for t in tools)
    assert [(r.name, str(r.uri)) for r in resources] == [(NAME, f"agentfactory://subagents/{NAME}/SKILL.md")]
    assert read.contents[0].text == project.library.get(NAME).skill_md


def test_search_and_view(project: Project) -> None:
    async def body(s):
        return (
            await s.call_tool("search_subagents", {"query": "count the words of a text", "limit": 3}),
            await s.call_tool("view_subagent", {"name": NAME}),
        )

    found, viewed = talk(project, body)
    assert not found.is_error
    hit = found.structured_content["subagents"][0]
    assert hit == {
        "name": NAME,
        "version": 1,
        "description": DESCRIPTION,
        "signature": "run(text: str = '', path: str = '')",
        "success_rate": "no runs yet",
    }
    assert not viewed.is_error
    text = viewed.content[0].text
    assert "--- SKILL.md ---" in text and "--- cases (1) ---" in text
    assert '12 | def run(text: str = "", path: str = "") -> dict:' in text  # numbered code
    assert viewed.structured_content["code"] == CODE


def test_run_returns_the_result_and_an_output_file_and_is_recorded(project: Project) -> None:
    async def body(s):
        return await s.call_tool(
            "run_subagent",
            {
                "name": NAME,
                "inputs": {"path": "inputs/t.txt"},
                "files": [{"name": "t.txt", "text": "one two three four"}],
            },
        )

    answer = talk(project, body)
    assert not answer.is_error, answer.content[0].text
    data = answer.structured_content
    assert data["status"] == "success" and data["result"] == {"words": 4}
    report = Path(data["outputs_dir"]) / "report.txt"
    assert report.read_text() == "words: 4\n"  # written under the outputs folder the caller can read
    assert data["output_files"] == [{"name": "report.txt", "path": str(report), "size": 9, "embedded": True}]
    embedded = answer.content[1].resource
    assert embedded.text == "words: 4\n" and str(embedded.uri) == f"file://{report}"
    # Recorded like any execution: the experience store counts it, the run's log ends with run_finished.
    store = ExperienceStore(project.root / "lib.experience.sqlite")
    assert store.success_rates() == {NAME: (1, 1)}
    events = (Path(data["outputs_dir"]).parent / "events.jsonl").read_text().splitlines()
    assert json.loads(events[-1])["type"] == "run_finished"


def test_a_failing_run_returns_the_compact_trace(project: Project) -> None:
    async def body(s):
        return await s.call_tool("run_subagent", {"name": NAME, "inputs": {"path": "inputs/missing.txt"}})

    answer = talk(project, body)
    assert answer.is_error
    assert answer.structured_content["status"] == "task_failed"
    assert "FileNotFoundError" in answer.structured_content["trace"]
    assert "status: error" in answer.content[0].text


def test_save_a_new_subagent_runs_its_cases_in_the_sandbox(project: Project) -> None:
    async def body(s):
        ok = await s.call_tool(
            "save_subagent",
            {"name": "shout", "description": "Upper-case a text.", "code": SHOUT,
             "cases": [{"inputs": {"text": "ab"}, "expected": {"text": "AB"}}]},
        )  # fmt: skip
        bad = await s.call_tool(
            "save_subagent",
            {"name": "shout-wrong", "description": "Upper-case a text.", "code": SHOUT,
             "cases": [{"inputs": {"text": "ab"}, "expected": {"text": "ab"}}]},
        )  # fmt: skip
        return ok, bad

    ok, bad = talk(project, body)
    assert not ok.is_error, ok.content[0].text
    assert ok.content[0].text.startswith("Saved shout v1 (new subagent; 1 of 1 cases pass")
    assert project.library.get("shout").version == 1
    assert bad.is_error and "new case 1 (ran, wrong result)" in bad.content[0].text
    assert [i.name for i in project.library.list()] == ["shout", NAME]  # nothing of shout-wrong


def test_a_revision_that_breaks_a_stored_case_is_refused_with_its_trace(project: Project) -> None:
    head = project.library.head()
    broken = CODE.replace("words = len(text.split())", "words = len(text.split()) + 1")

    async def body(s):
        return await s.call_tool(
            "save_subagent",
            # Its own new case agrees with the broken code; the stored case (a b c -> 3) does not.
            {"name": NAME, "description": DESCRIPTION, "code": broken,
             "cases": [{"inputs": {"text": "x"}, "expected": {"words": 2}}]},
        )  # fmt: skip

    answer = talk(project, body)
    assert answer.is_error
    text = answer.content[0].text
    assert text.startswith("Not saved: the regression gate refused the revision of v1")
    assert "stored case" in text and "words: got 4, expected 3" in text
    assert answer.structured_content["broken"][0]["origin"] == "stored"
    assert "status: ok" in answer.structured_content["broken"][0]["trace"]
    assert project.library.head() == head and project.library.get(NAME).version == 1


def test_a_revision_that_keeps_every_stored_case_is_saved_as_v2(project: Project) -> None:
    better = CODE.replace('    return {"words": words}', '    return {"words": words, "chars": len(text)}')

    async def body(s):
        return await s.call_tool(
            "save_subagent",
            {"name": NAME, "description": DESCRIPTION, "code": better,
             "cases": [{"inputs": {"text": "x y"}, "expected": {"words": 2, "chars": 3}}]},
        )  # fmt: skip

    answer = talk(project, body)
    assert not answer.is_error, answer.content[0].text
    assert answer.content[0].text == f"Saved {NAME} v2 (revision of v1; 2 of 2 cases pass in the sandbox)."
    assert len(project.library.get(NAME).cases) == 2


HOSTILE = [
    ("no_such_tool", {}, "Unknown tool 'no_such_tool'"),
    ("search_subagents", {"query": 42}, "Invalid arguments for search_subagents at query: 42 is not of type 'string'"),
    ("run_subagent", {"name": NAME, "inputs": "text"}, "at inputs: 'text' is not of type 'object'"),
    ("view_subagent", {"name": "../../etc"}, "at name: '../../etc' does not match"),
    ("view_subagent", {"name": "nope"}, "No subagent named 'nope'"),
    ("run_subagent", {"name": NAME, "files": [{"name": "../x", "text": "a"}]}, "must be a plain file name"),
    ("run_subagent", {"name": NAME, "files": [{"name": "x", "path": "/etc/passwd", "text": "a"}]},
     "exactly one of text, base64 or path"),
    ("save_subagent", {"name": "syntax", "description": "d", "code": "def run(:\n", "cases": [{"inputs": {}}]},
     "Not saved" if False else "syntax"),
    ("save_subagent", {"name": "no-run", "description": "d", "code": '"""x"""\nX = 1\n', "cases": [{"inputs": {}}]},
     "run"),
    ("save_subagent", {"name": "tooly", "description": "d", "code": SHOUT, "tools": ["shell"],
                       "cases": [{"inputs": {"text": "a"}}]}, "unknown tool skill(s) shell"),
    ("save_subagent", {"name": "x", "description": "d", "code": SHOUT, "cases": []}, "at cases: should be non-empty"),
    ("search_subagents", {"query": "q" * 5000}, "is too long"),
]  # fmt: skip


def test_bad_input_gets_one_tool_error_each_and_the_server_keeps_serving(project: Project) -> None:
    head = project.library.head()

    async def body(s):
        answers = [await s.call_tool(name, args) for name, args, _ in HOSTILE]
        # A huge argument (over the 12 MiB bound) is refused before anything runs.
        answers.append(
            await s.call_tool("run_subagent", {"name": NAME, "inputs": {"text": "a " * (7 << 20)}})
        )
        after = await s.call_tool("search_subagents", {"query": "words"})
        return answers, after

    answers, after = talk(project, body)
    for (name, _, expected), answer in zip(HOSTILE, answers, strict=False):
        assert answer.is_error, name
        assert expected.lower() in answer.content[0].text.lower(), (name, answer.content[0].text)
        assert "Traceback" not in answer.content[0].text
    assert answers[-1].is_error and "the limit is 12,582,912" in answers[-1].content[0].text
    assert not after.is_error and NAME in after.content[0].text
    assert project.library.head() == head  # nothing saved, nothing half-saved
    assert not (project.root / "ws").exists() or all(
        (d / "events.jsonl").read_text().rstrip().endswith("}")
        for d in (project.root / "ws").iterdir()
        if d.is_dir()
    )


@pytest.mark.docker
def test_run_in_docker(project: Project) -> None:
    project.sandbox = "docker"

    async def body(s):
        return await s.call_tool("run_subagent", {"name": NAME, "inputs": {"text": "a b"}})

    answer = talk(project, body)
    assert not answer.is_error, answer.content[0].text
    assert answer.structured_content["result"] == {"words": 2}
    assert answer.content[1].resource.text == "words: 2\n"


LINE_COUNT = '''"""Count the lines of a text file.

Purpose: the number of lines of a UTF-8 text file.
Inputs: path (str), a file under inputs/.
Outputs: lines (int).
Limitations: none.
"""


def run(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return {"lines": len(fh.read().splitlines())}
'''


def test_save_with_input_files_keeps_them_as_fixtures(project: Project) -> None:
    schema = {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}

    async def body(s):
        return await s.call_tool(
            "save_subagent",
            {"name": "line-count", "description": "Count the lines of a text file.", "code": LINE_COUNT,
             "inputs_schema": schema, "files": [{"name": "notes.txt", "text": "a\nb\nc\n"}],
             "cases": [{"inputs": {"path": "inputs/notes.txt"}, "expected": {"lines": 3}}]},
        )  # fmt: skip

    answer = talk(project, body)
    assert not answer.is_error, answer.content[0].text
    saved = project.library.get("line-count")
    assert saved.files["fixtures/notes.txt"] == b"a\nb\nc\n"
    assert saved.inputs_schema == schema


def test_several_stdio_servers_on_one_library(project: Project) -> None:
    """Three hosts, each with its own server process: concurrent saves meet at the library's
    inter-process lock; every new subagent is saved once, exactly one competing revision wins."""
    answers: dict[str, Any] = {}

    async def host(i: int) -> None:
        async def body(s):
            code = CODE.replace('{"words": words}', f'{{"words": words, "host": {i}}}')
            answers[f"rev-{i}"] = await s.call_tool(
                "save_subagent",
                {"name": NAME, "description": DESCRIPTION, "code": code,
                 "cases": [{"inputs": {"text": f"host {i}"}, "expected": {"words": 2, "host": i}}]},
            )  # fmt: skip
            answers[f"new-{i}"] = await s.call_tool(
                "save_subagent",
                {"name": f"shout-{i}", "description": "Upper-case a text.", "code": SHOUT,
                 "cases": [{"inputs": {"text": "ab"}, "expected": {"text": "AB"}}]},
            )  # fmt: skip

        await _session(project, body)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for i in range(3):
                tg.start_soon(host, i)

    anyio.run(main)
    revisions = [answers[f"rev-{i}"] for i in range(3)]
    assert sum(not a.is_error for a in revisions) == 1, [a.content[0].text for a in revisions]
    assert all("Not saved" in a.content[0].text for a in revisions if a.is_error)
    assert all(not answers[f"new-{i}"].is_error for i in range(3))
    library = project.library
    assert library.get(NAME).version == 2 and [v.version for v in library.history(NAME)] == [1, 2]
    assert sorted(i.name for i in library.list()) == ["shout-0", "shout-1", "shout-2", NAME]
