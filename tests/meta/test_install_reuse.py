"""Install then reuse: a first task writes and saves two subagents, a similar task reuses one directly.

Both run with the local sandbox everywhere and with Docker where a daemon answers.
"""

from __future__ import annotations

import json
from collections import Counter

from typer.testing import CliRunner

from agentfactory.cli.app import app

from .conftest import UPPER, WORD_COUNT, call, make_env

TASK_1 = "Count the words in notes.txt and give its most frequent word, in capitals."
TASK_2 = "Count the words in diary.txt and give its most frequent word."


def install_script() -> list[dict]:
    return [
        call(
            "create_subagent",
            name="word-count",
            description="Count the words of a text file and find its most frequent word.",
            code=WORD_COUNT,
        ),
        call("run_subagent", name="word-count", inputs={"path": "inputs/notes.txt"}),
        call("create_subagent", name="upper-text", description="Upper-case a text.", code=UPPER),
        call("run_subagent", name="upper-text", inputs={"text": "the"}),
        call("finish", answer="9 words; the most frequent is THE", save=["word-count", "upper-text"]),
    ]


def test_install_then_reuse(tmp_path, sandbox):
    env = make_env(tmp_path, sandbox)
    notes = env.file("notes.txt", "the cat saw the dog\nthe end of it\n")
    first = env.run(TASK_1, install_script(), [notes])

    assert first.status == "success" and first.exit_code == 0, first.reason
    assert first.answer == "9 words; the most frequent is THE"
    assert first.created == ["word-count", "upper-text"] and first.reused == []
    assert first.saved == [("word-count", 1), ("upper-text", 1)] and first.rejected == {}

    # The library has both, each one commit of this run, with the cases of their successful runs.
    lib = env.library
    assert sorted(i.name for i in lib.list()) == ["upper-text", "word-count"]
    for name in ("word-count", "upper-text"):
        history = lib.history(name)
        assert [v.version for v in history] == [1] and history[0].run_id == first.run_id
    word_count = lib.get("word-count")
    assert word_count.code == WORD_COUNT
    cases = [
        json.loads(line)
        for line in (lib.path / "word-count" / "cases.jsonl").read_text().splitlines()
        if line.strip()
    ]
    assert [(c["inputs"], c["expected"]) for c in cases] == [
        ({"path": "inputs/notes.txt"}, {"words": 9, "top": "the"})
    ]
    # The case's input file travels with it, so the case can be replayed in a later run.
    assert (lib.path / "word-count" / "fixtures" / "notes.txt").read_text() == notes.read_text()
    assert [(c.inputs, c.expected) for c in lib.get("upper-text").cases] == [
        ({"text": "the"}, {"upper": "THE"})
    ]
    # The full result of each execution is in the workspace beside the compact trace the model saw.
    trace = json.loads((tmp_path / "ws" / first.run_id / "traces" / "001-word-count.json").read_text())
    assert trace["status"] == "ok" and trace["result"] == {"words": 9, "top": "the"}

    # The event log has every call: one model call per step, one tool call per call, one execution
    # per run_subagent, one library change per save; each call and execution also when it started.
    events = env.events(first)
    kinds = Counter(e["type"] for e in events)
    assert kinds == {
        "run_started": 1,
        "model_call_started": 5,
        "model_call": 5,
        "tool_call_started": 5,
        "tool_call": 5,
        "execution_started": 2,
        "subagent_execution": 2,
        "library_change": 2,
        "run_finished": 1,
    }
    assert [e["tool"] for e in events if e["type"] == "tool_call"] == [
        "create_subagent",
        "run_subagent",
        "create_subagent",
        "run_subagent",
        "finish",
    ]
    assert [e["step"] for e in events if e["type"] == "model_call"] == [1, 2, 3, 4, 5]
    assert [(e["subagent"], e["status"]) for e in events if e["type"] == "subagent_execution"] == [
        ("word-count", "ok"),
        ("upper-text", "ok"),
    ]
    changes = [e for e in events if e["type"] == "library_change"]
    assert [(e["action"], e["subagent"], e["version"]) for e in changes] == [
        ("save", "word-count", 1),
        ("save", "upper-text", 1),
    ]
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "success"

    # `runs show --json` totals are the sums of the events, and agree with the RunResult.
    shown = CliRunner().invoke(
        app, ["runs", "show", first.run_id, "--workspaces", str(tmp_path / "ws"), "--json"]
    )
    assert shown.exit_code == 0, shown.output
    summary = json.loads(shown.output)
    calls = [e for e in events if e["type"] == "model_call"]
    input_sum = sum(e["usage"]["input_tokens"] for e in calls)
    output_sum = sum(e["usage"]["output_tokens"] for e in calls)
    assert input_sum > 0 and output_sum > 0
    assert summary["model_calls"] == 5 and summary["tool_calls"] == 5
    assert summary["executions"] == 2 and summary["library_changes"] == 2
    assert summary["usage"]["input_tokens"] == input_sum
    assert summary["usage"]["output_tokens"] == output_sum
    assert summary["total_tokens"] == input_sum + output_sum
    assert summary["status"] == "success" and summary["steps"] == 5
    assert first.model_calls == 5 and first.usage.input_tokens == input_sum
    assert first.usage.output_tokens == output_sum

    # Reuse: the second task's first message already offers the saved subagent (no model round trip).
    diary = env.file("diary.txt", "a day a night a\n")
    head = lib.head()
    second = env.run(
        TASK_2,
        [
            call("run_subagent", name="word-count", inputs={"path": "inputs/diary.txt"}),
            call("finish", answer="5 words; the most frequent is a"),
        ],
        [diary],
    )
    first_message = env.providers[1].requests[0][1][0].text
    assert "<task>\n" + TASK_2 in first_message
    assert "Input files: inputs/diary.txt" in first_message
    offered = first_message.split("Library matches for this task", 1)[1]
    assert offered.splitlines()[1].startswith("- word-count v1 — Count the words of a text file")
    assert "run(path: str)" in offered.splitlines()[1]

    assert second.status == "success", second.reason
    assert second.reused == ["word-count"] and second.created == [] and second.saved == []
    result = json.loads((tmp_path / "ws" / second.run_id / "traces" / "001-word-count.json").read_text())
    assert result["result"] == {"words": 5, "top": "a"}
    assert lib.head() == head  # reuse alone changes nothing in the library
    # Cheaper: fewer model calls and fewer tokens than the install run.
    assert second.model_calls == 2 < first.model_calls
    assert second.usage.total_tokens < first.usage.total_tokens
    executions = [e for e in env.events(second) if e["type"] == "subagent_execution"]
    assert [(e["subagent"], e["version"], e["status"]) for e in executions] == [("word-count", 1, "ok")]
