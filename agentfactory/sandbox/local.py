"""The `local` backend: the runner as a host subprocess. Weaker isolation than Docker, used only when asked.

The subprocess gets its own session, rlimits (CPU time, address space, processes, file size), an explicit
environment and the job's work folder as cwd, and is killed by process group at the wall-clock limit.

With bubblewrap (`bwrap`) it runs in new mount, PID, network, IPC and UTS namespaces that show only what
Python needs, read-only: the system's /usr (and the /bin, /lib links), a few loader files of /etc, the
interpreter's prefixes and site-packages, the runner and the job folder; outputs/ and the runner's report
folder are the only writable places besides a size-capped private /tmp and /dev/shm. Nothing else of the
host is there: no /root, /home, /etc/shadow, /run or /var/run (so no Docker socket), no host /tmp or /proc.
A seccomp filter refuses new user namespaces, kernel keyrings, bpf, perf events and userfaultfd.
When the host runs as root the subagent never has root's identity: bubblewrap (privileged, without a user
namespace) keeps only CAP_SETUID/CAP_SETGID, and the runner becomes uid/gid 65534 with no groups and no
capabilities before it reads the job. Without bubblewrap a root host is refused (the subagent would be
root on the host); a non-root host falls back to a plain subprocess that can read the user's files and
reach the network. Every trace says which.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from agentfactory.config import SandboxSettings
from agentfactory.errors import SandboxError
from agentfactory.records import record
from agentfactory.sandbox import trace as t
from agentfactory.sandbox.base import (
    PRELOAD_MIN_MB,
    SANDBOX_ENV,
    SandboxInterrupted,
    hand_back,
    local_bwrap,
    preload_modules,
)
from agentfactory.sandbox.broker import listen
from agentfactory.sandbox.bwrap import SANDBOX_IDS, SITE_PATHS, bwrap_options, memfd, seccomp_filter
from agentfactory.sandbox.bwrap import command as bwrap_command
from agentfactory.sandbox.hostfs import read_bounded
from agentfactory.sandbox.jobdir import (
    RUNTIME_DIR,
    JobDir,
    SandboxPaths,
    remove_job_folder,
    sweep_job_folders,
)
from agentfactory.sandbox.live_output import end_marker, pump_fd
from agentfactory.sandbox.reports import DoneChannel, StopSignal

ISOLATION_BWRAP = (
    "local backend (weaker isolation than docker): host subprocess inside bubblewrap namespaces (no network; "
    "only Python, the runner and the job folder visible, read-only but outputs/; private /tmp and /proc), "
    "never as root, with rlimits and a scrubbed environment; shares the host kernel"
)
ISOLATION_PLAIN = (
    "local backend (weak isolation): host subprocess with rlimits and a scrubbed environment; bubblewrap is "
    "not installed, so the subagent can read the host user's files and reach the network"
)
INSIDE = SandboxPaths(
    "/sandbox/code", "/sandbox/work", "/sandbox/ctl", "/sandbox/runtime", "/sandbox/broker", "/sandbox/report"
)
NPROC_LIMIT = 512
HANDOVER_S = 20.0
READY_S = 120.0  # a sandbox started ahead must wait for its job (warm imports done) within this time
_CHECK_S = 0.1  # how often a running execution's broker limit and disk use are checked
_READY_TICK_S = 0.1  # how often the pool's wait for a sandbox's readiness checks its limits
_SWEEP = object()  # asks the reaper thread for sweep_orphans() and sweep_job_folders()
_GRACE_S = 0.5


class LocalBackend:
    name = "local"

    def __init__(
        self,
        sandbox: SandboxSettings | None = None,
        use_bwrap: bool | None = None,
        pool_size: int = 0,
        start_ahead: bool = True,
    ):
        """pool_size: 1 keeps one sandbox started ahead (bubblewrap only), its runner waiting for its job;
        it serves one execution and is replaced in the background. 0 starts each sandbox on demand.
        start_ahead: False waits for `prepare()` (or the first execution) to start it."""
        self.settings = sandbox or SandboxSettings()
        self.bwrap = local_bwrap(use_bwrap)
        self.as_root = os.geteuid() == 0
        self.isolation = ISOLATION_BWRAP if self.bwrap else ISOLATION_PLAIN
        # Without bubblewrap a waiting runner would not die with us (no --die-with-parent): no pool.
        self.pool_size = 1 if pool_size and self.bwrap else 0
        # The sandbox started ahead imports `sandbox_preload` while it waits (its runner, in the warm
        # interpreter the subagent is forked from), as docker's pool does, when the memory limit leaves
        # room for it; a request below that limit gets a sandbox of its own.
        self.preload = preload_modules(self.settings.preload)
        self.warm = bool(self.preload) and self.settings.memory_mb >= PRELOAD_MIN_MB
        self._lock = threading.Lock()
        self._closed = False
        self._ready: _Prepared | None = None
        self._want = threading.Event()
        self._stopped = StopSignal()  # set by close(): ends the pool's waits at once
        self._reap: queue.Queue[Any] = queue.Queue()  # sandboxes to end, _SWEEP, None (the end)
        self._reaper = threading.Thread(target=self._reap_loop, name="local-sandbox-reaper", daemon=True)
        self._reaper.start()
        ref = weakref.ref(self)
        atexit.register(lambda: (b := ref()) and b.close())
        self._filler = None
        self._prepared = False
        if self.pool_size:
            self._filler = threading.Thread(target=self._fill_loop, name="local-sandbox-pool", daemon=True)
            self._filler.start()
        if start_ahead:
            self.prepare()

    def prepare(self) -> None:
        """Start, in the background, what this backend does ahead of its executions: the sandboxes and job
        folders a dead host left are swept (sweep_orphans, sweep_job_folders) and the sandbox kept ahead
        is started. A run calls it as its first model call goes out (engine/run.py), so that this work
        is done while the model thinks: beside the run's own start, on two cores, it cost the start
        about 20 ms of waiting for the GIL. The first execution calls it at the latest."""
        with self._lock:
            if self._prepared or self._closed:
                return
            self._prepared = True
        self._reap.put(_SWEEP)
        if self.pool_size:
            self._refill()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            ready, self._ready = self._ready, None
            self._want.set()
            self._stopped.set()
        if self._filler is not None:
            self._filler.join(timeout=60)
        if self._filler is None or not self._filler.is_alive():
            self._stopped.close()
        with self._lock:
            late, self._ready = self._ready, None
        for box in (ready, late):
            if box is not None:
                _release(box)
        self._reap.put(None)
        self._reaper.join(timeout=60)

    # ---- sandboxes started ahead -------------------------------------------------------------

    def wait_pool(self, timeout: float = 30.0) -> bool:
        """Wait until the sandbox started ahead waits for its job and used ones are removed (the steady
        state between the model calls of a run). For benchmarks and tests."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                ready = self._ready is not None or not self.pool_size
            if ready and self._reap.unfinished_tasks == 0:
                return True
            time.sleep(0.005)
        return False

    def _refill(self) -> None:
        with self._lock:
            self._want.set()

    def _fill_loop(self) -> None:
        # One long-lived thread starts every sandbox kept ahead: bubblewrap's --die-with-parent follows
        # the thread that started it, so a short-lived thread would take its sandbox down when it ends.
        while True:
            self._want.wait()
            with self._lock:
                self._want.clear()
                if self._closed:
                    return
                if self._ready is not None:
                    continue
            prepared = None
            try:
                prepared = self._start(warm=self.warm)
                end = time.monotonic() + READY_S
                while prepared.done is None or not prepared.done.ready(
                    _READY_TICK_S, self._stopped
                ):  # ready: waits
                    if prepared.proc.poll() is not None or time.monotonic() > end or self._closed:
                        raise SandboxError("the pre-started local sandbox did not start")
            except Exception:  # noqa: BLE001 - executions start their own sandbox then
                if prepared is not None:
                    self._reap.put(prepared)
                prepared = None
                self._stopped.wait(0.5)  # a back-off, cut short by close()
            with self._lock:
                if prepared is not None and not self._closed and self._ready is None:
                    self._ready, prepared = prepared, None
            if prepared is not None:
                self._reap.put(prepared)

    def _take(self, memory_mb: int) -> _Prepared:
        with self._lock:
            ready, self._ready = self._ready, None
        if (
            ready is not None
            and ready.proc.poll() is None
            and (memory_mb >= PRELOAD_MIN_MB or not ready.warm)
        ):
            return ready
        if ready is not None:
            self._reap.put(ready)
        return self._start()

    def _reap_loop(self) -> None:
        while True:
            box = self._reap.get()
            if box is None:
                break
            if box is _SWEEP:  # what a dead host left (see sweep_orphans), ended in the background
                if self.bwrap:
                    with contextlib.suppress(OSError):
                        sweep_orphans()
                sweep_job_folders()
            else:
                _release(box)
            self._reap.task_done()
        while not self._reap.empty():
            box = self._reap.get_nowait()
            if box is not None and box is not _SWEEP:
                _release(box)

    def _start(self, warm: bool = False) -> _Prepared:
        """A sandbox whose runner will wait on its FIFO for the job (runner.py); `warm`: with the
        preloaded modules imported (bubblewrap only: a sandbox started ahead)."""
        jd = JobDir(SANDBOX_IDS if self.as_root else None)
        info_r = info_w = filter_fd = out_r = out_w = -1
        done = listener = None
        try:
            listener = listen(jd.socket_path)  # a session takes it: no bind on the execution's path
            # Only in bubblewrap's PID namespace may the runner kill every other process it sees.
            done = DoneChannel(jd) if self.bwrap else None
            if self.bwrap:
                paths = INSIDE
            else:
                paths = SandboxPaths(
                    str(jd.code), str(jd.work), str(jd.ctl), str(RUNTIME_DIR), str(jd.broker), str(jd.report)
                )
            program = seccomp_filter() if self.bwrap and "--seccomp" in bwrap_options(self.bwrap) else None
            filter_fd = memfd(program) if program else -1
            info_r, info_w = os.pipe2(os.O_CLOEXEC) if self.bwrap else (-1, -1)
            out_r, out_w = os.pipe2(os.O_CLOEXEC)  # the runner's stdout: the live view's copy, when asked
            warm = warm and self.bwrap is not None and bool(self.preload)
            cmd = self._command(jd, paths, filter_fd, info_w) + (["--done"] if done is not None else [])
            if warm:
                cmd += ["--path", os.pathsep.join(SITE_PATHS), "--preload", self.preload]
            err = os.open(
                "launcher.err", os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                dir_fd=jd.fd,
            )  # fmt: skip
            try:
                proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=out_w,
                    stderr=err,
                    cwd=jd.work,
                    env=dict(SANDBOX_ENV, TMPDIR="/tmp" if self.bwrap else str(jd.data_root)),
                    # No pre-exec hook: it would force a full fork of this process (without one,
                    # subprocess uses vfork). The subagent's rlimits come with its job (runner.py).
                    start_new_session=True,
                    close_fds=True,
                    pass_fds=tuple(fd for fd in (filter_fd, info_w) if fd >= 0),
                )
            finally:
                for fd in (err, filter_fd, info_w, out_w):
                    if fd >= 0:
                        os.close(fd)
                filter_fd = info_w = out_w = -1
            return _Prepared(jd, proc, paths, info_r, out_r, done, warm, listener)
        except BaseException:
            if listener is not None:
                listener.close()
            for fd in (info_r, info_w, filter_fd, out_r, out_w):
                if fd >= 0:
                    os.close(fd)
            if done is not None:
                done.close()
            jd.remove()
            raise

    # ---- one execution -----------------------------------------------------------------------

    def execute(self, req: t.ExecutionRequest) -> t.ExecutionTrace:
        """Run one request. An execution whose tool session hit its call limit ends `tool_limit`, also
        when the subagent caught the refusals and returned before the backend could stop it."""
        from agentfactory.sandbox.broker import settle_trace

        return settle_trace(self._execute(req))

    def _execute(self, req: t.ExecutionRequest) -> t.ExecutionTrace:
        if self._closed:
            raise SandboxError("This local backend was closed; get a new one with get_backend().")
        self.prepare()
        box = self._take(req.memory_mb)
        jd, proc = box.jd, box.proc
        session = None
        live = None
        reported = False
        try:
            jd.load(req)
            job = jd.job(req, box.paths, site_paths=SITE_PATHS, rlimits=_limits(req))
            if req.broker is None and box.listener is not None:  # nothing listens there (refused)
                box.listener.close()
                box.listener = None
            if req.on_output is not None:  # the live view's copy of the subagent's stdout
                live, box.out_r = pump_fd(box.out_r, req.on_output), -1  # the pump owns and closes it now
            token = box.done.arm() if box.done is not None else b""
            if live is not None and token:
                live.expect_end(end_marker(token))
            start = time.monotonic()
            if not jd.hand_over(token + job, HANDOVER_S, alive=lambda: proc.poll() is None):
                host_status, note = t.SANDBOX_ERROR, "the local sandbox's runner never started"
                if proc.poll() is not None:
                    note = _launcher_note(jd, proc.returncode)
            else:
                if req.broker is not None:  # opened while the sandbox starts: its socket listened
                    # already (a call waits in the backlog); `_wait` serves it from the first call.
                    listener, box.listener = box.listener, None
                    session = req.broker.open_session(
                        jd.socket_path, req.tools, start=False, listener=listener
                    )
                if req.on_started is not None:
                    req.on_started()
                host_status, note, reported = self._wait(proc, jd, req, start, session, box.done)
            duration = time.monotonic() - start
            # Reported by the runner (with the token): nothing else runs in the sandbox any more, and
            # its teardown goes to the reaper. A live view's pipe ends with the sandbox, or at the
            # runner's end marker once it reported.
            if not reported or (live is not None and not live.wait_end()):
                _killpg(proc.pid)
                proc.wait()
                if box.info_r >= 0:
                    box.info_r, fd = -1, box.info_r
                    _await_namespace_end(fd)  # nothing of the sandbox still writes while the host reads
            if live is not None:
                live.join()
            calls = session.close(unlink=False) if session else []  # the job folder's removal takes the file
            session = None
            if host_status is None and proc.returncode not in (0, None):
                note = _launcher_note(jd, proc.returncode)
            trace = jd.finish(req, self.name, self.isolation, duration, host_status, note, tool_calls=calls)
            trace.sandbox_id = str(proc.pid)
            if host_status == t.INTERRUPTED:
                raise SandboxInterrupted(trace)
            return hand_back(req, trace)  # the caller's records first, then the reaper and the refill
        finally:
            if not reported and proc.poll() is None:  # an error or an interrupt: stop it here and now
                _killpg(proc.pid)
                proc.wait()
            if session is not None:
                session.close(unlink=False)
            # The sandbox's end (once its runner reported) and its job folder's removal (slow after
            # bubblewrap) in the background; the next sandbox is started after this execution, not
            # beside it.
            self._reap.put(box)
            self._refill()

    def _wait(
        self,
        proc: subprocess.Popen,
        jd: JobDir,
        req: t.ExecutionRequest,
        start: float,
        session: Any = None,
        done: DoneChannel | None = None,
    ) -> tuple[str | None, str, bool]:
        """(host status, note, whether the runner reported its completion with the token). Until the
        runner reports or the sandbox exits (both seen the moment they happen: the FIFO and a pidfd),
        the wall clock ends, the broker's call limit is passed or the disk bounds are."""
        deadline = start + req.timeout_s
        next_check = start + 0.25
        pidfd = _pidfd(proc.pid)
        if pidfd < 0 and session is not None:  # nothing to select on: serve calls from now on
            session.start()
        try:
            while proc.poll() is None:
                now = time.monotonic()
                if now >= deadline:
                    self._stop(proc, jd)
                    return t.TIMEOUT, "", False
                if session is not None and session.limit_reached.is_set():  # past the broker's call limit
                    self._stop(proc, jd)
                    return t.TOOL_LIMIT, "", False
                if now >= next_check:
                    next_check = now + 0.25
                    if jd.over_limits(req):
                        self._stop(proc, jd)
                        return t.OUTPUT_LIMIT, "", False
                wait = min(_CHECK_S, max(deadline - now, 0.001))
                if pidfd >= 0:
                    fds = [pidfd, *([done.fd] if done is not None and done.watching else [])]
                    if session is not None and session.connect_fd() >= 0:  # no call served yet
                        fds.append(session.connect_fd())
                    ready, _, _ = select.select(fds, [], [], wait)
                    if session is not None:
                        session.start_if_connected(ready)
                    if done is not None and done.fd in ready and done.read():
                        return None, "", True
                else:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(timeout=wait)
        except KeyboardInterrupt:
            _killpg(proc.pid)
            proc.wait()
            return t.INTERRUPTED, "", False
        finally:
            if pidfd >= 0:
                os.close(pidfd)
        return None, "", False

    def _stop(self, proc: subprocess.Popen, jd: JobDir) -> None:
        jd.request_stop()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=_GRACE_S)
        _killpg(proc.pid)
        proc.wait()

    def _command(self, jd: JobDir, paths: SandboxPaths, filter_fd: int = -1, info_fd: int = -1) -> list[str]:
        runner = [sys.executable, "-I", "-B", "-S", f"{paths.runtime}/runner.py", paths.ctl]
        if not self.bwrap:
            return runner
        return bwrap_command(self.bwrap, jd, paths, runner, self.as_root, filter_fd, info_fd)


