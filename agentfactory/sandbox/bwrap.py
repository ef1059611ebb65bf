"""bubblewrap's command line for the local backend: what the sandbox sees, and the seccomp filter.

New mount, PID, network, IPC and UTS namespaces that show only what Python needs, read-only: the system's
/usr (and the /bin, /lib links), a few loader files of /etc, the interpreter's prefixes and site-packages,
the runner and the job folder; outputs/ and the runner's report folder are the only writable places
besides a size-capped private /tmp and /dev/shm.
"""

from __future__ import annotations

import functools
import os
import re
import site
import subprocess
import sys

from agentfactory.sandbox.hostfs import write_new
from agentfactory.sandbox.jobdir import RUNTIME_DIR, JobDir, SandboxPaths

SANDBOX_IDS = (65534, 65534)  # uid/gid of the subagent when the host is root (nobody/nogroup)
TMPFS_BYTES = 64 << 20  # the private /tmp (memory the rlimits do not count: bounded here)
SHM_BYTES = 16 << 20
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "alternatives")
_ETC_WRITTEN = {
    "passwd": "root:x:0:0::/:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/tmp:/usr/sbin/nologin\n",
    "group": "root:x:0:\nnogroup:x:65534:\n",
    "hosts": "127.0.0.1 localhost sandbox\n::1 localhost\n",
    "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
}
SITE_PATHS = [p for p in site.getsitepackages() if os.path.isdir(p)]


def command(
    bwrap: str,
    jd: JobDir,
    paths: SandboxPaths,
    runner: list[str],
    as_root: bool,
    filter_fd: int = -1,
    info_fd: int = -1,
) -> list[str]:
    """bubblewrap's command line around `runner` (the runner's argv, extended here with --user on a root
    host), and the files it binds written into the job folder."""
    runner = list(runner)
    have = bwrap_options(bwrap)

    def perms(mode: str) -> list[str]:
        return ["--perms", mode] if "--perms" in have else []

    if as_root:
        # No user namespace (it would map the subagent to root outside): bubblewrap keeps only what
        # the runner needs to become SANDBOX_IDS, which clears every capability.
        identity = ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        runner += ["--user", "{}:{}".format(*SANDBOX_IDS)]
    else:
        identity = [
            "--unshare-user",
            *(["--disable-userns"] if "--disable-userns" in have else []),
            "--uid",
            "65534",
            "--gid",
            "65534",
            "--cap-drop",
            "ALL",
        ]
    etc: list[str] = []
    for name, text in _ETC_WRITTEN.items():  # written by the host in the job root, never the host's
        write_new(jd.fd, f"etc-{name}", text.encode(), 0o644)
        etc += ["--ro-bind", str(jd.root / f"etc-{name}"), f"/etc/{name}"]
    return [
        bwrap,
        "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
        *identity,
        "--die-with-parent",
        "--new-session",
        *(["--seccomp", str(filter_fd)] if filter_fd >= 0 else []),
        *(["--info-fd", str(info_fd)] if info_fd >= 0 else []),
        *_system_binds(),
        *perms("0755"), "--dir", "/etc",
        *_etc_binds(),
        *etc,
        "--dev", "/dev",
        "--proc", "/proc",
        *_tmpfs("/tmp", TMPFS_BYTES, have),
        *_tmpfs("/dev/shm", SHM_BYTES, have),
        *_python_binds(perms("0111")),  # after /tmp: an interpreter installed under /tmp is bound back
        *perms("0755"), "--dir", "/sandbox",
        "--ro-bind", str(RUNTIME_DIR), paths.runtime,
        "--ro-bind", str(jd.code), paths.code,
        "--ro-bind", str(jd.work), paths.work,
        "--ro-bind", str(jd.inputs), f"{paths.work}/inputs",
        "--bind", str(jd.outputs), f"{paths.work}/outputs",
        "--ro-bind", str(jd.ctl), paths.ctl,
        "--bind", str(jd.report), paths.report,
        "--ro-bind", str(jd.broker), paths.broker,
        *(["--remount-ro", "/"] if "--remount-ro" in have else []),
        "--chdir", paths.work,
        "--",
        *runner,
    ]  # fmt: skip


# ---- seccomp: no new user namespaces, no kernel keyrings, bpf, perf or userfaultfd ----------------------
# A root host cannot use bubblewrap's --disable-userns (it needs a user namespace of its own, which would
# map the subagent to root): this filter does it, and closes interfaces Docker's default profile closes too.
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_SYSCALLS = {  # name: (x86_64, aarch64)
    "unshare": (272, 97),
    "setns": (308, 268),
    "clone3": (435, 435),
    "keyctl": (250, 219),
    "add_key": (248, 217),
    "request_key": (249, 218),
    "bpf": (321, 280),
    "perf_event_open": (298, 241),
    "userfaultfd": (323, 282),
    "clone": (56, 220),
}
_CLONE_NEWUSER = 0x10000000
_EPERM, _ENOSYS = 1, 38


