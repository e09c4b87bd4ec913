"""The app's recordings (`Recorder`): annotated frames written to H.264 on a thread of their own,
with a bounded queue, so that a slow disk never stalls the display; and a source's slot for the
one that runs (`RecordingSlot`)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..analysis.pipeline import FrameResult
from ..outputs.overlays import (
    DEFAULT_ANNOTATORS,
    Annotator,
    BoxAnnotator,
    HeaderAnnotator,
    LabelAnnotator,
    MeterAnnotator,
)
from ..outputs.video_writer import H264Writer
from .frames import draw_overlays

log = logging.getLogger(__name__)

# -- recording --------------------------------------------------------------------------------


class Recorder:
    """Writes frames with their overlays (drawn at full size) to an MP4 that browsers play
    (H.264, video_writer.py) on its own thread, so that drawing and encoding never slow the
    display down. Each frame is shown at its capture time, so dropped frames and pauses keep
    real time. At most `max_queued` frames wait; beyond that frames are dropped (and counted)
    rather than letting memory grow."""

    def __init__(self, path: Path, fps: float, name: str, max_queued: int = 64,
                 on_done: Callable[[Recorder], None] | None = None,
                 annotators: tuple[Annotator, ...] = DEFAULT_ANNOTATORS) -> None:
        self.path = path
        self.on_done = on_done  # called on the recorder's thread once the file is closed
        self.fps = fps if fps > 0 else 25.0
        self.annotators = annotators
        self.max_queued = max_queued
        self.frames_written = 0
        self.frames_dropped = 0
        self.error: str | None = None
        self._queue: queue.Queue[tuple[np.ndarray, FrameResult | None, float | None] | None] = \
            queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"recorder:{name}", daemon=True)
        self._thread.start()

    def write(self, image: np.ndarray, view: FrameResult | None, t: float | None = None) -> None:
        """A frame as the source delivered it, the overlays to draw on it, and when it was
        captured (seconds on any clock; None: one frame interval after the last)."""
        if self._queue.qsize() >= self.max_queued:
            self.frames_dropped += 1
            return
        self._queue.put((image, view, t))

    def finish(self) -> None:
        """No more frames: the thread writes what is queued, closes the file and ends."""
        self._queue.put(None)

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        writer = H264Writer(self.path, self.fps)
        try:
            while (item := self._queue.get()) is not None:
                if self.error:
                    continue
                image, view, t = item
                # a camera that changed resolution is resized to the first frame's size
                writer.write(draw_overlays(image, view, annotators=self.annotators), t)
                self.frames_written += 1
        except Exception as exc:  # a full disk must not pass silently
            self.error = f"cannot write {self.path}: {exc}"
        finally:
            try:
                writer.close()
            except Exception as exc:
                self.error = self.error or f"cannot write {self.path}: {exc}"
            if self.on_done is not None:
                self.on_done(self)


class RecordingSlot:
    """A source's recording, if one runs: started and stopped from the GUI thread, fed by the
    display thread. `lock` is the worker's."""

    def __init__(self, lock: threading.Lock, name: str) -> None:
        self._lock = lock
        self._name = name
        self.recorder: Recorder | None = None

    @property
    def path(self) -> Path | None:
        recorder = self.recorder
        return recorder.path if recorder is not None else None

    def start(self, path: Path, fps: float, *, file: bool, model: str,
              on_done: Callable[[Recorder], None] | None = None) -> None:
        """Record from now on to `path`, with the header, boxes, meters and labels of the
        annotated video; a recording already running is finished."""
        header = HeaderAnnotator(file=file, model=model)
        recorder = Recorder(path, fps, self._name, on_done=on_done,
                            annotators=(header, BoxAnnotator(), MeterAnnotator(),
                                        LabelAnnotator(header)))
        with self._lock:
            old, self.recorder = self.recorder, recorder
        if old is not None:
            old.finish()

    def take(self) -> Recorder | None:
        """The running recorder, no longer this slot's (call with the lock held)."""
        recorder, self.recorder = self.recorder, None
        return recorder

    def stop(self) -> Recorder | None:
        """Stops at once; the recorder's thread finishes the file by itself."""
        with self._lock:
            recorder = self.take()
        if recorder is not None:
            recorder.finish()
        return recorder
