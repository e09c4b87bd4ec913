"""What one source's tile shows (`TileState`): the newest frame, the newest result as it looks
with the current threshold, the frame composed with its overlays, each face's recent history.

The GUI is notified of a new frame or result only when it has taken the previous one
(`take_frame`, `take_result`), so a busy GUI skips to the newest instead of working through a
queue of stale ones."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from ..analysis.pipeline import FrameResult, StreamAnalyzer
from ..sources.spec import Frame
from .frames import HISTORY_S, STALE_RESULT_S, TILE_ANNOTATORS, Composed, draw_overlays


class TileState:
    """The newest frame and result of a source and what is drawn of them. `lock` is the
    worker's, which also guards the analyzer that `analyzer()` returns: a frame, its result and
    the analyzer's alert states are always read together. Redraws requested off the display
    thread run through `post` (the control thread)."""

    def __init__(self, lock: threading.Lock, *, short_name: str, threshold: float,
                 analyzer: Callable[[], StreamAnalyzer | None],
                 post: Callable[[Callable[[], Any]], Future[Any]],
                 notify_frame: Callable[[], None], notify_result: Callable[[], None]) -> None:
        self._lock = lock
        self._compose_lock = threading.Lock()
        self._short_name = short_name
        self.threshold = threshold
        self._analyzer = analyzer
        self._post = post
        self._notify_frame = notify_frame
        self._notify_result = notify_result
        self.frame: Frame | None = None
        self.result: FrameResult | None = None
        self._composed: Composed | None = None
        self._seq = 0
        self._frame_pending = False
        self._result_pending = False
        self._compose_queued = False
        self._history: dict[int, deque[tuple[float, float]]] = {}
        self._display_size: tuple[int, int] | None = None
        self.frames_composed = 0

    # -- what the GUI takes ---------------------------------------------------------------------

    def take_frame(self) -> Composed | None:
        """The newest frame with overlays; re-arms the frame_ready notification."""
        with self._lock:
            self._frame_pending = False
            return self._composed

    def take_result(self) -> FrameResult | None:
        """The newest result, as it looks with the current threshold; re-arms result_ready."""
        with self._lock:
            self._result_pending = False
            result, analyzer = self.result, self._analyzer()
        return self.view(result, analyzer)

    def histories(self) -> dict[int, list[tuple[float, float]]]:
        """Smoothed P(fake) of each face over the last minute: (time.monotonic(), p)."""
        with self._lock:
            return {track: list(points) for track, points in self._history.items()}

    def set_display_size(self, width: int, height: int) -> None:
        """The tile's size in device pixels: frames are drawn at most this large."""
        size = (max(1, int(width)), max(1, int(height)))
        if size != self._display_size:
            self._display_size = size
            self.request_compose()

    # -- results (call with the lock held) ------------------------------------------------------

    def forget_results(self) -> None:
        """Results of frames before a seek or a rebuild must not be drawn on frames after it."""
        self.result = None
        self._history.clear()

    def add_result(self, result: FrameResult) -> bool:
        """The newest result, and each face's smoothed P(fake) into its history; whether to
        notify the GUI (`notify_result`, once the lock is released)."""
        self.result = result
        now = result.done_at
        for face in result.faces:
            self._history.setdefault(face.track, deque()).append((now, face.p_smooth))
        for track in list(self._history):
            points = self._history[track]
            while points and points[0][0] < now - HISTORY_S:
                points.popleft()
            if not points:
                del self._history[track]
        notify, self._result_pending = not self._result_pending, True
        return notify

    def notify_result(self) -> None:
        self._notify_result()

    # -- drawing --------------------------------------------------------------------------------

    def request_compose(self) -> None:
        """Redraw the newest frame (threshold change, pause) on the control thread."""
        with self._lock:
            if self._compose_queued or self.frame is None:
                return
            self._compose_queued = True

        def compose() -> None:
            with self._lock:
                self._compose_queued = False
            self.compose()

        self._post(compose)

    def compose(self) -> Composed | None:
        with self._compose_lock:
            with self._lock:
                frame, result, analyzer = self.frame, self.result, self._analyzer()
            if frame is None:
                return None
            # the analyzer reads the original: draw on a (scaled) copy
            image = draw_overlays(frame.image, self.overlay_view(frame, result, analyzer),
                                  self._display_size, TILE_ANNOTATORS)
            with self._lock:
                self._seq += 1
                composed = Composed(image, frame.t, frame.index, self._seq)
                self._composed = composed
                self.frames_composed += 1
                notify, self._frame_pending = not self._frame_pending, True
        if notify:
            self._notify_frame()
        return composed

    def newest(self) -> tuple[Frame | None, FrameResult | None]:
        """The newest frame and what to draw on it."""
        with self._lock:
            frame, result, analyzer = self.frame, self.result, self._analyzer()
        view = self.overlay_view(frame, result, analyzer) if frame is not None else None
        return frame, view

    def view_on(self, frame: Frame) -> FrameResult | None:
        """What to draw on `frame` (a frame being recorded) now."""
        with self._lock:
            result, analyzer = self.result, self._analyzer()
        return self.overlay_view(frame, result, analyzer)

    def overlay_view(self, frame: Frame, result: FrameResult | None,
                     analyzer: StreamAnalyzer | None) -> FrameResult | None:
        """What to draw on `frame`: the newest result unless it is stale, labelled with the
        short name."""
        view = self.view(result, analyzer)
        if view is None or frame.captured_at - view.captured_at > STALE_RESULT_S:
            return None
        return replace(view, source=self._short_name)

    def view(self, result: FrameResult | None,
             analyzer: StreamAnalyzer | None) -> FrameResult | None:
        """`result` with the current threshold and alert states, for overlays and meters."""
        if result is None:
            return None
        faces = result.faces
        if analyzer is not None:
            states = analyzer.smoother.faces
            faces = tuple(replace(f, alert=s.alert) if (s := states.get(f.track)) else f
                          for f in faces)
        return replace(result, threshold=self.threshold, faces=faces)
