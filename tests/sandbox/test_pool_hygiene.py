"""Pre-started, warm sandboxes stay single-use: what one execution changes is absent in the next, and the
runner's early completion report cannot be forged or read by the subagent."""

from __future__ import annotations

import textwrap

import pytest

from agentfactory.config import SandboxSettings
from agentfactory.sandbox import ExecutionRequest

pytestmark = pytest.mark.docker

MEMORY_MB = 512  # warm imports need at least docker_backend.PRELOAD_MIN_MB

LEAVE = """
    import os, sys, types
    import numpy, pandas

    def run():
        warm = all(m in sys.modules for m in ("numpy", "pandas", "matplotlib"))
        numpy.hygiene_marker = "left by the first execution"   # a global in a pre-imported module
        pandas.DataFrame.hygiene_marker = 1                     # a class attribute
        sys.modules["hygiene_planted"] = types.ModuleType("hygiene_planted")   # a module
        with open("/tmp/hygiene-file", "w") as fh:              # a file
            fh.write("x")
        os.environ["HYGIENE_ENV"] = "1"                         # the environment
        return {"warm": warm}
"""

CHECK = """
    import os, sys
    import numpy, pandas

    def run():
        return {
            "warm": all(m in sys.modules for m in ("numpy", "pandas", "matplotlib")),
            "global": hasattr(numpy, "hygiene_marker"),
            "class": hasattr(pandas.DataFrame, "hygiene_marker"),
            "module": "hygiene_planted" in sys.modules,
            "file": os.path.exists("/tmp/hygiene-file"),
            "env": "HYGIENE_ENV" in os.environ,
        }
"""


INTERPRETERS = pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])


@pytest.fixture(scope="module")
def warm_backend(docker_client):
    from agentfactory.sandbox.docker_backend import DockerBackend

    backend = DockerBackend(SandboxSettings(memory_mb=MEMORY_MB), pool_size=1, client=docker_client)
    yield backend
    backend.close()


WARM_IMPORT = "import numpy  # an import beyond the standard library: the warm interpreter serves it\n"


def _run(backend, tmp_path, source, name="sub", warm=False, **kw):
    """`warm`: the code also imports numpy, so the interpreter forked after the preload serves it (the
    runner's _needs_warm); else it is of the standard library only, and the one forked before does."""
    code = tmp_path / f"code-{name}"
    code.mkdir(exist_ok=True)
    (code / f"{name}.py").write_text((WARM_IMPORT if warm else "") + textwrap.dedent(source))
    assert backend.wait_pool(120), "the warm pool never filled"
    kw.setdefault("timeout_s", 20)
    return backend.execute(ExecutionRequest(code, name, kw.pop("inputs", {}), memory_mb=MEMORY_MB, **kw))


def test_warm_interpreter_changes_are_absent_in_the_next_execution(warm_backend, tmp_path):
    first = _run(warm_backend, tmp_path, LEAVE, "leave")
    assert first.status == "ok", first.compact()
    assert first.result == {"warm": True}  # the pre-imported interpreter really served it
    second = _run(warm_backend, tmp_path, CHECK, "check")
    assert second.status == "ok", second.compact()
    assert second.result == {
        "warm": True,
        "global": False,
        "class": False,
        "module": False,
        "file": False,
        "env": False,
    }
    assert first.sandbox_id and second.sandbox_id and first.sandbox_id != second.sandbox_id


@INTERPRETERS
def test_forged_completion_does_not_end_the_execution_early(warm_backend, tmp_path, warm):
    # The subagent writes guesses to the completion FIFO, then keeps working: the host must wait for it.
    trace = _run(
        warm_backend,
        tmp_path,
        """
        import os, time

        def run():
            fd = os.open("/sandbox/ctl/done", os.O_WRONLY)
            for _ in range(200):
                os.write(fd, os.urandom(32))
            os.close(fd)
            time.sleep(0.7)
            with open("outputs/late.txt", "w") as fh:
                fh.write("written after the forged reports")
            return "finished"
        """,
        "forge",
        warm=warm,
        output_dir=tmp_path / "out",
    )
    assert trace.status == "ok", trace.compact()
    assert trace.result == "finished"
    assert trace.duration_s >= 0.7
    assert (tmp_path / "out" / "late.txt").read_text() == "written after the forged reports"


