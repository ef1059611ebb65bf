"""The `docker` backend: one fresh, hardened, single-use container per execution.

Every container: no network, read-only root, a sized /tmp tmpfs, code, inputs and the host's control
folder mounted read-only, outputs/ (capped) and the runner's report folder writable, mem_limit == memswap_limit, one CPU, a pids limit, all capabilities dropped,
no-new-privileges, a non-root user, an init process, the explicit environment of base.SANDBOX_ENV, no log
driver (a flood of output cannot fill the daemon's disk), and labels with the owner pid for orphan sweeping.
Never mounted: the docker socket, host credentials, anything of the host but the job folder and the
runner. The host keeps the wall-clock limit, then kills and removes the container.

Fast path: a small pool of containers started ahead with the runner blocked on its FIFO. Each is used for
exactly one execution and then removed, so nothing is shared between executions; the pool is refilled in
the background.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import socket
import tempfile
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from agentfactory.config import Settings
from agentfactory.errors import MissingSandboxExtra, SandboxError, import_extra
from agentfactory.sandbox import trace as t
from agentfactory.sandbox.base import SANDBOX_ENV, SandboxInterrupted
from agentfactory.sandbox.jobdir import RUNTIME_DIR, JobDir, SandboxPaths, decode_status, remove_tree
from agentfactory.sandbox.live_output import pump_container

ISOLATION = (
    "docker: fresh single-use container, no network, read-only root, non-root user, all capabilities "
    "dropped, no-new-privileges, memory/CPU/pids limits"
)
LABEL = "agentfactory.sandbox"
LABEL_PID = "agentfactory.owner_pid"
LABEL_HOST = "agentfactory.owner_host"
LABEL_JOBDIR = "agentfactory.jobdir"
LABEL_RUN = "agentfactory.run_id"
PATHS = SandboxPaths(
    "/sandbox/code", "/work", "/sandbox/ctl", "/sandbox/runtime", "/sandbox/broker", "/sandbox/report"
)
SANDBOX_IDS = (10001, 10001)  # the container user when the host is root
PIDS_LIMIT = 64
TMPFS_MB = 64
GRACE_S = 0.5
POOL_HANDOVER_S = 2.0
COLD_HANDOVER_S = 20.0


def docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def connect(timeout: float = 30.0) -> Any:
    """A docker client that answered a ping, or SandboxError saying what is wrong and what to do."""
    docker = import_extra(
        "docker", "docker", "The docker sandbox", ", or pass --sandbox local", MissingSandboxExtra
    )
    host = docker_host()
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except docker.errors.DockerException as exc:
        if "Permission denied" in str(exc) or "PermissionError" in str(exc):
            raise SandboxError(
                f"Permission denied on {host}: add your user to the docker group "
                "(sudo usermod -aG docker $USER, then log in again) or pass --sandbox local."
            ) from None
        raise SandboxError(
            f"Docker is not reachable at {host}: start the daemon (scripts/setup-docker.sh) "
            "or pass --sandbox local."
        ) from None
    return client


def check_image(client: Any, image: str) -> None:
    import docker

    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise SandboxError(
            f"The sandbox image {image} is missing: build it with `agentfactory sandbox build-image` "
            "(or scripts/setup-docker.sh), or pass --sandbox local."
        ) from None
    except docker.errors.APIError as exc:
        raise SandboxError(f"Docker could not inspect the image {image}: {exc.explanation}.") from None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_orphans(client: Any) -> list[str]:
    """Remove sandbox containers whose owner process on this host is gone. Returns their ids."""
    removed = []
    host = socket.gethostname()
    # sparse: list without inspecting each container, which raises NotFound for one removed meanwhile
    # (another backend closing at the same moment); the labels come with the listing.
    for container in client.containers.list(all=True, sparse=True, filters={"label": f"{LABEL}=1"}):
        labels = container.attrs.get("Labels") or {}
        try:
            pid = int(labels.get(LABEL_PID, "0"))
        except ValueError:
            pid = 0
        if labels.get(LABEL_HOST) != host or (pid and _pid_alive(pid)):
            continue
        with contextlib.suppress(Exception):
            container.remove(force=True)
            removed.append(container.id)
        _remove_jobdir(labels.get(LABEL_JOBDIR, ""))
    return removed


def _remove_jobdir(path: str) -> None:
    tmps = {tempfile.gettempdir(), os.path.realpath(tempfile.gettempdir())}
    if path and os.path.dirname(path) in tmps and os.path.basename(path).startswith("af-"):
        remove_tree(path)  # never through a link, never recursive


@dataclass
class _Slot:
    """A started container and its job folder, waiting for exactly one job."""

    container: Any
    jd: JobDir
    memory_mb: int
    exited: threading.Event = field(default_factory=threading.Event)
    exit_info: dict[str, Any] = field(default_factory=dict)

    def watch(self) -> None:
        def wait() -> None:
            try:
                self.exit_info.update(self.container.wait())
            except Exception as exc:  # the daemon went away or the container was removed
                self.exit_info["wait_error"] = str(exc)
            finally:
                self.exited.set()

        threading.Thread(target=wait, name="sandbox-wait", daemon=True).start()


class DockerBackend:
    name = "docker"
    isolation = ISOLATION

    def __init__(self, settings: Settings | None = None, pool_size: int = 2, client: Any = None):
        self.settings = settings or Settings()
        self.image = self.settings.image
        self.client = client if client is not None else connect()
        check_image(self.client, self.image)
        self.user = "{}:{}".format(*SANDBOX_IDS) if os.getuid() == 0 else f"{os.getuid()}:{os.getgid()}"
        self.pool_size = max(0, pool_size)
        self._pool: deque[_Slot] = deque()
        self._pool_memory = self.settings.memory_mb
        self._lock = threading.Condition()
        self._closed = False
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

    def _create(self, memory_mb: int, run_id: str = "") -> _Slot:
        from docker.types import LogConfig, Ulimit

        jd = JobDir(SANDBOX_IDS if os.getuid() == 0 else None)
        labels = {
            LABEL: "1",
            LABEL_PID: str(os.getpid()),
            LABEL_HOST: socket.gethostname(),
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
                command=["python3", "-I", "-B", f"{PATHS.runtime}/runner.py", PATHS.ctl],
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
            jd.remove()
            raise SandboxError(f"Docker could not create a sandbox container: {_explain(exc)}.") from None
        slot = _Slot(container, jd, memory_mb)
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
                slot = self._pool.popleft()
                self._lock.notify_all()
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
                slot = self._create(memory)
            except SandboxError:
                time.sleep(1.0)  # the daemon is struggling; executions will create their own
                continue
            with self._lock:
                if self._closed or memory != self._pool_memory:
                    self._discard(slot)
                else:
                    self._pool.append(slot)

    def _discard(self, slot: _Slot, wait: bool = False) -> None:
        if wait:
            _remove(slot.container)
            slot.jd.remove()
        else:
            self._reap.put((slot.container, slot.jd))

    def _reap_loop(self) -> None:
        while True:
            item = self._reap.get()
            if item is None:
                return
            container, jd = item
            _remove(container)
            jd.remove()
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
            stale, self._pool = list(self._pool), deque()
            self._lock.notify_all()
        for slot in stale:
            self._discard(slot, wait=True)
        if self._filler is not None:
            self._filler.join(timeout=60)  # it may be creating one more container; that one is reaped too
        self._reap.put(None)
        self._reaper.join(timeout=60)
        while not self._reap.empty():  # anything queued after the sentinel
            item = self._reap.get_nowait()
            if item is not None:
                _remove(item[0])
                item[1].remove()

    # ---- one execution ---------------------------------------------------------------------------

    def execute(self, req: t.ExecutionRequest) -> t.ExecutionTrace:
        if self._closed:
            raise SandboxError("This docker backend was closed; get a new one with get_backend().")
        slot, pooled = self._acquire(req.memory_mb, req.run_id)
        session = None
        start = time.monotonic()
        try:
            slot.jd.load(req)
            job = slot.jd.job(req, PATHS)
            if req.broker is not None:
                session = req.broker.open_session(slot.jd.socket_path, req.tools)
            start = time.monotonic()
            live = pump_container(slot.container, req.on_output) if req.on_output is not None else None
            handover = POOL_HANDOVER_S if pooled else COLD_HANDOVER_S
            if not slot.jd.hand_over(job, handover, alive=lambda: not slot.exited.is_set()):
                if pooled:  # a stale pre-started container: fall back to a fresh one, once
                    if session is not None:
                        session.close()
                        session = None
                    self._discard(slot)
                    slot, pooled = self._create(req.memory_mb, req.run_id), False
                    slot.jd.load(req)
                    if req.broker is not None:
                        session = req.broker.open_session(slot.jd.socket_path, req.tools)
                    start = time.monotonic()
                    if live is not None:  # the stale container's stream ends with it; follow the new one
                        live.join()
                        live = pump_container(slot.container, req.on_output)
                    handed = slot.jd.hand_over(job, COLD_HANDOVER_S, alive=lambda: not slot.exited.is_set())
                else:
                    handed = False
                if not handed:
                    return self._finish(
                        slot, req, session, start, t.SANDBOX_ERROR, "the runner never started"
                    )
            host_status = self._wait(slot, req, start, session)
            return self._finish(slot, req, session, start, host_status, live=live)
        except KeyboardInterrupt:
            _remove(slot.container)  # first, before anything else can be interrupted
            calls = session.close() if session else []
            session = None
            trace = slot.jd.finish(
                req, self.name, self.isolation, time.monotonic() - start, t.INTERRUPTED, tool_calls=calls
            )
            slot.jd.remove()
            raise SandboxInterrupted(trace) from None
        except BaseException:
            self._discard(slot, wait=True)
            raise
        finally:
            if session is not None:
                session.close()

    def _wait(self, slot: _Slot, req: t.ExecutionRequest, start: float, session: Any = None) -> str | None:
        deadline = start + req.timeout_s
        next_check = start + 0.25
        while not slot.exited.wait(timeout=min(0.1, max(deadline - time.monotonic(), 0.001))):
            now = time.monotonic()
            if now >= deadline:
                self._stop(slot)
                return t.TIMEOUT
            if session is not None and session.limit_reached.is_set():  # past the broker's call limit
                self._stop(slot)
                return t.TOOL_LIMIT
            if now >= next_check:
                next_check = now + 0.25
                if slot.jd.over_limits(req):
                    self._stop(slot)
                    return t.OUTPUT_LIMIT
        return None

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
    ) -> t.ExecutionTrace:
        duration = time.monotonic() - start
        if not slot.exited.is_set():
            with contextlib.suppress(Exception):
                slot.container.kill()
            slot.exited.wait(30)
        if live is not None:  # the live view's stream ends with the container
            live.join()
        oom = False
        if host_status is None:
            if slot.exit_info.get("wait_error"):
                host_status, note = t.SANDBOX_ERROR, "the container disappeared during the execution"
            elif _needs_inspect(slot.jd):
                oom = self._oom_killed(slot)
        calls = session.close() if session else []
        trace = slot.jd.finish(req, self.name, self.isolation, duration, host_status, note, oom, calls)
        trace.sandbox_id = slot.container.id or ""
        self._discard(slot)
        return trace

    def _oom_killed(self, slot: _Slot) -> bool:
        try:
            slot.container.reload()
            return bool(slot.container.attrs.get("State", {}).get("OOMKilled"))
        except Exception:
            return False


def _needs_inspect(jd: JobDir) -> bool:
    """Only a missing report or a killed subagent can mean an OOM kill; skip the inspect call otherwise."""
    report = decode_status(jd.read_report("status.json", 1 << 16))  # bounded, never follows links or FIFOs
    return report is None or report["signal"] is not None


def _remove(container: Any) -> None:
    with contextlib.suppress(Exception):
        container.remove(force=True)


def _explain(exc: Exception) -> str:
    text = getattr(exc, "explanation", None) or str(exc)
    return str(text).rstrip(".")
