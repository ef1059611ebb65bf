"""The host side of one execution, shared by both backends: a private job folder, the job handed to the
runner, the stop request, and the trace built from what is left once the sandbox has stopped.

Layout of a job folder (mode 0700, under the system temp dir, owned by the host user):
    code/           copy of the subagent's regular files    -> read-only in the sandbox
    work/           the subagent's cwd                      -> read-only
    work/inputs/    copy of the run's input files           -> read-only, seen as ./inputs
    work/outputs/   size-capped                             -> writable, seen as ./outputs
    ctl/      job, FIFOs `go` and `done`, `stop`            -> read-only: the host's control state
    report/   the runner's reports (status, result, tails)  -> writable
    broker/   the tool broker's socket for this execution   -> read-only
Once the subagent runs, everything under outputs/ and report/ is hostile: the host only ever touches the
job folder through a descriptor of its root opened at creation, one name at a time, with O_NOFOLLOW and
without blocking (no path is resolved through a link the sandbox could have planted, no FIFO is waited
on), and walks trees iteratively with depth, count and size bounds. It never writes where the sandbox
can write. Output files are copied out only after the sandbox stopped, refusing links, special files,
names that are not printable UTF-8, type clashes with earlier outputs and anything past the bounds.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import secrets
import select
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentfactory.errors import UsageError
from agentfactory.sandbox import trace as t
from agentfactory.sandbox.live_output import FORWARD_BYTES

RUNTIME_DIR = Path(__file__).parent / "runtime"
MAX_CODE_BYTES = 50 << 20
MAX_INPUT_BYTES = 1 << 30
MAX_JOB_BYTES = 16 << 20
MAX_OUTPUT_FILES = 10_000  # files and folders under outputs/
MAX_OUTPUT_DEPTH = 32  # path components under outputs/
MAX_TREE_ENTRIES = 100_000  # code/ and inputs/ copied in
MAX_TREE_DEPTH = 64
MAX_REFUSALS_LISTED = 200
MAX_REPORT_FILES = 16
STREAM_KILL_FACTOR = 64  # a stream this many times its tail cap is a flood: the runner stops the subagent
_SKIP = {"__pycache__", ".git", ".pytest_cache"}
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK | os.O_NOCTTY


@dataclass(frozen=True)
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
    two folders it writes are given to it, nothing else."""

    def __init__(self, sandbox_ids: tuple[int, int] | None = None):
        self.sandbox_ids = sandbox_ids
        self.seeded: dict[str, str] = {}  # earlier outputs of the run copied in: relative path -> sha256
        self.done_keep = -1  # the host's write end of ctl/done (open_done)
        self.root = Path(tempfile.mkdtemp(prefix="af-"))
        self.fd = os.open(self.root, _DIR_FLAGS)
        self.code = self.root / "code"
        self.work = self.root / "work"
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
        """Copy the subagent's code and the run's inputs in. Links and special files are skipped."""
        code_dir = Path(req.code_dir)
        if not code_dir.is_dir():
            raise UsageError(f"Subagent code folder {code_dir} does not exist.")
        if (
            not (code_dir / (req.entry.replace(".", "/") + ".py")).is_file()
            and not (code_dir / req.entry.replace(".", "/") / "__init__.py").is_file()
        ):
            raise UsageError(f"Entry module '{req.entry}' not found in {code_dir}.")
        _copy_tree(code_dir, self.code, MAX_CODE_BYTES, "subagent code")
        if req.workdir is not None and (Path(req.workdir) / "inputs").is_dir():
            _copy_tree(Path(req.workdir) / "inputs", self.inputs, MAX_INPUT_BYTES, "inputs")
        if req.output_dir is not None and Path(req.output_dir).is_dir():
            # One run's outputs/ is one folder: a later execution reads what an earlier one wrote.
            hashes = _copy_tree(
                Path(req.output_dir),
                self.outputs,
                req.output_max_mb << 20,
                "earlier outputs",
                skip=False,
                owner=self.sandbox_ids,
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
        return self._usage("work/outputs", limit_files, MAX_OUTPUT_DEPTH)

    def over_limits(self, req: t.ExecutionRequest) -> bool:
        """Whether what the sandbox wrote to the host's disk is past its bounds: outputs/ (size, entries,
        depth) or the runner's report folder (a few files, at most a result and two stream tails)."""
        total, count = self.outputs_usage()
        if total >= (req.output_max_mb << 20) or count > MAX_OUTPUT_FILES:
            return True
        total, count = self._usage("report", MAX_REPORT_FILES, 1)
        return count > MAX_REPORT_FILES or total > 2 * (req.result_max_bytes + req.stream_max_bytes) + (
            1 << 20
        )

    def _usage(self, rel: str, limit: int, depth: int) -> tuple[int, int]:
        total = count = 0
        try:
            top = os.open(rel, _DIR_FLAGS, dir_fd=self.fd)
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
        try:
            empty_dir(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.rmdir(self.root)

    def read_report(self, name: str, limit: int) -> bytes | None:
        return read_bounded(self.fd, f"report/{name}", limit)

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
    ) -> t.ExecutionTrace:
        trace = t.ExecutionTrace(
            status=t.OK,
            backend=backend,
            isolation=isolation,
            duration_s=round(duration_s, 4),
            tool_calls=tool_calls or [],
            entry=req.entry,
            run_id=req.run_id,
        )
        report = decode_status(self.read_report("status.json", 1 << 16))
        if report:
            trace.stdout_bytes = report["stdout_bytes"]
            trace.stderr_bytes = report["stderr_bytes"]
            cap = req.stream_max_bytes
            trace.stdout = _stream(self.read_report("stdout.bin", cap), cap, trace.stdout_bytes)
            trace.stderr = _stream(self.read_report("stderr.bin", cap), cap, trace.stderr_bytes)
            if report["maxrss_kb"]:
                trace.peak_memory_mb = round(report["maxrss_kb"] / 1024, 1)
        over_cap = self.over_limits(req)
        if req.output_dir is not None:
            copy = copy_outputs(self.fd, "work/outputs", Path(req.output_dir), req.output_max_mb << 20)
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


class DoneChannel:
    """The runner's completion report (runner.py --done), read by the host from the FIFO `ctl/done`.

    `arm()` makes the token handed over before the job; `read()` drains the FIFO and is True once that
    token arrived. The subagent can write to the FIFO too (never read it): what it writes is junk, read
    and dropped up to JUNK_BYTES, after which the channel stops being watched (`watching` False) and
    only the sandbox's exit ends the execution.
    """

    TOKEN_BYTES = 32
    JUNK_BYTES = 1 << 20

    def __init__(self, jd: JobDir):
        self.fd = jd.open_done()
        self.token = b""
        self.watching = False
        self._seen = b""  # the last bytes read (a token split over two reads)
        self._junk = 0

    def ready(self, timeout_s: float) -> bool:
        """Wait for the runner's readiness byte (written before it waits for its job, warm imports done).
        Only a sandbox started ahead waits for it; a false one from the sandbox is impossible then (no
        subagent runs yet) and would only make the next execution wait for the runner."""
        if select.select([self.fd], [], [], max(0.0, timeout_s))[0]:
            with contextlib.suppress(OSError):
                return bool(os.read(self.fd, 1))
        return False

    def arm(self) -> bytes:
        self.token = secrets.token_bytes(self.TOKEN_BYTES)
        self.watching = self.fd >= 0
        return self.token

    def read(self) -> bool:
        while self.watching:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                return False
            except OSError:
                self.watching = False
                return False
            if not chunk:
                return False
            data = self._seen + chunk
            if self.token in data:
                return True
            self._junk += len(chunk)
            self.watching = self._junk <= self.JUNK_BYTES
            self._seen = data[-self.TOKEN_BYTES :]
        return False

    def close(self) -> None:
        fd, self.fd = self.fd, -1
        self.watching = False
        if fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)


