"""The tool broker's bounds: whatever a subagent sends, one session serves and records at most its call
limit, closes past it, decodes frames with bounded size and depth, and never lets a thread raise."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time

import pytest

from agentfactory.sandbox import ToolBroker, echo_tool
from agentfactory.sandbox.broker import (
    ARG_PREVIEW_CHARS,
    ERROR_CHARS,
    LIMIT_RECORD_TOOL,
    MAX_CONNECTIONS,
    settle_trace,
)


def _send(sock: socket.socket, body: bytes) -> None:
    sock.sendall(struct.pack(">I", len(body)) + body)


def _reply(sock: socket.socket) -> dict | None:
    """The next answer, or None when the broker closed the connection (a reset once the answers sent
    before it are read: the broker closed with the flood's frames unread)."""
    try:
        return _read_answer(sock)
    except ConnectionResetError:
        return None


def _read_answer(sock: socket.socket) -> dict | None:
    header = b""
    while len(header) < 4:
        chunk = sock.recv(4 - len(header))
        if not chunk:
            return None
        header += chunk
    (n,) = struct.unpack(">I", header)
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return json.loads(buf)


@pytest.fixture
def thread_errors(monkeypatch):
    """Every exception that escapes a broker thread (it would print a traceback on the host's stderr).
    Threads other tests left behind are passed on to the usual hook."""
    seen: list[BaseException] = []
    previous = threading.excepthook

    def hook(args):
        if args.thread is not None and args.thread.name.startswith("tool-broker"):
            seen.append(args.exc_value)
        else:
            previous(args)

    monkeypatch.setattr(threading, "excepthook", hook)
    return seen


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"tool": "echo", "args": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", "more than 20,000 lists"),
        (b'{"tool": "echo", "args": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", "nested deeper than 64"),
        (b'{"tool": "echo", "args": {"a": ' + b"[" * 100 + b"]" * 100 + b"}}", "nested deeper than 64"),
        (b'{"tool": "echo", "args": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_001, "more than 20,000 lists"),
        # wide, not deep: each empty list costs the host ~60 bytes for its 3 bytes of JSON
        (b'{"tool": "echo", "args": {"a": [' + b"[]," * 300_000 + b"[]]}}", "more than 20,000 lists"),
        (b"\xff\xfe not utf-8", "not UTF-8"),
        (b"[1, 2, 3]", "not a JSON object"),
        (b'{"tool": "echo", "args": {"x": 1', "not valid JSON"),
    ],
)
def test_hostile_frames_get_a_clear_error_and_no_thread_traceback(
    tmp_path, capfd, thread_errors, body, words
):
    session = ToolBroker({"echo": echo_tool}).open_session(tmp_path / "t.sock", ["echo"])
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(tmp_path / "t.sock"))
            _send(s, body)
            reply = _reply(s)
            assert _reply(s) is None  # then the connection is closed
        with socket.socket(socket.AF_UNIX) as s:  # and the session still serves
            s.connect(str(tmp_path / "t.sock"))
            _send(s, json.dumps({"tool": "echo", "args": {"x": 1}}).encode())
            assert _reply(s) == {"ok": True, "result": {"echo": {"x": 1}}}
    finally:
        records = session.close()
    assert reply["ok"] is False and words in reply["error"]
    assert [(r.tool, r.ok) for r in records] == [("(invalid frame)", False), ("echo", True)]
    assert thread_errors == []
    err = capfd.readouterr().err
    assert "tool-broker" not in err and "RecursionError" not in err and "Traceback" not in err


def test_a_flood_on_one_connection_is_cut_at_the_limit_and_not_recorded(tmp_path, thread_errors):
    session = ToolBroker({"echo": echo_tool}, max_calls=50).open_session(tmp_path / "t.sock", ["echo"])
    frame = json.dumps({"tool": "echo", "args": {"pad": "x" * 5000}}).encode()
    replies: list[dict] = []
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(tmp_path / "t.sock"))

            def flood() -> None:
                try:
                    for _ in range(5000):
                        _send(s, frame)
                except OSError:
                    pass  # the broker closed the connection

            sender = threading.Thread(target=flood, daemon=True)
            sender.start()
            s.settimeout(10)
            while (reply := _reply(s)) is not None:
                replies.append(reply)
            sender.join(timeout=10)
        assert not (tmp_path / "t.sock").exists()  # the session stopped listening
        with socket.socket(socket.AF_UNIX) as s, pytest.raises(OSError):
            s.connect(str(tmp_path / "t.sock"))
    finally:
        records = session.close()
    assert [r["ok"] for r in replies] == [True] * 50 + [False]
    assert "call limit of 50 tool calls per execution reached" in replies[-1]["error"]
    assert len(records) == 51 and records[-1].tool == LIMIT_RECORD_TOOL
    assert all(len(r.arguments) <= ARG_PREVIEW_CHARS + 1 for r in records)
    assert session.calls == 50
    assert thread_errors == []


