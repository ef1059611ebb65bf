"""A local sandbox never outlives its host for long: a host that leaves with os._exit (or is killed) while
bubblewrap is still setting up its warm sandbox leaves bubblewrap's init of the sandbox's PID namespace,
in a session of its own and without the parent-death signal, waiting forever (sometimes with a runner
waiting for a job). The next local backend ends such orphans and removes their job folders."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentfactory.sandbox.jobdir import RUNTIME_DIR
from agentfactory.sandbox.local import LocalBackend, sweep_orphans

from .conftest import SETTINGS

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")

# `agentfactory run` that leaves with os._exit while its first model call is out (its sandbox is started
# then, engine/run.py), after sys.argv[1] seconds, as a killed host would.
LEAVE_AT_FIRST_CALL = r"""
import os, sys, time
import agentfactory.llm.scripted as scripted
delay = float(sys.argv.pop(1))
scripted.ScriptedProvider.complete = lambda *a, **k: (time.sleep(delay), os._exit(0))
sys.argv = ["agentfactory", *sys.argv[1:]]
from agentfactory.cli import main
main()
"""


def _orphans() -> dict[int, str]:
    """Our runtime's bubblewrap namespace inits whose bubblewrap is gone: pid -> job folder."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
            argv = Path(entry.path, "cmdline").read_bytes().split(b"\0")
            fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
            parent = Path(f"/proc/{int(fields['PPid'])}/comm").read_text().strip()
        except (OSError, ValueError, KeyError):
            continue
        if fields.get("Name") != "bwrap" or not fields.get("NSpid", "").endswith("\t1") or parent == "bwrap":
            continue
        if os.fsencode(RUNTIME_DIR) in argv:
            code = next(a for a in argv if a.endswith(b"/code"))
            found[int(entry.name)] = os.fsdecode(code[: -len(b"/code")])
    return found


def test_sandboxes_of_a_host_that_left_mid_start_are_ended_by_the_next_backend(tmp_path):
    replies = tmp_path / "replies.json"
    replies.write_text(json.dumps([{"text": "unused"}]))
    sweep_orphans()
    argv = ["run", "Say hello.", "--model", f"scripted:{replies}", "--sandbox", "local"]
    argv += ["--library", str(tmp_path / "lib"), "--workspaces", str(tmp_path / "ws")]
    env = {**os.environ, "NO_COLOR": "1", "AGENTFACTORY_NO_UPDATE_CHECK": "1"}
    for attempt in range(20):  # the host must leave while bubblewrap is setting up: many attempts do
        delay = str(0.005 * (attempt % 10))
        command = [sys.executable, "-c", LEAVE_AT_FIRST_CALL, delay, *argv]
        subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, timeout=60, check=True)
        time.sleep(0.3)
        left = _orphans()
        if left:
            break
    else:
        pytest.skip("no host left while its sandbox was being set up on this machine")
    backend = LocalBackend(SETTINGS, pool_size=0)  # sweeps as it starts
    try:
        end = time.monotonic() + 10
        while time.monotonic() < end and (
            set(left) & set(_orphans()) or any(os.path.exists(root) for root in left.values())
        ):
            time.sleep(0.05)
        assert not set(left) & set(_orphans())
        assert not any(os.path.exists(root) for root in left.values())
    finally:
        backend.close()


def test_a_sandbox_in_use_is_never_swept(tmp_path):
    backend = LocalBackend(SETTINGS, pool_size=1)
    try:
        assert backend.wait_pool(30)
        with backend._lock:
            box = backend._ready
        assert box is not None
        sweep_orphans()
        assert box.proc.poll() is None  # its bubblewrap is alive: not an orphan
    finally:
        backend.close()
