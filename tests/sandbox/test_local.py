"""The local backend: limits, scrubbed environment, trace contents. No Docker needed."""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import pytest

from agentfactory.sandbox import ToolBroker, echo_tool


def test_ok_with_outputs_inputs_and_stdout(run_local, tmp_path):
    (tmp_path / "work" / "inputs").mkdir(parents=True)
    (tmp_path / "work" / "inputs" / "prices.csv").write_text("a,b\n1,2\n")
    trace = run_local(
        """
        def run(path):
            print("reading", path)
            with open("outputs/copy.csv", "w") as fh:
                fh.write(open(path).read())
            return {"rows": len(open(path).read().splitlines())}
        """,
        {"path": "inputs/prices.csv"},
        workdir=tmp_path / "work",
    )
    assert trace.status == "ok", trace.compact()
    assert trace.result == {"rows": 2}
    assert trace.output_files == ["copy.csv"]
    assert (run_local.out / "copy.csv").read_text() == "a,b\n1,2\n"
    assert "reading inputs/prices.csv" in trace.stdout
    assert "weaker isolation" in trace.isolation or "weak isolation" in trace.isolation


def test_error_frames_point_at_subagent_lines(run_local):
    trace = run_local("def helper(x):\n    return 1 / x\n\ndef run():\n    return helper(0)\n")
    assert trace.status == "error"
    assert trace.error["type"] == "ZeroDivisionError"
    assert [(f["file"], f["line"], f["source"]) for f in trace.error["frames"]] == [
        ("sub.py", 5, "return helper(0)"),
        ("sub.py", 2, "return 1 / x"),
    ]
    assert 'File "sub.py", line 2, in helper' in trace.compact()


def test_syntax_error_reported_with_line(run_local):
    trace = run_local("def run():\n    return (1,\n")
    assert trace.status == "error"
    assert trace.error["type"] == "SyntaxError"
    assert trace.error["frames"][-1]["file"] == "sub.py"


def test_timeout(run_local):
    trace = run_local("def run():\n    while True:\n        pass\n", timeout_s=1)
    assert trace.status == "timeout"
    assert 0.9 <= trace.duration_s <= 3


def test_memory_rlimit_is_oom(run_local):
    trace = run_local("def run():\n    return len(b'x' * (1 << 30))\n", memory_mb=128)
    assert trace.status == "oom"


def test_file_size_rlimit_is_output_limit(run_local):
    trace = run_local(
        "def run():\n    with open('outputs/big', 'wb') as fh:\n        while True:\n"
        "            fh.write(b'x' * (1 << 20))\n",
        output_max_mb=4,
        result_max_bytes=1 << 20,
    )
    assert trace.status == "output_limit"


def test_environment_is_scrubbed(run_local, monkeypatch):
    monkeypatch.setenv("AGENTFACTORY_HONEYPOT", "honeypot-local-1")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-fake-local")
    trace = run_local("import os\ndef run():\n    return dict(os.environ)\n")
    assert trace.status == "ok"
    assert "AGENTFACTORY_HONEYPOT" not in trace.result
    assert "ANTHROPIC_API_KEY" not in trace.result
    assert "honeypot-local-1" not in repr(trace.to_dict())


@pytest.mark.skipif(not shutil.which("bwrap"), reason="bubblewrap is not installed")
def test_bwrap_has_no_network_and_read_only_root(run_local):
    trace = run_local(
        """
        import socket
        def run():
            try:
                open("/etc/agentfactory-x", "w")
                wrote = True
            except OSError:
                wrote = False
            return {"ifaces": [n for _, n in socket.if_nameindex()], "wrote": wrote}
        """
    )
    assert trace.status == "ok", trace.compact()
    assert trace.result == {"ifaces": ["lo"], "wrote": False}


def test_broker_through_local_backend(run_local):
    trace = run_local(
        "import agentfactory_tools as t\ndef run():\n    return t.call('echo', n=1)\n",
        tools=["echo"],
        broker=ToolBroker({"echo": echo_tool}),
    )
    assert trace.status == "ok", trace.compact()
    assert trace.result == {"echo": {"n": 1}}
    assert trace.tool_calls[0].tool == "echo" and trace.tool_calls[0].usage == {
        "input_tokens": 0,
        "output_tokens": 0,
    }


def test_workspace_saves_traces(run_local, tmp_path):
    from agentfactory.engine.workspace import WorkspaceManager

    ws = WorkspaceManager(tmp_path / "ws").create("run-1")
    trace = run_local("def run():\n    return 1\n", workdir=ws.root, output_dir=ws.outputs)
    path = ws.save_trace(trace)
    assert path.parent == ws.traces and path.name == "0001-sub.json"
    assert '"status": "ok"' in path.read_text()


def test_compact_shows_the_answer_field_whole_on_its_own_line():
    from agentfactory.sandbox.trace import ExecutionTrace

    answer = "Found 3 items:\n" + "\n".join(f"- item {i}: https://example.org/{i}" for i in range(20))
    trace = ExecutionTrace(status="ok", backend="local", result={"answer": answer, "count": 3})
    text = trace.compact(max_chars=1500)
    assert len(answer) > 500  # longer than the result preview alone would show
    lines = text.splitlines()
    assert lines[1].startswith("answer: ") and json.loads(lines[1][len("answer: ") :]) == answer
    assert lines[2] == 'result: {"count": 3}'


