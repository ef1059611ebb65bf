"""Where rich would find no terminal, the run's view writes its lines without rich (cli/live.py
`PlainConsole`): the same characters rich writes there, found where rich would find no terminal."""

from __future__ import annotations

import io
import sys

import pytest
from rich.console import Console
from rich.text import Text

from agentfactory.cli import live

LINES = [
    (("AgentFactory", "bold"), (" · model ", ""), ("scripted:x", "")),
    (("  → ", "green"), ("create_subagent", "bold"), (" ", ""), ('{"name": "a"}', "")),
    (("\n", ""), ("success", "bold green")),
    (("Answer: ", "bold"), ("two\nlines  ", "")),
    (("中文 wide — ünïcode 😀 e\u0301", ""),),
    (("", ""),),
    (("   trailing   ", "dim"),),
    (("x" * 500, ""),),
    (("a\tb", ""),),  # rich expands tabs: handed to rich
    (("bell\x07 cr\r ff\x0c", "red"),),  # rich drops these: handed to rich
]


def _rich_writes(line: live.Line) -> str:
    out = io.StringIO()
    Console(file=out, soft_wrap=True, highlight=False, emoji=False).print(
        Text.assemble(*line), soft_wrap=True
    )
    return out.getvalue()


@pytest.mark.parametrize("line", LINES)
def test_a_line_is_written_as_rich_writes_it_where_there_is_no_terminal(monkeypatch, line: live.Line):
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    live.PlainConsole().write(line)
    assert out.getvalue() == _rich_writes(line)


class _Stream(io.StringIO):
    def __init__(self, tty: bool | None):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        if self.tty is None:
            raise ValueError("I/O operation on closed file")
        return self.tty


@pytest.mark.parametrize("tty", [True, False, None])
@pytest.mark.parametrize("compatible", [None, "", "0", "1", "2"])
@pytest.mark.parametrize("force", [None, "", "0", "1"])
def test_no_terminal_is_where_rich_finds_none(monkeypatch, tty, compatible, force):
    for name, value in (("TTY_COMPATIBLE", compatible), ("FORCE_COLOR", force)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    stream = _Stream(tty)
    assert live.no_terminal(stream) is (not Console(file=stream).is_terminal)


def test_the_plain_view_prints_a_run_as_the_rich_one_does(monkeypatch):
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    events = [
        {"type": "run_started", "model": "m\x1b[2J", "sandbox": "local", "simulated": True},
        {"type": "tool_call_started", "step": 1, "tool": "run_subagent", "arguments": "[/bold]"},
        {"type": "execution_output", "execution": 1, "line": "out\tput"},
        {"type": "subagent_execution", "execution": 1, "subagent": "a", "status": "error",
         "error": {"type": "ValueError", "message": "bad", "line": 3}},
    ]  # fmt: skip
    shown = []
    for console in (
        live.PlainConsole(stderr=True),
        Console(stderr=True, soft_wrap=True, highlight=False, emoji=False),
    ):
        err = io.StringIO()
        monkeypatch.setattr(sys, "stderr", err)
        view = live.LiveView(progress=console)
        for event in events:
            view(event)
        assert not view.quiet  # no handler failed
        shown.append(err.getvalue())
    assert shown[0] == shown[1]
    assert "\\x1b[2J" in shown[0] and "│ out\\tput" in shown[0] and "ValueError: bad (line 3" in shown[0]


@pytest.mark.parametrize(("out_tty", "err_tty"), [(False, False), (False, True), (True, True), (True, False)])
def test_each_stream_gets_rich_only_where_it_is_a_terminal(monkeypatch, out_tty, err_tty):
    # `answer=$(agentfactory run ...)` in a terminal: the answer goes to the pipe as plain text, the
    # progress to the terminal through rich (its status line included).
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    monkeypatch.setattr(sys, "stdout", _Stream(out_tty))
    monkeypatch.setattr(sys, "stderr", _Stream(err_tty))
    progress, answer = live.consoles()
    assert isinstance(answer, Console) is out_tty and answer.is_terminal is out_tty
    if out_tty:
        assert progress is answer
    else:
        assert isinstance(progress, Console) is err_tty and progress.is_terminal is err_tty
