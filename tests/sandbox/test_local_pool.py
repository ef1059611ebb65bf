"""The local backend's sandbox started ahead: single-use, and as hardened as one started on demand."""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

import pytest

from agentfactory.config import SandboxSettings
from agentfactory.sandbox import ExecutionRequest
from agentfactory.sandbox.local import LocalBackend

from .conftest import SETTINGS

pytestmark = pytest.mark.skipif(not shutil.which("bwrap"), reason="bubblewrap is not installed")


@pytest.fixture
def pooled():
    backend = LocalBackend(SETTINGS, pool_size=1)
    yield backend
    backend.close()


def _ready(backend, timeout_s=30.0) -> None:
    import time

    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        with backend._lock:
            box = backend._ready
        if box is not None:
            return
        time.sleep(0.01)
    raise AssertionError("the local sandbox started ahead never became ready")


def _run(backend, tmp_path, source, name, **kw):
    code = tmp_path / f"code-{name}"
    code.mkdir(exist_ok=True)
    (code / f"{name}.py").write_text(textwrap.dedent(source))
    _ready(backend)
    kw.setdefault("timeout_s", 5)
    kw.setdefault("memory_mb", 128)
    return backend.execute(ExecutionRequest(code, name, kw.pop("inputs", {}), **kw))


def test_local_pool_changes_are_absent_in_the_next_execution(pooled, tmp_path):
    first = _run(
        pooled,
        tmp_path,
        """
        import json, os, sys, types

        def run():
            json.hygiene_marker = 1                     # a global in a module the runner imported
            sys.modules["hygiene_planted"] = types.ModuleType("hygiene_planted")
            open("/tmp/hygiene-file", "w").write("x")   # the private /tmp
            os.environ["HYGIENE_ENV"] = "1"
            return os.getpid()
        """,
        "leave",
    )
    assert first.status == "ok", first.compact()
    second = _run(
        pooled,
        tmp_path,
        """
        import json, os, sys

        def run():
            return {
                "global": hasattr(json, "hygiene_marker"),
                "module": "hygiene_planted" in sys.modules,
                "file": os.path.exists("/tmp/hygiene-file"),
                "env": "HYGIENE_ENV" in os.environ,
            }
        """,
        "check",
    )
    assert second.status == "ok", second.compact()
    assert second.result == {"global": False, "module": False, "file": False, "env": False}
    assert first.sandbox_id != second.sandbox_id


def test_local_pool_sandbox_keeps_identity_and_the_requests_limits(pooled, tmp_path):
    trace = _run(
        pooled,
        tmp_path,
        """
        import os, resource

        def run():
            return {
                "uid": os.getuid(),
                "as": resource.getrlimit(resource.RLIMIT_AS)[0],
                "cpu": resource.getrlimit(resource.RLIMIT_CPU)[0],
                "shadow": os.path.exists("/etc/shadow"),
            }
        """,
        "limits",
        memory_mb=96,
        timeout_s=4,
    )
    assert trace.status == "ok", trace.compact()
    assert trace.result == {"uid": 65534 if os.geteuid() == 0 else trace.result["uid"], "as": 96 << 20,
                            "cpu": 5, "shadow": False}  # fmt: skip
    assert trace.result["uid"] != 0
    memory = _run(
        pooled, tmp_path, "def run():\n    return len(bytearray(200 << 20))\n", "bomb", memory_mb=96
    )
    assert memory.status == "oom", memory.compact()


