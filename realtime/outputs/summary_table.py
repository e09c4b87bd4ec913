"""scan's summary table: file names whole, also in logs.

The video column gets the room the other columns leave (measured on their cells: 'no-face' or
'uncertain' are wider than their headers, and a fixed guess folded names by a character or
two), and a path loses folders from the left to fit it. Where stderr/stdout is no terminal (a
log, a pipe) there is no screen edge to respect, so the table is printed at the width it
needs instead of folding a name.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..display_text import plain

OTHER_COLUMNS = ("status", "verdict", "score", "faces", "frames")
NUMERIC = ("score", "faces", "frames")
VERDICT_STYLE = {"fake": "red", "real": "green", "uncertain": "yellow"}
CHROME = 3  # per column: padding on both sides and one border
MIN_PATH_ROOM = 20


def shorten_path(text: str, width: int) -> str:
    """Fit a path into `width` by shortening its folders from the left: the file name, which
    tells videos apart, stays whole (even where it alone is wider)."""
    if len(text) <= width:
        return text
    head, _, name = text.rpartition("/")
    if not head:
        return text
    folders = head.split("/")
    kept = ""
    while folders and len(f"…/{folders[-1]}/{kept}{name}") <= width:
        kept = f"{folders.pop()}/{kept}"
    return f"…/{kept}{name}"


def summary_table(reports: Sequence[Any], title: str, width: int) -> Any:
    """A row per report (VideoReport), its path fitted into what `width` leaves it."""
    from rich.table import Table

    cells = [[plain(r.status), plain(r.verdict or "-", VERDICT_STYLE.get(r.verdict or "", "dim")),
              plain("-" if r.score is None else f"{r.score:.3f}"), plain(str(len(r.tracks))),
              plain(str(r.frames_analyzed))] for r in reports]
    others = sum(max([len(name), *(row[i].cell_len for row in cells)])
                 for i, name in enumerate(OTHER_COLUMNS))
    room = max(MIN_PATH_ROOM, width - others - CHROME * (len(OTHER_COLUMNS) + 1) - 1)
    table = Table(title=title)
    table.add_column("video", overflow="fold")  # folds only a name wider than the screen
    for name in OTHER_COLUMNS:
        table.add_column(name, justify="right" if name in NUMERIC else "left")
    for r, row in zip(reports, cells):
        table.add_row(plain(shorten_path(r.path, room)), *row)
    return table


def print_whole(console: Any, renderable: Any) -> None:
    """Print at the console's width on a terminal, at the width `renderable` needs elsewhere."""
    if console.is_terminal:
        console.print(renderable)
        return
    from rich.measure import Measurement

    needed = Measurement.get(console, console.options.update_width(10_000), renderable).maximum
    width = console.width  # print(width=) can only narrow: widen the console for this table
    console.width = max(width, needed)
    try:
        console.print(renderable)
    finally:
        console.width = width