# ---- bounded, link-free file-system primitives ------------------------------------------------------


def write_new(dir_fd: int, rel: str, data: bytes, mode: int) -> None:
    """Create `rel` (relative to dir_fd, whose parents the sandbox cannot write) new; never through a link."""
    fd = os.open(
        rel, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd
    )
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fd, mode)
        fh.write(data)


def read_bounded(dir_fd: int, rel: str, limit: int) -> bytes | None:
    """At most limit + 1 bytes of the regular file `rel` under dir_fd; None for anything else (a link at
    any component, a FIFO, a device, a folder, missing). Never blocks."""
    parts = rel.split("/")
    fds: list[int] = []
    try:
        parent = dir_fd
        for part in parts[:-1]:
            parent = os.open(part, _DIR_FLAGS, dir_fd=parent)
            fds.append(parent)
        fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=parent)
    except OSError:
        return None
    finally:
        for fd_ in fds:
            os.close(fd_)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return None
        return fh.read(limit + 1)


def _listing(dir_fd: int, budget: int) -> tuple[list[tuple[str, os.stat_result]], bool]:
    """Up to `budget` entries (name, lstat) of a folder, sorted, and whether there were more."""
    out: list[tuple[str, os.stat_result]] = []
    more = False
    try:
        with os.scandir(dir_fd) as it:
            for entry in it:
                if len(out) >= budget:
                    more = True
                    break
                with contextlib.suppress(OSError):
                    out.append((entry.name, entry.stat(follow_symlinks=False)))
    except OSError:
        pass
    out.sort(key=lambda e: e[0], reverse=True)  # popped from the end: alphabetical order
    return out, more


