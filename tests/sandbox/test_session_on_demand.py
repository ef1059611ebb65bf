"""A broker session serves calls from the first connection on: an execution that calls no tool starts no
broker thread (nor wakes one at its end), and one that does is served exactly as before, the refusal of
a tool it was not given included."""

from __future__ import annotations

import socket

import pytest

from agentfactory.sandbox import ToolBroker, echo_tool

CALLS_NOTHING = """
def run():
    return {"y": 1}
"""

CALLS_ECHO = """
import agentfactory_tools as tools

def run():
    try:
        return {"echo": tools.call("echo", text="hi")}
    except tools.ToolError as exc:
        return {"refused": str(exc)}
"""


class Watched(ToolBroker):
    """A broker that keeps the sessions it opened, to see whether they started a thread."""

    def __init__(self):
        super().__init__({"echo": echo_tool})
        self.sessions = []

    def for_execution(self, timeout_s):
        return self

    def open_session(self, *args, **kwargs):
        session = super().open_session(*args, **kwargs)
        self.sessions.append(session)
        return session


@pytest.mark.parametrize("tools", [[], ["echo"]])
def test_an_execution_that_calls_no_tool_starts_no_broker_thread(run_local, tools):
    broker = Watched()
    trace = run_local(CALLS_NOTHING, tools=tools, broker=broker)
    assert trace.status == "ok" and trace.result == {"y": 1}, trace.compact()
    [session] = broker.sessions
    assert not session.started and trace.tool_calls == []
    with socket.socket(socket.AF_UNIX) as client, pytest.raises(OSError):  # closed all the same
        client.connect(str(session.path))


def test_an_allocated_tool_is_served_from_the_first_call(run_local):
    broker = Watched()
    trace = run_local(CALLS_ECHO, tools=["echo"], broker=broker)
    assert trace.status == "ok" and trace.result == {"echo": {"echo": {"text": "hi"}}}, trace.compact()
    assert broker.sessions[0].started
    assert [(c.tool, c.ok) for c in trace.tool_calls] == [("echo", True)]


def test_a_subagent_given_no_tool_gets_the_refusal_and_the_trace_records_it(run_local):
    broker = Watched()
    trace = run_local(CALLS_ECHO, tools=[], broker=broker)
    assert trace.status == "ok", trace.compact()
    assert trace.result == {"refused": "tool 'echo' is not allocated to this subagent"}
    assert [(c.tool, c.ok, c.error) for c in trace.tool_calls] == [
        ("echo", False, "tool 'echo' is not allocated to this subagent")
    ]


@pytest.mark.docker
def test_docker_subagent_given_no_tool_gets_the_refusal_and_none_calling_starts_no_thread(run_docker):
    broker = Watched()
    refused = run_docker(CALLS_ECHO, tools=[], broker=broker)
    assert refused.result == {"refused": "tool 'echo' is not allocated to this subagent"}, refused.compact()
    assert [(c.tool, c.ok) for c in refused.tool_calls] == [("echo", False)]
    quiet = run_docker(CALLS_NOTHING, tools=["echo"], broker=broker)
    assert quiet.status == "ok" and quiet.result == {"y": 1}, quiet.compact()
    assert [s.started for s in broker.sessions] == [True, False]
