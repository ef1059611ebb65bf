"""In-sandbox runner: `python3 -I -B runner.py CTL_DIR [--user UID:GID] [--path DIR:DIR...]
[--preload MOD,MOD...] [--done]`.
Standard library only; never imports agentfactory.

The job's `rlimits` (address space and file size in bytes, CPU seconds, processes; the local backend's)
are set in the subagent's process before anything of it runs (the host starts us without a pre-exec
hook, so it never forks itself whole, and may start us before the job is known).
With --user and started as root (the local backend on a root host, inside bubblewrap with only
CAP_SETUID/CAP_SETGID), it then becomes UID:GID with no supplementary groups, which drops every
capability, before it reads anything.
--preload: modules imported ahead of time (a sandbox started ahead, waiting for its job), so the subagent
starts in an interpreter that already has them; a module that fails to import is skipped. They are
imported by the runner itself, then frozen out of the garbage collector's sight (gc.freeze), before the
subagent's process is forked from it: the subagent shares those pages copy-on-write, and its exit unmaps
them instead of freeing them (a warm interpreter's teardown costs milliseconds), while a collection in the
subagent never walks (nor copies) them. A second child is forked before the imports: code that imports
only the standard library and its own files runs there (_needs_warm), since a fork of the warm
interpreter takes milliseconds to tear down at its exit, and the execution waits for that exit (a fork
of a bare one takes a fraction of one). The child not chosen is left waiting for a job that never
comes, and exits with the runner: ending it earlier put its teardown beside the execution. The
runner is still single-use: one job, one subagent, then it exits with its sandbox. --path: folders
searched for the preloaded modules (the local backend starts Python with -S; the job brings the same
folders for the subagent).
With --preload, the job's address-space limit counts from what the serving interpreter already maps:
the subagent gets the same room as in a fresh interpreter, never less.
--done (only in a sandbox with its own PID namespace, a container or bubblewrap's, which holds nothing
but this runner, its init and the subagent; checked: our parent must be PID 1): once ready for its job
the runner writes one byte to the FIFO `CTL_DIR/done`, and its completion is reported to the host at
once, without waiting for the sandbox to stop. The
job arrives prefixed by a 32-byte token that the subagent never sees (it is read into memory wiped in a
forked child, and the runner is made non-dumpable, so /proc/PID/mem and ptrace are closed to the
subagent, which runs under the same uid, and so is the child given no job, forked before the token was
read). Once the subagent ended, the runner kills every other process of the sandbox (but that child),
waits until none is left, writes its reports, then writes the token to `CTL_DIR/done`. The host trusts a
completion only with that token.

Protocol with the host:
- CTL_DIR is the host's, read-only here: the job is read to EOF from the FIFO `go` (a runner started
  ahead blocks there until the host hands it a job); `stop` appears when the host wants the subagent
  stopped. Job keys: entry, code_dir, work_dir, report_dir, inputs, runtime_dir,
  tools_socket, site_paths, result_max_bytes, result_max_depth, stream_max_bytes, stream_kill_bytes,
  output_max_bytes, forward_bytes, rlimits.
- the runner forks: the child imports the entry module, calls `run(**inputs)` and writes
  REPORT_DIR/result.json ({"ok": true, "result": ...} or {"ok": false, "error": {...}, "limit": ...});
  the parent captures the child's stdout and stderr through pipes (keeping only a bounded tail), waits
  for it and writes REPORT_DIR/status.json (exit code, signal, peak memory, byte counts) and
  `stdout.bin` / `stderr.bin` (of a stream it wrote to). The subagent can write REPORT_DIR too: the host trusts none of it.
The host decides the status from its own timer, the container state and these files; what the subagent
prints goes only into the stream tails and is never parsed. Results are JSON, never pickle.
"""

import contextlib
import json
import os
import re
import resource
import select
import signal
import sys
import time


