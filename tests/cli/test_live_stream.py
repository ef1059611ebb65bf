"""Streaming in the live view: on a terminal the model's text appears line by line as it is written, a
tool call being written shows its name and a growing token count, thinking shows as "thinking…";
none of it reaches the event log or --json. Driven by a scripted model whose replies declare their
stream deltas, through a real pty."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from agentfactory import events as ev
from agentfactory.cli.live import LiveView

MODULE = '''"""Say hello.

Purpose: greet.
Inputs: none.
Outputs: greeting (str).
"""


def run() -> dict:
    return {"greeting": "hello"}
'''

DELTAS = [
    {"kind": "thinking", "text": "The task wants a greeting.\nA tiny module will do", "delay_s": 0.3},
    {"kind": "text", "text": "Writing the module now.\nIt greet", "delay_s": 0.3},
    {"kind": "text", "text": "s the user.\n"},
    {"kind": "tool_call", "tool": "create_subagent", "output_tokens": 12, "delay_s": 0.3},
    {"kind": "tool_input", "tool": "create_subagent", "output_tokens": 700, "delay_s": 0.3},
    {"kind": "tool_input", "tool": "create_subagent", "output_tokens": 1400, "delay_s": 0.3},
    {"kind": "tool_input", "tool": "create_subagent", "output_tokens": 2140, "delay_s": 0.3},
]


def script(tmp_path: Path) -> Path:
    items = [
        {
            "text": "Writing the module now.\nIt greets the user.",
            "tool_calls": [
                {
                    "name": "create_subagent",
                    "arguments": {"name": "hello", "description": "Greets.", "code": MODULE, "tools": []},
                }
            ],
            "stream": DELTAS,
        },
        {"tool_calls": [{"name": "finish", "arguments": {"answer": "hello", "save": []}}], "stream": True},
    ]
    path = tmp_path / "script.json"
    path.write_text(json.dumps(items))
    return path


def command(tmp_path: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "agentfactory", "run", "greet me", "--model", f"scripted:{script(tmp_path)}",
            "--sandbox", "local", "--library", str(tmp_path / "lib"), "--workspaces", str(tmp_path / "ws"),
            *extra]  # fmt: skip


def environment(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "COLUMNS": "200",
           "TERM": "xterm-256color", **extra}  # fmt: skip
    env.pop("NO_COLOR", None)
    env.pop("AGENTFACTORY_STREAM", None) if "AGENTFACTORY_STREAM" not in extra else None
    return env


def run_in_pty(tmp_path: Path, env: dict[str, str]) -> tuple[int, str]:
    main, child = pty.openpty()
    proc = subprocess.Popen(
        command(tmp_path), stdin=child, stdout=child, stderr=child, env=env, cwd=tmp_path, close_fds=True
    )
    os.close(child)
    chunks: list[bytes] = []
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
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(30)
    os.close(main)
    text = b"".join(chunks).decode("utf-8", "replace")
    return proc.returncode, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def logged_types(tmp_path: Path) -> set[str]:
    (log,) = (tmp_path / "ws").glob("*/events.jsonl")
    return {json.loads(line)["type"] for line in log.read_text().splitlines()}


def test_a_tool_call_being_written_shows_a_growing_token_count_on_the_terminal(tmp_path):
    code, text = run_in_pty(tmp_path, environment())
    assert code == 0, text
    counts = [int(n.replace(",", "")) for n in re.findall(r"writing create_subagent … ([\d,]+) tokens", text)]
    assert counts and counts[-1] == 2140, text
    assert counts == sorted(counts) and len(set(counts)) >= 3  # it grew while the call was written
    assert "thinking… A tiny module will do" in text
    # The text, line by line as written; the line being written shown meanwhile.
    assert "Writing the module now." in text and "It greets the user." in text
    assert "writing · It greet" in text
    assert "success" in text
    # Live only: nothing of the stream is in the run's log.
    types = logged_types(tmp_path)
    assert ev.MODEL_STREAM not in types and ev.MODEL_CALL in types


def test_stream_off_shows_no_writing_line(tmp_path):
    code, text = run_in_pty(tmp_path, environment(AGENTFACTORY_STREAM="off"))
    assert code == 0, text
    assert "writing create_subagent" not in text and "thinking…" not in text
    assert "→ create_subagent" in text  # the tool call itself is still shown when it starts


def test_json_output_on_a_terminal_has_nothing_of_the_stream(tmp_path):
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [*command(tmp_path), "--json"], stdin=child, stdout=child, stderr=child,
        env=environment(AGENTFACTORY_STREAM="on"), cwd=tmp_path, close_fds=True,
    )  # fmt: skip
    os.close(child)
    chunks = []
    while True:
        ready, _, _ = select.select([main], [], [], 60)
        if not ready:
            break
        try:
            data = os.read(main, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(30)
    os.close(main)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0, text
    assert "writing" not in text and "thinking" not in text
    assert json.loads(text)["status"] == "success"


def test_without_a_terminal_auto_does_not_stream(tmp_path):
    proc = subprocess.run(
        command(tmp_path), env=environment(), cwd=tmp_path, capture_output=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert b"Writing the module now." not in proc.stderr  # auto: no terminal, no stream
    assert b"writing create_subagent" not in proc.stderr


def test_the_view_shows_the_stream_and_never_raw_control_characters():
    console = Console(record=True, force_terminal=False, width=200, soft_wrap=True)
    view = LiveView(progress=console)
    base = {"call": 1, "step": 1, "role": ev.ORCHESTRATOR}
    view({"type": ev.MODEL_CALL_STARTED, **base})
    view({"type": ev.MODEL_STREAM, **base, "kind": "text", "text": "first \x1b[2J line\nsecond"})
    view(
        {"type": ev.MODEL_STREAM, **base, "kind": "tool_call", "tool": "create_subagent", "output_tokens": 5}
    )
    assert view._active[("write", 1)][0] == "writing create_subagent … 5 tokens"
    view({"type": ev.MODEL_CALL, **base, "usage": {}, "latency_s": 1.0})
    out = console.export_text()
    assert "first \\x1b[2J line" in out and "\x1b[2J" not in out
    assert "second" in out  # the line being written when the tool call began, printed whole
    assert ("write", 1) not in view._active
