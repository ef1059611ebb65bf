"""Issue 13, items 6, 7, 12, 15 (CLI part) and 18: hostile values and bad input through the command line.

Each test runs the real command (typer CliRunner), the real local sandbox and the real event log, and
checks the exit code, the one sentence, and what must (not) exist afterwards.
"""

from __future__ import annotations

import json
import os

import pytest

from tests.cli.conftest import subagent_script


def strict(data: bytes | str):
    def refuse(name):
        raise ValueError(f"non-standard JSON token {name}")

    if isinstance(data, bytes):
        data = data.decode("utf-8")  # strict UTF-8
    return json.loads(data, parse_constant=refuse)


def events_of(run_dir):
    lines = (run_dir / "events.jsonl").read_bytes().splitlines()
    return [strict(line) for line in lines]


HOSTILE_BODY = (
    'return {"text": "a\\ud800b", "esc": "\\x1b[2J\\x1b[31mred", "nan": float("nan"), "inf": float("inf")}'
)
HOSTILE_ANSWER = "done \ud800 [/bold] [/INST] \x1b[31mred"


# -- item 6 and 15: lone surrogates, NaN and terminal escapes in results -------------------------------


def test_run_json_with_surrogates_nan_and_escapes_is_strict_utf8(project):
    model = project.script(subagent_script("odd-values", HOSTILE_BODY, answer=HOSTILE_ANSWER))
    result = project.run("return odd values", model, "--json")
    assert result.exit_code == 0, result.output
    data = strict(result.stdout_bytes)  # strict JSON, valid UTF-8
    assert data["status"] == "success" and data["answer"] == HOSTILE_ANSWER
    (run_dir,) = project.run_dirs()
    events = events_of(run_dir)  # every line strict JSON and valid UTF-8
    assert events[-1]["type"] == "run_finished" and events[-1]["answer"] == HOSTILE_ANSWER
    traces = list((run_dir / "traces").glob("*.json"))
    assert traces
    for trace in traces:
        result_value = strict(trace.read_bytes())["result"]
        # The sandbox's result decoder replaced the lone surrogate with U+FFFD before anything wrote it.
        assert result_value["text"] == "a\ufffdb" and result_value["nan"] == "NaN"


def test_run_text_output_escapes_terminal_sequences_and_markup(project):
    # The padding keeps the hostile part out of the live view's 100-character preview of the finish
    # call: this test is about the final summary (the live view's own escaping is tested with it).
    answer = "x" * 150 + HOSTILE_ANSWER
    model = project.script(subagent_script("odd-values", HOSTILE_BODY, answer=answer))
    result = project.run("return odd values", model)
    assert result.exit_code == 0, result.output
    out = result.stdout_bytes
    out.decode("utf-8")  # valid UTF-8
    assert b"\x1b[31mred" not in out and b"\\x1b[31mred" in out
    assert b"[/bold] [/INST]" in out  # shown as text, not parsed as markup
    assert b"\\ud800" in out


def test_sandbox_exec_json_with_surrogates_and_nan(project):
    (project.root / "odd.py").write_text("def run():\n    " + HOSTILE_BODY + "\n", encoding="utf-8")
    result = project.invoke("sandbox", "exec", "odd.py", "--sandbox", "local", "--json")
    assert result.exit_code == 0, result.output
    trace = strict(result.stdout_bytes)
    assert trace["status"] == "ok"
    assert trace["result"] == {
        "text": "a\ufffdb",  # replaced by the sandbox's result decoder
        "esc": "\x1b[2J\x1b[31mred",
        "nan": "NaN",
        "inf": "Infinity",
    }
    text = project.invoke("sandbox", "exec", "odd.py", "--sandbox", "local")
    assert text.exit_code == 0, text.output
    assert b"\x1b" not in text.stdout_bytes


def test_error_sentence_escapes_terminal_sequences(project):
    result = project.invoke("runs", "show", "\x1b[31mx")
    assert result.exit_code == 2
    assert "\x1b" not in result.output and "\\x1b[31mx" in result.output


# -- item 7: non-finite and out-of-range limits, from each source --------------------------------------