def test_local_pool_close_leaves_no_process(tmp_path):
    backend = LocalBackend(SETTINGS, pool_size=1)
    _ready(backend)
    with backend._lock:
        pid = backend._ready.proc.pid
    backend.close()
    stat = Path(f"/proc/{pid}/stat")
    assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_local_forged_completion_does_not_end_the_execution_early(pooled, tmp_path):
    trace = _run(
        pooled,
        tmp_path,
        """
        import os, time

        def run():
            fd = os.open("/sandbox/ctl/done", os.O_WRONLY)
            for _ in range(200):
                os.write(fd, os.urandom(32))
            os.close(fd)
            try:
                os.open("/sandbox/ctl/done", os.O_RDONLY | os.O_NONBLOCK)
                readable = True
            except PermissionError:
                readable = False
            time.sleep(0.5)
            with open("outputs/late.txt", "w") as fh:
                fh.write("after")
            return {"readable": readable}
        """,
        "forge",
        output_dir=tmp_path / "out",
    )
    assert trace.status == "ok", trace.compact()
    assert trace.result == {"readable": False}
    assert trace.duration_s >= 0.5
    assert (tmp_path / "out" / "late.txt").read_text() == "after"


# ---- the warm interpreter (sandbox_preload) ------------------------------------------------------------

WARM = SandboxSettings(memory_mb=256, timeout_s=20)  # warm imports need at least base.PRELOAD_MIN_MB


@pytest.fixture(scope="module")
def warm():
    backend = LocalBackend(WARM, pool_size=1)
    yield backend
    backend.close()


def _run_warm(backend, tmp_path, source, name, **kw):
    assert backend.wait_pool(120), "the warm sandbox never became ready"
    kw.setdefault("memory_mb", WARM.memory_mb)
    kw.setdefault("timeout_s", WARM.timeout_s)
    return _run(backend, tmp_path, source, name, **kw)


def test_local_warm_interpreter_changes_are_absent_in_the_next_execution(warm, tmp_path):
    from .test_pool_hygiene import CHECK, LEAVE

    first = _run_warm(warm, tmp_path, LEAVE, "leave")
    assert first.status == "ok", first.compact()
    assert first.result == {"warm": True}  # the pre-imported interpreter really served it
    second = _run_warm(warm, tmp_path, CHECK, "check")
    assert second.status == "ok", second.compact()
    assert second.result == {
        "warm": True,
        "global": False,
        "class": False,
        "module": False,
        "file": False,
        "env": False,
    }
    assert first.sandbox_id != second.sandbox_id


LIMITS = """
import resource, sys

def run(size_mb):
    data = bytearray(size_mb << 20)
    return {"as": resource.getrlimit(resource.RLIMIT_AS)[0], "warm": "matplotlib" in sys.modules,
            "size": len(data)}
"""


def test_local_warm_memory_limit_counts_from_the_warm_interpreter(warm, tmp_path):
    # The request's limit is the subagent's own: the warm interpreter's mappings come on top, so what
    # fits in a fresh interpreter fits in a warm one, and the limit still holds beyond it.
    source = "import numpy  # beyond the standard library: the warm interpreter serves it\n" + LIMITS
    fits = _run_warm(warm, tmp_path, source, "fits", inputs={"size_mb": 200})
    assert fits.status == "ok", fits.compact()
    assert fits.result["warm"] is True and fits.result["size"] == 200 << 20
    assert fits.result["as"] > 256 << 20
    over = _run_warm(warm, tmp_path, source, "over", inputs={"size_mb": 320})
    assert over.status == "oom", over.compact()


def test_local_request_below_the_preload_minimum_gets_a_fresh_interpreter(warm, tmp_path):
    trace = _run_warm(warm, tmp_path, LIMITS, "small", inputs={"size_mb": 1}, memory_mb=128)
    assert trace.status == "ok", trace.compact()
    assert trace.result == {"as": 128 << 20, "warm": False, "size": 1 << 20}


def test_local_standard_library_code_runs_in_the_interpreter_forked_before_the_preload(warm, tmp_path):
    # Its limit is a fresh interpreter's: nothing preloaded is mapped under it.
    trace = _run_warm(warm, tmp_path, LIMITS, "cold", inputs={"size_mb": 1})
    assert trace.status == "ok", trace.compact()
    assert trace.result == {"as": 256 << 20, "warm": False, "size": 1 << 20}


