"""Execution backends for subagents: `docker` (default, isolated) and `local` (weaker, on request only).

Public API:
    get_backend(sandbox, name=None, pool_size=None) -> Backend   (sandbox: Settings.sandbox)
    Backend.execute(ExecutionRequest) -> ExecutionTrace;  Backend.close()
    ExecutionRequest, ExecutionTrace, ToolCallRecord, ToolBroker, echo_tool, SandboxInterrupted
This package is the only place that talks to Docker. Nothing here ever falls back from docker to local.
"""

from __future__ import annotations

from agentfactory.config import SandboxSettings
from agentfactory.errors import SandboxError
from agentfactory.sandbox.base import Backend, SandboxInterrupted, local_bwrap
from agentfactory.sandbox.broker import ToolBroker, echo_tool
from agentfactory.sandbox.trace import STATUSES, ExecutionRequest, ExecutionTrace, ToolCallRecord

__all__ = [
    "STATUSES",
    "Backend",
    "ExecutionRequest",
    "ExecutionTrace",
    "SandboxInterrupted",
    "ToolBroker",
    "ToolCallRecord",
    "echo_tool",
    "get_backend",
]


def get_backend(
    sandbox: SandboxSettings, name: str | None = None, pool_size: int | None = None, start_ahead: bool = True
) -> Backend:
    """The backend `name` (default: sandbox.backend). Docker problems raise SandboxError, one sentence.

    pool_size: sandboxes started ahead and kept waiting, each for one execution: docker containers (default
    2; 0 = a container per execution), local bubblewrap sandboxes (default 1, at most 1; 0 = none).
    start_ahead: False (a run) checks now what would stop the backend (the same errors), and builds it in
    the background from its `prepare()`, which a run calls as its first model call goes out, or at the
    first execution (sandbox/deferred.py).
    """
    name = name or sandbox.backend
    if name not in ("docker", "local"):
        raise SandboxError(f"Unknown sandbox backend '{name}': use 'docker' or 'local'.")
    if start_ahead:
        return _build(sandbox, name, pool_size)
    from agentfactory.sandbox.deferred import DeferredBackend, check_docker
    from agentfactory.sandbox.docker_daemon import docker_socket

    if name == "docker":
        if (path := docker_socket()) is None:  # a remote daemon: checked by building the backend
            return _build(sandbox, name, pool_size)
        check_docker(path, sandbox.image)
    else:
        local_bwrap()
    return DeferredBackend(name, lambda: _build(sandbox, name, pool_size))


def _build(sandbox: SandboxSettings, name: str, pool_size: int | None) -> Backend:
    if name == "docker":
        from agentfactory.sandbox.docker_backend import DockerBackend

        return DockerBackend(sandbox, pool_size=2 if pool_size is None else pool_size)
    from agentfactory.sandbox.local import LocalBackend

    return LocalBackend(sandbox, pool_size=1 if pool_size is None else pool_size)