@pytest.mark.parametrize(
    "flags, fragment",
    [
        (["--timeout", "inf"], "Setting 'timeout_s' from --timeout is inf"),
        (["--timeout", "nan"], "Setting 'timeout_s' from --timeout is nan"),
        (["--timeout", "-1"], "Setting 'timeout_s' from --timeout is -1"),
        (["--max-cost", "0"], "Setting 'max_cost' from --max-cost is 0"),
        (["--max-cost", "inf"], "Setting 'max_cost' from --max-cost is inf"),
        (["--max-steps", "0"], "Setting 'max_steps' from --max-steps is 0"),
        (["--max-tokens", "-5"], "Setting 'max_tokens' from --max-tokens is -5"),
    ],
)
def test_run_refuses_bad_limit_flags(project, flags, fragment):
    result = project.run("say hi", "sim", *flags)
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr and "Traceback" not in result.output
    assert not project.workspaces.exists()


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "0"])
def test_run_refuses_bad_timeout_from_environment(project, value):
    result = project.invoke(
        "run", "say hi", "--model", "sim", "--sandbox", "local", env={"AGENTFACTORY_TIMEOUT_S": value}
    )
    assert result.exit_code == 2, result.output
    assert f"Setting 'timeout_s' from $AGENTFACTORY_TIMEOUT_S is '{value}'" in result.stderr
    assert not project.workspaces.exists()


@pytest.mark.parametrize("literal", ["inf", "nan", "-1", "0"])
def test_run_refuses_bad_timeout_from_config_file(project, literal):
    config = project.root / "agentfactory.toml"
    config.write_text(f"timeout_s = {literal}\n")
    result = project.run("say hi", "sim")
    assert result.exit_code == 2, result.output
    assert f"Setting 'timeout_s' from {config} is" in result.stderr
    assert not project.workspaces.exists()


@pytest.mark.parametrize(
    "flags, fragment",
    [
        (["--timeout", "-1"], "Setting 'timeout_s' from --timeout"),
        (["--timeout", "inf"], "Setting 'timeout_s' from --timeout"),
        (["--memory", "0"], "Setting 'memory_mb' from --memory is 0"),
        (["--memory", "-64"], "Setting 'memory_mb' from --memory is -64"),
    ],
)
def test_sandbox_exec_refuses_bad_limits(project, flags, fragment):
    (project.root / "ok.py").write_text("def run():\n    return {}\n")
    result = project.invoke("sandbox", "exec", "ok.py", "--sandbox", "local", *flags)
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr and result.stdout == ""


# -- item 12: a task that is not UTF-8 ----------------------------------------------------------------


def test_task_with_undecodable_argv_bytes_is_refused(project):
    # Python decodes argv bytes that are not UTF-8 to lone surrogates (surrogateescape).
    task = os.fsdecode(b"caf\xe9 au lait")
    result = project.run(task, "sim")
    assert result.exit_code == 2, result.output
    assert "The task is not valid UTF-8 text (byte 0xe9 at position 3)" in result.stderr
    assert not project.workspaces.exists()  # refused before a workspace or an event log exists


def test_task_with_undecodable_stdin_bytes_is_refused(project):
    result = project.run("-", "sim", input=b"caf\xe9 au lait\n")
    assert result.exit_code == 2, result.output
    assert "The task on standard input is not UTF-8 text (byte 0xe9 at offset 3)" in result.stderr
    assert not project.workspaces.exists()


def test_python_api_refuses_a_task_with_lone_surrogates(project):
    from agentfactory.config import load_settings
    from agentfactory.errors import UsageError
    from agentfactory.meta.agent import MetaAgent

    agent = MetaAgent(load_settings({"model": "sim", "sandbox": "local"}))
    with pytest.raises(UsageError, match="not valid UTF-8"):
        agent.run("caf\udce9")
    assert not project.workspaces.exists()


# -- item 18: paths and @files that cannot be used -----------------------------------------------------


def test_uncreatable_workspaces_is_one_sentence(project):
    (project.root / "a-file").write_text("x")
    model = project.script([{"tool_calls": [{"name": "finish", "arguments": {"answer": "hi"}}]}])
    result = project.run("say hi", model, "--workspaces", str(project.root / "a-file" / "ws"))
    assert result.exit_code == 2, result.output
    assert "Cannot create the run's workspace in" in result.stderr and "--workspaces" in result.stderr
    assert "Traceback" not in result.output