def test_calls_arriving_after_the_limit_are_counted_not_recorded(tmp_path):
    broker = ToolBroker({"echo": echo_tool}, max_calls=5)
    session = broker.open_session(tmp_path / "t.sock", ["echo"])
    try:
        for _ in range(5):
            session._call({"tool": "echo", "args": {}})
        tripped = session._call({"tool": "echo", "args": {}})
        later = [session._call({"tool": "echo", "args": {}}) for _ in range(10_000)]
    finally:
        records = session.close()
    assert tripped["ok"] is False and later == [None] * 10_000  # no answer: the connection is closed
    assert len(records) == 6
    assert records[-1].error.endswith("10000 later call(s) were refused and not recorded")


def test_concurrent_connections_and_threads_are_bounded(tmp_path, thread_errors):
    release = threading.Event()

    def slow(args):
        release.wait(10)
        return {}

    session = ToolBroker({"slow": slow}).open_session(tmp_path / "t.sock", ["slow"])
    socks = []
    try:
        for _ in range(MAX_CONNECTIONS * 4):
            s = socket.socket(socket.AF_UNIX)
            socks.append(s)
            try:
                s.connect(str(tmp_path / "t.sock"))
                _send(s, json.dumps({"tool": "slow", "args": {}}).encode())
            except OSError:  # a connection over the limit is closed at once
                pass
        time.sleep(1.0)
        serving = [t for t in threading.enumerate() if t.name == "tool-broker-conn"]
        assert len(serving) <= MAX_CONNECTIONS
        release.set()
    finally:
        release.set()
        for s in socks:
            s.close()
        records = session.close()
    assert len(records) <= MAX_CONNECTIONS
    assert thread_errors == []


def test_recorded_fields_are_bounded(tmp_path):
    def noisy(args):
        return {"usage": {f"k{i}": 1 for i in range(10_000)} | {"bad": "x" * 10_000, "inf": float("inf")}}

    def failing(args):
        raise RuntimeError("y" * 100_000)

    session = ToolBroker({"noisy": noisy, "failing": failing}).open_session(
        tmp_path / "t.sock", ["noisy", "failing"]
    )
    try:
        session._call({"tool": "noisy", "args": {"a": "z" * 500_000}})
        session._call({"tool": "failing", "args": {}})
        session._call({"tool": "t" * 100_000, "args": {}})
    finally:
        records = session.close()
    noisy_rec, failing_rec, unknown_rec = records
    assert len(noisy_rec.usage) <= 16 and all(isinstance(v, int) for v in noisy_rec.usage.values())
    assert len(noisy_rec.arguments) <= ARG_PREVIEW_CHARS + 1
    assert len(failing_rec.error) <= ERROR_CHARS
    assert len(unknown_rec.tool) <= 100 and len(unknown_rec.error) < 200


FLOOD = """
import json, os, socket, struct
from agentfactory_tools import ToolError, call


def run():
    ok = refused = 0
    last = ""
    for i in range(20000):
        try:
            call("echo", i=i)
            ok += 1
        except ToolError as exc:
            refused += 1
            last = str(exc)
    # and raw frames, bypassing the client, on fresh connections
    raw = 0
    for _ in range(2000):
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(os.environ["AGENTFACTORY_TOOLS_SOCKET"])
                body = json.dumps({"tool": "echo", "args": {}}).encode()
                s.sendall(struct.pack(">I", len(body)) + body)
                raw += 1
        except OSError:
            pass
    return {"ok": ok, "refused": refused, "raw": raw, "last": last[:300]}
"""


