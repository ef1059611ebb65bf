"""The host side of one execution, shared by both backends: a private job folder, the job handed to the
runner, the stop request, and the trace built from what is left once the sandbox has stopped.

Layout of a job folder (mode 0700, owned by the host user; work/ under the system temp dir, the rest in
memory when there is room: JobDir, control_base):
    code/           copy of the subagent's regular files    -> read-only in the sandbox
    work/           the subagent's cwd                      -> read-only
    work/inputs/    copy of the run's input files           -> read-only, seen as ./inputs
    work/outputs/   size-capped                             -> writable, seen as ./outputs
    ctl/      job, FIFOs `go` and `done`, `stop`            -> read-only: the host's control state
    report/   the runner's reports (status, result, tails)  -> writable
    broker/   the tool broker's socket for this execution   -> read-only
Once the subagent runs, everything under outputs/ and report/ is hostile: the host only ever touches the
job folder through a descriptor of its root (of data_root for work/) opened at creation, one name at a
time, with O_NOFOLLOW and without blocking (no path is resolved through a link the sandbox could have
planted, no FIFO is waited on), and walks trees iteratively with depth, count and size bounds. It never
writes where the sandbox can write. Output files are copied out only after the sandbox stopped, refusing
links, special files, names that are not printable UTF-8, type clashes with earlier outputs and anything
past the bounds.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

from agentfactory.errors import UsageError
from agentfactory.records import record
from agentfactory.sandbox import trace as t
from agentfactory.sandbox.hostfs import (
    DIR_FLAGS,
    MAX_OUTPUT_DEPTH,
    MAX_OUTPUT_FILES,
    Walk,
    copy_outputs,
    copy_tree,
    read_bounded,
    remove_open_tree,
    remove_tree,
    write_files,
    write_new,
)
from agentfactory.sandbox.live_output import FORWARD_BYTES
from agentfactory.sandbox.owner import owner_gone, owner_label
from agentfactory.sandbox.reports import decode_result, decode_status, stream_tail

RUNTIME_DIR = Path(__file__).parent / "runtime"
MAX_CODE_BYTES = 50 << 20
MAX_INPUT_BYTES = 1 << 30
MAX_JOB_BYTES = 16 << 20
MAX_REPORT_FILES = 16
STREAM_KILL_FACTOR = 64  # a stream this many times its tail cap is a flood: the runner stops the subagent
_UNREAD = object()  # JobDir.finish: the status report was not read by the caller
JOB_PREFIX = "af-"  # job folders are temporary folders named so
OWNER_FILE = "owner"  # in a job folder: sandbox/owner.py's label of the host process that made it


@record(frozen=True)
class SandboxPaths:
    """Where the job folder's parts appear inside the sandbox."""

    code: str
    work: str
    ctl: str
    runtime: str
    broker: str
    report: str


