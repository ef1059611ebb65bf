"""Building the sandbox image.

Offline (default): `mmdebstrap` makes a Debian bookworm root filesystem with python3 and the scientific and
web packages subagents commonly use, adds the unprivileged `sandbox` user (uid 10001), and `docker import`
turns the tarball into the image. With a registry: a Dockerfile on python:3.12-slim.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentfactory.errors import SandboxError

DEBIAN_SUITE = "bookworm"
DEBIAN_PACKAGES = [
    "python3",
    "python3-numpy",
    "python3-pandas",
    "python3-matplotlib",
    "python3-requests",
    "python3-bs4",
    "python3-yaml",
    "python3-lxml",
    "python3-scipy",
]
SANDBOX_UID = 10001
IMPORT_CHANGES = [
    f"USER {SANDBOX_UID}:{SANDBOX_UID}",
    "WORKDIR /work",
    "ENV LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin MPLBACKEND=Agg",
    'CMD ["python3"]',
    "LABEL agentfactory.image=1",
]
DOCKERFILE = f"""\
FROM python:3.12-slim
RUN pip install --no-cache-dir numpy pandas matplotlib requests beautifulsoup4 pyyaml lxml scipy \\
 && useradd --uid {SANDBOX_UID} --user-group --home-dir /tmp --no-create-home sandbox \\
 && mkdir -p /work /sandbox
ENV LANG=C.UTF-8 MPLBACKEND=Agg
USER {SANDBOX_UID}:{SANDBOX_UID}
WORKDIR /work
LABEL agentfactory.image=1
"""


def mmdebstrap_command(rootfs: Path) -> list[str]:
    return [
        "mmdebstrap",
        "--variant=apt",
        "--include=" + ",".join(DEBIAN_PACKAGES),
        f"--customize-hook=echo 'sandbox:x:{SANDBOX_UID}:{SANDBOX_UID}:sandbox:/tmp:/usr/sbin/nologin'"
        ' >> "$1/etc/passwd"',
        f"--customize-hook=echo 'sandbox:x:{SANDBOX_UID}:' >> \"$1/etc/group\"",
        '--customize-hook=mkdir -p "$1/work" "$1/sandbox"',
        '--customize-hook=rm -rf "$1"/var/cache/apt/archives/*.deb "$1"/var/lib/apt/lists/*',
        DEBIAN_SUITE,
        str(rootfs),
    ]


def image_exists(client: Any, image: str) -> bool:
    import docker

    try:
        client.images.get(image)
        return True
    except docker.errors.ImageNotFound:
        return False


def build_image(
    client: Any,
    image: str,
    from_registry: bool = False,
    force: bool = False,
    log: Callable[[str], None] = print,
) -> bool:
    """Build `image`. Returns False when it already existed and `force` was not given."""
    if not force and image_exists(client, image):
        log(f"Image {image} already exists (use --force to rebuild).")
        return False
    repository, _, tag = image.rpartition(":") if ":" in image.split("/")[-1] else (image, "", "latest")
    if from_registry:
        _build_from_registry(client, image, log)
    else:
        _build_offline(client, repository, tag or "latest", log)
    log(f"Built {image}.")
    return True


def _build_offline(client: Any, repository: str, tag: str, log: Callable[[str], None]) -> None:
    if not shutil.which("mmdebstrap"):
        raise SandboxError(
            "mmdebstrap is not installed: apt-get install mmdebstrap (or use --from-registry)."
        )
    with tempfile.TemporaryDirectory(prefix="af-image-", dir="/var/tmp") as tmp:
        rootfs = Path(tmp) / "rootfs.tar"
        log(f"Building a Debian {DEBIAN_SUITE} root filesystem with mmdebstrap (about a minute)...")
        proc = subprocess.run(mmdebstrap_command(rootfs), capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise SandboxError(f"mmdebstrap failed: {' / '.join(tail) or 'no output'}.")
        log("Importing it into Docker...")
        try:
            client.api.import_image_from_file(
                str(rootfs), repository=repository, tag=tag, changes=IMPORT_CHANGES
            )
        except Exception as exc:
            raise SandboxError(f"docker import failed: {exc}.") from None


def _build_from_registry(client: Any, image: str, log: Callable[[str], None]) -> None:
    import docker

    log("Building from python:3.12-slim (needs a reachable registry)...")
    try:
        client.images.build(fileobj=io.BytesIO(DOCKERFILE.encode()), tag=image, rm=True, pull=True)
    except (docker.errors.BuildError, docker.errors.APIError) as exc:
        raise SandboxError(
            f"Building from python:3.12-slim failed ({exc}): without a registry, build offline "
            "with `agentfactory sandbox build-image`."
        ) from None