def test_flood_in_a_real_sandbox_ends_with_tool_limit_and_a_bounded_trace(run_local, thread_errors):
    trace = run_local(
        FLOOD, tools=["echo"], broker=ToolBroker({"echo": echo_tool}, max_calls=200), timeout_s=20
    )
    # However the subagent handles its refusals, the execution ends tool_limit, long before its own
    # wall clock: the backend stops it once the session closed (unless it had already returned).
    assert trace.status == "tool_limit", trace.compact()
    assert trace.error["type"] == "ToolCallLimit" and "call limit" in trace.error["message"]
    assert trace.duration_s < 10
    assert len(trace.tool_calls) == 201 and trace.tool_calls[-1].tool == LIMIT_RECORD_TOOL
    assert "call limit of 200" in trace.tool_calls[-1].error
    assert settle_trace(trace).status == "tool_limit"  # what the run does with every trace: unchanged
    assert len(json.dumps(trace.to_dict())) < 200_000
    assert thread_errors == []


STAYS_AFTER_THE_LIMIT = """
import time
from agentfactory_tools import ToolError, call


def run():
    for i in range(100):
        try:
            call("echo", i=i)
        except ToolError:
            break
    time.sleep(60)  # past the limit: the host must not wait for this
    return {"slept": True}
"""


def test_a_subagent_past_the_call_limit_is_stopped_at_once(run_local, thread_errors):
    trace = run_local(
        STAYS_AFTER_THE_LIMIT, tools=["echo"], broker=ToolBroker({"echo": echo_tool}, max_calls=5),
        timeout_s=40,
    )  # fmt: skip
    assert trace.status == "tool_limit", trace.compact()
    assert trace.result is None and trace.duration_s < 10
    assert len(trace.tool_calls) == 6 and trace.tool_calls[-1].tool == LIMIT_RECORD_TOOL
    assert thread_errors == []


def test_closing_a_session_wakes_its_accept_thread_at_once(tmp_path):
    """close() ends the accept loop at once, not at the next tick of a timeout (a 0.2 s tick cost every
    execution in a run about 0.1 s on average): the median wait for the thread's end is far below it."""
    import statistics

    broker = ToolBroker({"echo": echo_tool})
    waits = []
    for i in range(7):
        session = broker.open_session(tmp_path / f"s{i}.sock", ["echo"])
        time.sleep(0.01)  # the thread is blocked in accept()
        start = time.monotonic()
        session.close()
        session.join(5)
        waits.append(time.monotonic() - start)
        assert not session.accepting
        assert not (tmp_path / f"s{i}.sock").exists()
    assert statistics.median(waits) < 0.04, waits


def test_a_session_started_late_serves_the_calls_that_connected_before(tmp_path, thread_errors):
    # A backend opens the session before the handover and starts it after: a subagent quicker than that
    # waits in the socket's backlog and is served, never refused.
    session = ToolBroker({"echo": echo_tool}).open_session(tmp_path / "t.sock", ["echo"], start=False)
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(tmp_path / "t.sock"))
            _send(s, json.dumps({"tool": "echo", "args": {"x": 1}}).encode())
            s.settimeout(0.2)
            with pytest.raises(TimeoutError):
                s.recv(1)  # nothing serves it yet
            s.settimeout(10)
            session.start()
            assert _reply(s) == {"ok": True, "result": {"echo": {"x": 1}}}
    finally:
        records = session.close()
    assert [(r.tool, r.ok) for r in records] == [("echo", True)]
    assert thread_errors == []


def test_a_session_closed_before_it_started_releases_its_socket(tmp_path):
    session = ToolBroker({"echo": echo_tool}).open_session(tmp_path / "t.sock", ["echo"], start=False)
    assert session.close() == []
    assert session._sock.fileno() == -1 and not (tmp_path / "t.sock").exists()
    session.start()  # too late: no thread serves a closed session
    assert not session.accepting


def test_executions_with_the_same_wall_clock_share_one_bound_broker_each_session_its_own_deadline(tmp_path):
    broker = ToolBroker({"echo": echo_tool}, max_calls=7)
    bound = broker.for_execution(30.0)
    assert broker.for_execution(30.0) is bound  # a run's executions: one object, not one each
    assert (bound.timeout_s, bound.max_calls, bound.handlers) == (30.0, 7, broker.handlers)
    shorter = broker.for_execution(2.5)  # a run near its time limit
    assert shorter is not bound and shorter.timeout_s == 2.5
    assert broker.for_execution(30.0).timeout_s == 30.0
    first = bound.open_session(tmp_path / "a.sock", [], start=False)
    time.sleep(0.05)
    second = bound.open_session(tmp_path / "b.sock", [], start=False)
    try:  # the deadline runs from each session's opening, not the broker's making
        assert second.deadline - first.deadline >= 0.04
    finally:
        first.close()
        second.close()
