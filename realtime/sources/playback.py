"""Pause, resume and seek of a file played live (`PlaybackControl`): requested from any thread,
acted on by the capture thread between two frames."""

from __future__ import annotations

import math
import threading

from .capture import Capture


class PlaybackControl:
    """The requests (paused or not, where to seek) under one condition, which the capture
    thread waits on while paused: no polling. `wake()` lets a paused thread see a stop. Only
    a `seekable` source (a file played live) takes requests: others raise ValueError."""

    def __init__(self, name: str, seekable: bool, stop: threading.Event) -> None:
        self._name = name
        self.seekable = seekable
        self._stop = stop
        self._control = threading.Condition()
        self._paused = False
        self._seek_to: float | None = None
        self._step = False  # paused, after a seek: deliver the frame at the new position

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._require_seekable("pause")
        with self._control:
            self._paused = True
            self._control.notify_all()

    def resume(self) -> None:
        self._require_seekable("resume")
        with self._control:
            self._paused = False
            self._control.notify_all()

    def seek(self, seconds: float) -> None:
        """Request a seek; only the latest request before the capture thread gets to it
        counts."""
        self._require_seekable("seek")
        if not math.isfinite(seconds):
            raise ValueError(f"seek position must be finite, got {seconds}")
        with self._control:
            self._seek_to = max(0.0, float(seconds))
            self._control.notify_all()

    def _require_seekable(self, what: str) -> None:
        if not self.seekable:
            raise ValueError(f"{self._name}: cannot {what}: only video files played live can "
                             "pause and seek")

    def wake(self) -> None:
        """Wake a paused capture thread (after a stop, which it then sees)."""
        with self._control:
            self._control.notify_all()

    def delivered(self) -> None:
        """A frame was handed on: a paused source's step after a seek is done."""
        self._step = False

    def apply(self, capture: Capture, index: int) -> tuple[int, bool] | None:
        """Apply pause and seek requests between two frames of a file played live.

        Returns the index of the last frame delivered (a seek changes it) and whether the
        pacing clock is to be re-based, or None once stopped. Waits on the condition while
        paused; seeks outside the lock (seeking decodes up to the target, and pause() or seek()
        from the GUI must not wait for that). Re-based (on the next frame), the next frame is
        due at once and play continues at the file's own pace.
        """
        rebase = False
        while True:
            with self._control:
                if self._stop.is_set():
                    return None
                target, self._seek_to = self._seek_to, None
                if target is None:
                    if not self._paused or self._step:
                        break
                    self._control.wait()
                    rebase = True
                    continue
                paused = self._paused
            index = capture.seek(target) - 1  # type: ignore[attr-defined]
            self._step = paused  # paused: show the frame at the new position
            rebase = True
        return index, rebase
