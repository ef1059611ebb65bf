"""Subagent name rules (Agent Skills naming), checked before any file-system call uses a name.

A name becomes a folder in the library's work tree and a path in git trees, so every rule here is also a
path-safety rule: nothing that could climb out of the library (`..`, `/`, absolute paths, NUL) or touch
git's own data (`.git`) may pass.
"""

from __future__ import annotations

import re

from agentfactory.errors import ValidationError

MAX_NAME = 64
_NAME_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
# Top-level folders of a library that are not subagents (experience/: the agents' experience files).
RESERVED = frozenset({"experience"})
_ENTRY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.py")


def validate_name(name: object) -> str:
    """Return `name` if it is a valid subagent name, else raise ValidationError saying which rule broke."""
    if not isinstance(name, str):
        raise ValidationError(f"A subagent name must be a string, not {type(name).__name__}.")
    shown = repr(name[:80] + ("..." if len(name) > 80 else ""))
    if not name:
        raise ValidationError("A subagent name must not be empty.")
    if "\x00" in name:
        raise ValidationError(f"Subagent name {shown} contains a NUL character.")
    if len(name) > MAX_NAME:
        raise ValidationError(
            f"Subagent name {shown} is {len(name)} characters long; the limit is {MAX_NAME}."
        )
    if name.startswith("/") or name.startswith("\\") or re.match(r"[A-Za-z]:[\\/]", name):
        raise ValidationError(f"Subagent name {shown} is an absolute path; use a bare name like 'csv-stats'.")
    if ".." in name or "/" in name or "\\" in name:
        raise ValidationError(f"Subagent name {shown} contains a path ('..', '/' or '\\'); use a bare name.")
    if name.lower().strip(".") == "git" or name.startswith("."):
        raise ValidationError(
            f"Subagent name {shown} is reserved (it starts with '.' or names git's folder)."
        )
    if name in RESERVED:
        raise ValidationError(
            f"Subagent name {shown} is reserved (the library keeps its {name} files there)."
        )
    if name != name.lower():
        raise ValidationError(
            f"Subagent name {shown} has upper-case letters; use lower case, e.g. {name.lower()!r}."
        )
    if name.startswith("-") or name.endswith("-"):
        raise ValidationError(f"Subagent name {shown} must not start or end with a hyphen.")
    if "--" in name:
        raise ValidationError(f"Subagent name {shown} must not contain a double hyphen.")
    if not _NAME_RE.fullmatch(name):
        raise ValidationError(
            f"Subagent name {shown} may contain only lower-case letters, digits and single hyphens."
        )
    return name


def default_entry(name: str) -> str:
    """The entry module file of a subagent: its name with hyphens as underscores, e.g. csv_stats.py."""
    return name.replace("-", "_") + ".py"


def validate_entry(entry: object) -> str:
    """An entry module is a plain Python file name in the subagent's folder (no directories)."""
    if not isinstance(entry, str) or not _ENTRY_RE.fullmatch(entry):
        raise ValidationError(
            f"Entry module {entry!r} must be a plain Python file name in the folder, like 'csv_stats.py'."
        )
    return entry