class JobDir:
    """sandbox_ids: (uid, gid) the sandbox runs as when it is not the host user (the host is root); the
    two folders it writes are given to it, nothing else.

    Where it lives: the control parts (code/, ctl/, report/, broker/) on a memory file system when one
    has room (control_base: /dev/shm), since the code is written and the runner's reports are made
    there on every execution, and creating a file on a journaled disk can take hundreds of
    microseconds; work/ (the run's inputs and outputs, which can be large) in the temporary folder, in
    a second job folder (`data_root`) when the first is elsewhere. Each holds the owner file."""

    def __init__(self, sandbox_ids: tuple[int, int] | None = None):
        self.sandbox_ids = sandbox_ids
        self.seeded: dict[str, str] = {}  # earlier outputs of the run copied in: relative path -> sha256
        self.done_keep = -1  # the host's write end of ctl/done (open_done)
        data_base = tempfile.gettempdir()
        self.root = Path(tempfile.mkdtemp(prefix=JOB_PREFIX, dir=control_base()))
        self.fd = os.open(self.root, DIR_FLAGS)
        self.data_root, self.data_fd = self.root, self.fd
        _write_owner(self.fd)
        if str(self.root.parent) != data_base:
            self.data_root = Path(tempfile.mkdtemp(prefix=JOB_PREFIX, dir=data_base))
            self.data_fd = os.open(self.data_root, DIR_FLAGS)
            _write_owner(self.data_fd)
        self.code = self.root / "code"
        self.work = self.data_root / "work"
        self.inputs = self.work / "inputs"
        self.outputs = self.work / "outputs"
        self.ctl = self.root / "ctl"
        self.report = self.root / "report"
        self.broker = self.root / "broker"
        for sub in (self.code, self.work, self.inputs, self.outputs, self.ctl, self.report, self.broker):
            sub.mkdir(mode=0o755)
            os.chmod(sub, 0o755)
        if sandbox_ids is not None:
            for sub in (self.outputs, self.report):
                os.chown(sub, *sandbox_ids)
                os.chmod(sub, 0o700)
        os.mkfifo(self.ctl / "go", 0o600)
        if sandbox_ids is not None:
            os.chmod(self.ctl / "go", 0o644)  # the runner reads it; only the host writes it

    @property
    def socket_path(self) -> Path:
        return self.broker / "tools.sock"

    def load(self, req: t.ExecutionRequest) -> None:
        """Copy the subagent's code (or write its files, `code_files`) and the run's inputs in. Links and
        special files are skipped."""
        code_dir = Path(req.code_dir)
        module = req.entry.replace(".", "/")
        if req.code_files is not None:
            if f"{module}.py" not in req.code_files and f"{module}/__init__.py" not in req.code_files:
                raise UsageError(f"Entry module '{req.entry}' not found in {code_dir}.")
            write_files(req.code_files, self.code, MAX_CODE_BYTES, "subagent code")
        else:
            if not code_dir.is_dir():
                raise UsageError(f"Subagent code folder {code_dir} does not exist.")
            if (
                not (code_dir / f"{module}.py").is_file()
                and not (code_dir / module / "__init__.py").is_file()
            ):
                raise UsageError(f"Entry module '{req.entry}' not found in {code_dir}.")
            copy_tree(code_dir, self.code, MAX_CODE_BYTES, "subagent code")
        # A folder that is not there (or not a folder) has nothing to copy: copy_tree says so by opening
        # it, without a check before.
        if req.workdir is not None:
            inputs = os.path.join(req.workdir, "inputs")
            copy_tree(inputs, self.inputs, MAX_INPUT_BYTES, "inputs", missing_ok=True)
        if req.output_dir is not None:
            # One run's outputs/ is one folder: a later execution reads what an earlier one wrote.
            hashes = copy_tree(
                req.output_dir,
                self.outputs,
                req.output_max_mb << 20,
                "earlier outputs",
                skip=False,
                owner=self.sandbox_ids,
                missing_ok=True,
            )
            self.seeded.update(hashes)

    def job(
        self,
        req: t.ExecutionRequest,
        paths: SandboxPaths,
        site_paths: list[str] | None = None,
        rlimits: list[int] | None = None,
    ) -> bytes:
        """The job for the runner; `rlimits` are set in the subagent's process (runner.py)."""
        payload = {
            "rlimits": rlimits or [],
            "site_paths": site_paths or [],
            "entry": req.entry,
            "inputs": req.inputs,
            "code_dir": paths.code,
            "work_dir": paths.work,
            "report_dir": paths.report,
            "runtime_dir": paths.runtime,
            "tools_socket": f"{paths.broker}/tools.sock" if req.broker is not None else "",
            "result_max_bytes": req.result_max_bytes,
            "result_max_depth": t.DEFAULT_RESULT_MAX_DEPTH,
            "stream_max_bytes": req.stream_max_bytes,
            "stream_kill_bytes": req.stream_max_bytes * STREAM_KILL_FACTOR,
            "output_max_bytes": req.output_max_mb << 20,
            "forward_bytes": FORWARD_BYTES if req.on_output is not None else 0,  # live view (live_output.py)
        }
        try:
            data = json.dumps(payload, ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError, UnicodeEncodeError) as exc:
            raise UsageError(f"The inputs are not JSON-serialisable: {exc}.") from None
        if len(data) > MAX_JOB_BYTES:
            raise UsageError(f"The inputs are {len(data)} bytes of JSON; the limit is {MAX_JOB_BYTES}.")
        return data

    def open_done(self) -> int:
        """The read end of the FIFO `ctl/done`, where a runner started with --done writes its completion
        token (runner.py). Non-blocking; the host also holds a write end (`done_keep`), so the read end
        never reads as closed. Nobody in the sandbox can read the FIFO: the host opens it first, then
        leaves it write-only (the sandbox user is its owner on a non-root host)."""
        os.mkfifo("ctl/done", 0o600, dir_fd=self.fd)
        flags = os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC
        read_fd = os.open("ctl/done", os.O_RDONLY | flags, dir_fd=self.fd)
        self.done_keep = os.open("ctl/done", os.O_WRONLY | flags, dir_fd=self.fd)
        os.fchmod(read_fd, 0o222)
        return read_fd

    def hand_over(self, job: bytes, deadline_s: float = 10.0, alive: Any = None) -> bool:
        """Give the job to a runner blocked on the FIFO. False if no runner opened it in time."""
        end = time.monotonic() + deadline_s
        while True:
            try:
                fd = os.open(
                    "ctl/go", os.O_WRONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=self.fd
                )
                break
            except OSError as exc:
                if exc.errno != errno.ENXIO or time.monotonic() > end or (alive and not alive()):
                    return False
                time.sleep(0.002)
        try:
            if not stat.S_ISFIFO(os.fstat(fd).st_mode):
                return False
            os.set_blocking(fd, True)
            view = memoryview(job)
            while view:
                view = view[os.write(fd, view) :]
        except OSError:
            return False
        finally:
            os.close(fd)
        return True

    def request_stop(self) -> None:
        """Ask the runner to kill the subagent and report its stream tails (a host kill follows).
        ctl/ is read-only in the sandbox, and the file is created new, never through a link."""
        with contextlib.suppress(OSError):
            write_new(self.fd, "ctl/stop", b"", 0o644)

    def outputs_usage(self, limit_files: int | None = None) -> tuple[int, int]:
        """(bytes, entries) under outputs/, counting at most limit_files (default MAX_OUTPUT_FILES) + 1
        entries. A tree deeper than MAX_OUTPUT_DEPTH counts as over the entry limit."""
        limit_files = MAX_OUTPUT_FILES if limit_files is None else limit_files
        return self._usage(self.data_fd, "work/outputs", limit_files, MAX_OUTPUT_DEPTH)

    def over_limits(self, req: t.ExecutionRequest) -> bool:
        """Whether what the sandbox wrote to the host's disk is past its bounds: outputs/ (size, entries,
        depth) or the runner's report folder (a few files, at most a result and two stream tails)."""
        return self._over_limits(req)[0]

    def _over_limits(self, req: t.ExecutionRequest) -> tuple[bool, int]:
        """(over_limits, entries counted under outputs/)."""
        total, entries = self.outputs_usage()
        if total >= (req.output_max_mb << 20) or entries > MAX_OUTPUT_FILES:
            return True, entries
        total, count = self._usage(self.fd, "report", MAX_REPORT_FILES, 1)
        over = count > MAX_REPORT_FILES or total > 2 * (req.result_max_bytes + req.stream_max_bytes) + (
            1 << 20
        )
        return over, entries

    def _usage(self, dir_fd: int, rel: str, limit: int, depth: int) -> tuple[int, int]:
        total = count = 0
        try:
            top = os.open(rel, DIR_FLAGS, dir_fd=dir_fd)
        except OSError:
            return 0, 0
        try:
            walk = Walk(top, limit + 1, depth)
            for item in walk:
                count += 1
                if stat.S_ISREG(item.st.st_mode):
                    total += item.st.st_size
            if walk.too_deep:
                count = max(count, limit + 1)
        finally:
            os.close(top)
        return total, count

    def remove(self) -> None:
        """Delete the job folder whatever the sandbox left in it: never follows a link, never recurses."""
        keep, self.done_keep = self.done_keep, -1
        if keep >= 0:
            os.close(keep)
        fd, self.fd = self.fd, -1
        if fd < 0:
            return
        data_fd, self.data_fd = self.data_fd, -1
        remove_open_tree(fd, self.root)
        if data_fd != fd:
            remove_open_tree(data_fd, self.data_root)

    def read_report(self, name: str, limit: int) -> bytes | None:
        return read_bounded(self.fd, f"report/{name}", limit)

    def status_report(self) -> dict[str, Any] | None:
        """The runner's status.json, decoded and checked (bounded, never through a link or a FIFO);
        None when it is missing or malformed."""
        return decode_status(self.read_report("status.json", 1 << 16))

    # ---- after the sandbox stopped -------------------------------------------------------------

    def finish(
        self,
        req: t.ExecutionRequest,
        backend: str,
        isolation: str,
        duration_s: float,
        host_status: str | None = None,
        host_note: str = "",
        oom: bool = False,
        tool_calls: list[t.ToolCallRecord] | None = None,
        report: dict[str, Any] | None | object = _UNREAD,
    ) -> t.ExecutionTrace:
        """The execution's trace from what the sandbox left; `report`: its status.json as the caller
        already read it (status_report), else read here."""
        trace = t.ExecutionTrace(
            status=t.OK,
            backend=backend,
            isolation=isolation,
            duration_s=round(duration_s, 4),
            tool_calls=tool_calls or [],
            entry=req.entry,
            run_id=req.run_id,
        )
        if report is _UNREAD:
            report = self.status_report()
        assert report is None or isinstance(report, dict)
        if report:
            out, err = report["stdout_bytes"], report["stderr_bytes"]
            trace.stdout_bytes, trace.stderr_bytes = out, err
            cap = req.stream_max_bytes
            # The runner writes no file for a stream the subagent never wrote to: none is read then.
            trace.stdout = stream_tail(self.read_report("stdout.bin", cap) if out else None, cap, out)
            trace.stderr = stream_tail(self.read_report("stderr.bin", cap) if err else None, cap, err)
            if report["maxrss_kb"]:
                trace.peak_memory_mb = round(report["maxrss_kb"] / 1024, 1)
        over_cap, entries = self._over_limits(req)  # outputs/ counted once: an empty one is not copied
        if req.output_dir is not None and not (entries == 0 and _is_folder(req.output_dir)):
            copy = copy_outputs(self.data_fd, "work/outputs", Path(req.output_dir), req.output_max_mb << 20)
            # Report what this execution produced: files seeded from earlier executions and left
            # unchanged are not its outputs.
            trace.output_files = [rel for rel, digest in copy.copied if self.seeded.get(rel) != digest]
            trace.refused_outputs = list(copy.refusals)
            trace.output_refusals = dict(copy.refusals)
            if copy.more_refused:
                trace.output_refusals["..."] = f"{copy.more_refused} more refusals not listed"
        limit = req.result_max_bytes + (1 << 20)
        result = decode_result(self.read_report("result.json", limit), limit)

        def fail(status: str, kind: str, message: str) -> t.ExecutionTrace:
            trace.status = status
            trace.error = trace.error or {"type": kind, "message": message, "frames": []}
            return trace

        if host_status == t.TIMEOUT:
            return fail(t.TIMEOUT, "Timeout", f"killed after the wall-clock limit of {req.timeout_s:g} s")
        if host_status == t.INTERRUPTED:
            return fail(t.INTERRUPTED, "Interrupted", "the host was interrupted; the sandbox was removed")
        if host_status == t.TOOL_LIMIT:
            return fail(
                t.TOOL_LIMIT, "ToolCallLimit", "past the tool broker's call limit: the session was closed and "
                "the subagent stopped",
            )  # fmt: skip
        if host_status == t.OUTPUT_LIMIT or over_cap:
            return fail(
                t.OUTPUT_LIMIT,
                "OutputLimit",
                f"outputs/ reached its cap of {req.output_max_mb} MB or {MAX_OUTPUT_FILES} files and "
                f"folders, or {MAX_OUTPUT_DEPTH} levels of folders (or the report folder was flooded)",
            )
        if oom:
            return fail(t.OOM, "OutOfMemory", f"killed by the memory limit of {req.memory_mb} MB")
        if host_status == t.SANDBOX_ERROR:
            return fail(t.SANDBOX_ERROR, "SandboxError", host_note or "the sandbox failed")
        if not report:
            return fail(
                t.SANDBOX_ERROR,
                "SandboxError",
                host_note or "the sandbox stopped before the runner reported (killed from outside?)",
            )
        if report["stream_flood"]:
            return fail(
                t.OUTPUT_LIMIT,
                "OutputLimit",
                f"stdout/stderr exceeded {req.stream_max_bytes * STREAM_KILL_FACTOR} bytes; subagent stopped",
            )
        if report["stopped"]:
            return fail(t.KILLED, "Killed", "stopped by the host")
        sig = report["signal"]
        if sig:
            if sig == 24:  # SIGXCPU: the CPU-time rlimit
                return fail(t.TIMEOUT, "Timeout", "killed by the CPU-time limit")
            return fail(t.KILLED, "Killed", f"the subagent process was killed by signal {sig}")
        if result is None:
            return fail(
                t.ERROR,
                "SubagentExit",
                f"the subagent process exited with code {report['exit_code']} before run() returned",
            )
        if isinstance(result, str):  # a refusal from decode_result
            return fail(t.OUTPUT_LIMIT if "bytes" in result else t.ERROR, "ResultRejected", result)
        if result.get("ok") is True:
            trace.result = result.get("result")
            trace.result_preview = t.preview(trace.result)
            return trace
        error = result.get("error") if isinstance(result.get("error"), dict) else {}
        frames = error.get("frames") if isinstance(error.get("frames"), list) else []
        trace.error = {
            "type": str(error.get("type", "Error"))[:200],
            "message": str(error.get("message", ""))[:4000],
            "frames": [f for f in frames if isinstance(f, dict)][:50],
        }
        kind = trace.error["type"]
        if result.get("limit") == "result":
            trace.status = t.OUTPUT_LIMIT
        elif kind == "MemoryError":
            trace.status = t.OOM
        elif kind in ("OSError", "PermissionError") and "Errno 27" in trace.error["message"]:
            trace.status = t.OUTPUT_LIMIT  # EFBIG: the per-file size limit
        else:
            trace.status = t.ERROR
        return trace


