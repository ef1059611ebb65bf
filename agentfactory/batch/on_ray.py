"""Batch tasks on a Ray cluster: the same worker process, started by a Ray task on a node whose sandbox
works, with the task's input files shipped to it.

`--ray auto` joins the cluster of $RAY_ADDRESS, or starts a local one for the batch (stopped after it);
`--ray ADDRESS` joins that cluster. Before the batch, every alive node runs `agentfactory sandbox check`;
a node without a working sandbox of the configured backend takes no task.

Without `--remote`, the library and the experience store are the project's, so every node must reach the
project folder (a local cluster, or a shared filesystem). With `--remote REMOTE` (the team's library
remote), each worker slot on each node works on a clone of that remote of its own, pulling before each
task and pushing after it with pull-rebase-retry (agentfactory.batch.clones).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from agentfactory.errors import ConfigError, UsageError

MAX_INPUT_BYTES = 256 * 1024 * 1024  # a task's input files, shipped to its node


def _ray():  # noqa: ANN202
    try:
        import ray
    except ImportError:
        raise ConfigError("--ray needs Ray: pip install 'agentfactory[ray]'.") from None
    return ray


def _node_check(sandbox: str, cwd: str) -> dict[str, Any]:
    """On a node: is its sandbox backend ready? (`agentfactory sandbox check --json` there)."""
    import socket

    out = subprocess.run(
        [sys.executable, "-m", "agentfactory", "sandbox", "check", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd if os.path.isdir(cwd) else None,
    )
    try:
        report = json.loads(out.stdout)
    except ValueError:
        return {"host": socket.gethostname(), "ready": False, "problem": (out.stderr or out.stdout)[-300:]}
    ready = bool(report.get("docker_ready")) if sandbox == "docker" else bool(report.get("bwrap"))
    problem = (
        "" if ready else (report.get("docker_problem") or report.get("image_problem") or "no bubblewrap")
    )
    return {"host": socket.gethostname(), "ready": ready, "problem": problem}


def _run_on_node(job: dict[str, Any], inputs: dict[str, bytes], attempt: int, batch_dir: str) -> tuple[dict[str, Any] | None, str, dict[str, Any]]:  # fmt: skip
    """On a node: the task's inputs written to a folder of its own, then the same worker as locally.
    A cancel (Ctrl-C on the driver) arrives as KeyboardInterrupt and is passed on to the worker."""
    import signal

    from agentfactory.batch import threads
    from agentfactory.batch.worker import run_worker

    with tempfile.TemporaryDirectory(prefix="agentfactory-ray-") as tmp:
        files = []
        for index, (name, data) in enumerate(inputs.items()):
            folder = Path(tmp, "inputs", str(index))
            folder.mkdir(parents=True)
            (folder / name).write_bytes(data)
            files.append(str(folder / name))
        here = Path(batch_dir)
        local = here if here.is_dir() else Path(tmp)
        running: list[subprocess.Popen] = []

        def track(proc: subprocess.Popen, started: bool) -> None:
            if started:
                running.append(proc)

        result: list[tuple[dict[str, Any] | None, str, dict[str, Any]]] = []
        cwd = Path(job["cwd"]) if os.path.isdir(job["cwd"]) else Path(tmp)

        def work(one: dict[str, Any]) -> tuple[dict[str, Any] | None, str, dict[str, Any]]:
            return run_worker(one, attempt, local / "work", local / "logs", cwd, track)

        def body() -> None:
            if job.get("remote"):
                from agentfactory.batch.clones import run_on_clone

                result.append(run_on_clone({**job, "inputs": files}, work))
            else:
                result.append(work({**job, "inputs": files}))

        done = threads.start(body)
        try:
            threads.wait_all([done])
        except KeyboardInterrupt:
            for proc in running:
                with contextlib.suppress(OSError):
                    proc.send_signal(signal.SIGINT)
            threads.wait_all([done], 120)
        return result[0] if result else (None, "the worker did not end", {})


def join_cluster(address: str) -> Any:
    """Ray, initialised: "auto" passes no address, so Ray itself joins $RAY_ADDRESS's cluster or starts a
    local one; anything else is a cluster address."""
    ray = _ray()
    target = None if address == "auto" else address
    try:
        ray.init(address=target, include_dashboard=False, log_to_driver=False)
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError... for a bad address
        raise UsageError(
            f"Cannot reach the Ray cluster {target or '(auto)'}: {type(exc).__name__}: {exc}"
        ) from None
    return ray


def node_readiness(ray: Any, sandbox: str, cwd: Path) -> dict[str, dict[str, Any]]:
    """Node id -> {host, ready, problem}: every alive node runs `agentfactory sandbox check` itself."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    check = ray.remote(num_cpus=0, max_retries=0)(_node_check)
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    refs = {n["NodeID"]: check.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False)).remote(sandbox, str(cwd)) for n in nodes}  # fmt: skip
    readiness: dict[str, dict[str, Any]] = {}
    for node_id, ref in refs.items():
        try:
            readiness[node_id] = ray.get(ref, timeout=300)
        except Exception as exc:  # a node that cannot even run the check takes no task
            readiness[node_id] = {
                "host": node_id[:12],
                "ready": False,
                "problem": f"{type(exc).__name__}: {exc}",
            }
    return readiness