@dataclass
class Item:
    """One entry met by Walk. Set `descend = False` on a folder to skip its contents."""

    parent_fd: int
    name: str
    parts: tuple[str, ...]
    st: os.stat_result
    descend: bool = True

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.st.st_mode)

    @property
    def rel(self) -> str:
        return "/".join(self.parts)


class Walk:
    """Iterative depth-first walk of the folder open as `top_fd`, never following links: at most
    `max_entries` entries, `max_depth` path components; opens at most max_depth + 1 descriptors.
    After iteration: `truncated` (more entries than allowed), `too_deep` (folders whose contents were
    past max_depth, as tuples of parts), `unreadable` (folders that could not be opened)."""

    def __init__(self, top_fd: int, max_entries: int, max_depth: int):
        self.top_fd = top_fd
        self.max_entries = max_entries
        self.max_depth = max_depth
        self.count = 0
        self.truncated = False
        self.too_deep: list[tuple[str, ...]] = []
        self.unreadable: list[tuple[str, ...]] = []

    def _frame(self, fd: int, parts: tuple[str, ...]) -> tuple[int, tuple[str, ...], list]:
        entries, more = _listing(fd, self.max_entries - self.count)
        self.count += len(entries)
        self.truncated = self.truncated or more
        return fd, parts, entries

    def __iter__(self) -> Iterator[Item]:
        frames = [self._frame(os.dup(self.top_fd), ())]
        try:
            while frames:
                fd, parts, pending = frames[-1]
                if not pending:
                    os.close(fd)
                    frames.pop()
                    continue
                name, st = pending.pop()
                item = Item(fd, name, (*parts, name), st)
                yield item
                if not (item.descend and item.is_dir):
                    continue
                try:
                    child = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError:
                    self.unreadable.append(item.parts)
                    continue
                if len(item.parts) >= self.max_depth:
                    inside, _ = _listing(child, 1)
                    os.close(child)
                    if inside:
                        self.too_deep.append(item.parts)
                    continue
                frames.append(self._frame(child, item.parts))
        finally:
            for fd, _, _ in frames:
                os.close(fd)


def empty_dir(top_fd: int) -> None:
    """Remove everything inside the folder open as top_fd. Iterative and flat: a folder met below the top
    is moved up to the top before it is emptied, so no depth costs recursion, descriptors or long paths.
    Never follows a link; never raises; gives up only when a whole pass removes nothing."""
    counter = 0
    while True:
        work: list[str] = []
        with contextlib.suppress(OSError), os.scandir(top_fd) as it:
            work = [entry.name for entry in it]
        if not work:
            return
        progress = False
        while work:
            name = work.pop()
            try:
                st = os.stat(name, dir_fd=top_fd, follow_symlinks=False)
            except OSError:
                continue
            if not stat.S_ISDIR(st.st_mode):
                with contextlib.suppress(OSError):
                    os.unlink(name, dir_fd=top_fd)
                    progress = True
                continue
            try:
                os.rmdir(name, dir_fd=top_fd)
                progress = True
                continue
            except OSError:
                pass
            sub = _open_dir_for_removal(top_fd, name)
            if sub is None:
                continue
            try:
                children: list[str] = []
                with contextlib.suppress(OSError), os.scandir(sub) as it:
                    children = [entry.name for entry in it]
                for child in children:
                    try:
                        if stat.S_ISDIR(os.stat(child, dir_fd=sub, follow_symlinks=False).st_mode):
                            counter += 1
                            flat = f".af-rm-{counter}"
                            while os.path.lexists(f"/proc/self/fd/{top_fd}/{flat}"):
                                counter += 1
                                flat = f".af-rm-{counter}"
                            os.rename(child, flat, src_dir_fd=sub, dst_dir_fd=top_fd)
                            work.append(flat)
                        else:
                            os.unlink(child, dir_fd=sub)
                        progress = True
                    except OSError:
                        pass
            finally:
                os.close(sub)
            with contextlib.suppress(OSError):
                os.rmdir(name, dir_fd=top_fd)
                progress = True
        if not progress:
            return


