"""The Docker daemon as the docker backend sees it: connecting (one sentence when it cannot), the sandbox
image, and who owns a container: the labels each one carries and the sweep that removes those whose
owner process is certainly gone, never one another machine, container or pid namespace sharing the
daemon may still own.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from agentfactory.errors import MissingSandboxExtra, SandboxError, import_extra
from agentfactory.sandbox.owner import owner_gone

LABEL = "agentfactory.sandbox"
LABEL_PID = "agentfactory.owner_pid"
LABEL_HOST = "agentfactory.owner_host"
LABEL_JOBDIR = "agentfactory.jobdir"
# Who owns a container, exactly (sandbox/owner.py): the sweep removes only what this boot and pid
# namespace owned, and only once that process is gone.
LABEL_OWNER = "agentfactory.owner"
LABEL_RUN = "agentfactory.run_id"


def docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def docker_socket() -> str | None:
    """The daemon's Unix socket path when DOCKER_HOST names one (or is unset), else None."""
    host = docker_host()
    return host[len("unix://") :] if host.startswith("unix://") else None


def connect(timeout: float = 30.0) -> Any:
    """A docker client that answered a ping, or SandboxError saying what is wrong and what to do."""
    docker = import_extra("docker", "docker", *_SDK_MISSING, MissingSandboxExtra)
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except docker.errors.DockerException as exc:
        if "Permission denied" in str(exc) or "PermissionError" in str(exc):
            raise permission_denied() from None
        raise unreachable() from None
    return client


_SDK_MISSING = ("The docker sandbox", ", or pass --sandbox local")  # what needs it, what instead


def missing_sdk() -> MissingSandboxExtra:
    what, alternative = _SDK_MISSING
    return MissingSandboxExtra(what, "docker", "docker", alternative)


def permission_denied() -> SandboxError:
    return SandboxError(
        f"Permission denied on {docker_host()}: add your user to the docker group "
        "(sudo usermod -aG docker $USER, then log in again) or pass --sandbox local."
    )


def unreachable() -> SandboxError:
    return SandboxError(
        f"Docker is not reachable at {docker_host()}: start the daemon (scripts/setup-docker.sh) "
        "or pass --sandbox local."
    )


def image_missing(image: str) -> SandboxError:
    return SandboxError(
        f"The sandbox image {image} is missing: build it with `agentfactory sandbox build-image` "
        "(or scripts/setup-docker.sh), or pass --sandbox local."
    )


def check_image(client: Any, image: str) -> None:
    import docker

    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        raise image_missing(image) from None
    except docker.errors.APIError as exc:
        raise inspect_failed(image, exc.explanation) from None


def inspect_failed(image: str, why: str) -> SandboxError:
    return SandboxError(f"Docker could not inspect the image {image}: {why}.")


def sweep_orphans(client: Any) -> list[str]:
    """Remove sandbox containers whose owner process is certainly gone. Returns their ids."""
    from agentfactory.sandbox.jobdir import remove_job_folder  # not for a run's configuration check

    removed = []
    # sparse: list without inspecting each container, which raises NotFound for one removed meanwhile
    # (another backend closing at the same moment); the labels come with the listing.
    for container in client.containers.list(all=True, sparse=True, filters={"label": f"{LABEL}=1"}):
        labels = container.attrs.get("Labels") or {}
        if not owner_gone(labels.get(LABEL_OWNER, "")):
            continue
        with contextlib.suppress(Exception):
            container.remove(force=True)
            removed.append(container.id)
        remove_job_folder(labels.get(LABEL_JOBDIR, ""))
    return removed