@pytest.mark.parametrize("warm_import", [False, True], ids=["cold", "warm"])
def test_local_peak_memory_is_the_subagents_own(warm, tmp_path, warm_import):
    from .test_pool_hygiene import PEAK, WARM_IMPORT, assert_own_peak

    source = (WARM_IMPORT if warm_import else "") + textwrap.dedent(PEAK)
    trace = _run_warm(warm, tmp_path, source, "peak", inputs={"size_mb": 64})
    assert_own_peak(trace, 64)


def test_local_pool_close_does_not_wait_out_the_back_off_of_a_failed_start(monkeypatch):
    """A start that failed backs off before the next; close() (every command's exit) ends the back-off at
    once instead of waiting for it: a run that ended before its warm sandbox was ready spent 0.5 s there."""
    import time

    from agentfactory.errors import SandboxError

    started = []

    def failing(self, warm=False):
        started.append(time.monotonic())
        raise SandboxError("no sandbox here")

    monkeypatch.setattr(LocalBackend, "_start", failing)
    backend = LocalBackend(SETTINGS, pool_size=1)
    end = time.monotonic() + 5
    while not started and time.monotonic() < end:
        time.sleep(0.005)
    assert started
    begin = time.monotonic()
    backend.close()
    assert time.monotonic() - begin < 0.3


def test_a_backend_not_started_ahead_starts_its_sandbox_at_prepare_or_its_first_execution(tmp_path):
    import time

    for how in ("prepare", "execution"):
        backend = LocalBackend(SETTINGS, pool_size=1, start_ahead=False)
        try:
            time.sleep(0.3)
            with backend._lock:
                assert backend._ready is None and not backend._prepared, how
            if how == "prepare":
                backend.prepare()
                backend.prepare()  # once is enough
            else:
                code = tmp_path / "code"
                code.mkdir(exist_ok=True)
                (code / "one.py").write_text("def run():\n    return 1\n")
                trace = backend.execute(ExecutionRequest(code, "one", {}, timeout_s=5, memory_mb=128))
                assert trace.status == "ok", trace
            _ready(backend)
        finally:
            backend.close()


def test_local_pool_close_does_not_wait_for_a_sandbox_still_starting(monkeypatch):
    """close() (every command's exit) ends the pool's wait for its sandbox's readiness at once, not at the
    wait's next tick (made 30 s here: the wait would be seen)."""
    import subprocess
    import time

    from agentfactory.sandbox import local
    from agentfactory.sandbox.jobdir import JobDir
    from agentfactory.sandbox.reports import DoneChannel

    monkeypatch.setattr(local, "_READY_TICK_S", 30.0)
    started = []

    def never_ready(self, warm=False):  # a sandbox whose runner never says it waits for its job
        jd = JobDir(None)
        proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
        started.append(local._Prepared(jd, proc, local.INSIDE, done=DoneChannel(jd)))
        return started[-1]

    monkeypatch.setattr(LocalBackend, "_start", never_ready)
    backend = LocalBackend(SETTINGS, pool_size=1)
    end = time.monotonic() + 5
    while not started and time.monotonic() < end:
        time.sleep(0.005)
    assert started
    time.sleep(0.05)  # the filler waits in select() now
    begin = time.monotonic()
    backend.close()
    assert time.monotonic() - begin < 5
    assert started[0].proc.poll() is not None  # and the sandbox is ended
    assert not started[0].jd.root.exists()


def test_a_stop_signal_ends_a_wait_for_readiness_at_once():
    """What both pools wait with (docker's filler too): set from another thread, it ends the wait."""
    import threading
    import time

    from agentfactory.sandbox.jobdir import JobDir
    from agentfactory.sandbox.reports import DoneChannel, StopSignal

    jd = JobDir(None)
    done, stop = DoneChannel(jd), StopSignal()
    try:
        threading.Timer(0.1, stop.set).start()
        begin = time.monotonic()
        assert done.ready(30.0, stop) is False
        assert time.monotonic() - begin < 5
        assert stop.is_set() and stop.wait(0) and done.ready(30.0, stop) is False  # it stays set
    finally:
        stop.close()
        done.close()
        jd.remove()
