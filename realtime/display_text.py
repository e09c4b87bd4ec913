"""Strings from files and users (paths, model cards, reports, CSV columns) made safe to show.

A file name or a model card may hold terminal escapes (`\\x1b]0;title\\x07`, `\\x1b[2J`, cursor
moves) that would retitle the window, clear the screen or overwrite earlier lines, and text
that rich reads as markup (`[/x]` stops a whole scan with a MarkupError, `[reverse blink]`
styles a name). Every displayed string goes through `clean` (C0 and C1 control characters, DEL,
and the Unicode controls that reorder or hide text, each shown as "?") and, where rich parses
markup, `escape` or `plain` (a `Text`, which rich never parses).
"""

from __future__ import annotations

import re
from typing import Any

# C0 (tab and newline too: every string shown is one line or a table cell), DEL, C1, and the
# bidirectional and line/paragraph separators that make a name read differently than it is.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


_CONTROL_BUT_NEWLINE = re.compile(_CONTROL.pattern.replace("\x00-\x1f", "\x00-\x09\x0b-\x1f"))


def clean(text: object, *, lines: bool = False) -> str:
    """`str(text)` with every control character replaced by "?" (newlines kept with
    `lines`, for a message of several lines)."""
    return (_CONTROL_BUT_NEWLINE if lines else _CONTROL).sub("?", str(text))


def escape(text: object) -> str:
    """`clean(text)` with rich markup escaped, for f-strings that rich prints as markup."""
    from rich.markup import escape as rich_escape

    return rich_escape(clean(text))


def plain(text: object, style: str = "") -> Any:
    """`clean(text)` as a rich `Text`, shown as it is whatever brackets it holds."""
    from rich.text import Text

    return Text(clean(text), style=style)
