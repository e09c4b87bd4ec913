"""Per-stream analysis: detect → crop → (shared, batched) classify → track → smooth → results.

Each stream runs two threads of its own beside its capture thread:
- the detect thread reads frames from the source, finds and crops faces, submits the crops to the
  shared `InferenceService` and passes (frame, faces, future) on through a bounded queue;
- the result thread waits for the scores in frame order, updates the tracker, the smoothing and
  the alert state, and hands a `FrameResult` to the caller's callback.
So decoding, detection and classification of consecutive frames overlap, frames stay in order,
and a slow consumer slows the pipeline (files) or makes live sources drop older frames, never
queues without bound. The engine imports no Qt: a GUI subscribes through the callbacks.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace

import numpy as np

from ..faces.crop import crop_faces
from ..faces.detector import FaceDetection, FaceDetector
from ..model.classifier import InferenceService
from ..sources.spec import Frame
from ..sources.video_source import VideoSource
from .tracking import (
    DISCONNECTED,
    AlertChange,
    FaceSmoother,
    FaceTracker,
    SmoothingConfig,
    TrackerConfig,
)
from .verdict import UNCERTAIN_BAND

log = logging.getLogger(__name__)

_POLL_S = 0.1


@dataclass(frozen=True)
class AnalysisConfig:
    threshold: float
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    # Frames between detection and scoring; small for live sources to keep latency low.
    pending_frames: int = 4
    # Files: frames already waiting are detected together, up to this many per model call.
    # None: 4 where the detector runs on a GPU (one transfer and launch for several frames),
    # 1 on a CPU, where BlazeFace costs less per frame at batch 1 once decoding and the
    # classifier keep the other cores busy (`bench` measures both). Live sources hold one frame
    # at a time, so they are always detected alone, at once.
    detect_batch: int | None = None
    # P(fake) this close to the threshold reads "uncertain" (verdict.py), in overlays and verdicts
    uncertain_band: float = UNCERTAIN_BAND


@dataclass(frozen=True)
class FaceResult:
    track: int
    box: tuple[float, float, float, float]
    detection_score: float
    p: float
    p_smooth: float
    peak: float
    alert: bool
    above_s: float


@dataclass(frozen=True)
class FrameResult:
    source: str
    index: int
    t: float
    captured_at: float
    done_at: float
    image: np.ndarray
    faces: tuple[FaceResult, ...]
    threshold: float
    analysed_fps: float
    provider: str
    uncertain_band: float = UNCERTAIN_BAND

    @property
    def latency_s(self) -> float:
        """Capture to result, on the monotonic clock."""
        return self.done_at - self.captured_at


@dataclass(frozen=True)
class AlertEvent:
    source: str
    track: int
    active: bool
    t: float
    at: float
    p_smooth: float
    peak: float
    threshold: float
    # why an alert ended (None for a start): "below_threshold" (a real clear), "track_lost"
    # or "disconnected" (the face may still be fake; its track ended)
    reason: str | None = None


@dataclass
class _Pending:
    frame: Frame
    faces: list[FaceDetection]
    scores: Future[np.ndarray]


@dataclass(frozen=True)
class _TracksEnd:
    """Every track ends here, in frame order (the source disconnected)."""

    reason: str


class RateMeter:
    """Events per second over a sliding window (for analysed fps)."""

    def __init__(self, window_s: float = 2.0) -> None:
        self.window_s = window_s
        self._times: list[float] = []

    def tick(self, now: float) -> float:
        self._times.append(now)
        cutoff = now - self.window_s
        while self._times and self._times[0] < cutoff:
            self._times.pop(0)
        if len(self._times) < 2:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0


class StreamAnalyzer:
    """Analyses one source until it ends or `stop()` is called."""

    def __init__(
        self,
        source: VideoSource,
        detector: FaceDetector,
        service: InferenceService,
        config: AnalysisConfig,
        *,
        on_result: Callable[[FrameResult], None] | None = None,
        on_alert: Callable[[AlertEvent], None] | None = None,
    ) -> None:
        self.source = source
        self.detector = detector
        self.service = service
        self.config = config
        self.on_result = on_result
        self.on_alert = on_alert
        contract = service.classifier.contract
        self._crop_args = {"size": contract.input.size, "margin": contract.crop.margin,
                           "align": contract.crop.align}
        self._provider = service.classifier.backend.provider
        batch = config.detect_batch or (4 if detector.backend.on_gpu else 1)
        self._detect_batch = 1 if source.live else max(1, batch)
        self.tracker = FaceTracker(config.tracker)
        self.smoother = FaceSmoother(config.threshold, config.smoothing)
        self._lock = threading.Lock()  # guards the smoother against set_threshold from the GUI
        self._pending: queue.Queue[_Pending | _TracksEnd | None] = \
            queue.Queue(maxsize=config.pending_frames)
        self._outages = 0  # the source's disconnections seen so far
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._detect_loop, name=f"detect:{source.name}", daemon=True),
            threading.Thread(target=self._result_loop, name=f"result:{source.name}", daemon=True),
        ]
        self._rate = RateMeter()
        self.frames_analyzed = 0
        self.faces_analyzed = 0
        self.error: str | None = None
        self.last_result: FrameResult | None = None

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def threshold(self) -> float:
        return self.smoother.threshold

    def start(self) -> StreamAnalyzer:
        self.source.start()
        for thread in self._threads:
            thread.start()
        return self

    def set_threshold(self, threshold: float) -> None:
        """Takes effect at once, also on the alerts of faces already on screen."""
        with self._lock:
            now = self.last_result.t if self.last_result else 0.0
            changes = self.smoother.set_threshold(threshold, now)
        self._emit_alerts(changes)

    def set_alert_after(self, seconds: float) -> None:
        """How long a face must stay above the threshold before it alerts (the GUI's
        sensitivity control); takes effect from the next frame."""
        with self._lock:
            self.smoother.config = replace(self.smoother.config, alert_after_s=seconds)

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        self.source.stop(timeout=max(0.1, deadline - time.monotonic()))
        for thread in self._threads:
            if thread.is_alive():
                thread.join(max(0.05, deadline - time.monotonic()))

    def wait(self, timeout: float | None = None) -> bool:
        """True once both threads have finished (source ended, error, or stopped)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(remaining)
        return self.done

    @property
    def done(self) -> bool:
        return not any(t.is_alive() for t in self._threads)

    def _put_pending(self, item: _Pending | _TracksEnd | None) -> bool:
        while not self._stop.is_set():
            try:
                self._pending.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def _take_frames(self) -> list[Frame]:
        """The next frame, and for files whatever else is already waiting (never waits for
        more: a batch must not delay the frame that is ready)."""
        frame = self.source.read(timeout=_POLL_S)
        if frame is None:
            return []
        frames = [frame]
        while len(frames) < self._detect_batch:
            more = self.source.read(timeout=0)
            if more is None:
                break
            frames.append(more)
        return frames

    def _detect_loop(self) -> None:
        try:
            while not self._stop.is_set():
                outages = getattr(self.source, "outages", 0)  # a feed may not reconnect
                if outages != self._outages:
                    self._outages = outages
                    if not self._put_pending(_TracksEnd(DISCONNECTED)):
                        return
                frames = self._take_frames()
                if not frames:
                    if self.source.ended:
                        break
                    continue
                found = self.detector.detect_batch([f.image for f in frames])
                for frame, faces in zip(frames, found):
                    crops = crop_faces(frame.image, faces, **self._crop_args)
                    scores = self.service.submit(crops)
                    if not self._put_pending(_Pending(frame, faces, scores)):
                        return
        except Exception as exc:
            self._fail(exc)
        finally:
            if self.source.error and not self.error:
                self.error = self.source.error
            self._put_pending(None)

    def _result_loop(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    item = self._pending.get(timeout=_POLL_S)
                except queue.Empty:
                    continue
                if item is None:
                    break
                if isinstance(item, _TracksEnd):
                    self._end_tracks(item.reason)
                    continue
                probs = self._wait_scores(item.scores)
                if probs is None:
                    break
                self._publish(item, probs)
        except Exception as exc:
            self._fail(exc)

    def _wait_scores(self, future: Future[np.ndarray]) -> np.ndarray | None:
        while not self._stop.is_set():
            try:
                return future.result(timeout=_POLL_S)
            except FutureTimeout:
                continue
        return None

    def _publish(self, item: _Pending, probs: np.ndarray) -> None:
        frame = item.frame
        ids = self.tracker.update([f.box for f in item.faces], frame.t)
        results = []
        changes: list[AlertChange] = []
        with self._lock:
            for face, track, p in zip(item.faces, ids, probs):
                state, change = self.smoother.update(track, float(p), frame.t)
                if change:
                    changes.append(change)
                results.append(FaceResult(
                    track=track, box=tuple(float(v) for v in face.box),  # type: ignore[arg-type]
                    detection_score=float(face.score), p=float(p), p_smooth=state.p_smooth,
                    peak=state.peak, alert=state.alert, above_s=state.above_s(frame.t),
                ))
            changes.extend(self.smoother.forget_stale(frame.t))
            threshold = self.smoother.threshold
        now = time.monotonic()
        result = FrameResult(
            source=frame.source, index=frame.index, t=frame.t, captured_at=frame.captured_at,
            done_at=now, image=frame.image, faces=tuple(results), threshold=threshold,
            analysed_fps=self._rate.tick(now), provider=self._provider,
            uncertain_band=self.config.uncertain_band,
        )
        self.frames_analyzed += 1
        self.faces_analyzed += len(results)
        self.last_result = result
        self._emit_alerts(changes)
        if self.on_result:
            self.on_result(result)

    def _end_tracks(self, reason: str) -> None:
        """The faces seen so far are gone with the connection: their alerts end with
        `reason`, and faces after it are new tracks."""
        with self._lock:
            now = self.last_result.t if self.last_result else 0.0
            changes = self.smoother.end_all(now, reason)
            self.tracker.clear()
        self._emit_alerts(changes)

    def _emit_alerts(self, changes: list[AlertChange]) -> None:
        if not self.on_alert:
            return
        for c in changes:
            self.on_alert(AlertEvent(
                source=self.name, track=c.track, active=c.active, t=c.t, at=time.time(),
                p_smooth=c.p_smooth, peak=c.peak, threshold=self.smoother.threshold,
                reason=c.reason,
            ))

    def _fail(self, exc: Exception) -> None:
        from ..sources.credentials import mask_credentials

        self.error = mask_credentials(str(exc) or type(exc).__name__)
        log.error("%s: analysis stopped: %s", self.name, self.error)
        self._stop.set()
        self.source.stop()
