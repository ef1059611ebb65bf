"""Who owns a sandbox's container or job folder, exactly: `<boot id>/<pid namespace>/<pid>/<start time>`
of the host process that made it. A pid alone is not enough: pids are reused (pid_max wraps), and
containers, machines and pid namespaces sharing one Docker daemon can share a host name and a pid. An
owner is judged gone only when it is of this boot and this pid namespace, and no process with its pid
and start time is alive: anything else is left alone, it may be alive where we cannot see it."""

from __future__ import annotations

import os

_label: tuple[int, str] | None = None  # (pid, label) of this process, made once (a fork makes its own)


def _read(path: str) -> str:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot ("" when it is gone): a pid reused by another
    process has another start time."""
    stat = _read(f"/proc/{pid}/stat")
    return stat.rsplit(")", 1)[-1].split()[19] if stat else ""


def _namespace() -> str:
    """This boot and this pid namespace: where a pid means this process."""
    try:
        pidns = os.readlink("/proc/self/ns/pid")
    except OSError:
        pidns = ""
    return f"{_read('/proc/sys/kernel/random/boot_id')}/{pidns}"


def owner_label(pid: int | None = None) -> str:
    """`<boot id>/<pid namespace>/<pid>/<start time>` of the owner (default: this process)."""
    global _label
    if pid is not None:
        return f"{_namespace()}/{pid}/{_start_time(pid)}"
    own = os.getpid()
    if _label is None or _label[0] != own:
        _label = (own, owner_label(own))
    return _label[1]


def owner_gone(label: str) -> bool:
    """Whether the owner named by `label` is certainly gone (see the module's text)."""
    parts = label.split("/")
    here = owner_label().rsplit("/", 2)[0]  # this boot and pid namespace, read once per process
    if len(parts) != 4 or "/".join(parts[:2]) != here or not parts[2].isdigit() or not parts[3]:
        return False
    pid, started = int(parts[2]), parts[3]
    return not _pid_alive(pid) or _start_time(pid) != started
