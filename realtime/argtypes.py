"""argparse pieces shared by every command: the program name, -v, and numbers with their allowed
range, checked once."""

from __future__ import annotations

import argparse
from collections.abc import Callable

PROG = "deepfake-monitor"


def add_verbose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-vv: debug)")


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from exc


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from exc


def ranged(kind: type, lo: float | None = None, hi: float | None = None, *,
           lo_open: bool = False, hi_open: bool = False) -> Callable[[str], float]:
    """A type accepting `kind` values within [lo, hi] (ends open where asked)."""
    parse = _whole if kind is int else _number
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    span = f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"

    def check(text: str) -> float:
        value = parse(text)
        too_low = lo is not None and (value <= lo if lo_open else value < lo)
        too_high = hi is not None and (value >= hi if hi_open else value > hi)
        if too_low or too_high:
            raise argparse.ArgumentTypeError(f"{text} is not within {span}")
        return value

    return check


probability = ranged(float, 0.0, 1.0, lo_open=True, hi_open=True)
fraction = ranged(float, 0.0, 1.0, hi_open=True)
positive = ranged(float, 0.0, lo_open=True)
positive_int = ranged(int, 1)
count = ranged(int, 0)


def sample_fps(text: str) -> float | None:
    """A rate, or 'all' (also 0) for every frame."""
    return None if text.lower() in ("all", "0") else positive(text)
