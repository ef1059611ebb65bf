"""The `docker` backend: one fresh, hardened, single-use container per execution.

Every container: no network, read-only root, a sized /tmp tmpfs, code, inputs and the host's control
folder mounted read-only, outputs/ (capped) and the runner's report folder writable, mem_limit == memswap_limit, one CPU, a pids limit, all capabilities dropped,
no-new-privileges, a non-root user, an init process, the explicit environment of base.SANDBOX_ENV, no log
driver (a flood of output cannot fill the daemon's disk), and labels with the owner pid for orphan sweeping.
Never mounted: the docker socket, host credentials, anything of the host but the job folder and the
runner. The host keeps the wall-clock limit, then kills and removes the container.

Fast path: a small pool of containers started ahead with the runner blocked on its FIFO, its interpreter
warm (the image's common packages, `SandboxSettings.preload`, already imported). Each is used for
exactly one execution and then removed, so nothing is shared between executions; the pool is refilled in
the background.

Completion is the runner's own report (runner.py --done: a token only the runner holds, written once the
subagent and every other process of the container are gone), not the container's exit, which comes tens
of milliseconds later; the container is then removed by a background reaper. A live view following the
container's stream stops at the runner's end marker (live_output.py), written after its last byte. A
missing or doubtful report (no token, the subagent killed by a signal, no end marker within END_S) falls
back to waiting for the container to stop, as does everything the host stops itself. Containers are
never left behind: the reaper removes each used one, close() removes the pool (in parallel, so a process
exits without waiting on them one by one), and the orphan sweep removes those of a process that died.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import select
import socket
import threading
import time
import weakref
from collections import deque
from dataclasses import field
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
    preload_modules,
)
from agentfactory.sandbox.broker import listen
from agentfactory.sandbox.docker_daemon import (  # noqa: F401 - also read as docker_backend.X
    LABEL,
    LABEL_HOST,
    LABEL_JOBDIR,
    LABEL_OWNER,
    LABEL_PID,
    LABEL_RUN,
    check_image,
    connect,
    docker_host,
    sweep_orphans,
)
from agentfactory.sandbox.jobdir import RUNTIME_DIR, JobDir, SandboxPaths, sweep_job_folders
from agentfactory.sandbox.live_output import end_marker, pump_container
from agentfactory.sandbox.owner import owner_label
from agentfactory.sandbox.reports import DoneChannel, StopSignal

ISOLATION = (
    "docker: fresh single-use container, no network, read-only root, non-root user, all capabilities "
    "dropped, no-new-privileges, memory/CPU/pids limits"
)
PATHS = SandboxPaths(
    "/sandbox/code", "/work", "/sandbox/ctl", "/sandbox/runtime", "/sandbox/broker", "/sandbox/report"
)
SANDBOX_IDS = (10001, 10001)  # the container user when the host is root
PIDS_LIMIT = 64
TMPFS_MB = 64
GRACE_S = 0.5
POOL_HANDOVER_S = 2.0
COLD_HANDOVER_S = 20.0
READY_S = 120.0  # a pre-started container must be waiting for its job (imports done) within this time
_READY_TICK_S = 0.1  # how often the filler's wait for a container's readiness checks its limits


@record
class _Slot:
    """A started container and its job folder, waiting for exactly one job."""

    container: Any
    jd: JobDir
    memory_mb: int
    warm: bool = False
    exited: threading.Event = field(default_factory=threading.Event)
    exit_info: dict[str, Any] = field(default_factory=dict)
    done: DoneChannel | None = None
    wake_r: int = -1  # readable once the container stopped
    wake_w: int = -1
    listener: Any = None  # the broker socket, bound ahead (broker.listen), until a session takes it

    def watch(self) -> None:
        self.wake_r, self.wake_w = os.pipe2(os.O_CLOEXEC)

        def wait() -> None:
            try:
                self.exit_info.update(self.container.wait())
            except Exception as exc:  # the daemon went away or the container was removed
                self.exit_info["wait_error"] = str(exc)
            finally:
                self.exited.set()
                with contextlib.suppress(OSError):
                    os.write(self.wake_w, b"x")

        threading.Thread(target=wait, name="sandbox-wait", daemon=True).start()

    def take_listener(self) -> Any:
        listener, self.listener = self.listener, None
        return listener

    def close_fds(self) -> None:
        if self.done is not None:
            self.done.close()
        if (listener := self.take_listener()) is not None:
            listener.close()
        for name in ("wake_r", "wake_w"):
            fd = getattr(self, name)
            setattr(self, name, -1)
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)


class DockerBackend:
    name = "docker"
    isolation = ISOLATION

    def __init__(self, sandbox: SandboxSettings | None = None, pool_size: int = 2, client: Any = None):
        self.settings = sandbox or SandboxSettings()
        self.image = self.settings.image
        self.client = client if client is not None else connect()
        check_image(self.client, self.image)
        self.user = "{}:{}".format(*SANDBOX_IDS) if os.getuid() == 0 else f"{os.getuid()}:{os.getgid()}"
        self.pool_size = max(0, pool_size)
        self.preload = preload_modules(self.settings.preload)
        self._pool: deque[_Slot] = deque()
        self._pool_memory = self.settings.memory_mb
        self._lock = threading.Condition()
        self._closed = False
        self._stopped = StopSignal()  # set by close(): the filler's wait for a container ends at once
        self._reap: queue.Queue[tuple[Any, JobDir] | None] = queue.Queue()
        self._reaper = threading.Thread(target=self._reap_loop, name="sandbox-reaper", daemon=True)
        self._reaper.start()
        sweep_orphans(self.client)
        self._filler = None
        if self.pool_size:
            self._filler = threading.Thread(target=self._fill_loop, name="sandbox-pool", daemon=True)
            self._filler.start()
        ref = weakref.ref(self)
        atexit.register(lambda: (b := ref()) and b.close())

    # ---- containers ------------------------------------------------------------------------------

    def _create(self, memory_mb: int, run_id: str = "", warm: bool = False) -> _Slot:
        from docker.types import LogConfig, Ulimit

        jd = JobDir(SANDBOX_IDS if os.getuid() == 0 else None)
        done = DoneChannel(jd)
        try:
            listener = listen(jd.socket_path)  # a session takes it: no bind on the execution's path
        except OSError as exc:
            done.close()
            jd.remove()
            raise SandboxError(f"The tool broker's socket could not be created: {exc.strerror}.") from None
        command = ["python3", "-I", "-B", f"{PATHS.runtime}/runner.py", PATHS.ctl, "--done"]
        warm = warm and bool(self.preload) and memory_mb >= PRELOAD_MIN_MB
        if warm:
            command += ["--preload", self.preload]
        labels = {
            LABEL: "1",
            LABEL_PID: str(os.getpid()),
            LABEL_HOST: socket.gethostname(),
            LABEL_OWNER: owner_label(),
            LABEL_JOBDIR: str(jd.root),
            LABEL_RUN: run_id,
        }
        volumes = {
            str(jd.code): {"bind": PATHS.code, "mode": "ro"},
            str(jd.work): {"bind": PATHS.work, "mode": "ro"},
            str(jd.inputs): {"bind": f"{PATHS.work}/inputs", "mode": "ro"},
            str(jd.outputs): {"bind": f"{PATHS.work}/outputs", "mode": "rw"},
            str(jd.ctl): {"bind": PATHS.ctl, "mode": "ro"},
            str(jd.report): {"bind": PATHS.report, "mode": "rw"},
            str(RUNTIME_DIR): {"bind": PATHS.runtime, "mode": "ro"},
            str(jd.broker): {"bind": PATHS.broker, "mode": "ro"},
        }
        try:
            container = self.client.containers.create(
                self.image,
                command=command,
                user=self.user,
                working_dir=PATHS.work,
                environment=dict(SANDBOX_ENV),
                network_mode="none",
                read_only=True,
                tmpfs={"/tmp": f"size={TMPFS_MB}m,mode=1777"},
                volumes=volumes,
                mem_limit=f"{memory_mb}m",
                memswap_limit=f"{memory_mb}m",
                nano_cpus=1_000_000_000,
                pids_limit=PIDS_LIMIT,
                cap_drop=["ALL"],
                security_opt=["no-new-privileges"],
                init=True,
                labels=labels,
                log_config=LogConfig(type="none"),
                ulimits=[Ulimit(name="core", soft=0, hard=0), Ulimit(name="nofile", soft=256, hard=256)],
                shm_size="16m",
                hostname="sandbox",
                stdin_open=False,
                detach=True,
            )
        except Exception as exc:
            done.close()
            listener.close()
            jd.remove()
            raise SandboxError(f"Docker could not create a sandbox container: {_explain(exc)}.") from None
        slot = _Slot(container, jd, memory_mb, warm=warm, done=done, listener=listener)
        try:
            container.start()
        except Exception as exc:
            self._discard(slot)
            raise SandboxError(f"Docker could not start a sandbox container: {_explain(exc)}.") from None
        slot.watch()
        return slot

    def _acquire(self, memory_mb: int, run_id: str) -> tuple[_Slot, bool]:
        with self._lock:
            if memory_mb != self._pool_memory:
                stale, self._pool = list(self._pool), deque()
                self._pool_memory = memory_mb
                for slot in stale:
                    self._discard(slot)
            while self._pool:
                slot = self._pool.popleft()  # the filler replaces it after the execution (_refill)
                if not slot.exited.is_set():
                    return slot, True
                self._discard(slot)
        return self._create(memory_mb, run_id), False

    def _fill_loop(self) -> None:
        while True:
            with self._lock:
                while not self._closed and len(self._pool) >= self.pool_size:
                    self._lock.wait(timeout=1.0)
                if self._closed:
                    return
                memory = self._pool_memory
            try:
                slot = self._create(memory, warm=True)
            except SandboxError:
                self._stopped.wait(1.0)  # the daemon is struggling; executions will create their own
                continue
            if not self._until_ready(slot):
                self._discard(slot)
                continue
            with self._lock:
                if self._closed or memory != self._pool_memory:
                    self._discard(slot)
                else:
                    self._pool.append(slot)

    def _until_ready(self, slot: _Slot) -> bool:
        """Wait (in the filler, off any execution's path) until the runner waits for its job, its warm
        imports done; False if the container stopped, the backend closed or READY_S passed."""
        end = time.monotonic() + READY_S
        while time.monotonic() < end and not self._closed and not slot.exited.is_set():
            if slot.done is not None and slot.done.ready(_READY_TICK_S, self._stopped):
                return True
        return False

    def _discard(self, slot: _Slot, wait: bool = False) -> None:
        if wait:
            _release(slot)
        else:
            self._reap.put(slot)

    def _reap_loop(self) -> None:
        sweep_job_folders()  # those a dead host left (a container's own goes with it: sweep_orphans)
        while True:
            slot = self._reap.get()
            if slot is None:
                return
            _release(slot)
            self._reap.task_done()

    def pool_ready(self) -> int:
        """How many pre-started containers are waiting (for benchmarks and `sandbox check`)."""
        with self._lock:
            return len(self._pool)

    def wait_pool(self, timeout: float = 30.0) -> bool:
        """Wait until the pool is full and finished containers are removed (the steady state between the
        model calls of a run). For benchmarks and tests."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.pool_ready() >= self.pool_size and self._reap.unfinished_tasks == 0:
                return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._stopped.set()
            stale, self._pool = list(self._pool), deque()
            self._lock.notify_all()
        # All at once: a process at its exit waits for the slowest removal, not for their sum.
        removals = [threading.Thread(target=_release, args=(slot,), daemon=True) for slot in stale]
        for thread in removals:
            thread.start()
        if self._filler is not None:
            self._filler.join(timeout=60)  # it may be creating one more container; that one is reaped too
        if self._filler is None or not self._filler.is_alive():
            self._stopped.close()
        self._reap.put(None)
        self._reaper.join(timeout=60)
        while not self._reap.empty():  # anything queued after the sentinel
            slot = self._reap.get_nowait()
            if slot is not None:
                _release(slot)
        for thread in removals:
            thread.join(timeout=60)

    # ---- one execution ---------------------------------------------------------------------------

    def execute(self, req: t.ExecutionRequest) -> t.ExecutionTrace:
        """Run one request. An execution whose tool session hit its call limit ends `tool_limit`, also
        when the subagent caught the refusals and returned before the backend could stop it."""
        from agentfactory.sandbox.broker import settle_trace

        return settle_trace(self._execute(req))

    def _execute(self, req: t.ExecutionRequest) -> t.ExecutionTrace:
        if self._closed:
            raise SandboxError("This docker backend was closed; get a new one with get_backend().")
        slot, pooled = self._acquire(req.memory_mb, req.run_id)
        session = None
        start = time.monotonic()
        try:
            slot.jd.load(req)
            job = slot.jd.job(req, PATHS)
            _refuse_without_broker(slot, req)
            start = time.monotonic()
            live = pump_container(slot.container, req.on_output) if req.on_output is not None else None
            handover = POOL_HANDOVER_S if pooled else COLD_HANDOVER_S
            if not _hand_over(slot, job, handover, live):
                if pooled:  # a stale pre-started container: fall back to a fresh one, once
                    self._discard(slot)
                    slot, pooled = self._create(req.memory_mb, req.run_id), False
                    slot.jd.load(req)
                    _refuse_without_broker(slot, req)
                    start = time.monotonic()
                    if live is not None:  # the stale container's stream ends with it; follow the new one
                        live.join()
                        live = pump_container(slot.container, req.on_output)
                    handed = _hand_over(slot, job, COLD_HANDOVER_S, live)
                else:
                    handed = False
                if not handed:
                    return self._finish(
                        slot, req, session, start, t.SANDBOX_ERROR, "the runner never started"
                    )
            session = _session(slot, req)  # opened while the sandbox starts; served from the first call
            if req.on_started is not None:
                req.on_started()
            host_status, reported = self._wait(slot, req, start, session)
            trace = self._finish(slot, req, session, start, host_status, live=live, reported=reported)
            session = None  # closed by _finish
            return trace
        except KeyboardInterrupt:
            _remove(slot.container)  # first, before anything else can be interrupted
            calls = session.close(unlink=False) if session else []  # the job folder's removal takes the file
            session = None
            trace = slot.jd.finish(
                req, self.name, self.isolation, time.monotonic() - start, t.INTERRUPTED, tool_calls=calls
            )
            slot.close_fds()
            slot.jd.remove()
            raise SandboxInterrupted(trace) from None
        except BaseException:
            self._discard(slot, wait=True)
            raise
        finally:
            if session is not None:
                session.close(unlink=False)
            self._refill()

    def _refill(self) -> None:
        """Wake the filler once an execution is over: a container started meanwhile would take CPU
        from the execution (it still refills within a second during a long one)."""
        with self._lock:
            self._lock.notify_all()

    def _wait(
        self, slot: _Slot, req: t.ExecutionRequest, start: float, session: Any = None
    ) -> tuple[str | None, bool]:
        """(host status, whether the runner reported its completion with the token). Wakes at once on
        the runner's report or the container's stop; the limits are checked between."""
        deadline = start + req.timeout_s
        next_check = start + 0.25
        done = slot.done
        while not slot.exited.is_set():
            now = time.monotonic()
            if now >= deadline:
                self._stop(slot)
                return t.TIMEOUT, False
            if session is not None and session.limit_reached.is_set():  # past the broker's call limit
                self._stop(slot)
                return t.TOOL_LIMIT, False
            if now >= next_check:
                next_check = now + 0.25
                if slot.jd.over_limits(req):
                    self._stop(slot)
                    return t.OUTPUT_LIMIT, False
            fds = [slot.wake_r, *([done.fd] if done is not None and done.watching else [])]
            if session is not None and session.connect_fd() >= 0:  # no call served yet
                fds.append(session.connect_fd())
            ready, _, _ = select.select(fds, [], [], min(0.1, max(deadline - now, 0.001)))
            if session is not None:
                session.start_if_connected(ready)
            if done is not None and done.fd in ready and done.read():
                return None, True
        return None, False

    def _stop(self, slot: _Slot) -> None:
        slot.jd.request_stop()  # the runner kills the subagent and reports its stream tails
        if not slot.exited.wait(GRACE_S):
            with contextlib.suppress(Exception):
                slot.container.kill()
        if not slot.exited.wait(30):
            _remove(slot.container)
            slot.exited.wait(10)

    def _finish(
        self,
        slot: _Slot,
        req: t.ExecutionRequest,
        session: Any,
        start: float,
        host_status: str | None,
        note: str = "",
        live: Any = None,
        reported: bool = False,
    ) -> t.ExecutionTrace:
        """The trace, once nothing of the subagent runs: the container stopped, or the runner reported
        (with the token) that the subagent and every other process in it are gone."""
        duration = time.monotonic() - start
        # A live view's stream ends with the container, or at the runner's end marker once it reported;
        # an OOM kill is known from the container's state.
        ended = reported and (live is None or live.wait_end())
        report = slot.jd.status_report() if ended else None
        if not ended or _needs_inspect(report):
            self._stop_container(slot)
            report = slot.jd.status_report()  # as the stopped container left it
        if live is not None:
            live.join()
        oom = False
        if host_status is None:
            if slot.exit_info.get("wait_error"):
                host_status, note = t.SANDBOX_ERROR, "the container disappeared during the execution"
            elif _needs_inspect(report):
                oom = self._oom_killed(slot)
        calls = session.close(unlink=False) if session else []  # the job folder's removal takes the file
        trace = slot.jd.finish(
            req, self.name, self.isolation, duration, host_status, note, oom, calls, report=report
        )
        trace.sandbox_id = slot.container.id or ""
        hand_back(req, trace)  # the caller's records first, then the container's removal
        self._discard(slot)
        return trace

    def _stop_container(self, slot: _Slot) -> None:
        if not slot.exited.is_set():
            with contextlib.suppress(Exception):
                slot.container.kill()
            slot.exited.wait(30)

    def _oom_killed(self, slot: _Slot) -> bool:
        try:
            slot.container.reload()
            return bool(slot.container.attrs.get("State", {}).get("OOMKilled"))
        except Exception:
            return False


def _hand_over(slot: _Slot, job: bytes, deadline_s: float, live: Any = None) -> bool:
    """The job, after a fresh token the runner reports its completion with (runner.py --done); a live
    view stops at the stream's end marker derived from it."""
    token = slot.done.arm() if slot.done is not None else bytes(DoneChannel.TOKEN_BYTES)
    if live is not None and slot.done is not None:
        live.expect_end(end_marker(token))
    return slot.jd.hand_over(token + job, deadline_s, alive=lambda: not slot.exited.is_set())


def _refuse_without_broker(slot: _Slot, req: t.ExecutionRequest) -> None:
    """Without a broker nothing listens on the slot's socket (a connection is refused)."""
    if req.broker is None and (listener := slot.take_listener()) is not None:
        listener.close()


def _session(slot: _Slot, req: t.ExecutionRequest) -> Any:
    """The request's broker session on the slot's socket, bound ahead: opened once the job is handed
    over (a call made before waits in the socket's backlog) and serving from the first call (`_wait`);
    None without a broker."""
    if req.broker is None:
        return None
    listener = slot.take_listener()
    return req.broker.open_session(slot.jd.socket_path, req.tools, start=False, listener=listener)


def _needs_inspect(report: dict[str, Any] | None) -> bool:
    """Only a missing status report or a killed subagent can mean an OOM kill; skip the inspect call
    otherwise."""
    return report is None or report["signal"] is not None


def _remove(container: Any) -> None:
    with contextlib.suppress(Exception):
        container.remove(force=True)


def _release(slot: _Slot) -> None:
    """Remove a container (stopping it first if it runs) and its job folder."""
    _remove(slot.container)
    slot.close_fds()
    slot.jd.remove()


def _explain(exc: Exception) -> str:
    text = getattr(exc, "explanation", None) or str(exc)
    return str(text).rstrip(".")
