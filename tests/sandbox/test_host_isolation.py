"""Issue 13, items 1, 2, 5 and 15 against real sandboxes: the local backend on a root host, sandbox-controlled
paths the host must never follow, hostile output trees and names. Real bubblewrap, real Docker."""

from __future__ import annotations

import json
import os
import shutil
import socket
import stat
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from agentfactory.errors import SandboxError
from agentfactory.sandbox import jobdir as jobdir_module
from agentfactory.sandbox.hostfs import MAX_OUTPUT_DEPTH

from .conftest import SETTINGS, Runner

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="the attack is about a root host (CI runs as root)")
needs_bwrap = pytest.mark.skipif(not shutil.which("bwrap"), reason="bubblewrap is not installed")


@pytest.fixture(params=["local", pytest.param("docker", marks=pytest.mark.docker)])
def sandbox(request, monkeypatch, tmp_path):
    """A Runner on a fresh backend of each kind, and the job folders it created (to check they are gone)."""
    roots: list[Path] = []

    class RecordingJobDir(jobdir_module.JobDir):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            roots.append(self.root)

    if request.param == "local":
        from agentfactory.sandbox import local

        monkeypatch.setattr(local, "JobDir", RecordingJobDir)
        backend = local.LocalBackend(SETTINGS)
    else:
        from agentfactory.sandbox import docker_backend

        client = request.getfixturevalue("docker_client")
        monkeypatch.setattr(docker_backend, "JobDir", RecordingJobDir)
        backend = docker_backend.DockerBackend(SETTINGS, pool_size=0, client=client)
    runner = Runner(backend, tmp_path)
    runner.kind = request.param
    runner.roots = roots
    yield runner
    backend.close()


def _gone(roots: list[Path], wait_s: float = 10.0) -> bool:
    end = time.monotonic() + wait_s  # docker removes job folders in its reaper thread
    while time.monotonic() < end:
        if roots and not any(os.path.lexists(r) for r in roots):
            return True
        time.sleep(0.05)
    return False


# ---- item 1: `--sandbox local` as root ------------------------------------------------------------------


PROBE = """
import os, socket

def run(sockets):
    out = {}
    try:
        open("/etc/shadow", "rb").read()
        out["shadow"] = "read"
    except OSError as exc:
        out["shadow"] = type(exc).__name__
    try:
        out["root"] = os.listdir("/root")
    except OSError as exc:
        out["root"] = type(exc).__name__
    out["sockets"] = {}
    for path in sockets:
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(path)
            out["sockets"][path] = "connected"
        except OSError as exc:
            out["sockets"][path] = type(exc).__name__
        finally:
            s.close()
    out["top"] = sorted(os.listdir("/"))
    out["etc"] = sorted(os.listdir("/etc"))
    out["passwd"] = open("/etc/passwd").read()
    out["status"] = {
        line.split(":")[0]: line.split(":", 1)[1].split()
        for line in open("/proc/self/status").read().splitlines()
        if line.startswith(("Uid:", "Gid:", "CapEff:", "CapPrm:", "Groups:"))
    }
    return out
"""


@as_root
@needs_bwrap
def test_local_as_root_denies_shadow_root_and_host_sockets(run_local):
    # A listening socket that any user may connect to, in a host folder of /run (like docker.sock).
    folder = Path(tempfile.mkdtemp(prefix="af-test-", dir="/run"))
    os.chmod(folder, 0o755)
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(folder / "open.sock"))
    os.chmod(folder / "open.sock", 0o777)
    listener.listen(1)
    listener.settimeout(0.5)
    sockets = ["/var/run/docker.sock", "/run/docker.sock", str(folder / "open.sock")]
    try:
        trace = run_local(PROBE, {"sockets": sockets}, timeout_s=20)
        with pytest.raises(TimeoutError):
            listener.accept()
    finally:
        listener.close()
        shutil.rmtree(folder)
    assert trace.status == "ok", trace.compact()
    result = trace.result
    assert result["shadow"] in ("FileNotFoundError", "PermissionError")
    # Absent, or (when the interpreter lives under /root) a folder that cannot be listed
    assert result["root"] in ("PermissionError", "FileNotFoundError")
    assert set(result["sockets"]) == set(sockets)
    assert all(v in ("FileNotFoundError", "PermissionError") for v in result["sockets"].values()), result
    assert not {"run", "var", "home", "mnt", "srv", "opt"} & set(result["top"])
    from agentfactory.sandbox import bwrap

    assert set(result["etc"]) <= set(bwrap._ETC) | set(bwrap._ETC_WRITTEN)  # no shadow, no host accounts
    assert result["passwd"] == bwrap._ETC_WRITTEN["passwd"]
    uid, gid = result["status"]["Uid"], result["status"]["Gid"]
    assert "0" not in uid and "0" not in gid
    assert int(result["status"]["CapEff"][0], 16) == 0 and int(result["status"]["CapPrm"][0], 16) == 0
    assert result["status"]["Groups"] == []