def _read_job(ctl, secret=None):
    """The job, decoded and as read; with `secret` (a writable buffer), the FIFO's first len(secret) bytes are read into it
    directly (never into an object the forked subagent could find in its copy of our memory)."""
    fifo = os.path.join(ctl, "go")
    while True:
        fd = os.open(fifo, os.O_RDONLY)
        try:
            if secret is not None and not _read_into(fd, secret):
                continue  # a writer that gave up before writing: wait for the next one
            chunks = []
            while True:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(fd)
        data = b"".join(chunks)
        if data.strip():
            return json.loads(data), data


def _read_into(fd, buf):
    view = memoryview(buf)
    got = 0
    while got < len(view):
        n = os.readv(fd, [view[got:]])
        if not n:
            return False
        got += n
    return True


def _write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _frames(tb_exc, code_dir):
    import traceback

    frames = []
    for fr in traceback.extract_tb(tb_exc.__traceback__):
        if fr.filename.startswith(code_dir + os.sep):
            frames.append(
                {
                    "file": os.path.relpath(fr.filename, code_dir),
                    "line": fr.lineno,
                    "function": fr.name,
                    "source": (fr.line or "").strip()[:300],
                }
            )
    if isinstance(tb_exc, SyntaxError) and tb_exc.filename and tb_exc.filename.startswith(code_dir):
        frames.append(
            {
                "file": os.path.relpath(tb_exc.filename, code_dir),
                "line": tb_exc.lineno,
                "function": "<module>",
                "source": (tb_exc.text or "").strip()[:300],
            }
        )
    return frames


def _error(exc, code_dir, limit=None):
    kind = type(exc)
    name = (
        kind.__qualname__
        if kind.__module__ in ("builtins", "__main__")
        else kind.__module__ + "." + kind.__qualname__
    )
    try:
        message = str(exc)
    except Exception:  # a hostile __str__ must not break the report
        message = "<unprintable exception>"
    out = {"ok": False, "error": {"type": name, "message": message[:4000], "frames": _frames(exc, code_dir)}}
    if limit:
        out["limit"] = limit
    return out


def _too_deep(value, limit):
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list, tuple)):
            if depth > limit:
                return True
            stack.extend((c, depth + 1) for c in (item.values() if isinstance(item, dict) else item))
    return False


def _jsonable(obj):
    # numpy / pandas values without importing them
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", None) == 0:
        return obj.item()
    if hasattr(obj, "tolist") and callable(obj.tolist):
        return obj.tolist()
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return obj.to_dict()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    raise TypeError(f"run() returned a {type(obj).__name__}, which is not JSON-serialisable")


class ResultTooDeep(ValueError):
    pass


class ResultTooLarge(ValueError):
    pass