class RayExecutor:
    """Runs each attempt as a Ray task pinned to a ready node, round-robin."""

    def __init__(self, address: str, folder: Path, sandbox: str, cwd: Path):
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self.ray = ray = join_cluster(address)
        self.folder = folder
        self.remote_run = ray.remote(num_cpus=1, max_retries=0)(_run_on_node)
        self.strategy = NodeAffinitySchedulingStrategy
        self.nodes = node_readiness(ray, sandbox, cwd)
        self.ready = [node_id for node_id, report in self.nodes.items() if report["ready"]]
        if not self.ready:
            problems = "; ".join(f"{r['host']}: {r['problem']}" for r in self.nodes.values())
            self.close()
            raise ConfigError(f"No Ray node has a working {sandbox} sandbox ({problems[:500]}).")
        self._cycle = itertools.cycle(self.ready)
        self.lock = threading.Lock()
        self.running: set[Any] = set()
        self._failed_on: dict[str, Any] = {}  # task id -> the node its failed attempt was pinned to

    def execute(self, job: dict[str, Any], attempt: int) -> tuple[dict[str, Any] | None, str, dict[str, Any]]:
        inputs: dict[str, bytes] = {}
        total = 0
        for path in job["inputs"]:
            data = Path(path).read_bytes()
            total += len(data)
            if total > MAX_INPUT_BYTES:
                return (
                    {
                        "id": job["id"],
                        "status": "task_failed",
                        "reason": f"input files over {MAX_INPUT_BYTES:,} bytes",
                    },
                    "",
                    {},
                )
            inputs[Path(path).name] = data
        with self.lock:
            if not self.ready:
                return None, "no Ray node with a working sandbox is left in the cluster", {}
            node = next(self._cycle)
            if node == self._failed_on.get(job["id"]) and len(self.ready) > 1:
                node = next(
                    self._cycle
                )  # a retry goes elsewhere: the cluster may not know yet a node is lost
        ref = self.remote_run.options(scheduling_strategy=self.strategy(node, soft=False)).remote(job, inputs, attempt, str(self.folder))  # fmt: skip
        with self.lock:
            self.running.add(ref)
        try:
            return self.ray.get(ref)
        except Exception as exc:  # a lost node or a crashed Ray worker: the driver retries once
            with self.lock:
                self._failed_on[job["id"]] = node
            self._drop_lost_nodes()  # ... on a node that is still there
            return (
                None,
                f"ray: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}",
                {},
            )
        finally:
            with self.lock:
                self.running.discard(ref)

    def _drop_lost_nodes(self) -> None:
        """Forget the nodes the cluster no longer has alive: no later task is pinned to them."""
        try:
            alive = {node["NodeID"] for node in self.ray.nodes() if node.get("Alive")}
        except Exception:  # noqa: BLE001 - the cluster itself is gone: every later attempt fails anyway
            return
        with self.lock:
            kept = [node for node in self.ready if node in alive]
            if kept != self.ready:
                self.ready = kept
                self._cycle = itertools.cycle(kept)

    def interrupt(self) -> None:
        with self.lock:
            for ref in self.running:
                with contextlib.suppress(Exception):
                    self.ray.cancel(ref)

    def kill(self) -> None:
        with self.lock:
            for ref in self.running:
                with contextlib.suppress(Exception):
                    self.ray.cancel(ref, force=True)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.ray.shutdown()