def _open_dir_for_removal(parent_fd: int, name: str) -> int | None:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except PermissionError:
        pass  # a folder the sandbox made unreadable (a non-root host owns it): make it ours again
    except OSError:
        return None
    try:
        path_fd = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)
    except OSError:
        return None
    try:
        os.chmod(f"/proc/self/fd/{path_fd}", 0o700)
        return os.open(name, _DIR_FLAGS, dir_fd=parent_fd)
    except OSError:
        return None
    finally:
        os.close(path_fd)


def remove_tree(path: str | Path) -> None:
    """Remove the folder `path` (not a link to one) and everything in it; see empty_dir."""
    try:
        fd = os.open(path, _DIR_FLAGS)
    except OSError:
        return
    try:
        empty_dir(fd)
    finally:
        os.close(fd)
    with contextlib.suppress(OSError):
        os.rmdir(path)


# ---- names --------------------------------------------------------------------------------------------


def printable_name(name: str) -> bool:
    """A file name anything downstream can show and store: valid UTF-8, no control, format, separator
    (other than space) or unassigned characters, no escape sequences, not '.' or '..'."""
    if not name or name in (".", "..") or "/" in name or len(name.encode("utf-8", "surrogateescape")) > 255:
        return False
    try:
        name.encode("utf-8")  # undecodable bytes arrive as lone surrogates
    except UnicodeEncodeError:
        return False
    return name.isprintable()


def shown_name(name: str, limit: int = 300) -> str:
    """`name` with every unprintable character escaped (\\xNN, \\uNNNN): safe to print and store."""
    out = []
    for ch in name:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch != "\\" and ch.isprintable():
            out.append(ch)
        else:
            out.append(ascii(ch)[1:-1] if ch != "\\" else "\\\\")
    text = "".join(out)
    return text if len(text) <= limit else text[:limit] + "..."


# ---- copies in and out ----------------------------------------------------------------------------------


def _copy_tree(
    src: Path,
    dest: Path,
    limit: int,
    what: str,
    skip: bool = True,
    owner: tuple[int, int] | None = None,
) -> dict[str, str]:
    """Copy the regular files of a host folder into a fresh job folder; links and special files are
    skipped. Returns {relative path: sha256}. Over the size, count or depth bounds: UsageError."""
    try:
        top = os.open(src, _DIR_FLAGS)
    except OSError:
        raise UsageError(f"The {what} folder {src} cannot be read.") from None
    hashes: dict[str, str] = {}
    total = 0
    dir_mode, file_mode = (0o700, 0o600) if owner else (0o755, 0o644)
    try:
        walk = Walk(top, MAX_TREE_ENTRIES, MAX_TREE_DEPTH)
        for item in walk:
            if skip and item.name in _SKIP or not printable_name(item.name):
                item.descend = False
                continue
            target = dest.joinpath(*item.parts)
            if item.is_dir:
                target.mkdir(mode=0o755)
                os.chmod(target, dir_mode)
                if owner:
                    os.chown(target, *owner)
                continue
            if not stat.S_ISREG(item.st.st_mode):
                continue
            total += item.st.st_size
            if total > limit:
                raise UsageError(f"The {what} in {src} exceed {limit >> 20} MB.")
            try:
                fd = os.open(item.name, _FILE_FLAGS, dir_fd=item.parent_fd)
            except OSError:
                continue
            digest = hashlib.sha256()
            with os.fdopen(fd, "rb") as fh_in:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    continue
                out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                with os.fdopen(out, "wb") as fh_out:
                    while chunk := fh_in.read(1 << 20):
                        digest.update(chunk)
                        fh_out.write(chunk)
                    os.fchmod(fh_out.fileno(), file_mode)
                    if owner:
                        os.fchown(fh_out.fileno(), *owner)
            hashes[item.rel] = digest.hexdigest()
        if walk.truncated or walk.too_deep:
            raise UsageError(
                f"The {what} in {src} hold more than {MAX_TREE_ENTRIES} entries or {MAX_TREE_DEPTH} levels."
            )
    finally:
        os.close(top)
    return hashes


