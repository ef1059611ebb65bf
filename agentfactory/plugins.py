"""Entry points of the installed distributions (the plugins' way in: `agentfactory.providers`,
`agentfactory.commands`), read without importing importlib.metadata.

importlib.metadata brings email, zipfile, csv and more: more time than `agentfactory --help` may take
in all. Distributions installed in folders on sys.path (the usual case) are read here directly, by the
same rule (the first distribution of a name on the path wins); anything else (a zip or an egg file on
the path, a finder that finds distributions of its own) goes to importlib.metadata itself.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any, NamedTuple


class EntryPoint(NamedTuple):
    """One entry point: `name = module:attribute` in the distribution's entry_points.txt."""

    name: str
    value: str
    group: str

    def load(self) -> Any:
        """The object it names (its module imported), as importlib.metadata's EntryPoint.load."""
        target = self.value.partition("[")[0].strip()  # extras are not the import's business
        module, _, attribute = target.partition(":")
        value = importlib.import_module(module.strip())
        for part in filter(None, attribute.strip().split(".")):
            value = getattr(value, part)
        return value


def entry_points(*, group: str, name: str | None = None) -> list[Any]:
    """The entry points of `group` (named `name`, if given), as importlib.metadata.entry_points finds
    them."""
    found = _installed(group)
    return found if name is None else [entry for entry in found if entry.name == name]


def _installed(group: str) -> list[Any]:
    if any(hasattr(finder, "find_distributions") for finder in sys.meta_path if not _standard(finder)):
        return _metadata_entry_points(group)
    found, seen = [], set()
    for folder in sys.path:
        try:
            children = os.listdir(folder or ".")
        except NotADirectoryError:
            return _metadata_entry_points(group)  # a zip or an egg file on the path
        except OSError:
            continue
        for child in children:
            low = child.lower()
            if not low.endswith((".dist-info", ".egg-info")):
                continue
            name = _normalized(child.rpartition(".")[0].partition("-")[0])
            if name in seen:
                continue
            seen.add(name)
            found += _group_of(os.path.join(folder or ".", child, "entry_points.txt"), group)
    return found


def _standard(finder: Any) -> bool:
    return getattr(finder, "__module__", "").startswith(("_frozen_importlib", "importlib", "zipimport"))


def _metadata_entry_points(group: str) -> list[Any]:
    from importlib.metadata import entry_points as installed

    return list(installed(group=group))


def _normalized(name: str) -> str:
    out, last = [], ""
    for char in name.lower():
        if char in "-_.":
            if last != "_":
                out.append("_")
            last = "_"
        else:
            out.append(char)
            last = char
    return "".join(out)


def _group_of(path: str, group: str) -> list[EntryPoint]:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError):
        return []
    found, section = [], None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
        elif section == group and "=" in line:
            name, _, value = line.partition("=")
            found.append(EntryPoint(name.strip(), value.strip(), group))
    return found
