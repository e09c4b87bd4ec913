"""`watch`: monitor live sources headless, with a status line and alert events."""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

from .analysis.pipeline import AlertEvent, AnalysisConfig, FrameResult, StreamAnalyzer
from .analysis.tracking import BELOW_THRESHOLD
from .analysis.verdict import threshold_text
from .display_text import clean
from .errors import SourceError
from .faces.detector import FaceDetector
from .model.classifier import InferenceService
from .outputs.events import EventLog, alert_record, status_record
from .sources.spec import SourceSpec, SourceState, StatusEvent
from .sources.video_source import VideoSource

log = logging.getLogger(__name__)

# states in which no frame arrives: the status line shows no stale fps or faces
_NO_FRAMES = (SourceState.CONNECTING, SourceState.DISCONNECTED, SourceState.RECONNECTING,
              SourceState.FAILED)
_NO_FRAMES_STATES = {s.value for s in _NO_FRAMES}


@dataclass
class _StreamView:
    """The latest numbers of one stream, as the status line shows them."""

    name: str
    state: str = "connecting"
    fps: float = 0.0
    latency_ms: float = 0.0
    faces: int = 0
    max_p: float | None = None
    alerts: int = 0


@dataclass
class WatchSession:
    """Runs one analyzer per source until every source ended, `duration_s` passed, or stop."""

    specs: Sequence[SourceSpec]
    detector: FaceDetector
    service: InferenceService
    config: AnalysisConfig
    events: EventLog
    sample_fps: float | None = None
    max_retries: int | None = None  # per outage, for network sources and webcams; None: forever
    give_up_after_s: float | None = None
    # a video file served over http(s): played at its own frame rate (True), or every frame
    # analysed at the analysis' own pace (False)
    play_finite_live: bool = False
    status_every_s: float = 1.0
    out: TextIO = field(default_factory=lambda: sys.stderr)
    on_result: Callable[[FrameResult], None] | None = None
    analyzers: list[StreamAnalyzer] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._views: dict[str, _StreamView] = {}
        self._lock = threading.Lock()
        self._last_line: str | None = None

    def stop(self) -> None:
        self._stop.set()

    def open(self) -> None:
        """Open every source; a source that cannot be opened is reported, the rest go on. A
        network source that is down is no such source: it is retried (see VideoSource)."""
        for spec in self.specs:
            view = _StreamView(spec.name)
            source = VideoSource(spec, sample_fps=self.sample_fps,
                                 on_status=self._status_handler(view),
                                 max_retries=self.max_retries,
                                 give_up_after_s=self.give_up_after_s,
                                 play_finite_live=self.play_finite_live)
            try:
                source.open()
            except SourceError as exc:
                self.failed.append(str(exc))
                print(f"deepfake-monitor: error: {clean(exc)}", file=self.out, flush=True)
                continue
            view.state = source.state.value
            self._views[spec.name] = view
            self.analyzers.append(StreamAnalyzer(
                source, self.detector, self.service, self.config,
                on_result=self._result_handler(view), on_alert=self._alert_handler(view),
            ))

    def run(self, duration_s: float | None = None) -> None:
        for analyzer in self.analyzers:
            analyzer.start()
        deadline = None if duration_s is None else time.monotonic() + duration_s
        def finished() -> bool:
            return self._stop.is_set() or all(a.done for a in self.analyzers) or \
                (deadline is not None and time.monotonic() >= deadline)

        try:
            while not finished():
                wait = self.status_every_s if deadline is None else \
                    min(self.status_every_s, max(0.0, deadline - time.monotonic()))
                self._stop.wait(wait)
                if not finished():  # the final line follows: never the same line twice
                    self._print_status()
        finally:
            for analyzer in self.analyzers:
                analyzer.stop(timeout=2.0)
            self._print_status(final=True)
            for analyzer in self.analyzers:
                print(self.frames_line(analyzer), file=self.out, flush=True)

    @staticmethod
    def frames_line(analyzer: StreamAnalyzer) -> str:
        """How much of a source was analysed: live sources drop the frames the analysis did
        not keep up with, files and videos served over the network drop none."""
        source = analyzer.source
        return (f"{source.name}: {analyzer.frames_analyzed} frame(s) analysed, "
                f"{source.frames_dropped} dropped")

    def _status_handler(self, view: _StreamView) -> Callable[[StatusEvent], None]:
        def handle(event: StatusEvent) -> None:
            view.state = event.state.value
            if event.state in _NO_FRAMES:  # the last frame's numbers are no longer true
                view.fps, view.latency_ms, view.faces, view.max_p = 0.0, 0.0, 0, None
            self.events.write(status_record(event))
            # FAILED is not printed here: the command prints that reason once, as its error.
            if event.state is SourceState.DISCONNECTED or "reconnected" in event.message or \
                    (event.state is SourceState.LIVE and " attempts " in event.message):
                print(clean(f"{event.source}: {event.state.value}: {event.message}"),
                      file=self.out, flush=True)
        return handle

    def _result_handler(self, view: _StreamView) -> Callable[[FrameResult], None]:
        def handle(result: FrameResult) -> None:
            view.fps = result.analysed_fps
            view.latency_ms = result.latency_s * 1000
            view.faces = len(result.faces)
            view.max_p = max((f.p_smooth for f in result.faces), default=None)
            if self.on_result:
                self.on_result(result)
        return handle

    def _alert_handler(self, view: _StreamView) -> Callable[[AlertEvent], None]:
        def handle(event: AlertEvent) -> None:
            self.events.write(alert_record(event))
            if event.active:
                view.alerts += 1
            word = "ALERT" if event.active else "alert cleared" if \
                event.reason in (None, BELOW_THRESHOLD) else \
                f"alert ended ({(event.reason or '').replace('_', ' ')}, not cleared)"
            print(f"{clean(event.source)}: {word}: face #{event.track} "
                  f"P(fake) {event.p_smooth:.2f} (threshold {threshold_text(event.threshold)}) "
                  f"at {event.t:.1f} s", file=self.out, flush=True)
        return handle

    def status_line(self) -> str:
        parts = []
        for v in self._views.values():
            if v.state in _NO_FRAMES_STATES:  # nothing is analysed: no rates, no faces
                parts.append(f"{clean(v.name)}: {v.state} - fps - ms faces - max p - "
                             f"alerts {v.alerts}")
                continue
            p = "-" if v.max_p is None else f"{v.max_p:.2f}"
            parts.append(f"{clean(v.name)}: {v.state} {v.fps:.1f} fps {v.latency_ms:.0f} ms "
                         f"faces {v.faces} max p {p} alerts {v.alerts}")
        return " | ".join(parts)

    def _print_status(self, final: bool = False) -> None:
        line = self.status_line()
        if line == self._last_line and not self.out.isatty():
            return  # in a log, a line that says nothing new is noise (and never the last twice)
        self._last_line = line
        if self.out.isatty() and not final:
            print("\r\x1b[2K" + line, end="", file=self.out, flush=True)
        else:
            print(("\r\x1b[2K" if self.out.isatty() else "") + line, file=self.out, flush=True)