def _child_ahead(job_r, ready_w, out_w, err_w, guard, warm):
    """The subagent's process before its job: own process group, the import system primed, then the job."""
    os.setpgid(0, 0)
    _prime_imports()
    os.write(ready_w, b"r")
    os.close(ready_w)
    chunks = []
    while True:
        chunk = os.read(job_r, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(job_r)
    if not chunks:  # the runner is gone without a job
        os._exit(0)
    _child(json.loads(b"".join(chunks)), out_w, err_w, guard, _mapped_bytes() if warm else 0)


def _prime_imports():
    """What every subagent's first import pays once per interpreter (importlib, the compiler's first
    use), paid before the job arrives. Nothing of the job is known yet."""
    import importlib  # noqa: F401 - imported for its side effect

    compile("def run():\n    return None\n", "<prime>", "exec")


def _mapped_bytes():
    """This process's address space (VmSize), before anything of the subagent ran."""
    try:
        with open("/proc/self/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _fork_ahead(guard, warm, close=()):
    """A child forked now that waits for its job (_child_ahead): (pid, the job's pipe, its stdout's and
    stderr's pipes). `close`: our descriptors it must not keep (an earlier child's pipes)."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    job_r, job_w = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        for fd in (out_r, err_r, job_w, ready_r, *close):
            os.close(fd)
        try:
            _child_ahead(job_r, ready_w, out_w, err_w, guard, warm)
        finally:
            os._exit(71)
    for fd in (job_r, ready_w, out_w, err_w):
        os.close(fd)
    os.read(ready_r, 1)  # the child is ready (or gone: then it reports its exit)
    os.close(ready_r)
    return pid, job_w, out_r, err_r


_SCAN_FILES = 64  # _needs_warm reads at most this many .py files, and this many bytes in all
_SCAN_BYTES = 1 << 20
_IMPORT_LINE = re.compile(rb"^[ \t]*(?:import[ \t]+([^#;\n]+)|from[ \t]+(\.*)([A-Za-z_]\w*))", re.M)
_DYNAMIC_IMPORT = re.compile(rb"__import__|import_module|importlib")
_OWN_MODULES = frozenset({"agentfactory_tools"})  # the runtime's, beside the standard library
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ()))  # none known: every import says warm


def _needs_warm(code_dir):
    """Whether the subagent's code may import a module beyond the standard library and its own files
    (then the warm interpreter serves it: what it imports may be preloaded or need what is). Read from
    its .py files' import lines, without running anything of them: a name outside the standard library
    and the code's own modules, a dynamic import, more code than _SCAN_FILES / _SCAN_BYTES, or anything
    unreadable says yes. Only the speed depends on it: either interpreter runs any subagent alike."""
    files, names, size = [], set(), 0
    stack = [(code_dir, 0)]
    try:
        while stack:
            folder, depth = stack.pop()
            with os.scandir(folder) as entries:
                for entry in entries:
                    name = entry.name
                    if entry.is_dir(follow_symlinks=False) and depth < 8:
                        if depth == 0:
                            names.add(name)  # a package of its own
                        stack.append((entry.path, depth + 1))
                    elif name.endswith(".py") and entry.is_file(follow_symlinks=False):
                        if depth == 0:
                            names.add(name[:-3])
                        files.append(entry.path)
                        size += entry.stat(follow_symlinks=False).st_size
            if len(files) > _SCAN_FILES or size > _SCAN_BYTES:
                return True
        own = names | _OWN_MODULES
        for path in files:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
            try:
                text = os.read(fd, _SCAN_BYTES + 1)
            finally:
                os.close(fd)
            if _DYNAMIC_IMPORT.search(text):
                return True
            for plain, dots, module in _IMPORT_LINE.findall(text):
                if dots:
                    continue  # relative: its own files
                tops = [module] if module else [part.split()[0].split(b".")[0] for part in plain.split(b",")]
                for top in tops:
                    top = top.strip(b"( \t\\").decode("ascii", "replace")
                    if top and top not in _STDLIB and top not in own:
                        return True
    except (OSError, IndexError):
        return True
    return False


def _child(job, out_w, err_w, guard=None, base=0):
    if guard is not None:
        guard.child()
    if job.get("rlimits"):  # the local backend's limits, for the subagent's process (and its children)
        _set_limits(job["rlimits"], base)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    code_dir = job["code_dir"]
    result_path = os.path.join(job["report_dir"], "result.json")
    cap = job.get("output_max_bytes")
    if cap:  # per-file cap; the host also watches the total. Room for the result file itself.
        cap = max(cap, job["result_max_bytes"] + 65536)
        resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))
    os.chdir(job["work_dir"])
    sys.path[:0] = [code_dir, job["runtime_dir"]]
    # The local backend starts us with -S (site's .pth processing is slow); it passes the plain
    # site-packages folders instead, without running any .pth code.
    sys.path.extend(p for p in job.get("site_paths", []) if p not in sys.path)
    if job.get("tools_socket"):
        os.environ["AGENTFACTORY_TOOLS_SOCKET"] = job["tools_socket"]
    sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1)  # noqa: SIM115
    sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1)  # noqa: SIM115
    try:
        import importlib

        module = importlib.import_module(job["entry"])
        fn = getattr(module, "run", None)
        if not callable(fn):
            raise AttributeError(f"module '{job['entry']}' has no function run()")
        result = fn(**job.get("inputs", {}))
        if _too_deep(result, job["result_max_depth"]):
            raise ResultTooDeep(f"run() returned a value nested deeper than {job['result_max_depth']} levels")
        try:
            data = json.dumps({"ok": True, "result": result}, default=_jsonable, ensure_ascii=False)
        except RecursionError:
            raise ResultTooDeep("run() returned a value nested too deeply to serialise") from None
        data = data.encode("utf-8", "surrogatepass")
        if len(data) > job["result_max_bytes"]:
            raise ResultTooLarge(
                f"run() returned {len(data)} bytes of JSON; the limit is {job['result_max_bytes']}"
            )
        out = data
    except BaseException as exc:  # noqa: BLE001 - everything the subagent raises is reported
        limit = "result" if isinstance(exc, ResultTooLarge) else None
        out = json.dumps(_error(exc, code_dir, limit), ensure_ascii=False, default=repr).encode(
            "utf-8", "backslashreplace"
        )
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:
        pass
    try:
        _write_atomic(result_path, out)
    except OSError:
        os._exit(70)
    os._exit(0)


class _Tail:
    """Keep the last `cap` bytes of a stream and count all of them."""

    def __init__(self, cap):
        self.cap = cap
        self.buf = bytearray()
        self.total = 0

    def add(self, chunk):
        self.total += len(chunk)
        self.buf += chunk
        if len(self.buf) > 2 * self.cap:
            del self.buf[: len(self.buf) - self.cap]

    def tail(self):
        return bytes(self.buf[-self.cap :]) if self.cap else b""


def _kill(pid):
    for target in (-pid, pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(target, signal.SIGKILL)


def _forwarding(job):
    """Bytes of the subagent's stdout to copy live to our own stdout (a host view reads it), 0 = none.
    Non-blocking, so a reader that stops reading can never stall the runner."""
    budget = int(job.get("forward_bytes") or 0)
    if budget:
        try:
            os.set_blocking(1, False)
        except OSError:
            return 0
    return budget


_END_LABEL = b"agentfactory-stream-end:"  # live_output.end_marker derives the same marker


def _end_stream(token):
    """After the last forwarded byte, and once nothing of the subagent is left: the marker that ends
    the host's live view (live_output.py), derived from the completion token, so only we can write it."""
    import hashlib  # imported ahead in a sandbox that reports its completion (main)

    view = memoryview(hashlib.sha256(_END_LABEL + bytes(token)).digest())
    end = time.monotonic() + 2.0
    while view and time.monotonic() < end:
        try:
            view = view[os.write(1, view) :]
        except BlockingIOError:
            time.sleep(0.002)  # the host drains the stream
        except OSError:
            return


def _forward(chunk, budget):
    try:
        return budget - os.write(1, chunk[:budget])
    except OSError:
        return 0


def _drop_privileges(spec):
    uid, gid = (int(x) for x in spec.split(":"))
    if os.getuid() == 0 or os.geteuid() == 0:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    if 0 in os.getresuid() or 0 in os.getresgid():
        os._exit(72)


def _set_limits(limits, base=0):
    """`base`: the address space a warm interpreter maps before the subagent runs (0 when cold)."""
    memory, cpu, fsize, nproc = (int(x) for x in limits)
    memory += base
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Counted per user on the whole host; root is exempt until the runner drops its identity.
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def _preload(spec, paths=""):
    """Import the pre-started interpreter's modules (in the runner, before the subagent's process is
    forked from it), then freeze them out of the collector's sight. Nothing the subagent does can reach
    them before its job arrives: this runs before the job is read."""
    import gc
    import importlib

    sys.path.extend(p for p in paths.split(os.pathsep) if p and p not in sys.path)
    for name in spec.split(","):
        if not name:
            continue
        try:
            module = importlib.import_module(name)
            _PRIME.get(name, lambda m: None)(module)
        except Exception:  # noqa: BLE001 - a package the image lacks: the subagent imports what it needs
            continue
    gc.collect()
    gc.freeze()


def _prime_matplotlib(matplotlib):
    # The Agg backend and pyplot, and one figure drawn and closed: the first figure otherwise pays for
    # the backend's import and the font and tick caches. close("all") leaves pyplot numbering from 1.
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    plt.close("all")


def _prime_pandas(pandas):
    pandas.DataFrame({"a": [1, 2]})["a"].sum()


_PRIME = {"matplotlib": _prime_matplotlib, "pandas": _prime_pandas}


_TOKEN_BYTES = 32
_PR_SET_DUMPABLE = 4
_MADV_WIPEONFORK = 18


class _Guard:
    """The completion token and what keeps it from the subagent (see --done above)."""

    def __init__(self):
        import ctypes
        import mmap

        self.libc = ctypes.CDLL(None, use_errno=True)
        self.token = mmap.mmap(-1, 4096, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        self.token.madvise(_MADV_WIPEONFORK)  # OSError on a kernel without it: no --done then
        if self.libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
            raise OSError("prctl(PR_SET_DUMPABLE) failed")
        self.buf = memoryview(self.token)[:_TOKEN_BYTES]

    def child(self):
        # The subagent gets its own /proc/self back (tools such as subprocess read /proc/self/fd);
        # its parent, the runner, stays closed to it.
        self.libc.prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0)

    def others_gone(self, spare=(), deadline_s=2.0):
        """Kill every process of the sandbox but its init, us and `spare`; True once none of them is
        left, not even as a zombie (the init reaps them at once). They are listed and killed one by one,
        again until a listing shows none: a new process is only ever the child of a live one, so none
        can appear after that. `spare`: our child that was given no job, blocked on a pipe only we
        write (no teardown of it beside the report; it exits with us, its pid ours meanwhile)."""
        keep = {1, os.getpid(), *spare}
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            others = [pid for pid in _pids() if pid not in keep]
            if not others:
                return True
            for pid in others:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.0005)
        return False

    def report_done(self, ctl):
        end = time.monotonic() + 2.0
        try:
            fd = os.open(os.path.join(ctl, "done"), os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            return
        try:
            while time.monotonic() < end:
                try:
                    os.write(fd, self.buf)  # 32 bytes: one atomic write, whatever else is in the pipe
                    return
                except BlockingIOError:
                    time.sleep(0.002)  # the host drains what the subagent wrote there
        except OSError:
            pass
        finally:
            os.close(fd)


def _signal(ctl, data):
    try:
        fd = os.open(os.path.join(ctl, "done"), os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    try:
        os.write(fd, data)
    except OSError:
        pass
    finally:
        os.close(fd)


def _pids():
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            out.append(int(name))
    return out


def main(ctl, user=None, preload=None, report_done=False, path=""):
    if user:
        _drop_privileges(user)
    guard = secret = None
    if report_done:  # the job comes after a token, kept only when it can be kept from the subagent
        if os.getppid() == 1:  # our parent is the container's init: we are in its PID namespace
            try:
                guard = _Guard()
            except (OSError, AttributeError, ValueError):
                guard = None
        secret = guard.buf if guard is not None else bytearray(_TOKEN_BYTES)
        import hashlib  # noqa: F401 - for _end_stream, imported before the job
    # The subagent's process is forked ahead, before the job, so neither the fork nor the imports are on
    # the execution's path, and nothing of the job (nor the token) is in our memory when it is copied.
    # With a preload there are two: one forked before the imports ("cold") and one after ("warm"). The
    # job goes to the warm one only when the subagent's code imports something beyond the standard
    # library and its own files (_needs_warm): a fork of the warm interpreter takes milliseconds to tear
    # down at its exit, which the execution waits for; a cold one a fraction of one. The other is left
    # waiting, so that no teardown of it runs beside the execution; it exits with us.
    cold = None
    if preload:
        cold = _fork_ahead(guard, warm=False)
        _preload(preload, path)
    warm = _fork_ahead(guard, warm=bool(preload), close=cold[1:] if cold else ())
    if report_done:  # tell the host we wait for the job (a probe of the FIFO `go` could lose a job)
        _signal(ctl, b"R")
    job, data = _read_job(ctl, secret)
    report = job["report_dir"]
    started = time.monotonic()
    child, unused = (warm, cold) if cold is None or _needs_warm(job["code_dir"]) else (cold, warm)
    spare = ()
    if unused is not None:  # blocked on its job pipe, whose one writer is ours, until we exit
        os.close(unused[2])
        os.close(unused[3])
        spare = (unused[0],)
    pid, job_w, out_r, err_r = child
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(job_w, view) :]
    except OSError:
        pass  # the child is gone; its status says how
    finally:
        os.close(job_w)
    tails = {out_r: _Tail(job["stream_max_bytes"]), err_r: _Tail(job["stream_max_bytes"])}
    kill_at = job.get("stream_kill_bytes") or 0
    open_fds = [out_r, err_r]
    flooded = stopped = False
    stop_path = os.path.join(ctl, "stop")
    forward = _forwarding(job)
    status = usage = None
    exited_at = None
    while True:
        if status is None:
            done, st, ru = os.wait4(pid, os.WNOHANG)
            if done:
                status, usage, exited_at = st, ru, time.monotonic()
        if status is not None and (not open_fds or time.monotonic() - exited_at > 0.2):
            break  # grandchildren may hold the pipes open: give them 200 ms, then stop listening
        if not open_fds:
            _, status, usage = os.wait4(pid, 0)
            exited_at = time.monotonic()
            continue
        ready, _, _ = select.select(open_fds, [], [], 0.05)
        for fd in ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                open_fds.remove(fd)
                continue
            tails[fd].add(chunk)
            if forward and fd == out_r:
                forward = _forward(chunk, forward)
        if kill_at and not flooded and tails[out_r].total + tails[err_r].total > kill_at:
            flooded = True
            _kill(pid)
        if not stopped and status is None and os.path.exists(stop_path):
            stopped = True  # the host's timer ran out: stop the subagent, then report what we have
            _kill(pid)
    # The subagent's own peak (and that of the processes it reaped), from its wait status: not
    # getrusage(RUSAGE_CHILDREN), which also holds whatever this process reaped before, such as the
    # helper programs some preloaded packages run at import, each with the preloaded interpreter's
    # resident size.
    status_report = {
        "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "maxrss_kb": usage.ru_maxrss,
        "stdout_bytes": tails[out_r].total,
        "stderr_bytes": tails[err_r].total,
        "stream_flood": flooded,
        "stopped": stopped,
        "duration_s": round(time.monotonic() - started, 6),
    }
    for name, tail in (("stdout.bin", tails[out_r]), ("stderr.bin", tails[err_r])):
        if tail.total:  # a stream the subagent never wrote to has no file: the host reads none
            _write_atomic(os.path.join(report, name), tail.tail())
    finished = guard is not None and guard.others_gone(spare)
    _write_atomic(os.path.join(report, "status.json"), json.dumps(status_report).encode())
    if finished:
        if job.get("forward_bytes"):  # a live view follows our stdout: end it
            _end_stream(guard.buf)
        guard.report_done(ctl)


def _options(argv):
    ctl, opts, rest = argv[0], {}, argv[1:]
    while rest:
        flag = rest.pop(0)
        if flag == "--done":
            opts["report_done"] = True
        elif flag in ("--user", "--preload", "--path") and rest:
            opts[flag[2:]] = rest.pop(0)
        else:
            raise SystemExit(f"runner: unknown argument {flag}")
    return ctl, opts


if __name__ == "__main__":
    _ctl, _opts = _options(sys.argv[1:])
    main(_ctl, **_opts)