@pytest.mark.skipif(not shutil.which("bwrap"), reason="bubblewrap is not installed")
def test_bwrap_without_newer_options_still_isolates(run_local, monkeypatch):
    """An older bubblewrap (no --size, --perms, --disable-userns): the options are left out, not failed on."""
    from agentfactory.sandbox import local

    full = local.bwrap_options(shutil.which("bwrap"))
    assert {"--size", "--perms", "--disable-userns", "--ro-bind"} <= full
    monkeypatch.setattr(local, "bwrap_options", lambda path: full - {"--size", "--perms", "--disable-userns"})
    trace = run_local(
        """
        import os, socket
        def run():
            open("/tmp/scratch", "w").write("x")
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect("/var/run/docker.sock")
                sock = "connected"
            except OSError as exc:
                sock = type(exc).__name__
            return {"uid": os.getuid(), "shadow": os.path.exists("/etc/shadow"), "sock": sock}
        """
    )
    assert trace.status == "ok", trace.compact()
    assert trace.result["uid"] != 0 and trace.result["shadow"] is False
    assert trace.result["sock"] == "FileNotFoundError"


def test_plain_fallback_for_a_non_root_host_runs_the_same_protocol(tmp_path, monkeypatch):
    """Without bubblewrap a non-root host gets a plain subprocess (said in the trace); the control and
    report folders work the same way. (The test pretends to be non-root: the code it runs is benign.)"""
    from agentfactory.sandbox import ExecutionRequest
    from agentfactory.sandbox.local import ISOLATION_PLAIN, LocalBackend

    monkeypatch.setattr("os.geteuid", lambda: 1000)
    backend = LocalBackend(use_bwrap=False)
    code = tmp_path / "code"
    code.mkdir()
    (code / "sub.py").write_text("import time\ndef run(n):\n    open('outputs/o.txt', 'w').write('o')\n"
                                 "    time.sleep(n)\n    return n\n")  # fmt: skip
    ok = backend.execute(ExecutionRequest(code, "sub", {"n": 0}, output_dir=tmp_path / "out", timeout_s=10))
    assert ok.status == "ok" and ok.result == 0 and ok.output_files == ["o.txt"]
    assert ok.isolation == ISOLATION_PLAIN
    slow = backend.execute(ExecutionRequest(code, "sub", {"n": 30}, output_dir=tmp_path / "out", timeout_s=1))
    assert slow.status == "timeout" and slow.duration_s < 5


def _world_reachable(path: Path) -> bool:
    return all(os.stat(p).st_mode & 0o005 == 0o005 for p in [path, *path.parents])


def test_bwrap_for_a_non_root_host_uses_a_user_namespace():
    """The non-root path, for real: the host process is uid 65534 (setpriv) running the system Python."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    site_packages = Path(next(p for p in sys.path if p.endswith("site-packages")))
    system_python = Path("/usr/bin/python3")
    if os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("bwrap"):
        pytest.skip("needs root (to become another user), setpriv and bubblewrap")
    if (
        not system_python.exists()
        or subprocess.run(
            [
                system_python,
                "-c",
                f"import sys; sys.exit(sys.version_info[:2] != {tuple(sys.version_info[:2])})",
            ]
        ).returncode
    ):
        pytest.skip("needs a system Python of the same version as the test's (for the installed packages)")
    if not (_world_reachable(repo) and _world_reachable(site_packages)):
        pytest.skip("the checkout or the site-packages are not readable by other users")
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="af-test-nonroot-"))  # pytest's tmp_path is root's alone
    os.chmod(folder, 0o777)
    try:
        _run_as_nobody(folder, repo, site_packages, system_python)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run_as_nobody(folder: Path, repo: Path, site_packages: Path, system_python: Path) -> None:
    import subprocess

    driver = folder / "drive.py"
    driver.write_text(
        textwrap.dedent(
            f"""
            import json, os, sys, tempfile
            sys.path[:0] = [{str(repo)!r}, {str(site_packages)!r}]
            from agentfactory.sandbox import ExecutionRequest
            from agentfactory.sandbox.local import LocalBackend
            code = tempfile.mkdtemp(dir={str(folder)!r})
            with open(os.path.join(code, "sub.py"), "w") as fh:
                fh.write('''
            import ctypes, os
            def run():
                libc = ctypes.CDLL(None, use_errno=True)
                open("outputs/x.txt", "w").write("x")
                return {{"uid": os.getuid(), "top": sorted(os.listdir("/")),
                        "unshare": [libc.unshare(0x10000000), ctypes.get_errno()]}}
            ''')
            backend = LocalBackend()
            trace = backend.execute(ExecutionRequest(code, "sub", {{}}, output_dir=os.path.join(code, "out")))
            print(json.dumps({{"as_root": backend.as_root, "status": trace.status, "result": trace.result,
                              "files": trace.output_files, "error": trace.error}}))
            """
        )
    )
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", system_python, str(driver)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(folder), "TMPDIR": str(folder)},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["as_root"] is False
    assert report["status"] == "ok", report
    assert report["result"]["uid"] == 65534
    assert report["result"]["unshare"] == [-1, 1]  # no user namespace inside the sandbox's own
    assert not {"root", "home", "run", "var", "work"} & set(report["result"]["top"])
    assert report["files"] == ["x.txt"]
