"""What a JSON report must be for `scan --resume` to take its videos over.

The report is a file anyone may have edited, and its kept videos are written back as they are:
a verdict that contradicts its score, a score that is no number, a card that is no object, or
JSON nested deep enough to exhaust the parser must stop the command in one line naming the
place, never crash it or survive into the new report. The rules are those `scan --json`
writes by (realtime/outputs/report.py, README "Report format").
"""

from __future__ import annotations

import json
import math
from typing import Any

from ..analysis.verdict import VERDICTS, verdict
from ..errors import UserError

STATUSES = ("ok", "no-face", "error")
LABELS = ("fake", "real")
# scores are written rounded to 4 decimals, verdicts from the unrounded score
_ROUNDING = 0.5e-4


class SchemaError(ValueError):
    """A report field that is not what scan writes: `where` names it."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")


def parse_report(text: str) -> Any:
    """The JSON value of `text`; ValueError for text that is no JSON or nested too deep."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("nested too deeply to be a report") from None


def check_report(data: Any) -> None:
    """SchemaError at the first field of `data` that a report of `scan --json` cannot hold."""
    if not isinstance(data, dict):
        raise SchemaError("the report", "is not a JSON object")
    model = _field(data, "model", "the report", dict)
    _check_model(model)
    band = _band(data.get("settings"))
    videos = _field(data, "videos", "the report", list)
    for n, row in enumerate(videos, 1):
        _check_video(row, f"video #{n}", band)


def _band(settings: Any) -> float:
    """The uncertain band the verdicts were given with; 0 (two states) for a report from
    before the band, which records none."""
    if not isinstance(settings, dict) or "uncertain_band" not in settings:
        return 0.0
    return _number(settings["uncertain_band"], "settings uncertain_band", minimum=0.0)


def refuse(path: object, exc: ValueError) -> UserError:
    """The one line that stops `scan --resume` on a report that is not one."""
    return UserError(f"--resume: {path}: not a report scan wrote ({exc}); fix it, or write a "
                     "new report")


def _check_model(model: dict[str, Any]) -> None:
    if "card" in model:
        card = _field(model, "card", "model", dict)
        for key in ("name", "version"):
            if key in card:
                _field(card, key, "model card", str)
    if "threshold" in model:
        _probability(model["threshold"], "model threshold", open_ends=True)


def _check_video(row: Any, where: str, band: float = 0.0) -> None:
    if not isinstance(row, dict):
        raise SchemaError(where, "is not a JSON object")
    path = _field(row, "path", where, str)
    if not path:
        raise SchemaError(f"{where} path", "is empty")
    where = f"{where} ({path!r})"
    status = _field(row, "status", where, str)
    if status not in STATUSES:
        raise SchemaError(f"{where} status", f"{status!r} is not one of {', '.join(STATUSES)}")
    if row.get("error") is not None:
        _field(row, "error", where, str)
    threshold = _probability(_field(row, "threshold", where), f"{where} threshold",
                             open_ends=True)
    score = row.get("score")
    if score is not None:
        score = _probability(score, f"{where} score")
    said = row.get("verdict")
    if said is not None and said not in VERDICTS:
        raise SchemaError(f"{where} verdict",
                          f"{said!r} is not one of {', '.join(VERDICTS)}, null")
    if status == "ok":
        if score is None or said is None:
            raise SchemaError(where, "status ok without a score and a verdict")
        # the unrounded score may have been on the other side of an edge
        allowed = {verdict(score + d, threshold, band) for d in (-_ROUNDING, 0.0, _ROUNDING)}
        if said not in allowed:
            raise SchemaError(f"{where} verdict", f"{said!r} contradicts score {score:g} at "
                                                  f"threshold {threshold:g}, uncertain band "
                                                  f"{band:g}")
    elif score is not None or said is not None:
        raise SchemaError(where, f"status {status} with a score or a verdict")
    if row.get("label") is not None and row["label"] not in LABELS:
        raise SchemaError(f"{where} label", f"{row['label']!r} is not one of fake, real, null")
    if row.get("duration_s") is not None:
        _number(row["duration_s"], f"{where} duration_s", minimum=0.0)
    if "frames_analyzed" in row:
        _count(row["frames_analyzed"], f"{where} frames_analyzed")
    for n, face in enumerate(_field(row, "faces", where, list, default=[]), 1):
        _check_face(face, f"{where} face #{n}")
    for n, entry in enumerate(_field(row, "timeline", where, list, default=[]), 1):
        _check_entry(entry, f"{where} timeline #{n}")


def _check_face(face: Any, where: str) -> None:
    if not isinstance(face, dict):
        raise SchemaError(where, "is not a JSON object")
    _count(_field(face, "track", where), f"{where} track")
    _probability(_field(face, "score", where), f"{where} score")
    for key in ("first_s", "last_s"):
        _number(_field(face, key, where), f"{where} {key}", minimum=0.0)
    _count(_field(face, "samples", where), f"{where} samples")


def _check_entry(entry: Any, where: str) -> None:
    if not isinstance(entry, dict):
        raise SchemaError(where, "is not a JSON object")
    _number(_field(entry, "t", where), f"{where} t", minimum=0.0)
    _count(_field(entry, "track", where), f"{where} track")
    _probability(_field(entry, "p", where), f"{where} p")
    box = _field(entry, "box", where, list)
    if len(box) != 4:
        raise SchemaError(f"{where} box", "is not 4 numbers")
    for value in box:
        _number(value, f"{where} box")


_MISSING = object()


def _field(obj: dict[str, Any], key: str, where: str, kind: type | None = None,
           default: Any = _MISSING) -> Any:
    if key not in obj:
        if default is not _MISSING:
            return default
        raise SchemaError(where, f"has no {key!r}")
    value = obj[key]
    if kind is not None and not isinstance(value, kind):
        raise SchemaError(f"{where} {key}", f"{_shown(value)} is not a JSON {_names[kind]}")
    return value


_names: dict[type, str] = {dict: "object", list: "array", str: "string"}


def _number(value: Any, where: str, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value):
        raise SchemaError(where, f"{_shown(value)} is not a finite number")
    if minimum is not None and value < minimum:
        raise SchemaError(where, f"{value!r} is below {minimum:g}")
    return float(value)


def _probability(value: Any, where: str, open_ends: bool = False) -> float:
    number = _number(value, where)
    if not (0.0 < number < 1.0 if open_ends else 0.0 <= number <= 1.0):
        raise SchemaError(where, f"{number!r} is not within "
                                 f"{'(0, 1)' if open_ends else '[0, 1]'}")
    return number


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SchemaError(where, f"{_shown(value)} is not a whole number >= 0")
    return value


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."
