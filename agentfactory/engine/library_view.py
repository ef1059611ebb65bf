"""A run's read-through view of the library: search ranked by experience, and versions read once.

A run reads the same versions many times (view, run, modify, the gate, the save); each is read from
git once and kept until the run changes the library. A name or version the library does not have is
None, for the caller to report; any other failure (a broken repository) is raised, never taken for
"no such subagent".
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from agentfactory.errors import UsageError, ValidationError
from agentfactory.library import Library
from agentfactory.records import record


@record
class LibraryView:
    library: Library
    experience: Any = None  # an ExperienceStore: its success rates rank search hits
    _versions: dict[tuple[str, int | None], Any] = field(default_factory=dict)

    def success_rates(self) -> dict[str, tuple[int, int]] | None:
        if self.experience is None:
            return None
        return self.experience.success_rates()

    def search(self, query: str, k: int) -> list[Any]:
        return self.library.search(query, k=k, success_rates=self.success_rates())

    def get(self, name: str, version: int | None = None) -> Any | None:
        """That version of `name` (default: the current one), or None when the library has none."""
        key = (name, version)
        if key not in self._versions:
            try:
                sub = self.library.get(name, version)
            except (UsageError, ValidationError):  # unknown or invalid name, unknown version
                return None
            self._versions[key] = self._versions[(name, sub.version)] = sub  # current is also vN
        return self._versions[key]

    def changed(self) -> None:
        """The run saved to the library: the current versions may have moved."""
        self._versions.clear()
