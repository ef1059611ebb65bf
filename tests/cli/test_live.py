"""The live view of `agentfactory run`: order and content of what it prints, streamed subagent output,
failed executions with their line, arguments cut between JSON values, stdout/stderr split, and hostile
text from the model or a subagent shown literally (issue 13 item 14)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentfactory.cli.app import app
from agentfactory.events import clip_json

HOSTILE = [
    "[/INST]",
    "[/bold]",
    "[link=file:///etc]x[/link]",
    "\x1b]52;c;aGVsbG8=\x07",
    "\x1b[2J",
    ":smile:",
]
HOSTILE_TEXT = " ".join(HOSTILE)

PRINTER = '''"""Print lines, then fail on request.

Purpose: exercise the live view.
"""
import json


def run(text: str, lines: int = 3, fail: bool = False, names: list = ()) -> dict:
    for i in range(lines):
        print(f"line {i}:", text, flush=True)
    for name in names:
        with open("outputs/" + name, "w") as fh:
            fh.write("x")
    if fail:
        raise ValueError("bad value " + text)
    return {"answer": text, "echo": text}
'''


def call(tool: str, text: str = "", **arguments) -> dict:
    return {"text": text, "tool_calls": [{"name": tool, "arguments": arguments}]}


def invoke(tmp_path: Path, script: list[dict], *extra: str, monkeypatch=None):
    path = tmp_path / "script.json"
    path.write_text(json.dumps(script))
    args = ["run", "a task " + HOSTILE_TEXT, "--model", f"scripted:{path}", "--sandbox", "local",
            "--library", str(tmp_path / "lib"), "--workspaces", str(tmp_path / "ws"), *extra]  # fmt: skip
    return CliRunner().invoke(app, args)


def create(**overrides) -> dict:
    args = {"name": "printer", "description": "Prints " + HOSTILE_TEXT, "code": PRINTER, "tools": []}
    return call("create_subagent", HOSTILE_TEXT, **{**args, **overrides})


def shown(text: str) -> str:
    """How the view writes `text`: control characters as escapes."""
    return text.replace("\x1b", "\\x1b").replace("\x07", "\\x07")


def test_hostile_text_is_printed_literally_and_the_run_completes(tmp_path):
    script = [
        create(),
        call(
            "run_subagent", HOSTILE_TEXT, name="printer", inputs={"text": HOSTILE_TEXT, "fail": True}
        ),  # fmt: skip
        call(
            "run_subagent",
            name="printer",
            inputs={"text": HOSTILE_TEXT, "names": ["[bold]f.txt", "g\x1b[2J.txt"]},
        ),
        call("no_such_tool", **{HOSTILE_TEXT: HOSTILE_TEXT}),
        call("finish", answer="Answer " + HOSTILE_TEXT, save=["printer"]),
    ]
    result = invoke(tmp_path, script)
    assert result.exit_code == 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    out = result.output
    assert "\x1b" not in out and "\x07" not in out  # no escape sequence reaches the terminal
    assert "Traceback" not in out and "MarkupError" not in out
    assert "😄" not in out  # no emoji code replaced
    literal = shown(HOSTILE_TEXT)
    # model text in tool arguments, streamed stdout, the subagent's exception, the answer
    assert json.dumps(HOSTILE_TEXT)[1:-1].replace("\\u001b", "\\u001b") in out  # arguments as JSON
    assert f"line 0: {literal}" in out
    assert f"ValueError: bad value {literal}" in out
    assert f"Answer {literal}" in result.stdout
    [files] = [line for line in result.stderr.splitlines() if line.startswith("Output files: ")]
    assert "/outputs/[bold]f.txt" in files  # an output file name, as it is
    assert "no_such_tool" in out

    # The same text read back by the other commands that print it.
    lib, ws = ["--library", str(tmp_path / "lib")], ["--workspaces", str(tmp_path / "ws")]
    run_id = result.stderr.split("Run id: ", 1)[1].split()[0]
    for args in (
        ["runs", "show", run_id, *ws],
        ["runs", "list", *ws],
        ["library", "show", "printer", *lib],
        ["library", "list", *lib],
        ["library", "log", "printer", *lib],
        ["stats", *lib],
    ):
        other = CliRunner().invoke(app, args)
        assert other.exit_code == 0, (args, other.output)
        assert "\x1b" not in other.output and "\x07" not in other.output, args
        assert "Traceback" not in other.output
    show = " ".join(CliRunner().invoke(app, ["runs", "show", run_id, *ws]).output.split())  # unwrap
    assert f"Task: a task {literal}" in show and f"Answer: Answer {literal}" in show
    described = " ".join(CliRunner().invoke(app, ["library", "show", "printer", *lib]).output.split())
    assert f"Prints {literal}" in described


def test_call_line_comes_before_output_and_result(tmp_path):
    script = [
        create(),
        call("run_subagent", name="printer", inputs={"text": "hello", "lines": 30, "fail": True}),
        call("finish", answer="done", save=[]),
    ]
    result = invoke(tmp_path, script)
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()  # CliRunner's stdout is not a terminal: progress is on stderr

    def index(pattern: str) -> int:
        return next(i for i, line in enumerate(lines) if re.search(pattern, line))

    call_line = index(r"→ run_subagent \{\"name\": \"printer\"")
    first = index(r"│ line 0: hello")
    error = index(r"ValueError: bad value hello \(line 15 of printer\.py\)")
    status = index(r"printer: error \(\d+\.\d\d s\)")
    assert call_line < first < status < error
    # bounded: 20 lines shown, the rest counted
    assert sum("│ line " in line for line in lines) == 20
    assert any("10 more line(s) not shown" in line for line in lines)
    # the tool-call line came before the step that followed it
    assert index(r"^step 1 ") < index(r"→ create_subagent") < call_line
    assert index(r"^AgentFactory · model scripted:") == 0


def test_progress_on_stderr_answer_alone_on_stdout_unwrapped(tmp_path):
    long_answer = "word " * 80 + "end"
    script = [call("finish", answer=long_answer, save=[])]
    result = invoke(tmp_path, script)
    assert result.exit_code == 0, result.output
    assert result.stdout == long_answer + "\n"  # the answer alone, on one line, not wrapped at 80
    assert "→ finish" in result.stderr and "success" in result.stderr and "Run id:" in result.stderr


def test_tool_arguments_are_cut_between_whole_values(tmp_path):
    code = PRINTER + "\n# padding\n" * 100
    script = [create(code=code), call("finish", answer="done", save=[])]
    result = invoke(tmp_path, script)
    [line] = [line for line in result.stderr.splitlines() if "→ create_subagent" in line]
    shown_args = line.split("→ create_subagent ", 1)[1]
    assert shown_args.startswith('{"name": "printer", "description": ')
    assert shown_args.endswith("… 2 more keys: code, tools}")
    assert "padding" not in shown_args


def test_clip_json_keeps_whole_values():
    value = {"a": 1, "b": "x" * 50, "c": {"d": list(range(100)), "e": 2}, "f": 3}
    assert clip_json(value, 1000) == json.dumps(value)
    clipped = clip_json(value, 200)
    assert len(clipped) <= 200
    assert clipped.startswith('{"a": 1, "b": "' + "x" * 50 + '", "c": {"d": [0, 1, ')
    assert re.search(r"… \d+ more items\], \"e\": 2\}, \"f\": 3\}$", clipped)
    assert clip_json(value, 100) == '{"a": 1, "b": "' + "x" * 50 + '", … 2 more keys: c, f}'
    assert clip_json(list(range(1000)), 50).endswith("more items]")
    assert clip_json("y" * 1000, 50) == '"' + "y" * 10 + '"… (1,000 chars)'


def test_json_mode_prints_no_progress(tmp_path):
    result = invoke(tmp_path, [call("finish", answer="done", save=[])], "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["answer"] == "done" and result.stderr == ""


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_terminal_shows_status_line_and_streamed_lines(tmp_path):
    """On a terminal (a pty), the status line with elapsed seconds appears while a subagent runs, and
    its printed lines appear before it has finished."""
    import pty
    import select
    import subprocess
    import sys
    import time

    slow = PRINTER.replace(
        "    for i in range(lines):", "    import time\n    for i in range(lines):"
    ).replace(
        'print(f"line {i}:", text, flush=True)',
        'print(f"line {i}:", text, flush=True)\n        time.sleep(0.4)',
    )
    script = [
        create(code=slow),
        call("run_subagent", name="printer", inputs={"text": "tick", "lines": 4}),
        call("finish", answer="done", save=[]),
    ]
    path = tmp_path / "script.json"
    path.write_text(json.dumps(script))
    main, child = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "COLUMNS": "200",
           "TERM": "xterm-256color"}  # fmt: skip
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "agentfactory", "run", "tick task", "--model", f"scripted:{path}",
         "--sandbox", "local", "--library", str(tmp_path / "lib"), "--workspaces", str(tmp_path / "ws")],
        stdin=child, stdout=child, stderr=child, env=env, cwd=tmp_path, close_fds=True,
    )  # fmt: skip
    os.close(child)
    chunks: list[tuple[float, bytes]] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 0.5)
        if ready:
            try:
                data = os.read(main, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append((time.monotonic(), data))
        elif proc.poll() is not None:
            break
    proc.wait(30)
    os.close(main)
    text = b"".join(c for _, c in chunks).decode("utf-8", "replace")
    assert proc.returncode == 0, text
    plain_text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    assert re.search(r"running printer \(candidate r1\) \d+\.\d s", plain_text)  # the status line
    assert "│ line 0: tick" in plain_text and "│ line 3: tick" in plain_text
    # streamed: the first line arrived well before the execution's end line
    stripped = [(t, re.sub(rb"\x1b\[[0-9;?]*[A-Za-z]", b"", c)) for t, c in chunks]
    first = next(t for t, c in stripped if b"line 0: tick" in c)
    done = next(t for t, c in stripped if b"printer: ok" in c)
    assert done - first > 0.8
    assert "\x1b[?25l" in text  # rich's live display hid the cursor: a real terminal view


def test_visible_shows_every_control_character():
    from agentfactory.cli.untrusted import plain, visible

    assert (
        visible("a\x1b[2Jb\x07\x9b1m\u202eevil\ud800\x00") == "a\\x1b[2Jb\\x07\\x9b1m\\u202eevil\\ud800\\x00"
    )
    assert visible("two\nlines\tx") == "two\\nlines\\tx"
    assert visible("two\nlines", newlines=True) == "two\nlines"
    assert visible("y" * 50, limit=10) == "y" * 10 + "… (50 chars)"
    assert plain("[/bold] :smile:").plain == "[/bold] :smile:"  # a Text: never markup, never emoji


def test_a_broken_terminal_does_not_stop_the_run(tmp_path):
    """The view writes to a console that fails on every write: the run still ends and is logged."""
    from rich.console import Console

    from agentfactory.cli.live import LiveView
    from agentfactory.config import Settings
    from agentfactory.llm import ScriptedProvider
    from agentfactory.meta.agent import MetaAgent

    class Broken:
        def write(self, text):
            raise OSError("terminal gone")

        def flush(self):
            raise OSError("terminal gone")

    view = LiveView(progress=Console(file=Broken()))
    settings = Settings.from_keys(
        library=tmp_path / "lib", workspaces=tmp_path / "ws", sandbox="local", model="scripted"
    )
    provider = ScriptedProvider([call("finish", answer="done", save=[])])
    result = MetaAgent(settings, provider=provider, on_event=view).run("a task")
    assert result.status == "success" and result.answer == "done"
    assert view.quiet  # the view switched itself off
    log = (tmp_path / "ws" / result.run_id / "events.jsonl").read_text().splitlines()
    assert json.loads(log[-1])["type"] == "run_finished"
