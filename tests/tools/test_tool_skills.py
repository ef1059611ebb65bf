"""Tool skills are one record each (name, schema from its SKILL.md, handler), and the real tool broker
checks every call against the schema of the tool called before its handler runs."""

from __future__ import annotations

import json
import shutil
import socket
import struct
import textwrap
from pathlib import Path

import pytest

from agentfactory.config import SandboxSettings, ToolSettings
from agentfactory.llm import ScriptedProvider
from agentfactory.sandbox import ExecutionRequest, ToolBroker
from agentfactory.skill_tiers import load_tier
from agentfactory.tools import ToolSkill, build_handlers


def _ask(path: Path, request: dict) -> dict:
    body = json.dumps(request).encode()
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(path))
        s.sendall(struct.pack(">I", len(body)) + body)
        header = s.recv(4, socket.MSG_WAITALL)
        (n,) = struct.unpack(">I", header)
        return json.loads(s.recv(n, socket.MSG_WAITALL))


@pytest.fixture
def model() -> ScriptedProvider:
    return ScriptedProvider([{"text": "an answer"}] * 5)


@pytest.fixture
def handlers(tmp_path, model) -> dict[str, ToolSkill]:
    return build_handlers(ToolSettings(web_search_dir=tmp_path / "docs"), {}, model)


def test_each_tool_skill_is_its_skill_file_and_its_handler(handlers):
    tier = load_tier("tools")
    assert set(handlers) == set(tier) == {"llm", "web_fetch", "web_search"}
    for name, skill in handlers.items():
        assert isinstance(skill, ToolSkill) and skill.name == name
        assert skill.schema == tier[name].schema and skill.description == tier[name].description
    assert handlers["web_fetch"].takes_deadline and not handlers["llm"].takes_deadline


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ({"prompt": ""}, "at $.prompt"),  # minLength 1
        ({"system": "hi"}, "'prompt' is a required property"),
        ({"prompt": "hi", "temperature": 0.2}, "'temperature' was unexpected"),
        ({"prompt": "hi", "max_tokens": 10**9}, "at $.max_tokens"),
        ({"prompt": ["not", "text"]}, "at $.prompt"),
        ([1, 2], "must be a JSON object, not list"),
    ],
)
def test_a_call_that_breaks_the_schema_is_refused_before_the_handler(tmp_path, handlers, model, args, words):
    session = ToolBroker(handlers).open_session(tmp_path / "t.sock", ["llm"])
    try:
        refused = _ask(tmp_path / "t.sock", {"tool": "llm", "args": args})
        served = _ask(tmp_path / "t.sock", {"tool": "llm", "args": {"prompt": "hi", "max_tokens": 50}})
    finally:
        records = session.close()
    assert refused["ok"] is False
    assert "its arguments do not match its schema" in refused["error"] and words in refused["error"]
    assert served == {"ok": True, "result": {"text": "an answer", "model": "scripted", "cost_usd": 0.0}}
    assert len(model.requests) == 1  # the refused call never reached the model
    assert [(r.tool, r.ok) for r in records] == [("llm", False), ("llm", True)]
    assert records[0].error == refused["error"]  # the trace says why


def test_the_refusal_quotes_a_bounded_part_of_the_arguments(tmp_path, handlers):
    session = ToolBroker(handlers).open_session(tmp_path / "t.sock", ["web_search"])
    try:
        reply = _ask(tmp_path / "t.sock", {"tool": "web_search", "args": {"query": "q", "x" * 50_000: 1}})
    finally:
        session.close()
    assert reply["ok"] is False and "do not match its schema" in reply["error"]
    assert len(reply["error"]) < 600


def test_only_the_allocated_tool_answers_whatever_the_arguments(tmp_path, handlers):
    session = ToolBroker(handlers).open_session(tmp_path / "t.sock", ["web_search"])
    try:
        reply = _ask(tmp_path / "t.sock", {"tool": "llm", "args": {"prompt": "hi"}})
    finally:
        session.close()
    assert reply == {"ok": False, "error": "tool 'llm' is not allocated to this subagent"}


def test_a_subagent_in_the_local_sandbox_gets_the_schema_error(tmp_path, handlers, model):
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed")
    from agentfactory.sandbox.local import LocalBackend

    code = tmp_path / "code"
    code.mkdir()
    (code / "sub.py").write_text(
        textwrap.dedent(
            """
            from agentfactory_tools import ToolError, llm

            def run():
                try:
                    llm("Summarise.", temperature=0.7)
                except ToolError as exc:
                    return {"refused": str(exc)}
                return {"refused": None}
            """
        )
    )
    request = ExecutionRequest(code, "sub", {}, tools=["llm"], broker=ToolBroker(handlers), timeout_s=20)
    trace = LocalBackend(SandboxSettings(timeout_s=20)).execute(request)
    assert trace.status == "ok", trace.compact()
    assert "'temperature' was unexpected" in trace.result["refused"]
    assert [(c.tool, c.ok) for c in trace.tool_calls] == [("llm", False)]
    assert model.requests == []
