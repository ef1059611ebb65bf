"""Per-run workspaces: `workspaces/<run-id>/` with inputs, outputs, candidates and traces.

Candidates (subagents written or modified during a run) live only here until saved to the library, so
every experiment is reversible by deleting the folder. This module owns the layout; nothing else builds
these paths by hand.
"""

from __future__ import annotations

import json
import os
import re
import time
from functools import cached_property
from pathlib import Path
from typing import Any

from agentfactory.errors import UsageError
from agentfactory.events import EVENTS_FILE, EventLog, new_run_id, write_json
from agentfactory.records import record

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
LATEST = "latest"
MAX_CANDIDATES_SHOWN = 10


def _started(ws: Workspace) -> tuple[float, str]:
    """When a run started: its run_started event's time (the first line), else its log's mtime."""
    try:
        with ws.events_path.open("rb") as fh:
            first = json.loads(fh.readline(1 << 20))
        return float(first["ts"]), ws.run_id
    except (OSError, ValueError, KeyError, TypeError):
        try:
            return ws.events_path.stat().st_mtime, ws.run_id
        except OSError:
            return 0.0, ws.run_id


@record
class Workspace:
    """One run's folder. Its parts' paths are made once (every execution of a run names them, and
    pathlib's joins are not free on that path)."""

    root: Path
    run_id: str

    @cached_property
    def inputs(self) -> Path:
        return self.root / "inputs"

    @cached_property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @cached_property
    def candidates(self) -> Path:
        return self.root / "candidates"

    @cached_property
    def traces(self) -> Path:
        return self.root / "traces"

    @property
    def events_path(self) -> Path:
        return self.root / EVENTS_FILE

    def candidate_dir(self, name: str) -> Path:
        return self.candidates / name

    def event_log(self) -> EventLog:
        return EventLog(self.events_path, self.run_id)

    def save_trace(self, trace: Any, name: str = "") -> Path:
        """Write an execution trace (anything with `to_dict()`) as traces/<seq>-<name>.json."""
        self.traces.mkdir(parents=True, exist_ok=True)
        seq = len(list(self.traces.glob("*.json"))) + 1
        label = re.sub(r"[^A-Za-z0-9._-]", "_", name or getattr(trace, "entry", "") or "trace")[:80]
        path = self.traces / f"{seq:04d}-{label}.json"
        return write_json(path, trace.to_dict())

    def files(self, folder: Path) -> list[str]:
        """The regular files under one of this workspace's folders, as sorted paths relative to its root
        (e.g. "inputs/prices.csv", the form a subagent sees)."""
        return sorted(p.relative_to(self.root).as_posix() for p in folder.rglob("*") if p.is_file())

    def add_input(self, src: Path) -> Path:
        """Copy a user file into inputs/; refuses what is not a regular file."""
        src = Path(src)
        if not src.is_file():
            raise UsageError(f"Input file {src} does not exist or is not a regular file.")
        dest = self.inputs / src.name
        import shutil  # on first use: not on a run's way to its first model call

        shutil.copyfile(src, dest)
        return dest