@as_root
@needs_bwrap
def test_local_as_root_subagent_files_are_not_roots_on_the_host(local_backend, tmp_path):
    """Seen from the host: what the subagent creates is owned by the unprivileged sandbox user."""
    marker = f"marker-{uuid.uuid4().hex}"
    runner = Runner(local_backend, tmp_path)
    found: dict[str, int] = {}
    done = threading.Event()

    def watch() -> None:
        tmp = Path(tempfile.gettempdir())
        while not done.is_set():
            for path in tmp.glob(f"af-*/work/outputs/{marker}"):
                st = os.lstat(path)
                found.update(uid=st.st_uid, gid=st.st_gid)
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        trace = runner(
            f"import time\ndef run():\n    open('outputs/{marker}', 'w').write('x')\n    time.sleep(2)\n"
            "    return 'done'\n",
            timeout_s=20,
        )
    finally:
        done.set()
        watcher.join()
    assert trace.status == "ok", trace.compact()
    assert found, "the host never saw the subagent's file"
    assert found["uid"] != 0 and found["gid"] != 0
    assert (found["uid"], found["gid"]) == (65534, 65534)


@needs_bwrap
def test_local_sandbox_cannot_make_user_namespaces_or_use_keyrings(run_local):
    """What --disable-userns gives a non-root host, a seccomp filter gives every host (a root host's
    bubblewrap has no user namespace of its own); forks, threads, pools and subprocesses still work."""
    import platform

    if platform.machine() != "x86_64":
        pytest.skip("the raw syscall numbers below are x86_64's")
    trace = run_local(
        """
        import ctypes, os, subprocess, multiprocessing

        def square(x):
            return x * x

        def run():
            libc = ctypes.CDLL(None, use_errno=True)
            def raw(*args):
                ctypes.set_errno(0)
                return libc.syscall(*args), ctypes.get_errno()
            out = {
                "unshare": raw(272, 0x10000000),
                "clone": raw(56, 0x10000000 | 17, 0, 0, 0, 0),
                "clone3": raw(435, 0, 0),
                "keyctl": raw(250, 0, 0, 0, 0, 0),
                "bpf": raw(321, 0, 0, 0),
            }
            import shutil
            tool = shutil.which("unshare")
            out["unshare_tool"] = subprocess.run([tool, "-U", "true"], capture_output=True).returncode if tool else 1
            out["echo"] = subprocess.run(["echo", "hi"], capture_output=True, text=True).stdout
            with multiprocessing.Pool(2) as pool:
                out["pool"] = pool.map(square, [1, 2, 3])
            return out
        """,
        timeout_s=30,
    )
    assert trace.status == "ok", trace.compact()
    r = trace.result
    assert r["unshare"] == r["clone"] == r["keyctl"] == r["bpf"] == [-1, 1]  # EPERM
    assert r["clone3"] == [-1, 38]  # ENOSYS: the C library falls back to clone
    assert r["unshare_tool"] != 0
    assert r["echo"] == "hi\n" and r["pool"] == [1, 4, 9]