def seccomp_filter() -> bytes | None:
    """A classic BPF seccomp program for bubblewrap's --seccomp, or None on an architecture it does not
    know. clone3 answers ENOSYS (the C library falls back to clone, whose flags can be checked)."""
    import platform
    import struct

    machine = platform.machine()
    if machine not in _AUDIT_ARCH:
        return None
    col = 0 if machine == "x86_64" else 1
    nr = {name: numbers[col] for name, numbers in _SYSCALLS.items()}
    ld_w_abs, jeq_k, jset_k, jge_k, ret_k = 0x20, 0x15, 0x45, 0x35, 0x06
    allow, kill = 0x7FFF0000, 0x80000000

    def errno_(n: int) -> int:
        return 0x00050000 | n

    prog: list[tuple[int, int, int, int]] = [
        (ld_w_abs, 0, 0, 4),  # arch
        (jeq_k, 1, 0, _AUDIT_ARCH[machine]),
        (ret_k, 0, 0, kill),
        (ld_w_abs, 0, 0, 0),  # syscall number
    ]
    if machine == "x86_64":
        prog += [(jge_k, 0, 1, 0x40000000), (ret_k, 0, 0, errno_(_ENOSYS))]  # the x32 ABI
    prog += [(jeq_k, 0, 1, nr["clone3"]), (ret_k, 0, 0, errno_(_ENOSYS))]
    for name in (
        "unshare",
        "setns",
        "keyctl",
        "add_key",
        "request_key",
        "bpf",
        "perf_event_open",
        "userfaultfd",
    ):
        prog += [(jeq_k, 0, 1, nr[name]), (ret_k, 0, 0, errno_(_EPERM))]
    prog += [
        (jeq_k, 0, 3, nr["clone"]),
        (ld_w_abs, 0, 0, 16),  # low half of the flags
        (jset_k, 0, 1, _CLONE_NEWUSER),
        (ret_k, 0, 0, errno_(_EPERM)),
        (ret_k, 0, 0, allow),
    ]
    return b"".join(struct.pack("=HBBI", *ins) for ins in prog)


def memfd(data: bytes) -> int:
    fd = os.memfd_create("af-seccomp", os.MFD_CLOEXEC)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _system_binds() -> list[str]:
    args: list[str] = []
    for path in _SYSTEM:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def _etc_binds() -> list[str]:
    args: list[str] = []
    for name in _ETC:
        path = f"/etc/{name}"
        if os.path.lexists(path):
            args += ["--ro-bind", path, path]
    return args


def _covered(path: str, roots: list[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def python_paths() -> list[str]:
    """The folders the interpreter needs (prefixes, site-packages, the executable's folder), as seen and
    resolved, without those under the system folders or under another one of them."""
    wanted = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        os.path.dirname(sys.executable),
        os.path.dirname(os.path.realpath(sys.executable)),
        *SITE_PATHS,
    }
    wanted |= {os.path.realpath(p) for p in wanted}
    kept: list[str] = []
    for path in sorted((os.path.normpath(p) for p in wanted if p), key=len):
        if path == "/" or not os.path.isdir(path) or _covered(path, list(_SYSTEM) + kept):
            continue
        kept.append(path)
    return kept


def _tmpfs(dest: str, size: int, have: frozenset[str]) -> list[str]:
    """A size-capped tmpfs any sandbox user may write (sticky, like the host's /tmp)."""
    args = ["--size", str(size)] if "--size" in have else []
    if "--perms" in have:
        return [*args, "--perms", "1777", "--tmpfs", dest]
    return [*args, "--tmpfs", dest, *(["--chmod", "1777", dest] if "--chmod" in have else [])]


@functools.lru_cache(maxsize=4)
def bwrap_options(bwrap: str) -> frozenset[str]:
    """The options this bubblewrap knows (older ones lack --size, --perms, --disable-userns...)."""
    try:
        proc = subprocess.run([bwrap, "--help"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    return frozenset(re.findall(r"--[a-z0-9-]+", (proc.stdout + proc.stderr).decode("utf-8", "replace")))


def _python_binds(perms: list[str]) -> list[str]:
    args: list[str] = []
    made: list[str] = []
    for path in python_paths():
        parts = path.strip("/").split("/")
        for i in range(1, len(parts)):
            parent = "/" + "/".join(parts[:i])
            if parent not in made and parent not in ("/etc", "/tmp", "/dev", "/proc", "/sandbox"):
                # folders on the way stay unlistable: /root shows nothing of the host's /root
                args += [*perms, "--dir", parent]
                made.append(parent)
        args += ["--ro-bind", path, path]
    return args