def _limits(req: t.ExecutionRequest) -> list[int]:
    """The subagent's rlimits, set by the runner in the subagent's process (runner.py `_set_limits`):
    address space, CPU seconds, file size, processes."""
    memory = req.memory_mb << 20
    cpu = math.ceil(req.timeout_s) + 1
    fsize = max(req.output_max_mb << 20, req.result_max_bytes + (1 << 20))
    return [memory, cpu, fsize, NPROC_LIMIT]


@record
class _Prepared:
    """A started sandbox whose runner waits for exactly one job."""

    jd: JobDir
    proc: subprocess.Popen
    paths: SandboxPaths
    info_r: int = -1  # bubblewrap's --info-fd (the sandbox's init)
    out_r: int = -1  # the runner's stdout
    done: DoneChannel | None = None  # the runner's completion report (bubblewrap: its own PID namespace)
    warm: bool = False  # the runner imported the preloaded modules
    listener: Any = None  # the broker socket, bound ahead (broker.listen), until a session takes it

    def close_fds(self) -> None:
        if self.done is not None:
            self.done.close()
        listener, self.listener = self.listener, None
        if listener is not None:
            listener.close()
        for name in ("info_r", "out_r"):
            fd = getattr(self, name)
            setattr(self, name, -1)
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)


def _release(box: _Prepared) -> None:
    """End a sandbox (killed by process group if it still runs) and remove its job folder."""
    if box.proc.poll() is None:
        _killpg(box.proc.pid)
        box.proc.wait()
    if box.info_r >= 0:
        box.info_r, fd = -1, box.info_r
        _await_namespace_end(fd)
    box.close_fds()
    box.jd.remove()


