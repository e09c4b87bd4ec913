"""Alert and status events as JSON lines (`watch --events`, and the app's export).

One object per line: `{"type": "alert" | "alert_cleared" | "alert_ended" | "status", "time":
ISO-8601 UTC, "source": ...}` plus, for alerts, `track`, `t` (seconds into the source), `p`
(smoothed P(fake)), `peak`, `threshold`; for status, `state` and `message`. An alert stops in
one of two ways: `alert_cleared` (`reason` "below_threshold": the face's P(fake) fell below the
threshold) or `alert_ended` (`reason` "track_lost": the face was not seen for a while, or
"disconnected": the source was lost), where the face may well still be fake. Each line is
appended whole with one write as it happens (never through a symbolic link:
outputs.open_append), so a crash loses nothing already reported, and credentials never reach
the file. A whole file of events (the app's export) is written atomically, like the reports.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from ..analysis.pipeline import AlertEvent
from ..analysis.tracking import BELOW_THRESHOLD
from ..sources.credentials import mask_credentials
from ..sources.spec import StatusEvent
from .atomic import atomic_write, open_append


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="milliseconds")


def alert_type(event: AlertEvent) -> str:
    """"alert", "alert_cleared" (below the threshold) or "alert_ended" (its track ended)."""
    if event.active:
        return "alert"
    return "alert_cleared" if event.reason in (None, BELOW_THRESHOLD) else "alert_ended"


def alert_record(event: AlertEvent) -> dict[str, Any]:
    record = {
        "type": alert_type(event),
        "time": _iso(event.at),
        "source": mask_credentials(event.source),
        "track": event.track,
        "t": round(event.t, 3),
        "p": round(event.p_smooth, 4),
        "peak": round(event.peak, 4),
        "threshold": event.threshold,
    }
    if not event.active:
        record["reason"] = event.reason or BELOW_THRESHOLD
    return record


def status_record(event: StatusEvent) -> dict[str, Any]:
    return {
        "type": "status",
        "time": _iso(event.at),
        "source": mask_credentials(event.source),
        "state": event.state.value,
        "message": mask_credentials(event.message),
    }


class EventLog:
    """Thread-safe JSON-lines writer; every record is flushed at once."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._fh: IO[bytes] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open_append(path)
        self.records: list[dict[str, Any]] = []

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record)
        with self._lock:
            self.records.append(record)
            if self._fh is not None:
                self._fh.write((line + "\n").encode("utf-8"))

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None


def write_event_file(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Replace `path` with `records` as JSON lines, all or nothing; returns how many."""
    lines = [json.dumps(record) + "\n" for record in records]
    atomic_write(path, lambda fh: fh.writelines(lines))
    return len(lines)
