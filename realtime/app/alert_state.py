"""The alerts the window shows (`AlertState`): those open now, the banner naming the strongest,
their entries in the alert log, and every alert and status change kept for the export."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from PyQt6.QtWidgets import QApplication

from ..analysis.pipeline import AlertEvent, FaceResult
from ..analysis.verdict import threshold_text
from ..outputs.events import alert_record, status_record, write_event_file
from ..sources.spec import StatusEvent
from .alert_views import AlertBanner, EventLogPanel
from .frames import AlertInfo
from .states import peak_text

MAX_EVENTS = 20_000  # a stream that keeps reconnecting for days must not grow memory


class AlertState:
    """Open alerts keyed by (source, track); `sound()` says whether a new one beeps."""

    def __init__(self, banner: AlertBanner, event_log: EventLogPanel, uncertain_band: float,
                 sound: Callable[[], bool]) -> None:
        self.banner = banner
        self.event_log = event_log
        self.uncertain_band = uncertain_band
        self._sound = sound
        # alert and status records for the export, the newest MAX_EVENTS of them
        self.events: deque[dict[str, Any]] = deque(maxlen=MAX_EVENTS)
        self.active: dict[tuple[str, int], AlertEvent] = {}
        self._labels: dict[tuple[str, int], str] = {}

    def on_alert(self, info: AlertInfo, short_name: str) -> None:
        event = info.event
        self.events.append(alert_record(event))
        key = (info.source, event.track)
        if event.active:
            self.active[key] = event
            self._labels[key] = short_name
            self.event_log.add_alert(info.source, event, info.thumbnail, short_name,
                                     self.uncertain_band)
            if self._sound():
                QApplication.beep()
            self.banner.dismissed = False  # a new alert shows the banner again
        else:
            self.active.pop(key, None)
            self.event_log.close_alert(info.source, event)
        self.update_banner()

    def on_status(self, event: StatusEvent) -> None:
        self.events.append(status_record(event))

    def follow_peaks(self, source: str, faces: Sequence[FaceResult]) -> None:
        """An open alert's number is its face's peak (states.py): the banner and the alert log
        follow it as it rises, as the face panel does."""
        risen = False
        for face in faces:
            event = self.active.get((source, face.track))
            if event is not None and face.peak != event.peak:
                self.active[(source, face.track)] = replace(event, peak=face.peak)
                self.event_log.update_peak(source, face.track, face.peak)
                risen = True
        if risen:
            self.update_banner()

    def forget_source(self, source: str) -> None:
        """A source closed: its alerts leave the banner."""
        for key in [k for k in self.active if k[0] == source]:
            del self.active[key]
        self.update_banner()

    def update_banner(self) -> None:
        if not self.active:
            self.banner.hide()
            return
        (source, track), event = max(self.active.items(), key=lambda kv: kv[1].peak)
        more = len(self.active) - 1
        label = self._labels.get((source, track), source)
        text = (f"⚠  Possible deepfake: face #{track} on {label} — P(fake) "
                f"{peak_text(event.peak)} (threshold {threshold_text(event.threshold)})"
                + (f"  ·  {more} more face{'s' if more > 1 else ''} alerting" if more else ""))
        self.banner.show_alert(text)

    def export(self, path: Path) -> int:
        """Write every alert and status change so far as JSON lines (the format of
        `watch --events`); returns how many."""
        return write_event_file(path, list(self.events))
