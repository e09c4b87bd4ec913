"""The bridge between the Qt-free engine and the GUI: one `StreamWorker` per source.

Threads of a source (none of them is the GUI thread):
- control (control.py): opens the source (a network open can block for seconds), rebuilds the
  analysis chain after a seek or a model change, reopens a file that has ended, saves
  snapshots; commands run one at a time, in order.
- display (stream_chain.py): reads every frame the source delivers (at the source's own rate),
  keeps the newest, passes it on to the analysis, and draws the newest result's overlays on a
  copy of it.
- the engine's: the source's capture thread and the analyzer's detect and result threads.
The analyzer reads from an `AnalysisFeed`, not from the source, so the video keeps playing while
its analysis is rebuilt, and a stream shows video even while no model is loaded.

The GUI learns of new frames and results through signals that carry nothing but the worker: a
notification is only sent when the previous one has been taken (`take_frame`, `take_result`), so
a busy GUI skips to the newest frame instead of working through a queue of stale ones
(tile_state.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from functools import partial
from pathlib import Path

import cv2
from PyQt6.QtCore import QObject, pyqtSignal

from ..analysis.pipeline import FrameResult, StreamAnalyzer
from ..analysis.verdict import UNCERTAIN_BAND
from ..outputs.atomic import atomic_write_bytes
from ..sources.credentials import mask_credentials
from ..sources.spec import SourceKind, SourceSpec, SourceState, StatusEvent
from ..sources.video_source import VideoSource
from .control import ControlThread
from .engine import LoadedModel, emit
from .frames import Composed, draw_overlays
from .recorder import Recorder, RecordingSlot
from .stream_chain import StreamChain
from .tile_state import TileState

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
        lock = threading.Lock()
        self._lock = lock
        self._stopping = threading.Event()
        self._control = ControlThread(self.name, self._stopping,
                                      on_exit=lambda: self._chain.stop_engine())
        self._tile = TileState(lock, short_name=self.short_name, threshold=threshold,
                               analyzer=lambda: self._chain.analyzer, post=self._control.post,
                               notify_frame=lambda: emit(self.frame_ready, self),
                               notify_result=lambda: emit(self.result_ready, self))
        self._recording = RecordingSlot(lock, self.name)
        self._chain = StreamChain(
            spec, self.name, lock=lock, stopping=self._stopping, tile=self._tile,
            recording=self._recording, post=self._control.post, model=model,
            alert_after_s=alert_after_s, uncertain_band=uncertain_band,
            on_status=self._on_status, on_error=self._on_error,
            on_problem=lambda text: emit(self.problem, self, text),
            on_alert=lambda info: emit(self.alert_changed, self, info))
        self.state = SourceState.CONNECTING
        self.message = "opening"
        self.error: str | None = None

    # -- what the GUI reads ---------------------------------------------------------------------

    @property
    def kind(self) -> SourceKind:
        return self.spec.kind

    @property
    def seekable(self) -> bool:
        return self.spec.kind is SourceKind.FILE

    @property
    def source(self) -> VideoSource | None:
        return self._chain.source

    @property
    def analyzer(self) -> StreamAnalyzer | None:
        return self._chain.analyzer

    @property
    def model(self) -> LoadedModel | None:
        return self._chain.model

    @property
    def threshold(self) -> float:
        return self._tile.threshold

    @property
    def paused(self) -> bool:
        source = self._chain.source
        return bool(source is not None and source.seekable and source.paused)

    @property
    def duration_s(self) -> float | None:
        source = self._chain.source
        return source.duration_s if source is not None else None

    @property
    def position_s(self) -> float:
        frame = self._tile.frame
        return frame.t if frame is not None else 0.0

    @property
    def recording(self) -> Path | None:
        return self._recording.path

    @property
    def frames_composed(self) -> int:
        return self._tile.frames_composed

    def take_frame(self) -> Composed | None:
        """The newest frame with overlays; re-arms the frame_ready notification."""
        return self._tile.take_frame()

    def take_result(self) -> FrameResult | None:
        """The newest result, as it looks with the current threshold; re-arms result_ready."""
        return self._tile.take_result()

    def histories(self) -> dict[int, list[tuple[float, float]]]:
        """Smoothed P(fake) of each face over the last minute: (time.monotonic(), p)."""
        return self._tile.histories()

    # -- what the GUI asks for ------------------------------------------------------------------

    def start(self) -> None:
        self._control.start()
        self._control.post(self._chain.open)

    def set_threshold(self, threshold: float) -> None:
        """At once: the analyzer re-evaluates its alerts, the newest frame is redrawn."""
        self._tile.threshold = threshold
        analyzer = self._chain.analyzer
        if analyzer is not None:
            analyzer.set_threshold(threshold)
        self._tile.request_compose()

    def set_display_size(self, width: int, height: int) -> None:
        """The tile's size in device pixels: frames are drawn at most this large."""
        self._tile.set_display_size(width, height)

    def set_alert_after(self, seconds: float) -> None:
        self._chain.alert_after_s = seconds
        analyzer = self._chain.analyzer
        if analyzer is not None:
            analyzer.set_alert_after(seconds)

    def use_model(self, model: LoadedModel | None) -> Future[None]:
        """Analyse with `model` from now on; done once the old analyzer has stopped."""
        self._chain.model = model
        return self._control.post(self._chain.rebuild)

    def pause(self) -> None:
        source = self._chain.source
        if source is not None and source.seekable and source.state is SourceState.LIVE:
            source.pause()

    def resume(self) -> None:
        source = self._chain.source
        if source is None or not source.seekable:
            return
        if source.state is SourceState.ENDED and not self._stopping.is_set():
            self._chain.forget_results()
            # play again from the start
            self._control.post(partial(self._chain.reopen, 0.0, False))
        else:
            source.resume()

    def seek(self, seconds: float) -> None:
        """Show the file from `seconds` on; tracks and alerts start afresh from there."""
        source = self._chain.source
        if source is None or not source.seekable or self._stopping.is_set():
            return
        self._chain.forget_results()
        if source.state is SourceState.ENDED:
            # ended: show that frame, paused
            self._control.post(partial(self._chain.reopen, seconds, True))
        elif source.state is SourceState.LIVE:
            source.seek(seconds)
            self._control.post(self._chain.rebuild)

    def save_snapshot(self, path: Path) -> Future[Path]:
        """PNG of the newest frame with its overlays, written on the control thread."""

        def save() -> Path:
            frame, view = self._tile.newest()
            if frame is None:
                raise ValueError(f"{self.name}: no frame to save yet")
            ok, png = cv2.imencode(".png", draw_overlays(frame.image, view))
            if not ok:
                raise OSError(f"cannot encode {path}")
            atomic_write_bytes(path, png.tobytes())  # never through a link planted at `path`
            return path

        return self._control.post(save)

    def start_recording(self, path: Path,
                        on_done: Callable[[Recorder], None] | None = None) -> None:
        source, model = self._chain.source, self._chain.model
        self._recording.start(path, source.fps if source is not None else 0.0,
                              file=self.spec.kind is SourceKind.FILE,
                              model=model.service.classifier.name if model else "",
                              on_done=on_done)

    def stop_recording(self) -> Recorder | None:
        """Stops at once; the recorder's thread finishes the file by itself."""
        return self._recording.stop()

    def stop(self, timeout: float = 2.0) -> bool:
        """Stop the source, the analysis and this worker's threads; True when all have ended
        within `timeout`. Safe from any thread, idempotent."""
        deadline = time.monotonic() + timeout

        def left() -> float:
            return max(0.05, deadline - time.monotonic())

        self._stopping.set()
        with self._lock:
            analyzer, source = self._chain.analyzer, self._chain.source
            display, recorder = self._chain.display, self._recording.take()
        self._control.close()
        if analyzer is not None:
            analyzer.stop(timeout=left())
        if source is not None:
            source.stop(timeout=left())
        if recorder is not None:
            recorder.finish()
        threads = [t for t in (display, self._control.thread)
                   if t is not None and t.ident is not None]
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(left())
        if recorder is not None:
            recorder.join(left())
        alive = any(t.is_alive() for t in threads) or (recorder is not None
                                                       and not recorder.join(0))
        return not alive

    # -- engine callbacks (engine threads) ------------------------------------------------------

    def _on_status(self, event: StatusEvent) -> None:
        self.state, self.message = event.state, event.message
        if event.state is SourceState.FAILED:
            self.error = event.message
        elif event.state is SourceState.LIVE:
            self.error = None
        emit(self.status_changed, self, event)

    def _on_error(self, message: str) -> None:
        self.error = message


def stop_in_background(worker: StreamWorker, timeout: float) -> threading.Thread:
    """Stop `worker` on a thread of its own, so that the GUI never waits; the thread, started."""
    thread = threading.Thread(target=worker.stop, args=(timeout,), name=f"stopper:{worker.name}",
                              daemon=True)
    thread.start()
    return thread