def test_uncreatable_library_is_one_sentence(project):
    (project.root / "a-file").write_text("x")
    model = project.script([{"tool_calls": [{"name": "finish", "arguments": {"answer": "hi"}}]}])
    result = project.run("say hi", model, "--library", str(project.root / "a-file" / "lib"))
    assert result.exit_code == 2, result.output
    assert "Cannot create the library folder" in result.stderr
    assert "Traceback" not in result.output
    for run_dir in project.run_dirs():  # a run that started still ends its log
        assert events_of(run_dir)[-1]["type"] == "run_finished"


@pytest.mark.parametrize(
    "make, fragment",
    [
        (lambda root: (root / "bin.json").write_bytes(bytes(range(256)) * 4), "is not UTF-8 text"),
        (lambda root: (root / "bin.json").write_text("not json"), "is not valid JSON"),
        (lambda root: (root / "bin.json").write_text('{"a": NaN}'), "is not strict JSON"),
        (lambda root: (root / "bin.json").write_text("[" * 100_000), "nested"),
        (
            lambda root: (
                os.truncate(root / "bin.json", 17 << 20) if (root / "bin.json").touch() is None else None
            ),
            "the limit is 16,777,216",
        ),
        (lambda root: os.mkfifo(root / "bin.json"), "is not a regular file"),
        (lambda root: (root / "bin.json").mkdir(), "is not a regular file"),
    ],
    ids=["binary", "not-json", "nan", "deep", "too-large", "fifo", "folder"],
)
def test_sandbox_exec_inputs_file_refusals(project, make, fragment):
    (project.root / "ok.py").write_text("def run(**kw):\n    return {}\n")
    make(project.root)
    result = project.invoke("sandbox", "exec", "ok.py", "--sandbox", "local", "--inputs", "@bin.json")
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr and "Traceback" not in result.output


def test_sandbox_exec_inputs_from_a_device_is_refused_without_reading_it(project):
    (project.root / "ok.py").write_text("def run(**kw):\n    return {}\n")
    result = project.invoke("sandbox", "exec", "ok.py", "--sandbox", "local", "--inputs", "@/dev/urandom")
    assert result.exit_code == 2, result.output
    assert "The --inputs file /dev/urandom is not a regular file." in result.stderr


def test_sandbox_exec_output_dir_that_is_a_file(project):
    (project.root / "w.py").write_text(
        "def run():\n    open('outputs/x.txt', 'w').write('x')\n    return {}\n"
    )
    target = project.root / "taken"
    target.write_text("keep me")
    result = project.invoke("sandbox", "exec", "w.py", "--sandbox", "local", "--output-dir", str(target))
    assert result.exit_code == 2, result.output
    assert "--output-dir" in result.stderr and "is not a folder" in result.stderr
    assert target.read_text() == "keep me"


def test_sandbox_exec_inputs_dir_with_a_fifo_does_not_hang(project):
    (project.root / "r.py").write_text(
        "import os\ndef run():\n    return {'files': sorted(os.listdir('inputs'))}\n"
    )
    folder = project.root / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    os.mkfifo(folder / "pipe")
    result = project.invoke(
        "sandbox", "exec", "r.py", "--sandbox", "local", "--inputs-dir", str(folder), "--json"
    )
    assert result.exit_code == 0, result.output
    assert strict(result.stdout_bytes)["result"] == {"files": ["a.txt"]}


@pytest.mark.parametrize(
    "raw, shown",
    [
        ("\x1b[2Jgone", "\\x1b[2Jgone"),
        ("\x9b31m", "\\x9b31m"),
        ("name\u202etxt.exe", "name\\u202etxt.exe"),
        ("a\rb", "a\\x0db"),
        ("caf\udce9", "caf\\udce9"),
        ("line\nnext", "line\\nnext"),
    ],
)
def test_safe_text_shows_every_terminal_control_as_an_escape(raw, shown):
    from agentfactory.cli.untrusted import show, visible

    assert visible(raw) == shown
    assert visible("line\nnext\tcol", newlines=True) == "line\nnext\tcol"
    assert show("[/bold]" + raw) == "\\[/bold]" + shown
