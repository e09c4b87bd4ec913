"""A scan's report lists the videos in the order they were given.

Inputs that name no video (a missing path, an empty folder) are known before anything is
analysed and used to head the report, so `scan a.mp4 nope.mp4 b.mp4` listed nope.mp4 first,
locally and on the cluster. Each such problem records how many files the inputs before it
gave (scan.InputProblem.after), which places it back among the files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def in_input_order(files: Sequence[Path], problems: Sequence[Any],
                   reports: Sequence[Any]) -> list[Any]:
    """`reports` (VideoReport) in input order; those of no input (finished videos an earlier
    report held, with --resume) after them, as they came."""
    rank: dict[str, float] = {str(f): float(i) for i, f in enumerate(files)}
    for problem in problems:
        rank.setdefault(problem.path, problem.after - 0.5)
    inputs = sorted((r for r in reports if r.path in rank), key=lambda r: rank[r.path])
    return inputs + [r for r in reports if r.path not in rank]
