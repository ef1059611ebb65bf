"""Search/replace edits on a subagent's source, and its lines numbered for a model.

The one edit applier: `modify_subagent` during a run and `agentfactory evolve`'s revisions both take
`[{"old": ..., "new": ...}]` edits from the model and apply them here, so both refuse the same edits
with the same sentence. Model output is hostile: nothing here runs or imports the code.
"""

from __future__ import annotations

from typing import Any


class EditError(ValueError):
    """An edit that cannot be applied; the message says which one and why, for the model."""


def apply_edits(code: str, edits: list[dict[str, Any]]) -> str:
    """`code` with each edit applied in order; each `old` must occur exactly once in the code as it is
    when that edit applies. Raises EditError naming the first edit that does not."""
    for number, edit in enumerate(edits, 1):
        old, new = edit.get("old"), edit.get("new")
        if not isinstance(old, str) or not old or not isinstance(new, str):
            raise EditError(f"edit {number}: `old` and `new` must be strings, `old` not empty")
        count = code.count(old)
        if count != 1:
            where = "not found" if count == 0 else f"found {count} times"
            raise EditError(f"edit {number}: the `old` text is {where}; it must occur exactly once")
        code = code.replace(old, new, 1)
    return code


def numbered(code: str) -> str:
    """The source with right-aligned line numbers, as the model sees it and traces refer to it."""
    lines = code.splitlines()
    width = len(str(len(lines)))
    return "\n".join(f"{i:>{width}} | {line}" for i, line in enumerate(lines, 1))
