"""The analyzer's input (`AnalysisFeed`): frames the display passes on, so that the video keeps
playing while its analysis is rebuilt, and a stream shows video even while no model is loaded."""

from __future__ import annotations

import threading

from ..sources.spec import Frame
from ..sources.video_source import VideoSource

# -- the analyzer's input ---------------------------------------------------------------------


class AnalysisFeed:
    """What a StreamAnalyzer reads instead of the source: a newest-frame slot filled by the
    display thread. Stopping the analyzer closes only this feed, not the source."""

    def __init__(self, source: VideoSource) -> None:
        self._source = source
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._closed = False
        self.frames_dropped = 0

    @property
    def name(self) -> str:
        return self._source.name

    @property
    def live(self) -> bool:
        """A newest-frame slot: the analyzer takes one frame at a time, never a batch."""
        return True

    @property
    def ended(self) -> bool:
        with self._cond:
            return self._closed and self._frame is None

    @property
    def error(self) -> str | None:
        return self._source.error

    @property
    def outages(self) -> int:
        """The source's disconnections: the analyzer ends its alerts with them."""
        return self._source.outages

    def start(self) -> None:
        """Nothing to start: the display thread feeds it."""

    def put(self, frame: Frame) -> None:
        with self._cond:
            if self._closed:
                return
            if self._frame is not None:
                self.frames_dropped += 1
            self._frame = frame
            self._cond.notify_all()

    def read(self, timeout: float | None = None) -> Frame | None:
        with self._cond:
            self._cond.wait_for(lambda: self._frame is not None or self._closed, timeout)
            frame, self._frame = self._frame, None
            return frame

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def stop(self, timeout: float = 2.0) -> None:
        self.close()
