"""Bad input gets a clear, bounded outcome and saves nothing that was not validated.

Bad tasks, missing input files and corrupt libraries fail before a workspace exists; misbehaving
models (no tool call, unknown tools, the same failing call again and again, saving what never ran)
end the run with a status and a reason; budgets and Ctrl-C stop cleanly with nothing half-saved.
"""

from __future__ import annotations

import json
import subprocess

import pytest
from typer.testing import CliRunner

from agentfactory.cli.app import app
from agentfactory.engine.loop import MAX_INVALID_CALLS, MAX_NO_TOOL_TURNS, MAX_REPEATED_FAILURES
from agentfactory.errors import EXIT_BUDGET, EXIT_INTERRUPTED, EXIT_USAGE, LibraryError, UsageError
from agentfactory.meta.agent import MetaAgent

from .conftest import UPPER, WORD_COUNT, call, make_env, text

CREATE_UPPER = call("create_subagent", name="upper-text", description="Upper-case a text.", code=UPPER)
RUN_UPPER = call("run_subagent", name="upper-text", inputs={"text": "hi"})


def cli(tmp_path, monkeypatch, *args: str):
    """Invoke `agentfactory run` in tmp_path with no AGENTFACTORY_ variable of this machine."""
    monkeypatch.chdir(tmp_path)
    for var in [v for v in __import__("os").environ if v.startswith("AGENTFACTORY_")]:
        monkeypatch.delenv(var)
    base = ["run", "--sandbox", "local", "--library", "lib", "--workspaces", "ws"]
    return CliRunner().invoke(app, [*base, *args])


def script_file(tmp_path, items) -> str:
    path = tmp_path / "script.json"
    path.write_text(json.dumps(items))
    return f"scripted:{path}"


def one_line_error(out) -> str:
    """The error stream holds exactly one sentence (the banner on stdout is not part of it)."""
    lines = [line for line in out.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), out.output
    assert "Traceback" not in out.output
    return lines[0]


# ---- bad tasks, files and libraries: refused before a workspace exists -----------------------------


@pytest.mark.parametrize("task", ["", "   \n\t "])
def test_empty_task(env, task):
    with pytest.raises(UsageError, match="The task is empty"):
        env.run(task, [])
    assert env.workspaces() == [] and not env.settings.paths.library.exists()


def test_task_of_one_megabyte(env):
    with pytest.raises(UsageError, match=r"1,000,000 characters; the limit is 100,000"):
        env.run("x" * 1_000_000, [])
    assert env.workspaces() == [] and env.providers[0].requests == []


def test_cli_bad_tasks_exit_2_with_one_sentence(tmp_path, monkeypatch):
    model = script_file(tmp_path, [{"text": "never asked"}])
    for task, words in [("", "The task is empty"), ("y" * 1_000_000, "the limit is 100,000")]:
        out = cli(tmp_path, monkeypatch, task, "--model", model)
        assert out.exit_code == EXIT_USAGE
        assert words in one_line_error(out)
    assert not (tmp_path / "ws").exists()


def test_cli_missing_input_file(tmp_path, monkeypatch):
    model = script_file(tmp_path, [{"text": "never asked"}])
    (tmp_path / "here.txt").write_text("x")
    out = cli(
        tmp_path, monkeypatch, "Count words", "-i", "here.txt", "--input", "missing.txt", "--model", model
    )
    assert out.exit_code == EXIT_USAGE
    assert one_line_error(out) == "Error: Input file missing.txt does not exist or is not a regular file."
    assert not (tmp_path / "ws").exists() and not (tmp_path / "lib").exists()
    out = cli(tmp_path, monkeypatch, "Count words", "--input", ".", "--model", model)
    assert out.exit_code == EXIT_USAGE and "is not a regular file" in one_line_error(out)


def test_api_bad_input_files_leave_no_workspace(env):
    with pytest.raises(UsageError, match="does not exist"):
        env.run("Count words", [], [env.root / "nope.txt"])
    first, second = env.file("a/data.csv", "1"), env.file("b/data.csv", "2")
    with pytest.raises(UsageError, match="have the same name"):
        env.run("Count words", [], [first, second])
    assert env.workspaces() == [] and env.providers[0].requests == []


def test_library_path_is_a_file(tmp_path, monkeypatch):
    (tmp_path / "lib").write_text("not a library")
    env = make_env(tmp_path)
    with pytest.raises(UsageError, match=r"lib is a file, not a folder"):
        env.run("Count words", [])
    assert env.workspaces() == []
    out = cli(tmp_path, monkeypatch, "Count words", "--model", script_file(tmp_path, [{"text": "x"}]))
    assert out.exit_code == 2 and "is a file, not a folder" in one_line_error(out)  # bad usage, not a task
    assert (tmp_path / "lib").read_text() == "not a library"