@INTERPRETERS
def test_subagent_cannot_read_the_completion_fifo_or_the_runners_memory(warm_backend, tmp_path, warm):
    trace = _run(
        warm_backend,
        tmp_path,
        """
        import os

        def attempt(fn):
            try:
                fn()
                return "opened"
            except OSError as exc:
                return type(exc).__name__

        def run():
            parent = os.getppid()
            return {
                "fifo": attempt(lambda: os.open("/sandbox/ctl/done", os.O_RDONLY | os.O_NONBLOCK)),
                "mem": attempt(lambda: open(f"/proc/{parent}/mem", "rb")),
                "environ": attempt(lambda: open(f"/proc/{parent}/environ", "rb")),
                "own_fds": len(os.listdir("/proc/self/fd")) > 0,
            }
        """,
        "peek",
        warm=warm,
    )
    assert trace.status == "ok", trace.compact()
    assert trace.result == {
        "fifo": "PermissionError",
        "mem": "PermissionError",
        "environ": "PermissionError",
        "own_fds": True,
    }


@INTERPRETERS
def test_background_process_is_gone_when_the_report_arrives(warm_backend, tmp_path, docker_client, warm):
    # A detached child that keeps writing to outputs/: the runner kills it before reporting, so the
    # host copies a tree nothing writes to any more, and no process of the container outlives it.
    trace = _run(
        warm_backend,
        tmp_path,
        """
        import os, signal, time

        def run():
            if os.fork() == 0:
                os.setsid()
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                n = 0
                while True:
                    n += 1
                    with open("outputs/count.tmp", "w") as fh:
                        fh.write(str(n))
                    os.replace("outputs/count.tmp", "outputs/count.txt")
                    time.sleep(0.001)
            time.sleep(0.3)
            return "parent done"
        """,
        "bg",
        warm=warm,
        output_dir=tmp_path / "out",
    )
    assert trace.status == "ok", trace.compact()
    count = (tmp_path / "out" / "count.txt").read_text()
    assert count.isdigit()
    assert warm_backend.wait_pool(60)  # the used container is reaped
    assert not docker_client.containers.list(all=True, filters={"id": trace.sandbox_id})


PROCESSES = """
    import os, sys

    def run():
        others = []
        for pid in os.listdir("/proc"):
            if pid.isdigit() and int(pid) not in (1, os.getpid(), os.getppid()):
                try:
                    with open(f"/proc/{pid}/mem", "rb") as fh:
                        fh.read(1)
                    others.append("read")
                except OSError as exc:
                    others.append(type(exc).__name__)
        return {"warm": "pandas" in sys.modules, "others": others}
"""


@INTERPRETERS
def test_one_interpreter_serves_and_the_other_is_closed_to_the_subagent(warm_backend, tmp_path, warm):
    # Standard-library code goes to the interpreter forked before the preload, any other to the one
    # forked after; the other never gets a job and its memory is closed to the subagent.
    trace = _run(warm_backend, tmp_path, PROCESSES, "processes", warm=warm)
    assert trace.status == "ok", trace.compact()
    assert trace.result["warm"] is warm
    assert trace.result["others"] == ["PermissionError"]  # beside the init, the runner and the subagent


def test_code_whose_own_module_imports_beyond_the_standard_library_runs_warm(warm_backend, tmp_path):
    code = tmp_path / "code-helper"
    code.mkdir()
    (code / "helper.py").write_text("import pandas\n\nROWS = pandas.DataFrame({'a': [1, 2]})\n")
    (code / "uses.py").write_text(
        "import sys\nimport helper\n\n\ndef run():\n    return [int(helper.ROWS['a'].sum()), 'matplotlib' in sys.modules]\n"
    )
    assert warm_backend.wait_pool(120), "the warm pool never filled"
    trace = warm_backend.execute(ExecutionRequest(code, "uses", {}, memory_mb=MEMORY_MB, timeout_s=20))
    assert trace.status == "ok", trace.compact()
    assert trace.result == [3, True]  # matplotlib: preloaded, not imported by the code


PEAK = """
    def run(size_mb):
        block = b"x" * (size_mb << 20)  # written, so resident
        with open("/proc/self/status") as fh:
            hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
        return {"hwm_mb": hwm / 1024, "size": len(block)}
"""


def assert_own_peak(trace, size_mb):
    """The trace's peak memory is the subagent's own (its VmHWM as run() returned, a little more for the
    result's writing), not the runner's: the helper programs some preloaded packages run at import
    (pandas, matplotlib) were reaped by the runner with the whole warm interpreter's resident size."""
    assert trace.status == "ok", trace.compact()
    hwm = trace.result["hwm_mb"]
    assert hwm >= size_mb
    assert hwm - 1 <= trace.peak_memory_mb <= hwm + 4, (trace.peak_memory_mb, hwm)


@INTERPRETERS
@pytest.mark.parametrize("size_mb", [0, 64])
def test_peak_memory_is_the_subagents_own(warm_backend, tmp_path, warm, size_mb):
    trace = _run(warm_backend, tmp_path, PEAK, f"peak{size_mb}", warm=warm, inputs={"size_mb": size_mb})
    assert_own_peak(trace, size_mb)
