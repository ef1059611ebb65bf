"""The `local` backend: the runner as a host subprocess. Weaker isolation than Docker, used only when asked.

The subprocess gets its own session, rlimits (CPU time, address space, processes, file size), an explicit
environment and the job's work folder as cwd, and is killed by process group at the wall-clock limit.
When `bwrap` is installed it also runs inside bubblewrap namespaces: no network, read-only view of the host
root, private /tmp, only outputs/ writable. It still shares the host kernel and, without bwrap, the host
filesystem and network. Every trace says so.
"""

from __future__ import annotations

import contextlib
import math
import os
import resource
import shutil
import signal
import site
import subprocess
import sys
import time

from agentfactory.config import Settings
from agentfactory.sandbox import trace as t
from agentfactory.sandbox.base import SANDBOX_ENV, SandboxInterrupted
from agentfactory.sandbox.jobdir import RUNTIME_DIR, JobDir, SandboxPaths
from agentfactory.sandbox.live_output import pump_fd

ISOLATION_BWRAP = (
    "local backend (weaker isolation than docker): host subprocess with rlimits and a scrubbed environment "
    "inside bubblewrap namespaces (no network, read-only host root, private /tmp); shares the host kernel"
)
ISOLATION_PLAIN = (
    "local backend (weak isolation): host subprocess with rlimits and a scrubbed environment; bubblewrap is "
    "not installed, so the subagent can read host files and reach the network"
)
_INSIDE = "/tmp/af"
_SITE_PATHS = [p for p in site.getsitepackages() if os.path.isdir(p)]
_POLL_S = 0.02
_GRACE_S = 0.5


class LocalBackend:
    name = "local"

    def __init__(self, settings: Settings | None = None, use_bwrap: bool | None = None):
        self.settings = settings or Settings()
        self.bwrap = shutil.which("bwrap") if use_bwrap is not False else None
        if use_bwrap and not self.bwrap:
            from agentfactory.errors import SandboxError

            raise SandboxError("bubblewrap (bwrap) is not installed: apt-get install bubblewrap.")
        self.isolation = ISOLATION_BWRAP if self.bwrap else ISOLATION_PLAIN

    def close(self) -> None:
        pass

    def execute(self, req: t.ExecutionRequest) -> t.ExecutionTrace:
        jd = JobDir(writable_by_others=False)
        session = None
        proc = None
        live = None
        try:
            jd.load(req)
            if self.bwrap:
                paths = SandboxPaths(
                    f"{_INSIDE}/code",
                    f"{_INSIDE}/work",
                    f"{_INSIDE}/ctl",
                    str(RUNTIME_DIR),
                    f"{_INSIDE}/broker",
                )
            else:
                paths = SandboxPaths(
                    str(jd.code), str(jd.work), str(jd.ctl), str(RUNTIME_DIR), str(jd.broker)
                )
            (jd.ctl / "job.json").write_bytes(jd.job(req, paths, site_paths=_SITE_PATHS))
            if req.broker is not None:
                session = req.broker.open_session(jd.socket_path, req.tools)
            cmd = self._command(jd, paths)
            start = time.monotonic()
            live_r, live_w = os.pipe() if req.on_output is not None else (None, None)  # live view only
            with open(jd.root / "launcher.err", "wb") as err, _live_pipe(live_r, live_w):
                proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL if live_w is None else live_w,
                    stderr=err,
                    cwd=jd.work,
                    env=dict(SANDBOX_ENV, TMPDIR="/tmp" if self.bwrap else str(jd.root)),
                    start_new_session=True,
                    preexec_fn=_limits(req),
                    close_fds=True,
                )
            if live_r is not None:
                live = pump_fd(live_r, req.on_output)
            host_status, note = self._wait(proc, jd, req, start)
            duration = time.monotonic() - start
            _killpg(proc.pid)
            if live is not None:
                live.join()
            calls = session.close() if session else []
            session = None
            if host_status is None and proc.returncode not in (0, None):
                note = _launcher_note(jd, proc.returncode)
            trace = jd.finish(req, self.name, self.isolation, duration, host_status, note, tool_calls=calls)
            if host_status == t.INTERRUPTED:
                raise SandboxInterrupted(trace)
            return trace
        finally:
            if proc is not None and proc.poll() is None:
                _killpg(proc.pid)
                proc.wait()
            if session is not None:
                session.close()
            jd.remove()

    def _wait(
        self, proc: subprocess.Popen, jd: JobDir, req: t.ExecutionRequest, start: float
    ) -> tuple[str | None, str]:
        deadline = start + req.timeout_s
        next_check = start + 0.25
        cap = req.output_max_mb << 20
        try:
            while proc.poll() is None:
                now = time.monotonic()
                if now >= deadline:
                    self._stop(proc, jd)
                    return t.TIMEOUT, ""
                if now >= next_check:
                    next_check = now + 0.25
                    total, count = jd.outputs_usage()
                    if total >= cap or count > 10_000:
                        self._stop(proc, jd)
                        return t.OUTPUT_LIMIT, ""
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=min(_POLL_S * (1 + (now - start) * 5), 0.1, max(deadline - now, 0.001)))
        except KeyboardInterrupt:
            _killpg(proc.pid)
            proc.wait()
            return t.INTERRUPTED, ""
        return None, ""

    def _stop(self, proc: subprocess.Popen, jd: JobDir) -> None:
        jd.request_stop()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=_GRACE_S)
        _killpg(proc.pid)
        proc.wait()

    def _command(self, jd: JobDir, paths: SandboxPaths) -> list[str]:
        runner = [sys.executable, "-I", "-B", "-S", str(RUNTIME_DIR / "runner.py"), paths.ctl]
        if not self.bwrap:
            return runner
        return [
            self.bwrap,
            "--unshare-all",
            "--unshare-user",
            "--uid", "65534",
            "--gid", "65534",
            "--die-with-parent",
            "--new-session",
            "--cap-drop", "ALL",
            "--ro-bind", "/", "/",
            "--dev", "/dev",
            "--proc", "/proc",
            "--tmpfs", "/tmp",
            *_rebind_under_tmp(),
            "--dir", _INSIDE,
            "--ro-bind", str(jd.code), paths.code,
            "--ro-bind", str(jd.work), paths.work,
            "--ro-bind", str(jd.inputs), f"{paths.work}/inputs",
            "--bind", str(jd.outputs), f"{paths.work}/outputs",
            "--bind", str(jd.ctl), paths.ctl,
            "--ro-bind", str(jd.broker), paths.broker,
            "--chdir", paths.work,
            "--",
            *runner,
        ]  # fmt: skip


