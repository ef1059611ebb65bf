"""A job folder (the subagent's code, the run's inputs, the reports) never outlives its host for long: a
host that dies without removing it (killed, os._exit) leaves it in the temporary folder, and the next
backend's sweep removes it once its owner is certainly gone. Nothing else is ever removed: not a live
host's folder, not a folder without an owner, not a link, not another user's folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from agentfactory.sandbox.jobdir import OWNER_FILE, JobDir, sweep_job_folders
from agentfactory.sandbox.owner import owner_label

# A host that makes a job folder and dies without removing it, printing the folder first.
DIES = r"""
import os, sys
from agentfactory.sandbox.jobdir import JobDir
jd = JobDir()
(jd.work / "inputs" / "secret.csv").write_text("name,salary\n")
(jd.code / "main.py").write_text("def run():\n    return 1\n")
print(jd.root, jd.data_root, flush=True)
os._exit(0)
"""


def _dead_hosts_folders() -> tuple[Path, Path]:
    """The job folder a dead host left, and its second one (work/) when it has one (else the same)."""
    out = subprocess.run([sys.executable, "-c", DIES], capture_output=True, text=True, timeout=60, check=True)
    root, data_root = out.stdout.split()
    return Path(root), Path(data_root)


def test_the_folder_of_a_host_that_died_is_removed_and_a_live_ones_is_kept():
    left, left_data = _dead_hosts_folders()
    assert (left_data / "work" / "inputs" / "secret.csv").exists() and (left / "code" / "main.py").exists()
    live = JobDir()
    try:
        sweep_job_folders()
        assert not left.exists() and not left_data.exists()
        for folder in (live.root, live.data_root):
            assert folder.is_dir() and (folder / OWNER_FILE).read_text() == owner_label()
    finally:
        live.remove()
    assert not live.root.exists() and not live.data_root.exists()


def test_nothing_but_a_dead_hosts_own_folder_is_removed(tmp_path):
    tmp = Path(tempfile.gettempdir())
    made = []
    try:
        unowned = Path(tempfile.mkdtemp(prefix="af-"))  # being made, or an earlier version's
        made.append(unowned)
        target = tmp_path / "target"
        target.mkdir()
        (target / OWNER_FILE).write_text(_dead_label())
        (target / "keep.txt").write_text("not a job folder")
        link = tmp / f"af-link-{os.getpid()}"
        link.symlink_to(target)
        made.append(link)
        other = Path(tempfile.mkdtemp(prefix="af-"))
        made.append(other)
        (other / OWNER_FILE).write_text(_dead_label())
        foreign = os.geteuid() == 0
        if foreign:  # another user's folder, even with a dead owner
            os.chown(other, 65534, 65534)
        sweep_job_folders()
        assert unowned.is_dir() and link.is_symlink() and (target / "keep.txt").exists()
        assert other.is_dir() is foreign
    finally:
        for path in made:
            if path.is_symlink():
                path.unlink()
            elif path.exists():
                shutil.rmtree(path)


def _dead_label() -> str:
    """An owner label of this boot and pid namespace naming a process that is gone."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    namespace = owner_label().rsplit("/", 2)[0]
    return f"{namespace}/{proc.pid}/1"


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_a_local_backend_sweeps_the_folders_of_dead_hosts_when_prepared():
    from agentfactory.sandbox.local import LocalBackend

    from .conftest import SETTINGS

    left = _dead_hosts_folders()
    backend = LocalBackend(SETTINGS, pool_size=0, start_ahead=False)
    try:
        assert all(folder.exists() for folder in left)
        backend.prepare()
        backend._reap.join()  # the sweep runs in the reaper thread
        assert not any(folder.exists() for folder in left)
    finally:
        backend.close()


def test_the_control_parts_live_in_memory_and_the_run_data_on_disk(monkeypatch):
    """Code, control and reports in control_base (a memory file system with room): creating a file there
    costs microseconds. The run's inputs and outputs, which can be large, stay in the temporary folder.
    Without room there, the whole job folder is in the temporary folder."""
    from agentfactory.sandbox import jobdir

    monkeypatch.setattr(jobdir, "CONTROL_BASE", tempfile.mkdtemp(prefix="control-"))
    jd = JobDir()
    try:
        assert (
            str(jd.root.parent) == jobdir.CONTROL_BASE and str(jd.data_root.parent) == tempfile.gettempdir()
        )
        assert {p.name for p in jd.root.iterdir()} == {"code", "ctl", "report", "broker", OWNER_FILE}
        assert {p.name for p in jd.data_root.iterdir()} == {"work", OWNER_FILE}
        assert jd.inputs.parent.parent == jd.data_root
    finally:
        jd.remove()
    assert not jd.root.exists() and not jd.data_root.exists()
    os.rmdir(jobdir.CONTROL_BASE)

    monkeypatch.setattr(jobdir, "CONTROL_MIN_FREE", 1 << 62)  # no memory file system with that much room
    jd = JobDir()
    try:
        assert jd.root == jd.data_root and str(jd.root.parent) == tempfile.gettempdir()
    finally:
        jd.remove()
    assert not jd.root.exists()


def test_a_dead_hosts_folder_in_memory_is_removed_by_its_path_only_when_ours(monkeypatch, tmp_path):
    from agentfactory.sandbox import jobdir

    left, _ = _dead_hosts_folders()
    elsewhere = tmp_path / f"{jobdir.JOB_PREFIX}elsewhere"
    elsewhere.mkdir()
    jobdir.remove_job_folder(str(elsewhere))  # a label naming a folder that is not where job folders go
    assert elsewhere.exists()
    jobdir.remove_job_folder(str(left))
    assert not left.exists()
    sweep_job_folders()