def _processes_named(comm: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == comm:
                    found.append(int(entry))
            except OSError:
                continue
    return found


@needs_bwrap
@pytest.mark.parametrize("ending", ["returns", "times_out"])
def test_local_nothing_of_the_sandbox_outlives_the_execution(run_local, ending):
    """A detached, SIGTERM-ignoring grandchild that keeps writing: gone when execute() returns, so the
    host never reads or removes the job folder while something in the sandbox still writes to it."""
    comm = f"af{uuid.uuid4().hex[:12]}"
    trace = run_local(
        """
        import ctypes, os, signal, time
        def run(comm, ending):
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    ctypes.CDLL(None).prctl(15, comm.encode(), 0, 0, 0)  # PR_SET_NAME
                    signal.signal(signal.SIGTERM, signal.SIG_IGN)
                    while True:
                        with open("outputs/alive", "a") as fh:
                            fh.write("x")
                        time.sleep(0.01)
                os._exit(0)
            time.sleep(0.5)
            if ending == "times_out":
                time.sleep(60)
            return "parent done"
        """,
        {"comm": comm, "ending": ending},
        timeout_s=2,
    )
    assert _processes_named(comm) == []
    assert trace.status == ("ok" if ending == "returns" else "timeout"), trace.compact()


@as_root
def test_local_without_bwrap_as_root_is_refused():
    from agentfactory.sandbox.local import LocalBackend

    with pytest.raises(SandboxError, match=r"root.*--sandbox docker\.$") as info:
        LocalBackend(SETTINGS, use_bwrap=False)
    assert "\n" not in str(info.value)


@as_root
def test_cli_local_without_bwrap_as_root_exits_3_with_one_sentence(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "sub.py"
    script.write_text("def run():\n    return 1\n")
    env = {
        "PATH": str(tmp_path),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "HOME": str(tmp_path),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "agentfactory",
            "sandbox",
            "exec",
            str(script),
            "--sandbox",
            "local",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert proc.stderr.strip().endswith("or use --sandbox docker.") and proc.stderr.strip().count("\n") == 0


@needs_bwrap
def test_local_still_runs_numpy_pandas_and_matplotlib(run_local):
    trace = run_local(
        """
        import numpy as np, pandas as pd
        import matplotlib.pyplot as plt

        def run():
            df = pd.DataFrame({"x": np.arange(5)})
            plt.plot(df["x"])
            plt.savefig("outputs/plot.png")
            return {"sum": int(df["x"].sum())}
        """,
        timeout_s=60,
        memory_mb=1024,
    )
    assert trace.status == "ok", trace.compact()
    assert trace.result == {"sum": 10}
    assert trace.output_files == ["plot.png"]


@needs_bwrap
def test_local_private_tmp_and_shm_are_size_capped(run_local):
    """The private /tmp and /dev/shm are memory the rlimits do not count: they are capped."""
    trace = run_local(
        """
        import multiprocessing

        def fill(path):
            written = 0
            try:
                with open(path, "wb") as fh:
                    while written < (512 << 20):
                        fh.write(b"x" * (1 << 20))
                        fh.flush()
                        written += 1 << 20
            except OSError as exc:
                return written >> 20, exc.errno
            return written >> 20, None

        def run():
            lock = multiprocessing.Lock()  # a semaphore in /dev/shm
            with lock:
                pass
            return {"tmp": fill("/tmp/fill"), "shm": fill("/dev/shm/fill")}
        """,
        timeout_s=30,
        output_max_mb=256,  # the file-size rlimit follows it: above the /tmp cap
    )
    assert trace.status == "ok", trace.compact()
    tmp_mb, tmp_errno = trace.result["tmp"]
    shm_mb, shm_errno = trace.result["shm"]
    assert tmp_errno == shm_errno == 28  # ENOSPC
    assert tmp_mb <= 64 and shm_mb <= 16


# ---- item 2: paths the sandbox controls ------------------------------------------------------------------


STOP_ATTACK = """
import json, os, time

def run(target, trip):
    # The runner's command line names the control folder, as an attacker would find it.
    argv = open(f"/proc/{os.getppid()}/cmdline", "rb").read().decode().split("\\0")
    ctl = argv[[i for i, a in enumerate(argv) if a.endswith("runner.py")][0] + 1]
    tried = {}
    for key, folder in (("ctl", ctl), ("report", "/sandbox/report"), ("outputs", "outputs")):
        path = os.path.join(folder, "stop")
        try:
            if os.path.lexists(path):
                os.unlink(path)
            os.symlink(target, path)
            tried[key] = "planted"
        except OSError as exc:
            tried[key] = type(exc).__name__
    with open("outputs/tried.json", "w") as fh:
        json.dump(tried, fh)
    if trip == "output_limit":
        with open("outputs/big", "wb") as fh:
            while True:
                fh.write(b"x" * (1 << 20))
                fh.flush()
                time.sleep(0.01)
    time.sleep(60)
"""


@pytest.mark.parametrize("trip", ["timeout", "output_limit"])
def test_stop_file_symlink_attack_creates_nothing(sandbox, tmp_path, trip):
    target = tmp_path / "created-by-the-host"
    trace = sandbox(STOP_ATTACK, {"target": str(target), "trip": trip}, timeout_s=3, output_max_mb=4)
    assert trace.status == trip, trace.compact()
    tried = json.loads((sandbox.out / "tried.json").read_text())
    assert tried["ctl"] == "OSError"  # the host's control folder is read-only in the sandbox (EROFS)
    assert not os.path.lexists(target)
    assert _gone(sandbox.roots)


HOSTILE_LEFTOVERS = """
import os, signal, socket

def run(canary_status, canary_result, canary_dir, made):
    R = "/sandbox/report"
    os.symlink(canary_status, R + "/status.json")
    os.symlink(canary_result, R + "/result.json")
    os.mkfifo(R + "/stdout.bin")
    os.mkdir(R + "/stderr.bin")
    for name in ("status.json.tmp", "result.json.tmp", "stop", "launcher.err"):
        os.symlink(made, R + "/" + name)
    O = "outputs"
    os.symlink(canary_result, O + "/link")
    os.symlink(canary_dir, O + "/dirlink")
    os.mkfifo(O + "/fifo")
    s = socket.socket(socket.AF_UNIX)
    s.bind(O + "/sock")
    open(O + "/a", "w").write("a")
    os.link(O + "/a", O + "/b")
    os.makedirs(O + "/deep/" + "/".join(["d"] * 30))
    os.symlink(made, O + "/deep/" + "/".join(["d"] * 30) + "/made")
    open(O + "/fine.txt", "w").write("fine")
    os.kill(os.getppid(), signal.SIGKILL)  # the runner: nothing rewrites the planted reports
    signal.pause()
"""


def test_host_never_follows_what_the_sandbox_left(sandbox, tmp_path):
    """Every place the host touches the job folder after the run: reports replaced by links to files that
    would make the run look successful, a FIFO and a folder; outputs full of links, FIFOs, sockets, hard
    links, a link at the bottom of a deep chain. Nothing is followed, nothing blocks, nothing is created.
    (Huge files and chains past the depth bound: test_1200_level_folder_chain... and the property test.)"""
    secret = f"CANARY-{uuid.uuid4().hex}"
    canary_status = tmp_path / "status.json"
    canary_status.write_text(json.dumps({"exit_code": 0, "signal": None, "stdout_bytes": 1, "note": secret}))
    canary_result = tmp_path / "result.json"
    canary_result.write_text(json.dumps({"ok": True, "result": secret}))
    canary_dir = tmp_path / "canary-dir"
    canary_dir.mkdir()
    (canary_dir / "inside.txt").write_text(secret)
    made = tmp_path / "made-by-the-host"
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (canary_status, canary_result)}
    start = time.monotonic()
    trace = sandbox(
        HOSTILE_LEFTOVERS,
        {"canary_status": str(canary_status), "canary_result": str(canary_result),
         "canary_dir": str(canary_dir), "made": str(made)},
        timeout_s=20,
    )  # fmt: skip
    assert time.monotonic() - start < 15  # nothing blocked on the FIFOs
    assert trace.status == "sandbox_error", trace.compact()
    blob = json.dumps(trace.to_dict())
    assert secret not in blob
    assert not os.path.lexists(made)
    assert before == {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in before}
    assert sorted(os.listdir(canary_dir)) == ["inside.txt"]
    assert trace.output_files == ["fine.txt"]
    refused = trace.output_refusals
    assert refused["link"] == refused["dirlink"] == "a symbolic link"
    assert refused["fifo"] == refused["sock"] == "not a regular file"
    assert refused["a"] == refused["b"] == "a hard link"
    assert refused["deep/" + "/".join(["d"] * 30) + "/made"] == "a symbolic link"
    for path in sandbox.out.rglob("*"):
        st = os.lstat(path)
        assert stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)
        if stat.S_ISREG(st.st_mode):
            assert secret.encode() not in path.read_bytes()
    assert _gone(sandbox.roots)


@pytest.mark.parametrize("flood", ["files", "bytes"])
def test_report_folder_flood_is_stopped(sandbox, flood):
    """The runner's report folder is writable from inside and on the host's disk: it is bounded too."""
    trace = sandbox(
        """
        import time
        def run(flood):
            i = 0
            while True:
                with open(f"/sandbox/report/junk{i}", "wb") as fh:
                    fh.write(b"x" * (4 << 20 if flood == "bytes" else 1))
                i += 1
                time.sleep(0.01)
        """,
        {"flood": flood},
        timeout_s=20,
        result_max_bytes=1 << 20,
        stream_max_bytes=1 << 16,
    )
    assert trace.status == "output_limit", trace.compact()
    assert trace.duration_s < 10
    assert _gone(sandbox.roots)


# ---- item 5: output trees that used to crash the copy-out --------------------------------------------------


def test_seeded_output_folder_replaced_by_a_file_is_refused(sandbox):
    first = sandbox("import os\ndef run():\n    os.makedirs('outputs/d')\n    open('outputs/d/x.txt', 'w').write('x')\n"
                    "    open('outputs/f', 'w').write('f')\n")  # fmt: skip
    assert first.status == "ok" and sorted(first.output_files) == ["d/x.txt", "f"]
    second = sandbox(
        """
        import os, shutil
        def run():
            shutil.rmtree("outputs/d")
            open("outputs/d", "w").write("now a file")
            os.unlink("outputs/f")
            os.makedirs("outputs/f")
            open("outputs/f/y.txt", "w").write("y")
            open("outputs/ok.txt", "w").write("ok")
            return "swapped"
        """
    )
    assert second.status == "ok", second.compact()
    assert second.result == "swapped"
    assert second.output_files == ["ok.txt"]
    assert second.output_refusals["d"].startswith("type clash")
    assert second.output_refusals["f/y.txt"].startswith("type clash")
    assert (sandbox.out / "d" / "x.txt").read_text() == "x"
    assert (sandbox.out / "f").read_text() == "f"
    assert _gone(sandbox.roots)


def test_1200_level_folder_chain_is_bounded_and_cleaned(sandbox):
    trace = sandbox(
        """
        import os
        def run():
            open("outputs/top.txt", "w").write("top")
            fd = os.open("outputs", os.O_RDONLY)
            for _ in range(1200):
                os.mkdir("d", dir_fd=fd)
                nxt = os.open("d", os.O_RDONLY, dir_fd=fd)
                os.close(fd)
                fd = nxt
            os.close(os.open("bottom.txt", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
            return "built"
        """,
        timeout_s=20,
    )
    assert trace.status == "output_limit", trace.compact()
    assert f"{MAX_OUTPUT_DEPTH} levels" in trace.error["message"]
    assert trace.output_files == ["top.txt"]
    deep = [k for k, v in trace.output_refusals.items() if "deeper than" in v]
    assert deep == ["/".join(["d"] * MAX_OUTPUT_DEPTH)]
    depth = max(len(p.relative_to(sandbox.out).parts) for p in sandbox.out.rglob("*"))
    assert depth <= MAX_OUTPUT_DEPTH
    assert _gone(sandbox.roots)


# ---- item 15: output file names --------------------------------------------------------------------------


def test_unprintable_output_names_are_refused(sandbox):
    trace = sandbox(
        """
        import os
        def run():
            names = [b"new\\nline", b"\\x1b[31mred\\x1b[0m", b"raw\\xff\\xfe", b"\\xed\\xa0\\x80surrogate",
                     b"bidi\\xe2\\x80\\xaetxt.exe", b"bell\\x07", b"c1\\xc2\\x9bcsi", b"tab\\there"]
            for name in names:
                with open(b"outputs/" + name, "w") as fh:
                    fh.write("x")
            os.mkdir(b"outputs/dir\\x1b]0;title\\x07")
            open(b"outputs/dir\\x1b]0;title\\x07/inside.txt", "w").write("x")
            open("outputs/caf\\u00e9 ok.txt", "w").write("ok")
            return len(os.listdir(b"outputs"))
        """
    )
    assert trace.status == "ok", trace.compact()
    assert trace.result == 10
    assert trace.output_files == ["caf\u00e9 ok.txt"]
    assert len(trace.refused_outputs) == 9
    for shown in trace.refused_outputs:
        assert shown.isprintable() and shown.encode("utf-8")
        assert trace.output_refusals[shown] == "the name is not printable UTF-8"
    assert "new\\nline" in trace.refused_outputs and "raw\\xff\\xfe" in trace.refused_outputs
    assert os.listdir(os.fsencode(sandbox.out)) == ["caf\u00e9 ok.txt".encode()]
    json.dumps(trace.to_dict(), ensure_ascii=False).encode("utf-8")
    assert _gone(sandbox.roots)
