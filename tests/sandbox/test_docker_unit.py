"""Kill and clean-up paths of the docker backend against a fake docker client (no daemon needed).

The fake container runs a stand-in "runner" thread that says it is ready and opens the job FIFO like the
real runner and then
hangs or interrupts the host, so the host's timeout, kill and removal logic runs for real.
"""

from __future__ import annotations

import _thread
import os
import socket
import threading

import docker
import pytest

from agentfactory.config import SandboxSettings
from agentfactory.errors import SandboxError
from agentfactory.sandbox import ExecutionRequest, SandboxInterrupted
from agentfactory.sandbox import docker_backend as db


class FakeContainer:
    def __init__(self, labels, volumes, behaviour):
        self.id = f"fake{id(self)}"
        self.labels = labels
        self.ctl = next(src for src, m in volumes.items() if m["bind"] == db.PATHS.ctl)
        self.behaviour = behaviour
        self.stopped = threading.Event()
        self.killed = self.removed = False
        self.attrs = {"State": {"OOMKilled": False}, "Labels": labels}

    def start(self):
        threading.Thread(target=self._runner, daemon=True).start()

    def _runner(self):
        try:
            fd = os.open(os.path.join(self.ctl, "done"), os.O_WRONLY | os.O_NONBLOCK)
            os.write(fd, b"R")  # ready for the job, as runner.py says it
            os.close(fd)
            with open(os.path.join(self.ctl, "go"), "rb") as fh:
                fh.read()
        except FileNotFoundError:  # removed (backend closed) before it got its job
            return
        if self.behaviour == "interrupt":
            _thread.interrupt_main()
        self.stopped.wait()

    def wait(self):
        self.stopped.wait()
        return {"StatusCode": 137}

    def kill(self):
        self.killed = True
        self.stopped.set()

    def remove(self, force=False):
        self.removed = True
        self.stopped.set()

    def reload(self):
        pass


class FakeClient:
    def __init__(self, behaviour="hang", existing=()):
        self.behaviour = behaviour
        self.created = []
        self.existing = list(existing)
        self.images = self
        self.containers = self

    def get(self, image):  # images.get
        return object()

    def list(self, all=False, filters=None, sparse=False):
        assert sparse, "sweeping must not inspect each container (a removed one raises NotFound)"
        return self.existing

    def create(self, image, **kw):
        c = FakeContainer(kw["labels"], kw["volumes"], self.behaviour)
        self.created.append((c, kw))
        return c


def _req(tmp_path, **kw):
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "sub.py").write_text("def run():\n    return 1\n")
    return ExecutionRequest(code, "sub", {}, memory_mb=128, **kw)


def test_container_is_hardened():
    client = FakeClient()
    backend = db.DockerBackend(SandboxSettings(), pool_size=0, client=client)
    slot = backend._create(256)
    kw = client.created[0][1]
    backend._discard(slot, wait=True)
    backend.close()
    assert kw["network_mode"] == "none" and kw["read_only"] is True
    assert kw["mem_limit"] == kw["memswap_limit"] == "256m"
    assert kw["cap_drop"] == ["ALL"] and kw["security_opt"] == ["no-new-privileges"]
    assert kw["init"] is True and kw["pids_limit"] == db.PIDS_LIMIT
    assert kw["user"] != "0" and not kw["user"].startswith("0:")
    assert set(kw["environment"]) == set(db.SANDBOX_ENV)
    assert not any("docker.sock" in src for src in kw["volumes"])
    assert kw["labels"][db.LABEL_PID] == str(os.getpid())


def test_timeout_kills_and_removes(tmp_path):
    client = FakeClient("hang")
    backend = db.DockerBackend(SandboxSettings(), pool_size=0, client=client)
    trace = backend.execute(_req(tmp_path, timeout_s=0.3))
    backend.close()
    container = client.created[0][0]
    assert trace.status == "timeout"
    assert container.killed and container.removed
    assert not os.path.exists(container.ctl)


def test_keyboard_interrupt_removes_container_and_raises_interrupted(tmp_path):
    client = FakeClient("interrupt")
    backend = db.DockerBackend(SandboxSettings(), pool_size=0, client=client)
    with pytest.raises(SandboxInterrupted) as info:
        backend.execute(_req(tmp_path, timeout_s=30))
    backend.close()
    container = client.created[0][0]
    assert info.value.trace.status == "interrupted"
    assert container.removed
    assert not os.path.exists(container.ctl)


def test_close_removes_pooled_containers():
    client = FakeClient()
    backend = db.DockerBackend(SandboxSettings(), pool_size=2, client=client)
    assert backend.wait_pool(10)
    backend.close()
    assert len(client.created) >= 2
    assert all(c.removed for c, _ in client.created)


def _owned(label: str) -> FakeContainer:
    return FakeContainer({db.LABEL_OWNER: label}, {"/x": {"bind": db.PATHS.ctl}}, "")


def test_sweep_removes_only_owners_certainly_gone():
    here = db.owner_label()  # boot id / pid namespace / pid / start time of this process
    boot, pidns, _, _ = here.split("/")
    dead = subprocess_dead_pid()
    mine = _owned(here)
    orphan = _owned(f"{boot}/{pidns}/{dead}/12345")
    reused = _owned(f"{boot}/{pidns}/{os.getpid()}/1")  # our pid, another start time: its owner is gone
    # Alive where we cannot see: another pid namespace (a container) or another boot (another machine)
    # on the same daemon, with the same host name and a pid that is dead here.
    other_namespace = _owned(f"{boot}/pid:[1]/{dead}/12345")
    other_machine = _owned(f"00000000-0000-0000-0000-000000000000/{pidns}/{dead}/12345")
    old_labels = FakeContainer(
        {db.LABEL_PID: str(dead), db.LABEL_HOST: socket.gethostname()}, {"/x": {"bind": db.PATHS.ctl}}, ""
    )
    everything = [mine, orphan, reused, other_namespace, other_machine, old_labels]
    removed = db.sweep_orphans(FakeClient(existing=everything))
    assert sorted(removed) == sorted([orphan.id, reused.id])
    assert not any(c.removed for c in (mine, other_namespace, other_machine, old_labels))


def subprocess_dead_pid() -> int:
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_unreachable_daemon_is_one_sentence(monkeypatch):
    def fail(**kw):
        raise docker.errors.DockerException("Error while fetching server API version: FileNotFoundError")

    monkeypatch.setattr(docker, "from_env", fail)
    with pytest.raises(SandboxError, match=r"Docker is not reachable at .*--sandbox local\.$"):
        db.connect()


def test_permission_denied_is_one_sentence(monkeypatch):
    def fail(**kw):
        raise docker.errors.DockerException(
            "('Connection aborted.', PermissionError(13, 'Permission denied'))"
        )

    monkeypatch.setattr(docker, "from_env", fail)
    with pytest.raises(SandboxError, match="Permission denied on .*docker group"):
        db.connect()


def test_missing_image_is_one_sentence():
    client = FakeClient()

    def missing(image):
        raise docker.errors.ImageNotFound("no such image")

    client.get = missing
    with pytest.raises(SandboxError, match="build-image"):
        db.DockerBackend(SandboxSettings(), pool_size=0, client=client)