def _await_namespace_end(info_r: int, deadline_s: float = 5.0) -> None:
    """Once bubblewrap is dead, its init in the sandbox gets SIGKILL and the kernel kills every process of
    the PID namespace. Wait (bounded) until that init, named by --info-fd, is gone or a zombie."""
    try:
        os.set_blocking(info_r, False)
        try:
            data = os.read(info_r, 1 << 16)
        except BlockingIOError:
            data = b""
    finally:
        os.close(info_r)
    try:
        pid = int(json.loads(data or b"{}").get("child-pid", 0))
    except (ValueError, TypeError, AttributeError):
        return
    if pid <= 1:
        return
    pidfd = _pidfd(pid)
    if pidfd >= 0:  # readable once the process has exited (a zombie is dead enough)
        try:
            select.select([pidfd], [], [], deadline_s)
        finally:
            os.close(pidfd)
        return
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                state = fh.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            return
        if state in (b"Z", b"X"):
            return
        time.sleep(0.005)


def sweep_orphans(runtime_dir: Path = RUNTIME_DIR) -> int:
    """End the local sandboxes whose host died without ending them, and remove their job folders;
    returns how many. A host killed, or leaving with os._exit, while bubblewrap was still setting a
    sandbox up leaves bubblewrap's init of the sandbox's PID namespace (in a session of its own, its
    parent-death signal not armed yet) waiting forever, sometimes with a runner waiting for a job that
    will never come. Such an orphan is a bubblewrap namespace init running our runtime whose parent is
    no longer a bubblewrap; every local backend sweeps them in `prepare()` (the docker backend has its
    own). `runtime_dir`: the runtime folder of the installation whose sandboxes are swept."""
    runtime = os.fsencode(runtime_dir)
    ended = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = dict(
                line.split(":\t", 1)
                for line in Path(entry.path, "status").read_text().splitlines()
                if ":\t" in line
            )
            if fields.get("Name") != "bwrap" or fields.get("NSpid", "").split()[-1:] != ["1"]:
                continue
            if Path(f"/proc/{int(fields['PPid'])}/comm").read_text().strip() == "bwrap":
                continue  # its bubblewrap is alive: a sandbox in use or being set up
            argv = Path(entry.path, "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, KeyError):
            continue
        if runtime not in argv or b"/sandbox/runtime/runner.py" not in argv:
            continue
        pidfd = _pidfd(int(entry.name))
        if pidfd < 0:
            continue
        try:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            select.select([pidfd], [], [], 2.0)
        finally:
            os.close(pidfd)
        ended += 1
        _remove_job_root(argv)
    return ended


def _remove_job_root(argv: list[bytes]) -> None:
    """The job folder an orphan's command line names (`--ro-bind ROOT/code /sandbox/code`), removed
    when it is one of ours (jobdir.remove_job_folder)."""
    for i, arg in enumerate(argv[:-2]):
        if arg == b"--ro-bind" and argv[i + 2] == b"/sandbox/code" and argv[i + 1].endswith(b"/code"):
            remove_job_folder(os.fsdecode(argv[i + 1][: -len(b"/code")]))
            return


def _pidfd(pid: int) -> int:
    """A pidfd for `pid` (Linux 5.3+), -1 where there is none or the process is gone."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return -1


def _killpg(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _launcher_note(jd: JobDir, code: int) -> str:
    data = read_bounded(jd.fd, "launcher.err", 1 << 16) or b""
    text = data[-2000:].decode("utf-8", "replace").strip()
    return f"the local sandbox exited with code {code}" + (f": {text}" if text else "")
