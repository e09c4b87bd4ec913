"""Progress bars on stderr for long work (scan, extract): one look for every command."""

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

    return Progress(
        TextColumn(description), BarColumn(), MofNCompleteColumn(), TextColumn(unit),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False,
    )
