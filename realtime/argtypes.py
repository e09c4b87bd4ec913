"""argparse pieces shared by every command: the program name, -v, and numbers with their allowed
range, checked once.

Every number must be finite: `float()` accepts 'nan' and 'inf', and NaN passes every `<`/`>`
check, so a NaN threshold would silently make everything (or nothing) fake. A type built by
`ranged` carries its range as `span`, so the help can state exactly what the error states.
"""

from __future__ import annotations

import argparse
import math
from typing import Any, NoReturn

PROG = "deepfake-monitor"


class Parser(argparse.ArgumentParser):
    """argparse with its errors in one line, like every other error of the commands (argparse
    would print the whole usage first, burying the one line that says what is wrong). The
    subcommands' parsers are of the same class."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def add_verbose(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more log output (-vv: debug)")


def _number(text: str) -> float:
    value = float(text)  # ValueError for words; 'nan' and 'inf' parse, hence:
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not finite")
    return value


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class Ranged:
    """An argparse type accepting finite `kind` values within a range; `span` names the range
    as the errors do, e.g. '(0, 1)' or '[1, inf)'."""

    def __init__(self, kind: type, lo: float | None = None, hi: float | None = None, *,
                 lo_open: bool = False, hi_open: bool = False) -> None:
        self.kind = kind
        self.lo, self.hi = lo, hi
        self.lo_open, self.hi_open = lo_open, hi_open
        left = "(" if lo_open or lo is None else "["
        right = ")" if hi_open or hi is None else "]"
        self.span = (f"{left}{'-inf' if lo is None else _fmt(lo)}, "
                     f"{'inf' if hi is None else _fmt(hi)}{right}")

    def __call__(self, text: str) -> Any:
        what = "whole number" if self.kind is int else "number"
        if self.lo is None and self.hi is None:
            what = f"finite {what}"
        try:
            value = int(text) if self.kind is int else _number(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text} is not a {what}" + (
                "" if self.lo is None and self.hi is None else f" within {self.span}")) from exc
        lo, hi = self.lo, self.hi
        too_low = lo is not None and (value <= lo if self.lo_open else value < lo)
        too_high = hi is not None and (value >= hi if self.hi_open else value > hi)
        if too_low or too_high:
            raise argparse.ArgumentTypeError(f"{text} is not a {what} within {self.span}")
        return value

    def __repr__(self) -> str:
        return f"Ranged({self.kind.__name__}, {self.span})"


def ranged(kind: type, lo: float | None = None, hi: float | None = None, *,
           lo_open: bool = False, hi_open: bool = False) -> Ranged:
    """A type accepting finite `kind` values within [lo, hi] (ends open where asked; an
    infinite end is always open)."""
    return Ranged(kind, lo, hi, lo_open=lo_open, hi_open=hi_open)


probability = ranged(float, 0.0, 1.0, lo_open=True, hi_open=True)
fraction = ranged(float, 0.0, 1.0, hi_open=True)
positive = ranged(float, 0.0, lo_open=True)
positive_int = ranged(int, 1)
count = ranged(int, 0)
finite = ranged(float)
# the uncertain band either side of the threshold (realtime/analysis/verdict.py); 0 turns it off
band = ranged(float, 0.0, 0.5)


class _SampleFps:
    """A rate in frames per second, or 'all' for every frame."""

    span = f"{positive.span} or 'all'"

    def __call__(self, text: str) -> float | None:
        if text.strip().lower() == "all":
            return None
        try:
            return float(positive(text))
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"{text} is not a number within {self.span}") \
                from exc


sample_fps = _SampleFps()


def state_ranges(parser: argparse.ArgumentParser) -> None:
    """Every numeric option of `parser` and its subcommands (the plugins' too) refuses NaN and
    infinities, and its help ends in the range its errors name."""
    for action in parser._actions:  # argparse keeps no public list of a parser's options
        if isinstance(action, argparse._SubParsersAction):
            for sub in set(action.choices.values()):
                state_ranges(sub)
            continue
        if action.type is float:
            action.type = finite
        span = getattr(action.type, "span", None)
        if span is None or action.type is finite or action.help == argparse.SUPPRESS:
            continue
        if action.help is None:
            action.help = f"within {span}"
        elif span not in action.help:
            action.help = f"{action.help}; within {span}"