@contextlib.contextmanager
def _live_pipe(read_fd: int | None, write_fd: int | None):
    """Around Popen: the child keeps the write end; the read end is closed too if Popen fails."""
    try:
        yield
    except BaseException:
        if read_fd is not None:
            os.close(read_fd)
        raise
    finally:
        if write_fd is not None:
            os.close(write_fd)


def _rebind_under_tmp() -> list[str]:
    """The private /tmp hides whatever lives under the host's /tmp: when the runner, the interpreter
    or its site-packages are installed there (a checkout or venv in /tmp), bind them back read-only."""
    needed = {str(RUNTIME_DIR), sys.prefix, os.path.dirname(os.path.realpath(sys.executable)), *_SITE_PATHS}
    args: list[str] = []
    for path in sorted(p for p in needed if p == "/tmp" or p.startswith("/tmp/")):
        args += ["--ro-bind", path, path]
    return args


def _limits(req: t.ExecutionRequest):
    memory = req.memory_mb << 20
    cpu = math.ceil(req.timeout_s) + 1
    fsize = max(req.output_max_mb << 20, req.result_max_bytes + (1 << 20))

    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if os.getuid() != 0:  # counted per user on the whole host; root is exempt anyway
            resource.setrlimit(resource.RLIMIT_NPROC, (512, 512))

    return apply


def _killpg(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _launcher_note(jd: JobDir, code: int) -> str:
    try:
        text = (jd.root / "launcher.err").read_bytes()[-2000:].decode("utf-8", "replace").strip()
    except OSError:
        text = ""
    return f"the local sandbox exited with code {code}" + (f": {text}" if text else "")
