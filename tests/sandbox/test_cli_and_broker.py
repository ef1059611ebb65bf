"""The sandbox CLI (through typer's CliRunner, local backend) and the broker wire protocol."""

from __future__ import annotations

import json
import socket
import struct

from typer.testing import CliRunner

from agentfactory.cli.app import app
from agentfactory.sandbox import ToolBroker, echo_tool

runner = CliRunner()


def test_exec_json_ok(tmp_path):
    f = tmp_path / "add.py"
    f.write_text("def run(a, b):\n    print('adding')\n    return a + b\n")
    res = runner.invoke(
        app, ["sandbox", "exec", str(f), "--inputs", '{"a": 1, "b": 2}', "--sandbox", "local", "--json"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["status"] == "ok" and data["result"] == 3
    assert {"status", "result", "error", "stdout", "stderr", "duration_s"} <= set(data)


def test_exec_error_exit_code_and_frames(tmp_path):
    f = tmp_path / "bad.py"
    f.write_text("def run():\n    raise KeyError('k')\n")
    res = runner.invoke(app, ["sandbox", "exec", str(f), "--sandbox", "local", "--json"])
    assert res.exit_code == 1
    data = json.loads(res.stdout)
    assert data["status"] == "error"
    assert data["error"]["frames"][0]["line"] == 2


def test_exec_bad_inputs_is_usage_error(tmp_path):
    f = tmp_path / "x.py"
    f.write_text("def run():\n    return 1\n")
    res = runner.invoke(app, ["sandbox", "exec", str(f), "--inputs", "[1]", "--sandbox", "local"])
    assert res.exit_code == 2
    assert "JSON object" in res.output


def _frame(sock, data):
    body = json.dumps(data).encode()
    sock.sendall(struct.pack(">I", len(body)) + body)
    return _read_reply(sock)


def _read_reply(sock):
    (n,) = struct.unpack(">I", sock.recv(4))
    buf = b""
    while len(buf) < n:
        buf += sock.recv(n - len(buf))
    return json.loads(buf)


def test_broker_protocol_and_refusals(tmp_path):
    broker = ToolBroker({"echo": echo_tool, "boom": lambda a: 1 / 0})
    session = broker.open_session(tmp_path / "t.sock", ["echo", "boom"])
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(tmp_path / "t.sock"))
            assert _frame(s, {"tool": "echo", "args": {"x": 1}}) == {"ok": True, "result": {"echo": {"x": 1}}}
            refused = _frame(s, {"tool": "web_fetch", "args": {}})
            failed = _frame(s, {"tool": "boom", "args": {}})
        with socket.socket(socket.AF_UNIX) as s:  # an oversized frame is answered, then closes the connection
            s.connect(str(tmp_path / "t.sock"))
            s.sendall(struct.pack(">I", 50 << 20))
            oversized = _read_reply(s)
            assert s.recv(4) == b""
    finally:
        records = session.close()
    assert refused["ok"] is False and "not allocated" in refused["error"]
    assert failed["ok"] is False and "ZeroDivisionError" in failed["error"]
    assert oversized == {
        "ok": False,
        "error": f"request frame of {50 << 20} bytes exceeds the limit of 1048576 bytes",
    }
    assert [(r.tool, r.ok) for r in records] == [
        ("echo", True),
        ("web_fetch", False),
        ("boom", False),
        ("(invalid frame)", False),
    ]
    assert not (tmp_path / "t.sock").exists()
