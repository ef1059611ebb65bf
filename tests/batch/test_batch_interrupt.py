"""The driver's wait for its worker slots survives the Ctrl-C (or SIGTERM, SIGHUP) that interrupts it: on
Python 3.11 a KeyboardInterrupt raised inside `Thread.join(timeout)` marks a thread that still runs as
ended, and a driver that joined its slots then killed a worker whose run was ending cleanly, and left its
task without a row."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from agentfactory.batch import BatchOptions
from agentfactory.batch.runner import run_tasks
from agentfactory.batch.tasks import BatchTask


class _SlowToStop:
    """An executor whose jobs run until interrupted, then take `ending_s` to end `interrupted`."""

    def __init__(self, ending_s: float):
        self.ending_s = ending_s
        self.running = 0
        self.started = threading.Semaphore(0)
        self.interrupted = threading.Event()
        self.killed_while_running = False
        self.lock = threading.Lock()

    def execute(self, job, attempt):
        with self.lock:
            self.running += 1
        self.started.release()
        self.interrupted.wait(60)
        time.sleep(self.ending_s)
        with self.lock:
            self.running -= 1
        return {"id": job["id"], "status": "interrupted", "cost_usd": 0.0, "tokens": 0, "saved": []}, "", {}

    def interrupt(self):
        self.interrupted.set()

    def kill(self):
        with self.lock:
            self.killed_while_running |= self.running > 0


def test_an_interrupted_driver_waits_for_its_workers_runs_to_end(tmp_path: Path):
    for _ in range(3):  # the signal lands in the wait for the slot: the main thread is almost always there
        executor = _SlowToStop(ending_s=0.5)
        tasks = [BatchTask(id=f"t{i}", task="x", line=i + 1) for i in range(2)]
        options = BatchOptions(workers=1, cwd=tmp_path, batches_dir=tmp_path / "batches")

        def signal_once_it_runs(executor: _SlowToStop = executor) -> None:
            executor.started.acquire(timeout=30)
            time.sleep(0.3)
            os.kill(os.getpid(), signal.SIGINT)

        threading.Thread(target=signal_once_it_runs, daemon=True).start()
        rows, interrupted = run_tasks(tasks, options, tmp_path / "batch", executor)
        assert interrupted
        assert not executor.killed_while_running
        assert {k: r["status"] for k, r in rows.items()} == {"t0": "interrupted", "t1": "not_run"}
