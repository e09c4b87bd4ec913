"""Scan reports: JSON (`--json`) and timeline CSV (`--csv`).

Field names are a public format that other tools read; keep them:
`{"model": {...metadata...}, "settings": {sample_fps, detector, min_face_score, video_rule,
model_sha256, threshold}, "cwd": "...", "videos": [{path, status, error, score, verdict,
threshold, duration_s, frames_analyzed, faces: [{track, score, first_s, last_s, samples}],
timeline: [{t, track, p, box}]}]}` (`settings` and `cwd`: realtime/run_settings.py); with
`scan --labels`, also `label` per video and a top-level `metrics`
(realtime/outputs/labelled_metrics.py).
Files are written to a temporary name and renamed, so an interrupted run never leaves half a
report behind.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..analysis.verdict import UNCERTAIN_BAND, TrackScore, track_scores, verdict, video_score
from ..errors import UserError
from .atomic import atomic_write
from .report_schema import SchemaError, check_report, parse_report, refuse

Status = Literal["ok", "no-face", "error"]


@dataclass(frozen=True)
class TimelineEntry:
    t: float
    track: int
    p: float
    box: tuple[float, float, float, float]

    def to_dict(self) -> dict[str, Any]:
        return {"t": round(self.t, 3), "track": self.track, "p": round(self.p, 4),
                "box": [round(v, 1) for v in self.box]}


@dataclass
class VideoReport:
    path: str
    threshold: float
    status: Status = "ok"
    error: str | None = None
    duration_s: float | None = None
    frames_analyzed: int = 0
    timeline: list[TimelineEntry] = field(default_factory=list)
    # the uncertain band around the threshold (verdict.py); recorded in the report's settings
    band: float = UNCERTAIN_BAND
    # A video taken over from an earlier report (scan --resume): written again exactly as it
    # was, since its timeline there is rounded and would not give back the same score.
    written: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> VideoReport:
        """A video of an existing JSON report (its `label` is left to the new run)."""
        if row["status"] not in ("ok", "no-face", "error"):
            raise ValueError(f"status {row['status']!r}")
        written = {k: v for k, v in row.items() if k != "label"}
        timeline = [TimelineEntry(float(e["t"]), int(e["track"]), float(e["p"]),
                                  tuple(float(v) for v in e["box"]))  # type: ignore[arg-type]
                    for e in row.get("timeline") or []]
        duration = row.get("duration_s")
        return cls(path=str(row["path"]), threshold=float(row["threshold"]),
                   status=row["status"], error=row.get("error"),
                   duration_s=None if duration is None else float(duration),
                   frames_analyzed=int(row.get("frames_analyzed") or 0), timeline=timeline,
                   written=written)

    @property
    def tracks(self) -> list[TrackScore]:
        return track_scores((e.track, e.t, e.p) for e in self.timeline)

    @property
    def score(self) -> float | None:
        if self.written is not None:
            return self.written.get("score")
        return None if self.status == "error" else video_score(self.tracks)

    @property
    def verdict(self) -> str | None:
        if self.written is not None:
            return self.written.get("verdict")
        return verdict(self.score, self.threshold, self.band)

    def finish(self, error: str | None = None) -> VideoReport:
        """Settle the status once analysis ended (an error wins over everything)."""
        if error:
            self.status, self.error = "error", error
        elif not self.timeline:
            self.status = "no-face"
        else:
            self.status = "ok"
        return self

    def to_dict(self) -> dict[str, Any]:
        if self.written is not None:
            return dict(self.written)
        score = self.score
        return {
            "path": self.path,
            "status": self.status,
            "error": self.error,
            "score": None if score is None else round(score, 4),
            "verdict": self.verdict,
            "threshold": self.threshold,
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
            "frames_analyzed": self.frames_analyzed,
            "faces": [
                {"track": tr.track, "score": round(tr.score, 4), "first_s": round(tr.first_s, 3),
                 "last_s": round(tr.last_s, 3), "samples": tr.samples}
                for tr in self.tracks
            ],
            "timeline": [e.to_dict() for e in self.timeline],
        }


def report_dict(model: dict[str, Any], videos: list[VideoReport],
                labels: dict[str, str | None] | None = None,
                metrics: dict[str, Any] | None = None,
                header: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON report; `labels` (video path -> "fake"/"real"/None) and `metrics` only where the
    scan had a labels file; `header`: top-level entries after `model` (run_settings.py's
    `settings` and `cwd`)."""
    rows = []
    for v in videos:
        row = v.to_dict()
        if labels is not None:
            row["label"] = labels.get(v.path)
        rows.append(row)
    data: dict[str, Any] = {"model": model, **(header or {}), "videos": rows}
    if metrics is not None:
        data["metrics"] = metrics
    return data


@dataclass
class ExistingReport:
    """A JSON report an earlier scan wrote (what `scan --resume` completes)."""

    model: dict[str, Any]
    videos: list[VideoReport]
    settings: Any = None  # what the videos were analysed with (run_settings.py); None: older
    cwd: Any = None  # the folder its relative paths start from; None: older report


def read_json(path: Path) -> ExistingReport:
    """The report at `path`; UserError in one line where it is not one `scan --json` wrote
    (every field checked: report_schema.py)."""
    try:
        data = parse_report(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise UserError(f"{path}: not a JSON report ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("videos"), list) or \
            not isinstance(data.get("model"), dict):
        raise UserError(f"{path}: not a scan report (no 'model' and 'videos')")
    try:
        check_report(data)
    except SchemaError as exc:
        raise refuse(path, exc) from None
    videos = []
    for n, row in enumerate(data["videos"], 1):
        try:
            videos.append(VideoReport.from_dict(row))
        except (KeyError, TypeError, ValueError) as exc:
            raise UserError(f"{path}: video #{n} of the report is malformed ({exc!r})") from None
    return ExistingReport(data["model"], videos, data.get("settings"), data.get("cwd"))


def write_json(path: Path, model: dict[str, Any], videos: list[VideoReport],
               labels: dict[str, str | None] | None = None,
               metrics: dict[str, Any] | None = None,
               header: dict[str, Any] | None = None) -> None:
    data = report_dict(model, videos, labels, metrics, header)
    atomic_write(path, lambda fh: json.dump(data, fh, indent=2))


CSV_COLUMNS = ("path", "t", "track", "p", "x1", "y1", "x2", "y2")


def write_csv(path: Path, videos: list[VideoReport]) -> None:
    def write(fh: Any) -> None:
        out = csv.writer(fh)
        out.writerow(CSV_COLUMNS)
        for video in videos:
            for e in video.timeline:
                d = e.to_dict()
                out.writerow([video.path, d["t"], d["track"], d["p"], *d["box"]])

    atomic_write(path, write)
