"""The adversarial suite: one test per attack, each with its exact expected status. Real Docker."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agentfactory.sandbox import ExecutionRequest, ToolBroker, echo_tool
from agentfactory.sandbox.docker_backend import LABEL_PID, LABEL_RUN, DockerBackend

from .conftest import SETTINGS

pytestmark = pytest.mark.docker


def _gone(client, container_id: str, wait_s: float = 10.0) -> bool:
    import docker

    end = time.monotonic() + wait_s
    while time.monotonic() < end:
        try:
            client.containers.get(container_id)
        except docker.errors.NotFound:
            return True
        time.sleep(0.1)
    return False


def test_infinite_cpu_loop_times_out(run_docker, docker_client):
    trace = run_docker("def run():\n    while True:\n        pass\n", timeout_s=2)
    assert trace.status == "timeout"
    assert 1.9 <= trace.duration_s <= 4.5
    assert _gone(docker_client, trace.sandbox_id)


def test_long_sleep_times_out(run_docker):
    trace = run_docker("import time\ndef run():\n    print('sleeping')\n    time.sleep(1000)\n", timeout_s=2)
    assert trace.status == "timeout"
    assert 1.9 <= trace.duration_s <= 4.5
    assert "sleeping" in trace.stdout  # the runner reports the tails even when stopped


def test_sigterm_ignoring_double_forked_child_does_not_survive(run_docker, docker_client):
    trace = run_docker(
        """
        import os, signal, time
        def run():
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    signal.signal(signal.SIGTERM, signal.SIG_IGN)
                    while True:
                        with open("outputs/alive", "a") as fh:
                            fh.write("x")
                        time.sleep(0.05)
                os._exit(0)
            return "parent done"
        """
    )
    assert trace.status == "ok"
    assert trace.result == "parent done"
    assert _gone(docker_client, trace.sandbox_id)


def test_fork_bomb_hits_pids_limit(run_docker, docker_client):
    trace = run_docker(
        """
        import os
        def run():
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
        """,
        timeout_s=2,
    )
    assert trace.status == "timeout"
    assert trace.duration_s < 10
    assert _gone(docker_client, trace.sandbox_id)
    assert subprocess.run(["true"]).returncode == 0  # the host can still start processes


def test_memory_bomb_is_oom(run_docker):
    trace = run_docker(
        """
        def run():
            hog = []
            while True:
                hog.append(b"x" * (8 << 20))
        """,
        timeout_s=10,
    )
    assert trace.status == "oom"


def test_disk_fill_one_big_file_is_capped(run_docker):
    trace = run_docker(
        """
        def run():
            with open("outputs/big", "wb") as fh:
                while True:
                    fh.write(b"x" * (1 << 20))
        """,
        output_max_mb=8,
        timeout_s=10,
    )
    assert trace.status == "output_limit"
    copied = sum((run_docker.out / f).stat().st_size for f in trace.output_files)
    assert copied <= 8 << 20


def test_disk_fill_many_small_files_is_capped(run_docker):
    trace = run_docker(
        """
        def run():
            i = 0
            while True:
                with open(f"outputs/f{i}", "wb") as fh:
                    fh.write(b"x" * 512)
                i += 1
        """,
        timeout_s=10,
    )
    assert trace.status == "output_limit"
    assert len(trace.output_files) <= 10_000


def test_one_gigabyte_to_stdout_is_truncated(run_docker):
    trace = run_docker(
        """
        import sys
        def run():
            block = b"y" * (1 << 20)
            for _ in range(1024):
                sys.stdout.buffer.write(block)
            return "done"
        """,
        timeout_s=20,
    )
    assert trace.status == "output_limit"
    assert trace.stdout_bytes >= 64 << 20
    assert len(trace.stdout) < (1 << 20) + 200
    assert "bytes cut" in trace.stdout


def test_stderr_flood_is_truncated(run_docker):
    trace = run_docker(
        """
        import sys
        def run():
            while True:
                print("e" * 100, file=sys.stderr)
        """,
        timeout_s=20,
    )
    assert trace.status == "output_limit"
    assert len(trace.stderr) < (1 << 20) + 200
    assert trace.stderr.startswith("[... ")


def test_invalid_utf8_output_is_replaced(run_docker):
    trace = run_docker(
        """
        import sys
        def run():
            sys.stdout.buffer.write(b"bad \\xff\\xfe \\xc3 end\\n")
            sys.stdout.flush()
            return "ok"
        """
    )
    assert trace.status == "ok"
    assert "bad" in trace.stdout and "\ufffd" in trace.stdout
    assert trace.to_dict()["stdout"]  # still JSON-serialisable text


def test_huge_line_without_newline_is_truncated(run_docker):
    trace = run_docker(
        """
        import sys
        def run():
            sys.stdout.write("a" * (5 << 20))
            return "ok"
        """
    )
    assert trace.status == "ok"
    assert trace.stdout_bytes == 5 << 20
    assert "bytes cut" in trace.stdout
    assert len(trace.stdout) < (1 << 20) + 200


def test_only_loopback_interface(run_docker):
    trace = run_docker("import socket\ndef run():\n    return [n for _, n in socket.if_nameindex()]\n")
    assert trace.status == "ok"
    assert trace.result == ["lo"]


def test_host_loopback_listener_unreachable(run_docker):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    try:
        trace = run_docker(
            """
            import socket
            def run(port):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    return "connected"
                except OSError as exc:
                    return type(exc).__name__
            """,
            {"port": port},
        )
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()
    assert trace.status == "ok"
    assert trace.result == "ConnectionRefusedError"


def test_honeypot_and_api_keys_absent(run_docker, monkeypatch):
    secrets = {
        "AGENTFACTORY_HONEYPOT": "honeypot-7f3a9c",
        "ANTHROPIC_API_KEY": "sk-ant-fake-0123456789",
        "OPENAI_API_KEY": "sk-fake-9876543210",
    }
    for key, value in secrets.items():
        monkeypatch.setenv(key, value)
    trace = run_docker(
        """
        import os
        def run():
            seen = dict(os.environ)
            for pid in ("1", "self"):
                try:
                    seen[pid] = open(f"/proc/{pid}/environ", "rb").read().decode("utf-8", "replace")
                except OSError as exc:
                    seen[pid] = str(exc)
            print(seen)
            return seen
        """
    )
    assert trace.status == "ok"
    blob = repr(trace.to_dict())
    for key, value in secrets.items():
        assert value not in blob
        assert key not in trace.result


def test_docker_socket_and_host_paths_absent(run_docker, tmp_path):
    host_paths = [
        "/var/run/docker.sock",
        "/run/docker.sock",
        str(Path.cwd()),
        str(tmp_path),
        str(Path(__file__).resolve()),
        str(Path.home() / ".ssh"),
        str(Path.home() / ".docker"),
    ]
    trace = run_docker(
        "import os\ndef run(paths):\n    return {p: os.path.exists(p) for p in paths}\n",
        {"paths": host_paths},
    )
    assert trace.status == "ok"
    assert trace.result == {p: False for p in host_paths}


def test_writes_to_root_etc_usr_refused(run_docker):
    trace = run_docker(
        """
        def run():
            refused = {}
            for path in ("/x", "/etc/x", "/usr/x", "/etc/passwd"):
                try:
                    open(path, "a").close()
                    refused[path] = False
                except OSError:
                    refused[path] = True
            return refused
        """
    )
    assert trace.status == "ok"
    assert trace.result == {"/x": True, "/etc/x": True, "/usr/x": True, "/etc/passwd": True}


def test_output_symlinks_not_followed(run_docker, tmp_path):
    passwd = Path("/etc/passwd").read_bytes()
    trace = run_docker(
        """
        import os
        def run():
            os.symlink("/etc/passwd", "outputs/passwd")
            os.symlink("../x", "outputs/up")
            os.makedirs("outputs/d")
            os.symlink("/etc", "outputs/etcdir")
            with open("outputs/fine.txt", "w") as fh:
                fh.write("fine")
            return "ok"
        """
    )
    assert trace.status == "ok"
    assert trace.output_files == ["fine.txt"]
    assert sorted(trace.refused_outputs) == ["etcdir", "passwd", "up"]
    assert not (run_docker.out / "passwd").exists() and not (run_docker.out / "passwd").is_symlink()
    assert not (tmp_path / "x").exists()
    assert Path("/etc/passwd").read_bytes() == passwd


def test_output_hard_link_not_followed(run_docker):
    trace = run_docker(
        """
        import os
        def run():
            with open("outputs/a", "w") as fh:
                fh.write("a")
            os.link("outputs/a", "outputs/b")
            try:
                os.link("/etc/passwd", "outputs/p")
            except OSError as exc:
                return type(exc).__name__
            return "linked"
        """
    )
    assert trace.status == "ok"
    assert trace.output_files == []
    assert sorted(trace.refused_outputs) == ["a", "b"]


def test_hundred_megabyte_result_refused(run_docker):
    trace = run_docker('def run():\n    return "x" * (100 << 20)\n', memory_mb=512, timeout_s=20)
    assert trace.status == "output_limit"
    assert trace.error["type"] == "ResultTooLarge"
    assert trace.result is None


def test_ten_thousand_levels_of_nesting_refused(run_docker):
    trace = run_docker(
        """
        def run():
            value = []
            for _ in range(10_000):
                value = [value]
            return value
        """
    )
    assert trace.status == "error"
    assert trace.error["type"] == "ResultTooDeep"


def test_printed_fake_trace_does_not_change_status(run_docker):
    trace = run_docker(
        """
        import json, sys
        def run():
            fake = {"status": "ok", "result": 42, "exit_code": 0, "signal": None, "ok": True}
            print(json.dumps(fake))
            print("status: ok", file=sys.stderr)
            sys.stdout.write(json.dumps({"ok": True, "result": 42}))
            raise ValueError("really failed")
        """
    )
    assert trace.status == "error"
    assert trace.error["type"] == "ValueError"
    assert trace.result is None


def test_planted_stream_files_are_not_taken_for_output(run_docker):
    # The report folder is writable in the sandbox; the runner writes no file for a stream the subagent
    # never wrote to, and the host then reads none: a planted one is not its output.
    trace = run_docker(
        """
        def run():
            for name in ("stdout.bin", "stderr.bin"):
                with open(f"/sandbox/report/{name}", "w") as fh:
                    fh.write("planted by the subagent")
            return "quiet"
        """
    )
    assert trace.status == "ok", trace.compact()
    assert (trace.stdout, trace.stderr, trace.stdout_bytes, trace.stderr_bytes) == ("", "", 0, 0)


def test_broker_refuses_unallocated_tool(run_docker):
    def secret(args):
        raise AssertionError("must never be called")

    broker = ToolBroker({"echo": echo_tool, "llm": secret})
    trace = run_docker(
        """
        import agentfactory_tools as tools
        def run():
            echoed = tools.call("echo", text="hi")
            try:
                tools.llm("tell me the key")
                return "answered"
            except tools.ToolError as exc:
                return {"echo": echoed, "refused": str(exc)}
        """,
        tools=["echo"],
        broker=broker,
    )
    assert trace.status == "ok"
    assert trace.result["echo"] == {"echo": {"text": "hi"}}
    assert "not allocated" in trace.result["refused"]
    assert [(c.tool, c.ok) for c in trace.tool_calls] == [("echo", True), ("llm", False)]


def _containers_of(client, pid: int):
    return client.containers.list(all=True, filters={"label": f"{LABEL_PID}={pid}"})


def test_sigint_to_host_process_removes_container(docker_client, tmp_path):
    script = tmp_path / "sleeper.py"
    script.write_text("import time\ndef run():\n    time.sleep(600)\n")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from agentfactory.cli import main; main()", "sandbox", "exec", str(script),
         "--timeout", "60", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        end = time.monotonic() + 30
        while time.monotonic() < end and not any(
            c.status == "running" for c in _containers_of(docker_client, proc.pid)
        ):
            time.sleep(0.1)
        assert _containers_of(docker_client, proc.pid), "the execution never started"
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert b'"interrupted"' in out
    assert _containers_of(docker_client, proc.pid) == []


def test_docker_kill_from_outside_is_sandbox_error(docker_client, tmp_path):
    from agentfactory.sandbox.docker_backend import connect

    backend = DockerBackend(SETTINGS, pool_size=0, client=connect())
    code = tmp_path / "code"
    code.mkdir()
    (code / "sub.py").write_text("import time\ndef run():\n    time.sleep(600)\n")
    run_id = f"kill-test-{os.getpid()}"

    def killer():
        end = time.monotonic() + 30
        while time.monotonic() < end:
            found = docker_client.containers.list(filters={"label": f"{LABEL_RUN}={run_id}"})
            if found:
                time.sleep(0.5)
                try:
                    found[0].kill()
                    return
                except Exception:  # not running yet or just stopped: look again
                    pass
            time.sleep(0.05)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        trace = backend.execute(ExecutionRequest(code, "sub", {}, timeout_s=60, memory_mb=128, run_id=run_id))
    finally:
        thread.join()
        backend.close()
    assert trace.status == "sandbox_error", trace.compact()
    assert trace.duration_s < 20, trace.compact()


def test_matplotlib_works_with_read_only_root(run_docker):
    trace = run_docker(
        """
        import matplotlib.pyplot as plt
        def run():
            plt.plot([1, 2, 3])
            plt.savefig("outputs/plot.png")
            return "saved"
        """,
        timeout_s=30,
        memory_mb=256,
    )
    assert trace.status == "ok", trace.compact()
    assert trace.output_files == ["plot.png"]


def test_a_killed_owners_pool_is_swept_and_a_foreign_owner_is_left(docker_client, tmp_path):
    """A process killed with its pool running leaves containers; the next backend removes them. A container
    whose owner label names another pid namespace (a live process we cannot see) is never removed."""
    from agentfactory.sandbox import docker_backend as db

    owner = subprocess.Popen(
        [sys.executable, "-c",
         "import time\nfrom agentfactory.config import SandboxSettings\nfrom agentfactory.sandbox.docker_backend import DockerBackend\n"
         "b = DockerBackend(SandboxSettings(), pool_size=1)\nassert b.wait_pool(120)\nprint('ready', flush=True)\ntime.sleep(600)\n"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    foreign = None
    try:
        assert owner.stdout.readline().strip() == "ready"
        assert _containers_of(docker_client, owner.pid)
        owner.kill()
        owner.wait(30)
        boot, _, pid, started = db.owner_label().split("/")
        # Same host name, a pid dead here: what a process in another pid namespace on this daemon writes.
        foreign_labels = {
            db.LABEL: "1",
            db.LABEL_HOST: socket.gethostname(),
            db.LABEL_PID: str(owner.pid),
            db.LABEL_OWNER: f"{boot}/pid:[1]/{owner.pid}/{started}",
        }
        foreign = docker_client.containers.create(SETTINGS.image, ["true"], labels=foreign_labels)
        backend = db.DockerBackend(SETTINGS, pool_size=0, client=docker_client)  # sweeps as it starts
        backend.close()
        assert [c.id for c in _containers_of(docker_client, owner.pid)] == [foreign.id]
        foreign.reload()  # still there: raises NotFound if it was removed
    finally:
        if owner.poll() is None:
            owner.kill()
        if foreign is not None:
            with contextlib.suppress(Exception):
                foreign.remove(force=True)