def _is_folder(path: Any) -> bool:
    """Whether `path` is a folder, not a link to one: an empty outputs/ has nothing to copy there."""
    try:
        return stat.S_ISDIR(os.stat(path, follow_symlinks=False).st_mode)
    except OSError:
        return False


CONTROL_BASE = "/dev/shm"  # a memory file system on Linux
CONTROL_MIN_FREE = 1 << 30  # what it must have free to take job folders' control parts


def control_base() -> str:
    """Where job folders' control parts go (JobDir): CONTROL_BASE when it is a folder this process can
    write with CONTROL_MIN_FREE to spare, else the temporary folder."""
    try:
        st = os.statvfs(CONTROL_BASE)
    except OSError:
        return tempfile.gettempdir()
    if st.f_bavail * st.f_frsize < CONTROL_MIN_FREE or not os.access(CONTROL_BASE, os.W_OK | os.X_OK):
        return tempfile.gettempdir()
    return CONTROL_BASE


def _job_bases() -> set[str]:
    """The folders job folders may have been made in, whatever control_base says now (as given and as
    resolved)."""
    bases = {tempfile.gettempdir(), CONTROL_BASE}
    return bases | {os.path.realpath(base) for base in bases}


def _write_owner(dir_fd: int) -> None:
    """Whose folder this is: a host that dies without removing it (killed, os._exit) leaves it, with the
    run's code and inputs, until a backend's sweep finds its owner gone (sweep_job_folders)."""
    owner = os.open(OWNER_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=dir_fd)
    try:
        os.write(owner, owner_label().encode())
    finally:
        os.close(owner)


