"""Per-run workspaces: `workspaces/<run-id>/` with inputs, outputs, candidates and traces.

Candidates (subagents written or modified during a run) live only here until saved to the library, so
every experiment is reversible by deleting the folder. This module owns the layout; nothing else builds
these paths by hand.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentfactory.errors import UsageError
from agentfactory.events import EVENTS_FILE, EventLog, new_run_id

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass
class Workspace:
    root: Path
    run_id: str

    @property
    def inputs(self) -> Path:
        return self.root / "inputs"

    @property
    def outputs(self) -> Path:
        return self.root / "outputs"

    @property
    def candidates(self) -> Path:
        return self.root / "candidates"

    @property
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
        path.write_text(json.dumps(trace.to_dict(), indent=1, default=str, ensure_ascii=False))
        return path

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
        shutil.copyfile(src, dest)
        return dest


class WorkspaceManager:
    def __init__(self, root: Path):
        self.root = Path(root)

    def create(self, run_id: str | None = None) -> Workspace:
        run_id = run_id or new_run_id()
        ws = Workspace(self._path(run_id), run_id)
        for sub in (ws.inputs, ws.outputs, ws.candidates, ws.traces):
            sub.mkdir(parents=True, exist_ok=True)
        return ws

    def get(self, run_id: str) -> Workspace:
        path = self._path(run_id)
        if not path.is_dir():
            raise UsageError(f"No run '{run_id}' in {self.root}; see `agentfactory runs list`.")
        return Workspace(path, run_id)

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
                    shutil.rmtree(ws.root)
        return removed

    def _path(self, run_id: str) -> Path:
        if not _RUN_ID.match(run_id):
            raise UsageError(f"'{run_id}' is not a valid run id.")
        return self.root / run_id