@dataclass
class CopyReport:
    copied: list[tuple[str, str]]  # (relative path, sha256)
    refusals: dict[str, str]  # shown relative path -> why it was not copied
    more_refused: int = 0


class _DestDirs:
    """Descriptors of the destination folders, opened one component at a time without following links
    and created as needed; the chain currently open follows the depth-first order of the walk."""

    def __init__(self, top_fd: int):
        self.chain: list[tuple[str, int]] = []
        self.top_fd = top_fd

    def get(self, parts: tuple[str, ...]) -> int | str:
        """The descriptor of folder `parts`, or the reason it cannot be one."""
        keep = 0
        while keep < min(len(parts), len(self.chain)) and self.chain[keep][0] == parts[keep]:
            keep += 1
        for _, fd in self.chain[keep:]:
            os.close(fd)
        del self.chain[keep:]
        for part in parts[keep:]:
            parent = self.chain[-1][1] if self.chain else self.top_fd
            with contextlib.suppress(FileExistsError):
                os.mkdir(part, 0o755, dir_fd=parent)
            try:
                fd = os.open(part, _DIR_FLAGS, dir_fd=parent)
            except OSError as exc:
                if exc.errno in (errno.ENOTDIR, errno.ELOOP):
                    return f"type clash: '{'/'.join(parts)}' is not a folder in the output folder"
                return f"the output folder could not be created ({exc.strerror})"
            self.chain.append((part, fd))
        return self.chain[-1][1] if self.chain else self.top_fd

    def close(self) -> None:
        for _, fd in self.chain:
            os.close(fd)
        self.chain = []


def copy_outputs(root_fd: int, rel: str, dest: Path, cap: int) -> CopyReport:
    """Copy regular, singly-linked files with printable names from the folder `rel` under root_fd to
    `dest`, within MAX_OUTPUT_FILES entries, MAX_OUTPUT_DEPTH levels and `cap` bytes; refuse everything
    else, each refusal with its reason. Never follows a link on either side, never raises for what the
    sandbox left."""
    report = CopyReport([], {})

    def refuse(parts: tuple[str, ...], reason: str) -> None:
        if len(report.refusals) >= MAX_REFUSALS_LISTED:
            report.more_refused += 1
        else:
            report.refusals["/".join(shown_name(p) for p in parts)] = reason

    try:
        src = os.open(rel, _DIR_FLAGS, dir_fd=root_fd)
    except OSError:
        return report
    try:
        dest.mkdir(parents=True, exist_ok=True)
        dest_fd = os.open(dest, _DIR_FLAGS)
    except OSError:
        os.close(src)
        refuse(("outputs",), "the destination folder could not be opened")
        return report
    dirs = _DestDirs(dest_fd)
    total = 0
    try:
        walk = Walk(src, MAX_OUTPUT_FILES, MAX_OUTPUT_DEPTH)
        for item in walk:
            if not printable_name(item.name):
                item.descend = False
                refuse(item.parts, "the name is not printable UTF-8")
                continue
            mode = item.st.st_mode
            if item.is_dir:
                continue
            if stat.S_ISLNK(mode):
                refuse(item.parts, "a symbolic link")
                continue
            if not stat.S_ISREG(mode):
                refuse(item.parts, "not a regular file")
                continue
            try:
                fd = os.open(item.name, _FILE_FLAGS, dir_fd=item.parent_fd)
            except OSError:
                refuse(item.parts, "unreadable")
                continue
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode):
                    refuse(item.parts, "not a regular file")
                elif st.st_nlink != 1:
                    refuse(item.parts, "a hard link")
                elif total + st.st_size > cap:
                    refuse(item.parts, f"over the outputs cap of {cap >> 20} MB")
                else:
                    parent = dirs.get(item.parts[:-1])
                    if isinstance(parent, str):
                        refuse(item.parts, parent)
                    else:
                        problem, digest = _copy_file(fd, st.st_size, parent, item.name)
                        if problem:
                            refuse(item.parts, problem)
                        else:
                            total += st.st_size
                            report.copied.append((item.rel, digest))
            finally:
                os.close(fd)
        for parts in walk.too_deep:
            refuse(parts, f"its contents are deeper than {MAX_OUTPUT_DEPTH} levels")
        for parts in walk.unreadable:
            refuse(parts, "an unreadable folder")
        if walk.truncated:
            refuse(("...",), f"more than {MAX_OUTPUT_FILES} files and folders: the rest were not copied")
    finally:
        dirs.close()
        os.close(dest_fd)
        os.close(src)
    return report


