"""Progress bars on stderr for long work (scan, extract): one look for every command.

Where the line is too long for the console, the description (a file name) folds onto a second
line and the counts and times stay whole: an elapsed time cut to '0:00:…' told a log reader
nothing. In a log (no terminal) there is no bar either: it is drawn once, at the end, where it
only takes room from the figures."""

from __future__ import annotations

from typing import Any


def counting_progress(console: Any, unit: str, description: str = "{task.description}") -> Any:
    """A rich Progress showing done/total `unit`, elapsed and remaining time."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.table import Column

    columns: list[Any] = [TextColumn(description, table_column=Column(overflow="fold"))]
    if console.is_terminal:
        columns.append(BarColumn())
    columns += [MofNCompleteColumn(), TextColumn(unit), TimeElapsedColumn(),
                TimeRemainingColumn()]
    return Progress(*columns, console=console, transient=False)
