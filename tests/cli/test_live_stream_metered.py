"""When model calls stream: only when someone watches and the `stream` setting says so; the notices are
live only and the response (usage included) is the same streamed or not."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentfactory import events as ev
from agentfactory.config import Settings
from agentfactory.engine.log import RunLog, RunMeter
from agentfactory.llm import ScriptedProvider
from agentfactory.llm.metered import MeteredProvider
from agentfactory.llm.types import Message

ITEM = {
    "text": "Here it is.",
    "tool_calls": [{"name": "finish", "arguments": {"answer": "x" * 2000}}],
    "stream": True,
}


class Watcher:
    def __init__(self, on_terminal: bool):
        self.on_terminal = on_terminal
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any]) -> None:
        self.events.append(event)


class NoStreamProvider(ScriptedProvider):
    """A provider from before streaming: `complete` takes no `on_stream`."""

    def complete(self, system, messages, tools=None, max_tokens=4096):  # noqa: ANN001
        return super().complete(system, messages, tools, max_tokens)


def call(
    tmp_path: Path, mode: str, watcher: Watcher | None, role: str = ev.ORCHESTRATOR, cls=ScriptedProvider
):
    log = RunLog(tmp_path / "events.jsonl", "run", watcher)
    metered = MeteredProvider(
        cls([ITEM]), Settings.from_keys(stream=mode).models, RunMeter(log, mode), role=role
    )
    response = metered.complete("system", [Message.user("task")], [], 1000, step=1)
    log.close()
    streamed = [e for e in (watcher.events if watcher else []) if e["type"] == ev.MODEL_STREAM]
    logged = (tmp_path / "events.jsonl").read_text()
    return response, streamed, logged


@pytest.mark.parametrize(
    ("mode", "terminal", "streams"),
    [("auto", True, True), ("auto", False, False), ("on", False, True), ("off", True, False)],
)
def test_stream_setting_decides(tmp_path, mode, terminal, streams):
    response, streamed, logged = call(tmp_path, mode, Watcher(terminal))
    assert bool(streamed) is streams
    assert ev.MODEL_STREAM not in logged  # live only, whatever the mode
    if streams:
        kinds = [e["kind"] for e in streamed]
        assert kinds[0] == "text" and kinds[1] == "tool_call" and kinds[-1] == "tool_input"
        tokens = [e["output_tokens"] for e in streamed if e["kind"] == "tool_input"]
        assert tokens == sorted(tokens) and tokens[-1] == response.usage.output_tokens
        assert all(e["call"] == 1 and e["step"] == 1 for e in streamed)


def test_usage_is_the_same_streamed_or_not(tmp_path):
    on, streamed, _ = call(tmp_path / "a", "on", Watcher(True))
    off, none, _ = call(tmp_path / "b", "off", Watcher(True))
    assert streamed and not none
    assert on.usage == off.usage and on.text == off.text
    assert on.tool_calls[0].arguments == off.tool_calls[0].arguments


def test_nobody_watching_means_no_stream_and_a_provider_without_on_stream_still_works(tmp_path):
    response, streamed, _ = call(tmp_path, "on", None, cls=NoStreamProvider)
    assert response.tool_calls[0].name == "finish" and not streamed


def test_subagent_llm_calls_never_stream(tmp_path):
    _, streamed, _ = call(tmp_path, "on", Watcher(True), role=ev.SUBAGENT)
    assert not streamed