def remove_job_folder(path: str) -> None:
    """Remove `path` when it names one of our job folders: named JOB_PREFIX*, right in a folder job
    folders are made in (its path as given or as resolved, never through another link). A path read
    from a process's command line or a container's labels is never trusted further. Never follows a
    link, never recurses (remove_tree). A job's second folder (JobDir.data_root) is left to the sweep."""
    if path and os.path.dirname(path) in _job_bases() and os.path.basename(path).startswith(JOB_PREFIX):
        remove_tree(path)


def sweep_job_folders() -> int:
    """Remove the job folders a dead host left (in the temporary folder and CONTROL_BASE); returns how
    many. A folder is removed only when it is a real folder (not a link) of this user, named as ours,
    and its owner file names a host process certainly gone (sandbox/owner.py); a folder without one
    (being made, or made by an earlier version) is left. Removal never follows a link and never
    recurses (remove_tree)."""
    removed = 0
    entries = []
    for base in {tempfile.gettempdir(), CONTROL_BASE}:
        with contextlib.suppress(OSError):
            entries += list(os.scandir(base))
    for entry in entries:
        if not entry.name.startswith(JOB_PREFIX):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
            continue
        try:
            fd = os.open(entry.path, DIR_FLAGS)
        except OSError:
            continue
        try:
            label = read_bounded(fd, OWNER_FILE, 256)
        finally:
            os.close(fd)
        if label is not None and owner_gone(label.decode("ascii", "replace")):
            remove_tree(entry.path)
            removed += 1
    return removed
