"""Showing untrusted text on a terminal: model output, subagent output, file names, library content.

Such text is never handed to Rich as a markup string: `[/bold]` would close a style (Rich raises
MarkupError and the command aborts), `[link=...]` would make a link, `:emoji:` codes would be replaced.
And it never reaches the terminal with its control characters: an escape sequence (`\\x1b]52;...` sets the
clipboard, `\\x1b[2J` clears the screen) is shown as the text `\\x1b]52;...`, not obeyed.

Use `plain(value)` for a Rich `Text` (table cells, lines assembled from parts), `show(value)` for a piece
of a markup string, and `visible(value)` for the bare string. Every CLI module that prints something it did not write itself goes through here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.text import Text

# C0 controls but tab and newline, DEL, C1 controls (0x9b is CSI on some terminals), the bidirectional
# overrides and isolates (text that reads differently from what it is), and lone surrogates (which no
# UTF-8 stream can encode).
# The Arabic letter mark and the line/paragraph separators also reorder or break what is shown.
_HIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _show(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: Any, *, newlines: bool = False, limit: int | None = None) -> str:
    """`value` as text whose control characters are shown as escapes (`\\x1b`), never sent raw.

    newlines: keep line breaks (multi-line text such as an answer); otherwise a newline shows as `\\n`
    and a tab as `\\t`, so one value stays on one line. limit: cut longer text and say how long it was.
    """
    text = value if isinstance(value, str) else str(value)
    if limit is not None and len(text) > limit:
        text = text[:limit] + f"… ({len(text):,} chars)"
    text = _HIDDEN.sub(_show, text)
    if not newlines:
        text = text.replace("\n", "\\n").replace("\t", "\\t")
    return text


def plain(value: Any, style: str = "", *, newlines: bool = False, limit: int | None = None) -> Text:
    """A Rich Text of `value`: printed as it is, never parsed as markup or emoji codes."""
    from rich.text import Text  # on first use: `visible` alone needs no rich

    return Text(visible(value, newlines=newlines, limit=limit), style=style)


def show(value: Any, *, newlines: bool = False, limit: int | None = None) -> str:
    """`visible(value)` with Rich markup escaped: a piece of a string printed with markup on."""
    from rich.markup import escape

    return escape(visible(value, newlines=newlines, limit=limit))
