"""The host side of one execution, shared by both backends: a private job folder, the job handed to the
runner, the stop request, and the trace built from what is left once the sandbox has stopped.

Layout of a job folder (mode 0700, under the system temp dir):
    code/           copy of the subagent's regular files    -> read-only in the sandbox
    work/           the subagent's cwd                      -> read-only
    work/inputs/    copy of the run's input files           -> read-only, seen as ./inputs
    work/outputs/   writable, size-capped                   -> seen as ./outputs
    ctl/      job, FIFO `go`, runner reports, `stop`         -> runner control
    broker/   the tool broker's socket for this execution   -> read-only mount
Output files are copied out only after the sandbox stopped, refusing symlinks, hard links, devices and
anything that would land outside the destination.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import stat
import tempfile
import time
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
MAX_OUTPUT_FILES = 10_000
STREAM_KILL_FACTOR = 64  # a stream this many times its tail cap is a flood: the runner stops the subagent
_SKIP = {"__pycache__", ".git", ".pytest_cache"}


@dataclass(frozen=True)
class SandboxPaths:
    """Where the job folder's parts appear inside the sandbox."""

    code: str
    work: str
    ctl: str
    runtime: str
    broker: str


class JobDir:
    def __init__(self, writable_by_others: bool):
        self.writable_by_others = writable_by_others
        self.seeded: dict[str, str] = {}  # earlier outputs of the run copied in: relative path -> sha256
        self.root = Path(tempfile.mkdtemp(prefix="af-"))
        self.code = self.root / "code"
        self.work = self.root / "work"
        self.inputs = self.work / "inputs"
        self.outputs = self.work / "outputs"
        self.ctl = self.root / "ctl"
        self.broker = self.root / "broker"
        for sub in (self.code, self.work, self.inputs, self.outputs, self.ctl, self.broker):
            sub.mkdir()
        if writable_by_others:  # the sandbox user is not us (we are root): let it write where it must
            for sub in (self.outputs, self.ctl):
                os.chmod(sub, 0o777)
            for sub in (self.code, self.work, self.inputs, self.broker):
                os.chmod(sub, 0o755)
        os.mkfifo(self.ctl / "go", 0o600)
        if writable_by_others:
            os.chmod(self.ctl / "go", 0o666)

    @property
    def socket_path(self) -> Path:
        return self.broker / "tools.sock"

    def load(self, req: t.ExecutionRequest) -> None:
        """Copy the subagent's code and the run's inputs in. Symlinks are skipped, never followed."""
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
            _copy_tree(Path(req.output_dir), self.outputs, req.output_max_mb << 20, "earlier outputs")
            # _copy_tree leaves folders 0755; outputs/ must stay writable by the sandbox user.
            os.chmod(self.outputs, 0o777 if self.writable_by_others else 0o755)
            for dirpath, dirnames, filenames in os.walk(self.outputs):
                for d in dirnames:
                    os.chmod(os.path.join(dirpath, d), 0o777 if self.writable_by_others else 0o755)
                for name in filenames:
                    path = os.path.join(dirpath, name)
                    os.chmod(path, 0o666 if self.writable_by_others else 0o644)
                    self.seeded[os.path.relpath(path, self.outputs)] = _sha256(Path(path))

    def job(self, req: t.ExecutionRequest, paths: SandboxPaths, site_paths: list[str] | None = None) -> bytes:
        payload = {
            "site_paths": site_paths or [],
            "entry": req.entry,
            "inputs": req.inputs,
            "code_dir": paths.code,
            "work_dir": paths.work,
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
        except (TypeError, ValueError) as exc:
            raise UsageError(f"The inputs are not JSON-serialisable: {exc}.") from None
        if len(data) > MAX_JOB_BYTES:
            raise UsageError(f"The inputs are {len(data)} bytes of JSON; the limit is {MAX_JOB_BYTES}.")
        return data

    def hand_over(self, job: bytes, deadline_s: float = 10.0, alive: Any = None) -> bool:
        """Give the job to a runner blocked on the FIFO. False if no runner opened it in time."""
        fifo = str(self.ctl / "go")
        end = time.monotonic() + deadline_s
        while True:
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as exc:
                if exc.errno != errno.ENXIO or time.monotonic() > end or (alive and not alive()):
                    return False
                time.sleep(0.002)
        try:
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
        """Ask the runner to kill the subagent and report its stream tails (a host kill follows)."""
        with contextlib.suppress(OSError):
            (self.ctl / "stop").touch()

    def outputs_usage(self, limit_files: int = MAX_OUTPUT_FILES) -> tuple[int, int]:
        total = count = 0
        for dirpath, dirnames, filenames in os.walk(self.outputs):
            for name in filenames:
                with contextlib.suppress(OSError):
                    total += os.lstat(os.path.join(dirpath, name)).st_size
            count += len(filenames) + len(dirnames)
            if count > limit_files:
                break
        return total, count

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

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
        report = read_json(self.ctl / "status.json", 1 << 16)
        if report:
            trace.stdout = _stream(self.ctl / "stdout.bin", report.get("stdout_bytes", 0), req)
            trace.stderr = _stream(self.ctl / "stderr.bin", report.get("stderr_bytes", 0), req)
            trace.stdout_bytes = int(report.get("stdout_bytes", 0))
            trace.stderr_bytes = int(report.get("stderr_bytes", 0))
            if report.get("maxrss_kb"):
                trace.peak_memory_mb = round(report["maxrss_kb"] / 1024, 1)
        outputs_total, outputs_count = self.outputs_usage()
        over_cap = outputs_total >= (req.output_max_mb << 20) or outputs_count > MAX_OUTPUT_FILES
        if req.output_dir is not None:
            copied, trace.refused_outputs = copy_outputs(
                self.outputs, Path(req.output_dir), req.output_max_mb << 20
            )
            # Report what this execution produced: files seeded from earlier executions and left
            # unchanged are not its outputs.
            trace.output_files = [
                rel for rel in copied if self.seeded.get(rel) != _sha256(Path(req.output_dir) / rel)
            ]
        result = _read_result(self.ctl / "result.json", req.result_max_bytes + (1 << 20))

        def fail(status: str, kind: str, message: str) -> t.ExecutionTrace:
            trace.status = status
            trace.error = trace.error or {"type": kind, "message": message, "frames": []}
            return trace

        if host_status == t.TIMEOUT:
            return fail(t.TIMEOUT, "Timeout", f"killed after the wall-clock limit of {req.timeout_s:g} s")
        if host_status == t.INTERRUPTED:
            return fail(t.INTERRUPTED, "Interrupted", "the host was interrupted; the sandbox was removed")
        if host_status == t.OUTPUT_LIMIT or over_cap:
            return fail(
                t.OUTPUT_LIMIT,
                "OutputLimit",
                f"outputs/ reached its cap of {req.output_max_mb} MB or {MAX_OUTPUT_FILES} files",
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
        if report.get("stream_flood"):
            return fail(
                t.OUTPUT_LIMIT,
                "OutputLimit",
                f"stdout/stderr exceeded {req.stream_max_bytes * STREAM_KILL_FACTOR} bytes; subagent stopped",
            )
        if report.get("stopped"):
            return fail(t.KILLED, "Killed", "stopped by the host")
        sig = report.get("signal")
        if sig:
            if sig == 24:  # SIGXCPU: the CPU-time rlimit
                return fail(t.TIMEOUT, "Timeout", "killed by the CPU-time limit")
            return fail(t.KILLED, "Killed", f"the subagent process was killed by signal {sig}")
        if result is None:
            return fail(
                t.ERROR,
                "SubagentExit",
                f"the subagent process exited with code {report.get('exit_code')} before run() returned",
            )
        if isinstance(result, str):  # a refusal from _read_result
            return fail(t.OUTPUT_LIMIT if "bytes" in result else t.ERROR, "ResultRejected", result)
        if result.get("ok"):
            trace.result = result.get("result")
            trace.result_preview = t.preview(trace.result)
            return trace
        error = result.get("error") if isinstance(result.get("error"), dict) else {}
        trace.error = {
            "type": str(error.get("type", "Error")),
            "message": str(error.get("message", "")),
            "frames": [f for f in error.get("frames", []) if isinstance(f, dict)][:50],
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


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _copy_tree(src: Path, dest: Path, limit: int, what: str) -> None:
    total = 0
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = [d for d in dirnames if d not in _SKIP and not os.path.islink(os.path.join(dirpath, d))]
        rel = os.path.relpath(dirpath, src)
        target = dest if rel == "." else dest / rel
        target.mkdir(parents=True, exist_ok=True)
        os.chmod(target, 0o755)
        for name in filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode):
                continue
            total += st.st_size
            if total > limit:
                raise UsageError(f"The {what} in {src} exceed {limit >> 20} MB.")
            shutil.copyfile(path, target / name)
            os.chmod(target / name, 0o644)


def copy_outputs(src: Path, dest: Path, cap: int) -> tuple[list[str], list[str]]:
    """Copy regular, singly-linked files from `src` to `dest`; refuse everything else. Returns
    (copied, refused) as relative paths. Never follows a link on either side."""
    copied: list[str] = []
    refused: list[str] = []
    dest.mkdir(parents=True, exist_ok=True)
    dest_root = dest.resolve()
    total = 0
    for dirpath, dirnames, filenames in os.walk(src):
        rel_dir = os.path.relpath(dirpath, src)
        for d in list(dirnames):
            if os.path.islink(os.path.join(dirpath, d)):
                dirnames.remove(d)
                refused.append(os.path.normpath(os.path.join(rel_dir, d)))
        for name in sorted(filenames):
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if len(copied) + len(refused) >= MAX_OUTPUT_FILES:
                refused.append(rel)
                continue
            path = os.path.join(dirpath, name)
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            except OSError:
                refused.append(rel)  # a symlink (ELOOP) or unreadable
                continue
            try:
                st = os.fstat(fd)
                if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or total + st.st_size > cap:
                    refused.append(rel)
                    continue
                target = (dest / rel).resolve()
                if not target.is_relative_to(dest_root) or rel.startswith(".."):
                    refused.append(rel)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.exists() or target.is_symlink():
                    target.unlink()
                out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
                with os.fdopen(out, "wb") as fh_out, os.fdopen(os.dup(fd), "rb") as fh_in:
                    remaining = st.st_size
                    while remaining > 0:
                        chunk = fh_in.read(min(remaining, 1 << 20))
                        if not chunk:
                            break
                        fh_out.write(chunk)
                        remaining -= len(chunk)
                total += st.st_size
                copied.append(rel)
            finally:
                os.close(fd)
    return copied, refused


def _read_bounded(path: Path, limit: int) -> bytes | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return None
        return fh.read(limit + 1)


def read_json(path: Path, limit: int) -> dict[str, Any] | None:
    data = _read_bounded(path, limit)
    if data is None or len(data) > limit:
        return None
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _read_result(path: Path, limit: int) -> dict[str, Any] | str | None:
    """The runner's result: a dict, a refusal sentence, or None when there is none."""
    data = _read_bounded(path, limit)
    if data is None:
        return None
    if len(data) > limit:
        return f"the result file exceeds {limit} bytes"
    try:
        value = json.loads(data)
    except RecursionError:
        return "the result is nested too deeply"
    except ValueError:
        return "the result file is not valid JSON"
    if not isinstance(value, dict):
        return "the result file is not a JSON object"
    if t.max_depth_exceeded(value, t.DEFAULT_RESULT_MAX_DEPTH + 2):
        return "the result is nested too deeply"
    return value


def _stream(path: Path, total: int, req: t.ExecutionRequest) -> str:
    data = _read_bounded(path, req.stream_max_bytes) or b""
    data = data[-req.stream_max_bytes :]
    text = data.decode("utf-8", errors="replace")
    if total > len(data):
        text = f"[... {total - len(data)} bytes cut; {total} bytes in total ...]\n" + text
    return text