class WorkspaceManager:
    def __init__(self, root: Path):
        self.root = Path(root)

    def create(self, run_id: str | None = None) -> Workspace:
        run_id = run_id or new_run_id()
        ws = Workspace(self._path(run_id), run_id)
        try:
            for sub in (ws.inputs, ws.outputs, ws.candidates, ws.traces):
                sub.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(
                f"Cannot create the run's workspace in {self.root} ({exc.strerror or exc}): pass "
                "--workspaces with a folder you can write."
            ) from None
        return ws

    def get(self, run_id: str) -> Workspace:
        path = self._path(run_id)
        if not path.is_dir():
            raise UsageError(f"No run '{run_id}' in {self.root}; see `agentfactory runs list`.")
        return Workspace(path, run_id)

    def resolve_id(self, ref: str) -> str:
        """The run id `ref` names (see `resolve`); `ref` itself when no workspace has it (a run whose
        folder was pruned is still known to the experience store)."""
        try:
            return self.resolve(ref).run_id
        except UsageError:
            if ref == LATEST or any(ws.run_id.startswith(ref) for ws in self.list()):
                raise  # no runs at all, or an ambiguous prefix: the sentence says which
            return ref

    def resolve(self, ref: str) -> Workspace:
        """The run `ref` names: its id, `latest` (the newest run), or a prefix of exactly one id."""
        runs = self.list()
        if ref == LATEST:
            if not runs:
                raise UsageError(f"No runs in {self.root} yet.")
            return max(runs, key=_started)
        exact = [ws for ws in runs if ws.run_id == ref]
        if exact:
            return exact[0]
        if not _RUN_ID.match(ref):
            raise UsageError(f"'{ref}' is not a valid run id.")
        matches = [ws for ws in runs if ws.run_id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            return self.get(ref)  # the one sentence for a run that does not exist
        shown = ", ".join(ws.run_id for ws in matches[:MAX_CANDIDATES_SHOWN])
        more = (
            f" and {len(matches) - MAX_CANDIDATES_SHOWN} more" if len(matches) > MAX_CANDIDATES_SHOWN else ""
        )
        raise UsageError(f"'{ref}' matches {len(matches)} runs ({shown}{more}): give more of the id.")

    def list(self) -> list[Workspace]:
        if not self.root.is_dir():
            return []
        return [
            Workspace(p, p.name)
            for p in sorted(self.root.iterdir())
            if p.is_dir() and _RUN_ID.match(p.name) and (p / EVENTS_FILE).exists()
        ]

    def prune(self, older_than_days: float = 7.0, keep: int = 0, dry_run: bool = False) -> list[str]:
        """Remove workspaces last modified more than `older_than_days` ago, keeping the newest `keep`."""
        cutoff = time.time() - older_than_days * 86400
        workspaces = self.list()
        removable = workspaces[: max(0, len(workspaces) - keep)] if keep else workspaces
        removed = []
        for ws in removable:
            if ws.events_path.stat().st_mtime < cutoff:
                removed.append(ws.run_id)
                if not dry_run:
                    remove_tree(ws.root)
        return removed

    def _path(self, run_id: str) -> Path:
        if not _RUN_ID.match(run_id):
            raise UsageError(f"'{run_id}' is not a valid run id.")
        return self.root / run_id


def remove_tree(path: Path) -> None:
    """Remove a folder and everything in it, like shutil.rmtree, but without recursion and with one
    descriptor open at a time: a run folder may hold a tree written by a subagent (any depth, any
    width), and links are removed, never followed. Raises UsageError when something cannot be removed."""
    path = Path(path)
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"Cannot remove {path}: {exc.strerror}.") from None
    # One entry per level below `path`: (this folder's name in its parent, its subfolders still to do).
    stack: list[tuple[str, list[str]]] = []
    pending = _empty_files(fd)
    try:
        while True:
            if pending:
                name = pending.pop()
                child = os.open(name, flags, dir_fd=fd)
                os.close(fd)
                fd = child
                stack.append((name, pending))
                pending = _empty_files(fd)
                continue
            if not stack:
                break
            name, pending = stack.pop()
            parent = os.open("..", flags, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(name, dir_fd=fd)
    except OSError as exc:
        raise UsageError(f"Cannot remove {path}: {exc.strerror}.") from None
    finally:
        os.close(fd)
    try:
        os.rmdir(path)
    except OSError as exc:
        raise UsageError(f"Cannot remove {path}: {exc.strerror}.") from None


def _empty_files(fd: int) -> list[str]:
    """Unlink every non-folder entry of the open folder `fd`; return the names of its subfolders."""
    folders = []
    with os.scandir(fd) as entries:
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                folders.append(entry.name)
            else:
                os.unlink(entry.name, dir_fd=fd)
    return folders
