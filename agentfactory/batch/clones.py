"""Ray nodes on clones of the team's library remote (`agentfactory batch --ray auto --remote REMOTE`).

Each worker slot on each host works on a clone of its own, `<clones>/<remote digest>/<agent id>`, kept
between batches (so a pull brings only what is new), as agent `<agent_id>.<host>.w<slot>`: one writer
per clone and per experience file. Around each task, on the node:

1. pull the remote with the ordinary pull rules (the tree is validated; a revision of a subagent the
   clone has, and a subagent new to it, must pass the gate in the node's sandbox, or the clone keeps
   its own and the row reports it), then bring the clone's experience store up to date;
2. run the task on the clone (the same worker process as everywhere);
3. push its saves and experience records, with pull-rebase-retry (agentfactory.library.rebase): a save
   of a name the remote revised meanwhile becomes the next version on top and passes the gate first.
   A push still refused after the bounded retries leaves the saves in the clone, reported in the row;
   the next task's push carries them.

A lock per clone keeps two batches (or a retried attempt) from working on one clone at once. The row's
`saved` lists the versions as pushed; `sync` says what the node did.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentfactory.batch.runner import worker_agent_id
from agentfactory.errors import AgentFactoryError

CLONES_DIR = Path("~/.cache/agentfactory/clones")
LOCK_TIMEOUT_S = 24 * 3600.0

Attempt = tuple[dict[str, Any] | None, str, dict[str, Any]]


def clone_folder(root: str | Path | None, remote: str, agent_id: str) -> Path:
    from agentfactory.library.experience_files import file_name

    base = Path(root or CLONES_DIR).expanduser()
    digest = hashlib.sha256(remote.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return base.resolve() / digest / file_name(agent_id).removesuffix(".jsonl")


def resolve_remote(remote: str, library: Path, cwd: Path) -> str:
    """What every node can reach: a remote name of the project's library becomes its URL, a local path
    an absolute one; anything else (a URL) is passed on as it is."""
    import subprocess

    from agentfactory.errors import UsageError

    if not remote or remote.startswith("-") or "\x00" in remote or "\n" in remote:
        raise UsageError(f"{remote[:80]!r} is not a git remote name, path or URL.")
    if "://" in remote or (":" in remote.split("/", 1)[0] and not Path(remote).exists()):
        return remote  # a URL, or scp-like user@host:path
    path = (cwd / remote).expanduser()
    if path.exists():
        return str(path.resolve())
    out = subprocess.run(
        ["git", "-C", str(library), "remote", "get-url", "--", remote], capture_output=True, text=True
    )
    if out.returncode == 0 and out.stdout.strip():
        url = out.stdout.strip()
        return url if "://" in url or not (library / url).exists() else str((library / url).resolve())
    raise UsageError(
        f"--remote {remote[:80]!r} is neither a path, a URL nor a remote of the library at {library}."
    )


def case_gate(settings: Any) -> Callable[[Any, Any], str | None]:
    """The gate of a save replayed on top of the remote: nothing to check when the remote did not
    revise the name meanwhile (the run's gate passed); else every case it will carry, in the sandbox."""
    from agentfactory.engine.gate import run_subagent_cases

    def check(ours: Any, new: Any) -> str | None:
        if (new.parent_version or None) == (ours.parent_version or None):
            return None
        report = run_subagent_cases(settings, new)
        return None if report.passed else report.reason()

    return check


def run_on_clone(job: dict[str, Any], run: Callable[[dict[str, Any]], Attempt]) -> Attempt:
    """Pull, `run(job on the clone)`, push with pull-rebase-retry (see the module)."""
    from filelock import FileLock, Timeout

    from agentfactory.config import load_settings
    from agentfactory.engine.gate import sandbox_verifier
    from agentfactory.library import Library
    from agentfactory.library import rebase as sync

    remote = job["remote"]
    agent = worker_agent_id(
        job.get("agent_base") or "default", int(job.get("worker") or 1), socket.gethostname()
    )
    folder = clone_folder(job.get("clones"), remote, agent)
    folder.parent.mkdir(parents=True, exist_ok=True)
    overrides = {
        **job["overrides"],
        "library": str(folder),
        "experience_db": str(folder.with_name(folder.name + ".experience.sqlite")),
        "agent_id": agent,
    }
    info: dict[str, Any] = {"clone": str(folder), "agent_id": agent}
    try:
        settings = load_settings(
            overrides,
            cwd=Path(job["cwd"]) if Path(job["cwd"]).is_dir() else None,
            config_file=Path(job["config_file"]) if job.get("config_file") else None,
        )
    except AgentFactoryError as exc:
        return {"id": job["id"], "status": "config_error", "reason": str(exc)}, "", {}
    lock = FileLock(str(folder.with_name(folder.name + ".lock")), timeout=LOCK_TIMEOUT_S)
    try:
        lock.acquire()
    except Timeout:
        return None, f"the clone {folder} stayed locked for {LOCK_TIMEOUT_S:.0f} s", {}
    try:
        library = Library(folder)
        verify = sandbox_verifier(settings)
        try:
            pulled = sync.pull(library, remote, verify)
            info["pulled"] = sync.synced(library)
            if pulled is not None and pulled.rejected:
                info["pull_rejected"] = {r.name: r.reason for r in pulled.rejected}
        except AgentFactoryError as exc:  # the task runs on the clone as it is; the row says why
            info["pull_problem"] = str(exc)
        _sync_store(settings, info)
        row, died, spent = run({**job, "overrides": overrides})
        if row is None:  # the saves it made before it died are pushed by the next task on this clone
            return None, died, spent
        saved = {name: version for name, version in row.get("saved") or []}
        try:
            outcome = sync.push(library, remote, verify=verify, gate=case_gate(settings), saved=saved)
        except Exception as exc:  # the task is done: a push that broke is reported, never a rerun
            info.update(pushed=False, push_problem=f"{type(exc).__name__}: {exc}"[:1000])
        else:
            row["saved"] = [[name, version] for name, version in sorted(outcome.versions.items())]
            info.update(pushed=outcome.pushed, push_attempts=outcome.attempts, rebases=outcome.rebases)
            if not outcome.pushed:
                info["push_problem"] = outcome.problem
                info["unpushed"] = _unpushed(library)
            if outcome.kept:
                info["kept"] = outcome.kept
            if outcome.rejected:
                info["pull_rejected"] = {**info.get("pull_rejected", {}), **outcome.rejected}
        return {**row, "sync": info}, "", spent
    finally:
        lock.release()


def _unpushed(library: Any) -> dict[str, int]:
    """The clone's saves the remote lacks (this task's and earlier ones'), with their versions."""
    from agentfactory.library import rebase as sync

    head = library.head()
    return {
        name: library.get(name).version for name in sync.our_subagents(library, sync.synced(library), head)
    }


def _sync_store(settings: Any, info: dict[str, Any]) -> None:
    from agentfactory.experience import ExperienceStore

    try:
        with ExperienceStore.open(settings) as store:
            store.sync()
    except AgentFactoryError as exc:  # a broken store does not stop the task: the files are in
        info["store_problem"] = str(exc)