def test_library_with_a_garbage_git_folder(tmp_path, monkeypatch):
    lib = tmp_path / "lib"
    (lib / ".git").mkdir(parents=True)
    (lib / ".git" / "HEAD").write_text("garbage\n")
    (lib / ".git" / "config").write_bytes(b"\x00\xff[[[")
    env = make_env(tmp_path)
    with pytest.raises(LibraryError, match="broken .git folder"):
        env.run("Count words", [])
    assert env.workspaces() == []
    out = cli(tmp_path, monkeypatch, "Count words", "--model", script_file(tmp_path, [{"text": "x"}]))
    assert out.exit_code == 1 and "broken .git folder" in one_line_error(out)


def test_library_that_is_a_foreign_git_repository(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    subprocess.run(["git", "init", "-q", str(lib)], check=True)
    (lib / "notes.md").write_text("mine")
    env = make_env(tmp_path)
    with pytest.raises(LibraryError, match="not a subagent library"):
        env.run("Count words", [])
    assert env.workspaces() == [] and (lib / "notes.md").read_text() == "mine"


# ---- misbehaving models ---------------------------------------------------------------------------


def test_model_that_never_calls_a_tool(env):
    result = env.run("Say hi", [text("Hello!")] * (MAX_NO_TOOL_TURNS + 1))
    assert result.status == "no_progress" and result.exit_code == 1
    assert result.reason == "the model stopped calling tools without finishing"
    assert result.steps == MAX_NO_TOOL_TURNS + 1
    last_request = env.providers[0].requests[-1][1]
    assert last_request[-1].text == "Continue with a tool call; call finish(answer) when done."
    assert env.events(result)[-1]["type"] == "run_finished"


def test_model_that_calls_unknown_tools(env):
    script = [call("delete_everything", path=f"/{i}") for i in range(MAX_INVALID_CALLS)]
    result = env.run("Clean up", script)
    assert result.status == "no_progress"
    assert result.reason == f"{MAX_INVALID_CALLS} invalid tool calls in a row"
    reply = env.providers[0].requests[1][1][-1].tool_results[0]
    assert reply.is_error and "delete_everything" in reply.content
    assert "finish" in reply.content  # the model is told which tools exist
    tool_events = [e for e in env.events(result) if e["type"] == "tool_call"]
    assert len(tool_events) == MAX_INVALID_CALLS and all(e["is_error"] for e in tool_events)


def test_invalid_arguments_are_reported_back_then_the_model_recovers(env):
    result = env.run(
        "Upper-case hi",
        [
            call("create_subagent", name="Upper Text!", description="x", code=UPPER),
            {"tool_calls": [{"name": "run_subagent", "arguments": "{not json"}]},
            CREATE_UPPER,
            RUN_UPPER,
            call("finish", answer="HI", save=["upper-text"]),
        ],
    )
    assert result.status == "success" and result.saved == [("upper-text", 1)]
    replies = [env.providers[0].requests[i][1][-1].tool_results[0] for i in (1, 2)]
    assert all(r.is_error for r in replies)
    assert "name" in replies[0].content


def test_model_looping_on_the_same_failing_call(env):
    boom = UPPER.replace('return {"upper": text.upper()}', "raise RuntimeError('boom')")
    script = [call("create_subagent", name="upper-text", description="Upper-case a text.", code=boom)]
    script += [RUN_UPPER] * MAX_REPEATED_FAILURES + [call("finish", answer="never reached")]
    result = env.run("Upper-case hi", script)
    assert result.status == "no_progress"
    assert result.reason == "the model repeated the same failing call"
    assert env.providers[0].remaining == 1 and result.saved == []
    executions = [e for e in env.events(result) if e["type"] == "subagent_execution"]
    assert [e["status"] for e in executions] == ["error"] * MAX_REPEATED_FAILURES


def test_saving_what_never_ran_is_refused_with_reasons(env):
    boom = UPPER.replace('return {"upper": text.upper()}', "raise RuntimeError('boom')")
    result = env.run(
        "Upper-case hi",
        [
            CREATE_UPPER,
            call("create_subagent", name="broken-upper", description="Fails.", code=boom),
            call("run_subagent", name="broken-upper", inputs={"text": "hi"}),
            call("finish", answer="HI", save=["upper-text", "broken-upper", "ghost"]),
        ],
    )
    assert result.status == "success" and result.saved == []
    assert result.rejected == {
        "upper-text": "it never ran successfully in this run",
        "broken-upper": "it never ran successfully in this run",
        "ghost": "no such candidate in this run",
    }
    assert env.library.list() == []
    assert not [e for e in env.events(result) if e["type"] == "library_change"]
    finish = [e for e in env.events(result) if e["type"] == "tool_call"][-1]["result"]
    assert "upper-text: not saved, it never ran successfully in this run." in finish


# ---- budgets and Ctrl-C -----------------------------------------------------------------------------


def test_cli_max_steps_stops_with_budget_exhausted(tmp_path, monkeypatch):
    model = script_file(
        tmp_path,
        [CREATE_UPPER, RUN_UPPER, call("finish", answer="HI", save=["upper-text"])],
    )
    out = cli(tmp_path, monkeypatch, "Upper-case hi", "--model", model, "--max-steps", "2", "--json")
    assert out.exit_code == EXIT_BUDGET, out.output
    data = json.loads(out.output)
    assert data["status"] == "budget_exhausted" and data["steps"] == 2
    assert "2" in data["reason"] and data["saved"] == [] and data["created"] == ["upper-text"]
    # The candidate ran successfully, but only finish saves: the library has nothing of it.
    from agentfactory.library import Library

    assert Library(tmp_path / "lib").list() == []
    events = [json.loads(line) for line in (tmp_path / "ws" / data["run_id"] / "events.jsonl").open()]
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "budget_exhausted"
    assert sum(e["type"] == "model_call" for e in events) == 2


def test_keyboard_interrupt_inside_the_provider(env):
    notes = env.file("notes.txt", "a b a\n")

    def ctrl_c(system, messages, tools):
        raise KeyboardInterrupt

    script = [
        call("create_subagent", name="word-count", description="Count words.", code=WORD_COUNT),
        call("run_subagent", name="word-count", inputs={"path": "inputs/notes.txt"}),
        ctrl_c,
        call("finish", answer="3", save=["word-count"]),
    ]
    result = env.run("Count words", script, [notes])
    assert result.status == "interrupted" and result.exit_code == EXIT_INTERRUPTED
    assert result.reason == "interrupted by the user"
    assert result.saved == [] and env.library.list() == []
    events = env.events(result)
    assert events[-1]["type"] == "run_finished" and events[-1]["status"] == "interrupted"
    assert [e["status"] for e in events if e["type"] == "subagent_execution"] == ["ok"]


def test_cli_keyboard_interrupt_exit_code(tmp_path, monkeypatch):
    class Interrupting:
        simulated = True
        spec = "scripted"

        def complete(self, *args, **kwargs):
            raise KeyboardInterrupt

    original = MetaAgent.__init__

    def with_interrupting_provider(self, settings=None, **kw):
        original(self, settings, provider=Interrupting(), **kw)

    monkeypatch.setattr(MetaAgent, "__init__", with_interrupting_provider)
    out = cli(tmp_path, monkeypatch, "Count words", "--model", "scripted:unused.json", "--json")
    assert out.exit_code == EXIT_INTERRUPTED, out.output
    assert json.loads(out.output)["status"] == "interrupted"


@pytest.mark.docker
def test_keyboard_interrupt_removes_the_run_containers(tmp_path, docker_available):
    """Ctrl-C mid-run with Docker: the run's pre-started containers are gone when run() returns."""
    import os

    from agentfactory.sandbox.docker_backend import LABEL, LABEL_PID, connect

    env = make_env(tmp_path, "docker")
    client = connect(timeout=10)

    def ours() -> set[str]:
        labels = [f"{LABEL}=1", f"{LABEL_PID}={os.getpid()}"]
        return {c.id for c in client.containers.list(all=True, filters={"label": labels})}

    before = ours()  # another test's backend of this process, not yet closed, is not this run's

    def ctrl_c(system, messages, tools):
        raise KeyboardInterrupt

    result = env.run("Upper-case hi", [CREATE_UPPER, RUN_UPPER, ctrl_c])
    assert result.status == "interrupted" and result.saved == []
    assert [e["status"] for e in env.events(result) if e["type"] == "subagent_execution"] == ["ok"]
    assert ours() - before == set()


def test_create_subagent_with_code_too_deep_to_parse_is_a_tool_error(env):
    hostile = "x = " + "-" * 200_000 + "1\n\n" + UPPER
    result = env.run(
        "Upper-case hi",
        [
            call("create_subagent", name="upper-text", description="Upper-case a text.", code=hostile),
            CREATE_UPPER,
            RUN_UPPER,
            call("finish", answer="HI", save=["upper-text"]),
        ],
    )
    assert result.status == "success" and result.saved == [("upper-text", 1)]
    reply = env.providers[0].requests[1][1][-1].tool_results[0]
    assert reply.is_error and "nested too deeply" in reply.content
    assert env.events(result)[-1]["type"] == "run_finished"
