"""The engine feed of one source (`StreamChain`): the `VideoSource`, the display thread that
reads it, and the analysis chain fed from it (`AnalysisFeed` -> `StreamAnalyzer`), opened,
reopened and rebuilt on the control thread.

The display thread reads every frame the source delivers (at the source's own rate), keeps the
newest, passes it on to the analysis and to a recording, and has the tile draw the newest
result's overlays on a copy of it. The analyzer reads from the feed, not from the source, so
the video keeps playing while its analysis is rebuilt, and a stream shows video even while no
model is loaded."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial
from typing import cast

from ..analysis.pipeline import AlertEvent, AnalysisConfig, FrameResult, StreamAnalyzer
from ..analysis.tracking import SmoothingConfig
from ..errors import SourceError
from ..sources.spec import SourceSpec, SourceState, StatusEvent
from ..sources.video_source import VideoSource
from .engine import LoadedModel
from .feed import AnalysisFeed
from .frames import AlertInfo, face_thumbnail
from .recorder import RecordingSlot
from .tile_state import TileState


class StreamChain:
    """A source and its analysis. `lock` and `stopping` are the worker's; `post` runs a
    command on its control thread. What the GUI must hear goes out through the callbacks:
    `on_status` (the current source's events), `on_error` (why an open failed), `on_problem`
    (the analysis stopped) and `on_alert`."""

    def __init__(self, spec: SourceSpec, name: str, *, lock: threading.Lock,
                 stopping: threading.Event, tile: TileState, recording: RecordingSlot,
                 post: Callable[[Callable[[], None]], object], model: LoadedModel | None,
                 alert_after_s: float, uncertain_band: float,
                 on_status: Callable[[StatusEvent], None], on_error: Callable[[str], None],
                 on_problem: Callable[[str], None],
                 on_alert: Callable[[AlertInfo], None]) -> None:
        self.spec = spec
        self.name = name
        self._lock = lock
        self._stopping = stopping
        self._tile = tile
        self._recording = recording
        self._post = post
        self.model = model
        self.alert_after_s = alert_after_s
        self._uncertain_band = uncertain_band
        self._on_status, self._on_error = on_status, on_error
        self._on_problem, self._on_alert = on_problem, on_alert
        self.source: VideoSource | None = None
        self.display: threading.Thread | None = None
        self.feed: AnalysisFeed | None = None
        self.analyzer: StreamAnalyzer | None = None
        self._open_id = 0
        self._generation = 0
        self._problem_reported = False

    # -- control thread -------------------------------------------------------------------------

    def open(self, seek_to: float | None = None, paused: bool = False) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            self._open_id += 1
            # a video file served over http(s) plays at its own speed, as local files do
            source = VideoSource(self.spec, on_status=partial(self._status, self._open_id),
                                 play_finite_live=True)
            self.source = source
        try:
            source.open()
        except SourceError as exc:
            self._on_error(source.error or str(exc))
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
            self.display = display
        display.start()
        self.rebuild()

    def reopen(self, seek_to: float, paused: bool) -> None:
        """A file that ended has released its capture: open it again at `seek_to`."""
        with self._lock:
            old, display = self.source, self.display
        if old is not None:
            old.stop(timeout=1.0)
        if display is not None:
            display.join(1.0)
        self.open(seek_to=seek_to, paused=paused)

    def rebuild(self) -> None:
        """A fresh analyzer (new tracks, smoothing and alerts) on the current model."""
        with self._lock:
            self._generation += 1
            generation = self._generation
            old = self.analyzer
            self.analyzer = self.feed = None
            self._tile.forget_results()
            self._problem_reported = False
            source, model = self.source, self.model
        if old is not None:
            old.stop(timeout=2.0)
        if model is None or source is None or self._stopping.is_set() \
                or source.state is SourceState.FAILED:
            self._tile.request_compose()
            return
        feed = AnalysisFeed(source)
        threshold = self._tile.threshold
        config = AnalysisConfig(threshold=threshold, pending_frames=2,
                                smoothing=SmoothingConfig(alert_after_s=self.alert_after_s),
                                uncertain_band=self._uncertain_band)
        analyzer = StreamAnalyzer(cast(VideoSource, feed), model.detector, model.service, config,
                                  on_result=partial(self._result, generation),
                                  on_alert=partial(self._alert, generation))
        with self._lock:
            if self._stopping.is_set() or generation != self._generation:
                return
            self.feed, self.analyzer = feed, analyzer
            if self._tile.frame is not None and source.paused:
                feed.put(self._tile.frame)  # paused: analyse the frame on screen
        analyzer.start()
        # the GUI may have moved the slider while this analyzer was being built
        if analyzer.threshold != self._tile.threshold:
            analyzer.set_threshold(self._tile.threshold)
        if analyzer.smoother.config.alert_after_s != self.alert_after_s:
            analyzer.set_alert_after(self.alert_after_s)
        self._tile.request_compose()

    def forget_results(self) -> None:
        """Results of frames before a seek must not be drawn on frames after it."""
        with self._lock:
            self._generation += 1
            self._tile.forget_results()

    def stop_engine(self) -> None:
        """Stop the analyzer and the source (as the control thread ends: stop() may have
        looked before it opened something)."""
        with self._lock:
            analyzer, source = self.analyzer, self.source
        if analyzer is not None:
            analyzer.stop(timeout=1.0)
        if source is not None:
            source.stop(timeout=1.0)

    # -- display thread -------------------------------------------------------------------------

    def _display_loop(self, source: VideoSource) -> None:
        while not self._stopping.is_set():
            frame = source.read(timeout=0.25)
            if frame is None:
                if source.ended:
                    break
                continue
            with self._lock:
                if self.source is not source:
                    return
                self._tile.frame = frame
                feed = self.feed
            if feed is not None:
                feed.put(frame)
            self._tile.compose()
            recorder = self._recording.recorder
            if recorder is not None:
                recorder.write(frame.image, self._tile.view_on(frame), frame.captured_at)
            self._check_analysis()
        with self._lock:
            feed = self.feed if self.source is source else None
        if feed is not None:
            feed.close()  # the analyzer finishes what it has, then ends

    def _check_analysis(self) -> None:
        analyzer = self.analyzer
        if analyzer is None or not analyzer.error or self._problem_reported:
            return
        source = self.source
        if source is not None and analyzer.error == source.error:
            return  # the source failed: its FAILED status says so already
        self._problem_reported = True
        self._on_problem(f"analysis stopped: {analyzer.error}")

    # -- engine callbacks (engine threads) ------------------------------------------------------

    def _status(self, open_id: int, event: StatusEvent) -> None:
        if open_id != self._open_id or self._stopping.is_set():
            return
        self._on_status(event)

    def _result(self, generation: int, result: FrameResult) -> None:
        with self._lock:
            if generation != self._generation:
                return
            notify = self._tile.add_result(result)
            source = self.source
        if source is not None and (source.paused or source.ended):
            self._tile.compose()  # no new frame will come to carry this result
        if notify:
            self._tile.notify_result()

    def _alert(self, generation: int, event: AlertEvent) -> None:
        if generation != self._generation or self._stopping.is_set():
            return
        thumbnail = None
        analyzer = self.analyzer
        result = analyzer.last_result if analyzer is not None else None
        if result is not None:
            face = next((f for f in result.faces if f.track == event.track), None)
            if face is not None:
                thumbnail = face_thumbnail(result.image, face.box)
        self._on_alert(AlertInfo(self.name, event, thumbnail))
