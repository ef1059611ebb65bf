"""Fixtures for the sandbox tests. Docker tests skip (with the reason) only when no daemon answers;
a reachable daemon without the sandbox image is a failure, not a skip."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from agentfactory.config import SandboxSettings
from agentfactory.errors import SandboxError
from agentfactory.sandbox import ExecutionRequest, ExecutionTrace

SETTINGS = SandboxSettings(memory_mb=128, timeout_s=3)


def _docker_client():
    from agentfactory.sandbox.docker_backend import connect

    try:
        return connect(timeout=10)
    except SandboxError as exc:
        pytest.skip(f"no Docker daemon reachable: {exc}")


@pytest.fixture(scope="session")
def docker_client():
    return _docker_client()


@pytest.fixture(scope="session")
def docker_backend(docker_client):
    from agentfactory.sandbox.docker_backend import DockerBackend

    backend = DockerBackend(SETTINGS, pool_size=1, client=docker_client)
    yield backend
    backend.close()


@pytest.fixture
def local_backend():
    from agentfactory.sandbox.local import LocalBackend

    backend = LocalBackend(SETTINGS)
    yield backend
    backend.close()


class Runner:
    """Write a module into tmp_path and execute it with small limits."""

    def __init__(self, backend, tmp_path: Path):
        self.backend = backend
        self.tmp = tmp_path
        self.code = tmp_path / "code"
        self.code.mkdir()
        self.out = tmp_path / "out"

    def __call__(self, source: str, inputs: dict | None = None, **kw) -> ExecutionTrace:
        (self.code / "sub.py").write_text(textwrap.dedent(source))
        kw.setdefault("timeout_s", 3)
        kw.setdefault("memory_mb", 128)
        kw.setdefault("output_dir", self.out)
        return self.backend.execute(ExecutionRequest(self.code, "sub", inputs or {}, **kw))


@pytest.fixture
def run_docker(docker_backend, tmp_path):
    return Runner(docker_backend, tmp_path)


@pytest.fixture
def run_local(local_backend, tmp_path):
    return Runner(local_backend, tmp_path)
