"""The bridge between the Qt-free engine and the GUI: an `Engine` for the shared model and one
`StreamWorker` per source.

Threads of a source (none of them is the GUI thread):
- control: opens the source (a network open can block for seconds), rebuilds the analysis chain
  after a seek or a model change, reopens a file that has ended, saves snapshots; commands run
  one at a time, in order.
- display: reads every frame the source delivers (at the source's own rate), keeps the newest,
  passes it on to the analysis, and draws the newest result's overlays on a copy of it.
- the engine's: the source's capture thread and the analyzer's detect and result threads.
The analyzer reads from an `AnalysisFeed`, not from the source, so the video keeps playing while
its analysis is rebuilt, and a stream shows video even while no model is loaded.

The GUI learns of new frames and results through signals that carry nothing but the worker: a
notification is only sent when the previous one has been taken (`take_frame`, `take_result`), so
a busy GUI skips to the newest frame instead of working through a queue of stale ones.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, cast

import cv2
from PyQt6.QtCore import QObject, pyqtSignal

from ..analysis.pipeline import AlertEvent, AnalysisConfig, FrameResult, StreamAnalyzer
from ..analysis.tracking import SmoothingConfig
from ..analysis.verdict import UNCERTAIN_BAND
from ..errors import SourceError
from ..outputs.atomic import atomic_write_bytes
from ..outputs.overlays import (
    BoxAnnotator,
    HeaderAnnotator,
    LabelAnnotator,
    MeterAnnotator,
)
from ..sources.credentials import mask_credentials
from ..sources.spec import Frame, SourceKind, SourceSpec, SourceState, StatusEvent
from ..sources.video_source import VideoSource
from .engine import LoadedModel, emit
from .feed import AnalysisFeed
from .frames import (
    HISTORY_S,
    STALE_RESULT_S,
    TILE_ANNOTATORS,
    AlertInfo,
    Composed,
    draw_overlays,
    face_thumbnail,
)
from .recorder import Recorder

log = logging.getLogger(__name__)

# -- one source -------------------------------------------------------------------------------


class StreamWorker(QObject):
    """One source with its analysis; every method may be called from the GUI thread without
    waiting on decoding, detection or inference (the blocking parts run on the control thread).
    Signals carry the worker itself; the GUI then takes the newest frame or result."""

    status_changed = pyqtSignal(object, object)  # worker, StatusEvent
    frame_ready = pyqtSignal(object)  # worker
    result_ready = pyqtSignal(object)  # worker
    alert_changed = pyqtSignal(object, object)  # worker, AlertInfo
    problem = pyqtSignal(object, str)  # worker, one line for the tile (analysis stopped)

    def __init__(self, spec: SourceSpec, *, threshold: float, alert_after_s: float = 1.0,
                 model: LoadedModel | None = None, storable: str | None = None,
                 uncertain_band: float = UNCERTAIN_BAND, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.name = mask_credentials(spec.name)
        # what tiles, panels and overlays show: a file's name, a stream's masked URL
        self.short_name = Path(self.name).name if spec.kind is SourceKind.FILE else self.name
        self.storable = storable if storable is not None else mask_credentials(spec.name)
        self._threshold = threshold
        self._alert_after_s = alert_after_s
        self._uncertain_band = uncertain_band
        self._model = model
        self._lock = threading.Lock()
        self._compose_lock = threading.Lock()
        self._stopping = threading.Event()
        self._commands: queue.Queue[tuple[Callable[[], Any], Future[Any]] | None] = queue.Queue()
        self._control = threading.Thread(target=self._control_loop, name=f"control:{self.name}",
                                         daemon=True)
        self._display: threading.Thread | None = None
        self._source: VideoSource | None = None
        self._open_id = 0
        self._feed: AnalysisFeed | None = None
        self._analyzer: StreamAnalyzer | None = None
        self._generation = 0
        self._frame: Frame | None = None
        self._result: FrameResult | None = None
        self._composed: Composed | None = None
        self._seq = 0
        self._frame_pending = False
        self._result_pending = False
        self._compose_queued = False
        self._history: dict[int, deque[tuple[float, float]]] = {}
        self._recorder: Recorder | None = None
        self._display_size: tuple[int, int] | None = None
        self._problem_reported = False
        self.state = SourceState.CONNECTING
        self.message = "opening"
        self.error: str | None = None
        self.frames_composed = 0

    # -- what the GUI reads ---------------------------------------------------------------------

    @property
    def kind(self) -> SourceKind:
        return self.spec.kind

    @property
    def seekable(self) -> bool:
        return self.spec.kind is SourceKind.FILE

    @property
    def source(self) -> VideoSource | None:
        return self._source

    @property
    def analyzer(self) -> StreamAnalyzer | None:
        return self._analyzer

    @property
    def model(self) -> LoadedModel | None:
        return self._model

    @property
    def threshold(self) -> float:
        return self._threshold

    @property
    def paused(self) -> bool:
        source = self._source
        return bool(source is not None and source.seekable and source.paused)

    @property
    def duration_s(self) -> float | None:
        source = self._source
        return source.duration_s if source is not None else None

    @property
    def position_s(self) -> float:
        frame = self._frame
        return frame.t if frame is not None else 0.0

    @property
    def recording(self) -> Path | None:
        recorder = self._recorder
        return recorder.path if recorder is not None else None

    def take_frame(self) -> Composed | None:
        """The newest frame with overlays; re-arms the frame_ready notification."""
        with self._lock:
            self._frame_pending = False
            return self._composed

    def take_result(self) -> FrameResult | None:
        """The newest result, as it looks with the current threshold; re-arms result_ready."""
        with self._lock:
            self._result_pending = False
            result, analyzer = self._result, self._analyzer
        return self._view(result, analyzer)

    def histories(self) -> dict[int, list[tuple[float, float]]]:
        """Smoothed P(fake) of each face over the last minute: (time.monotonic(), p)."""
        with self._lock:
            return {track: list(points) for track, points in self._history.items()}

    # -- what the GUI asks for ------------------------------------------------------------------

    def start(self) -> None:
        self._control.start()
        self._post(self._open)

    def set_threshold(self, threshold: float) -> None:
        """At once: the analyzer re-evaluates its alerts, the newest frame is redrawn."""
        self._threshold = threshold
        analyzer = self._analyzer
        if analyzer is not None:
            analyzer.set_threshold(threshold)
        self._request_compose()

    def set_display_size(self, width: int, height: int) -> None:
        """The tile's size in device pixels: frames are drawn at most this large."""
        size = (max(1, int(width)), max(1, int(height)))
        if size != self._display_size:
            self._display_size = size
            self._request_compose()

    def set_alert_after(self, seconds: float) -> None:
        self._alert_after_s = seconds
        analyzer = self._analyzer
        if analyzer is not None:
            analyzer.set_alert_after(seconds)

    def use_model(self, model: LoadedModel | None) -> Future[None]:
        """Analyse with `model` from now on; done once the old analyzer has stopped."""
        self._model = model
        return self._post(self._rebuild)

    def pause(self) -> None:
        source = self._source
        if source is not None and source.seekable and source.state is SourceState.LIVE:
            source.pause()

    def resume(self) -> None:
        source = self._source
        if source is None or not source.seekable:
            return
        if source.state is SourceState.ENDED and not self._stopping.is_set():
            self._forget_results()
            self._post(partial(self._reopen, 0.0, False))  # play again from the start
        else:
            source.resume()

    def seek(self, seconds: float) -> None:
        """Show the file from `seconds` on; tracks and alerts start afresh from there."""
        source = self._source
        if source is None or not source.seekable or self._stopping.is_set():
            return
        self._forget_results()
        if source.state is SourceState.ENDED:
            self._post(partial(self._reopen, seconds, True))  # ended: show that frame, paused
        elif source.state is SourceState.LIVE:
            source.seek(seconds)
            self._post(self._rebuild)

    def save_snapshot(self, path: Path) -> Future[Path]:
        """PNG of the newest frame with its overlays, written on the control thread."""

        def save() -> Path:
            with self._lock:
                frame, result, analyzer = self._frame, self._result, self._analyzer
            if frame is None:
                raise ValueError(f"{self.name}: no frame to save yet")
            image = draw_overlays(frame.image, self._overlay_view(frame, result, analyzer))
            ok, png = cv2.imencode(".png", image)
            if not ok:
                raise OSError(f"cannot encode {path}")
            atomic_write_bytes(path, png.tobytes())  # never through a link planted at `path`
            return path

        return self._post(save)

    def start_recording(self, path: Path,
                        on_done: Callable[[Recorder], None] | None = None) -> None:
        source, model = self._source, self._model
        fps = source.fps if source is not None else 0.0
        header = HeaderAnnotator(file=self.spec.kind is SourceKind.FILE,
                                 model=model.service.classifier.name if model else "")
        recorder = Recorder(path, fps, self.name, on_done=on_done,
                            annotators=(header, BoxAnnotator(), MeterAnnotator(),
                                        LabelAnnotator(header)))
        with self._lock:
            old, self._recorder = self._recorder, recorder
        if old is not None:
            old.finish()

    def stop_recording(self) -> Recorder | None:
        """Stops at once; the recorder's thread finishes the file by itself."""
        with self._lock:
            recorder, self._recorder = self._recorder, None
        if recorder is not None:
            recorder.finish()
        return recorder

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop the source, the analysis and this worker's threads; True when all have ended
        within `timeout`. Safe from any thread, idempotent."""
        deadline = time.monotonic() + timeout

        def left() -> float:
            return max(0.05, deadline - time.monotonic())

        self._stopping.set()
        with self._lock:
            analyzer, source, recorder = self._analyzer, self._source, self._recorder
            display, self._recorder = self._display, None
        self._commands.put(None)
        if analyzer is not None:
            analyzer.stop(timeout=left())
        if source is not None:
            source.stop(timeout=left())
        if recorder is not None:
            recorder.finish()
        threads = [t for t in (display, self._control) if t is not None and t.ident is not None]
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(left())
        if recorder is not None:
            recorder.join(left())
        alive = any(t.is_alive() for t in threads) or (recorder is not None
                                                       and not recorder.join(0))
        return not alive

    # -- control thread ---------------------------------------------------------------------

    def _post(self, command: Callable[[], Any]) -> Future[Any]:
        future: Future[Any] = Future()
        if self._stopping.is_set():
            future.cancel()
        else:
            self._commands.put((command, future))
        return future

    def _control_loop(self) -> None:
        try:
            while (item := self._commands.get()) is not None:
                command, future = item
                if self._stopping.is_set():
                    future.cancel()
                    continue
                if not future.set_running_or_notify_cancel():
                    continue
                try:
                    future.set_result(command())
                except Exception as exc:
                    if not self._stopping.is_set():
                        log.debug("%s: command failed", self.name, exc_info=True)
                    future.set_exception(exc)
        finally:
            # stop() may have looked before this thread opened something: stop it here.
            with self._lock:
                analyzer, source = self._analyzer, self._source
            if analyzer is not None:
                analyzer.stop(timeout=1.0)
            if source is not None:
                source.stop(timeout=1.0)
            while True:
                try:
                    item = self._commands.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[1].cancel()

    def _open(self, seek_to: float | None = None, paused: bool = False) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            self._open_id += 1
            # a video file served over http(s) plays at its own speed, as local files do
            source = VideoSource(self.spec, on_status=partial(self._on_status, self._open_id),
                                 play_finite_live=True)
            self._source = source
        try:
            source.open()
        except SourceError as exc:
            self.error = source.error or str(exc)
            return  # the FAILED status already reached the GUI
        if self._stopping.is_set():
            source.stop()
            return
        if seek_to is not None and source.seekable:
            source.seek(seek_to)  # before start(): the capture thread begins there
        if paused and source.seekable:
            source.pause()
        source.start()
        display = threading.Thread(target=self._display_loop, args=(source,),
                                   name=f"display:{self.name}", daemon=True)
        with self._lock:
            if self._stopping.is_set():
                return
            self._display = display
        display.start()
        self._rebuild()

    def _reopen(self, seek_to: float, paused: bool) -> None:
        """A file that ended has released its capture: open it again at `seek_to`."""
        with self._lock:
            old, display = self._source, self._display
        if old is not None:
            old.stop(timeout=1.0)
        if display is not None:
            display.join(1.0)
        self._open(seek_to=seek_to, paused=paused)

    def _rebuild(self) -> None:
        """A fresh analyzer (new tracks, smoothing and alerts) on the current model."""
        with self._lock:
            self._generation += 1
            generation = self._generation
            old = self._analyzer
            self._analyzer = self._feed = None
            self._result = None
            self._history.clear()
            self._problem_reported = False
            source, model = self._source, self._model
        if old is not None:
            old.stop(timeout=2.0)
        if model is None or source is None or self._stopping.is_set() \
                or source.state is SourceState.FAILED:
            self._request_compose()
            return
        feed = AnalysisFeed(source)
        config = AnalysisConfig(threshold=self._threshold, pending_frames=2,
                                smoothing=SmoothingConfig(alert_after_s=self._alert_after_s),
                                uncertain_band=self._uncertain_band)
        analyzer = StreamAnalyzer(cast(VideoSource, feed), model.detector, model.service, config,
                                  on_result=partial(self._on_result, generation),
                                  on_alert=partial(self._on_alert, generation))
        with self._lock:
            if self._stopping.is_set() or generation != self._generation:
                return
            self._feed, self._analyzer = feed, analyzer
            if self._frame is not None and source.paused:
                feed.put(self._frame)  # paused: analyse the frame on screen
        analyzer.start()
        # the GUI may have moved the slider while this analyzer was being built
        if analyzer.threshold != self._threshold:
            analyzer.set_threshold(self._threshold)
        if analyzer.smoother.config.alert_after_s != self._alert_after_s:
            analyzer.set_alert_after(self._alert_after_s)
        self._request_compose()

    def _forget_results(self) -> None:
        """Results of frames before a seek must not be drawn on frames after it."""
        with self._lock:
            self._generation += 1
            self._result = None
            self._history.clear()

    # -- display thread ---------------------------------------------------------------------

    def _display_loop(self, source: VideoSource) -> None:
        while not self._stopping.is_set():
            frame = source.read(timeout=0.25)
            if frame is None:
                if source.ended:
                    break
                continue
            with self._lock:
                if self._source is not source:
                    return
                self._frame = frame
                feed = self._feed
            if feed is not None:
                feed.put(frame)
            self._compose()
            recorder = self._recorder
            if recorder is not None:
                with self._lock:
                    result, analyzer = self._result, self._analyzer
                recorder.write(frame.image, self._overlay_view(frame, result, analyzer),
                               frame.captured_at)
            self._check_analysis()
        with self._lock:
            feed = self._feed if self._source is source else None
        if feed is not None:
            feed.close()  # the analyzer finishes what it has, then ends

    def _check_analysis(self) -> None:
        analyzer = self._analyzer
        if analyzer is None or not analyzer.error or self._problem_reported:
            return
        source = self._source
        if source is not None and analyzer.error == source.error:
            return  # the source failed: its FAILED status says so already
        self._problem_reported = True
        emit(self.problem, self, f"analysis stopped: {analyzer.error}")

    def _request_compose(self) -> None:
        """Redraw the newest frame (threshold change, pause) on the control thread."""
        with self._lock:
            if self._compose_queued or self._frame is None:
                return
            self._compose_queued = True

        def compose() -> None:
            with self._lock:
                self._compose_queued = False
            self._compose()

        self._post(compose)

    def _compose(self) -> Composed | None:
        with self._compose_lock:
            with self._lock:
                frame, result, analyzer = self._frame, self._result, self._analyzer
            if frame is None:
                return None
            # the analyzer reads the original: draw on a (scaled) copy
            image = draw_overlays(frame.image, self._overlay_view(frame, result, analyzer),
                                  self._display_size, TILE_ANNOTATORS)
            with self._lock:
                self._seq += 1
                composed = Composed(image, frame.t, frame.index, self._seq)
                self._composed = composed
                self.frames_composed += 1
                notify, self._frame_pending = not self._frame_pending, True
        if notify:
            emit(self.frame_ready, self)
        return composed

    def _overlay_view(self, frame: Frame, result: FrameResult | None,
                      analyzer: StreamAnalyzer | None) -> FrameResult | None:
        """What to draw on `frame`: the newest result unless it is stale, labelled with the
        short name."""
        view = self._view(result, analyzer)
        if view is None or frame.captured_at - view.captured_at > STALE_RESULT_S:
            return None
        return replace(view, source=self.short_name)

    def _view(self, result: FrameResult | None,
              analyzer: StreamAnalyzer | None) -> FrameResult | None:
        """`result` with the current threshold and alert states, for overlays and meters."""
        if result is None:
            return None
        faces = result.faces
        if analyzer is not None:
            states = analyzer.smoother.faces
            faces = tuple(replace(f, alert=s.alert) if (s := states.get(f.track)) else f
                          for f in faces)
        return replace(result, threshold=self._threshold, faces=faces)

    # -- engine callbacks (engine threads) --------------------------------------------------

    def _on_status(self, open_id: int, event: StatusEvent) -> None:
        if open_id != self._open_id or self._stopping.is_set():
            return
        self.state, self.message = event.state, event.message
        if event.state is SourceState.FAILED:
            self.error = event.message
        elif event.state is SourceState.LIVE:
            self.error = None
        emit(self.status_changed, self, event)

    def _on_result(self, generation: int, result: FrameResult) -> None:
        with self._lock:
            if generation != self._generation:
                return
            self._result = result
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
            source = self._source
        if source is not None and (source.paused or source.ended):
            self._compose()  # no new frame will come to carry this result
        if notify:
            emit(self.result_ready, self)

    def _on_alert(self, generation: int, event: AlertEvent) -> None:
        if generation != self._generation or self._stopping.is_set():
            return
        thumbnail = None
        analyzer = self._analyzer
        result = analyzer.last_result if analyzer is not None else None
        if result is not None:
            face = next((f for f in result.faces if f.track == event.track), None)
            if face is not None:
                thumbnail = face_thumbnail(result.image, face.box)
        emit(self.alert_changed, self, AlertInfo(self.name, event, thumbnail))
