"""The settings a scan's results depend on, recorded in its report (`settings`), so that
`scan --resume` can refuse to complete a report with videos analysed another way.

Two runs give the same result for a video only with the same frames sampled (`sample_fps`),
the same faces found (`detector`, `min_face_score`), the same classifier (`model_sha256`: the
file's bytes, not its name), the same video-level rule (`video_rule`) and the same `threshold`
and `uncertain_band` for the verdict. A report also says which folder its relative paths
start from (`cwd`), so that a resume from another folder finds its videos.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from .analysis.verdict import MIN_TRACK_SAMPLES, MIN_WINDOW_SAMPLES, UNCERTAIN_BAND, WINDOW_S

VIDEO_RULE = (f"track: highest mean P(fake) over {WINDOW_S:g} s windows of >= "
              f"{MIN_WINDOW_SAMPLES} samples; video: highest track of >= {MIN_TRACK_SAMPLES} "
              "samples")
BUILT_IN_DETECTORS = ("full", "short")


def file_sha256(path: str | os.PathLike[str]) -> str | None:
    """The SHA-256 of a file's bytes; None where it cannot be read (a cluster model on storage
    this machine does not mount)."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def scan_settings(*, sample_fps: float | None, detector: str, min_face_score: float,
                  model_path: str | os.PathLike[str], threshold: float,
                  uncertain_band: float = UNCERTAIN_BAND) -> dict[str, Any]:
    """The `settings` of a scan's report."""
    if detector not in BUILT_IN_DETECTORS:
        found = file_sha256(detector)
        detector = f"sha256:{found}" if found else detector
    return {
        "sample_fps": "all" if sample_fps is None else float(sample_fps),
        "detector": detector,
        "min_face_score": float(min_face_score),
        "video_rule": VIDEO_RULE,
        "model_sha256": file_sha256(model_path),
        "threshold": float(threshold),
        "uncertain_band": float(uncertain_band),
    }


def report_header(settings: dict[str, Any]) -> dict[str, Any]:
    """The report's top-level entries beside `model` and `videos`."""
    return {"settings": settings, "cwd": str(Path.cwd())}


def differences(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """'name before (this run now)' for every setting that differs."""
    shown = []
    for key in now:
        if before.get(key) != now[key]:
            shown.append(f"{key} {_text(before.get(key))} (this run {_text(now[key])})")
    return shown


def _text(value: Any) -> str:
    if value is None:
        return "not recorded"
    if isinstance(value, float):
        return f"{value:g}"
    text = str(value)
    return text[:19] + "..." if len(text) > 22 and text.startswith("sha256:") else \
        (text[:16] + "..." if len(text) == 64 else text)