def _copy_file(src_fd: int, size: int, dir_fd: int, name: str) -> tuple[str, str]:
    """Copy `size` bytes of src_fd to a new file `name` in dir_fd (replacing a file, never a folder).
    Returns (problem or "", sha256)."""
    tmp = f".af-tmp-{secrets.token_hex(8)}"
    out = os.open(
        tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dir_fd
    )
    digest = hashlib.sha256()
    try:
        with os.fdopen(out, "wb") as fh_out:
            remaining = size
            offset = 0
            while remaining > 0:
                chunk = os.pread(src_fd, min(remaining, 1 << 20), offset)
                if not chunk:
                    break
                digest.update(chunk)
                fh_out.write(chunk)
                remaining -= len(chunk)
                offset += len(chunk)
        try:
            existing = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            existing = None
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            raise IsADirectoryError
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except IsADirectoryError:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        return "type clash: an earlier output of that name is a folder", ""
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        return f"could not be written ({exc.strerror})", ""
    return "", digest.hexdigest()


# ---- decoding what the runner reported ------------------------------------------------------------


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 62 else 0


def decode_status(data: bytes | None) -> dict[str, Any] | None:
    """The runner's status report with every field checked (the subagent can write it): None if absent."""
    value = _loads(data, 1 << 16)
    if not isinstance(value, dict):
        return None
    sig = value.get("signal")
    code = value.get("exit_code")
    return {
        "exit_code": code
        if isinstance(code, int) and not isinstance(code, bool) and -1 <= code < 256
        else None,
        "signal": sig if isinstance(sig, int) and not isinstance(sig, bool) and 0 < sig < 128 else None,
        "maxrss_kb": _count(value.get("maxrss_kb")),
        "stdout_bytes": _count(value.get("stdout_bytes")),
        "stderr_bytes": _count(value.get("stderr_bytes")),
        "stream_flood": value.get("stream_flood") is True,
        "stopped": value.get("stopped") is True,
    }


class _Refused(ValueError):
    pass


def _loads(data: bytes | None, limit: int) -> Any:
    """JSON within `limit` bytes, or a _Refused/None. Lone surrogates and undecodable text become U+FFFD,
    so every string can be written as UTF-8. NaN and infinities stay floats: the orchestrator refuses them
    as a final answer, and whoever writes JSON decides how to show them."""
    if data is None or len(data) > limit:
        return None
    try:
        text = data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        text = data.decode("utf-8", "replace")
    try:
        value = json.loads(text)
    except RecursionError:
        return _Refused("the result is nested too deeply")
    except (ValueError, TypeError):
        return _Refused("the result file is not valid JSON")
    return _clean_strings(value)


def _clean_strings(value: Any) -> Any:
    """Replace lone surrogates in every string and key, iteratively (the value may be deep)."""

    def clean(s: str) -> str:
        try:
            s.encode("utf-8")
            return s
        except UnicodeEncodeError:
            return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in s)

    if isinstance(value, str):
        return clean(value)
    if not isinstance(value, dict | list):
        return value
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            for i, child in enumerate(item):
                if isinstance(child, str):
                    item[i] = clean(child)
                elif isinstance(child, dict | list):
                    stack.append(child)
        else:
            for key in list(item):
                child = item[key]
                if isinstance(child, str):
                    child = clean(child)
                elif isinstance(child, dict | list):
                    stack.append(child)
                new_key = clean(key)
                if new_key != key:
                    del item[key]
                item[new_key] = child
    return value


def decode_result(data: bytes | None, limit: int) -> dict[str, Any] | str | None:
    """The runner's result: a dict, a refusal sentence, or None when there is none."""
    if data is None:
        return None
    if len(data) > limit:
        return f"the result file exceeds {limit} bytes"
    value = _loads(data, limit)
    if isinstance(value, _Refused):
        return str(value)
    if not isinstance(value, dict):
        return "the result file is not a JSON object"
    if t.max_depth_exceeded(value, t.DEFAULT_RESULT_MAX_DEPTH + 2):
        return "the result is nested too deeply"
    return value


def _stream(data: bytes | None, cap: int, total: int) -> str:
    data = (data or b"")[-cap:] if cap else b""
    text = data.decode("utf-8", errors="replace")
    if total > len(data):
        text = f"[... {total - len(data)} bytes cut; {total} bytes in total ...]\n" + text
    return text
