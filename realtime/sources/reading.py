"""The capture thread's reading loop (`CaptureLoop`): files hand on every sampled frame in order,
waiting while the buffer is full (never a drop); live sources hand on the newest frame, paced
where they play a file, reconnecting where they are streams or webcams."""

from __future__ import annotations

import logging
import threading
import time

from .buffer import FrameBuffer
from .capture import Capture
from .connection import Connection
from .credentials import mask_credentials
from .h264 import SampledH264Capture
from .playback import PlaybackControl
from .reconnect import Reconnector
from .sampling import keeps_time
from .spec import Frame, SourceKind, SourceState
from .status import SourceStatus, masked_traceback

log = logging.getLogger(__name__)


class CaptureLoop:
    """Reads one source's capture into its buffer, on its own thread (`start()`), until the
    source ends, fails or is stopped; counts what it read and dropped."""

    def __init__(self, connection: Connection, status: SourceStatus, buffer: FrameBuffer,
                 stop: threading.Event, *, sample_fps: float | None,
                 reconnector: Reconnector, control: PlaybackControl) -> None:
        self._connection = connection
        self._status = status
        self._buffer = buffer
        self._stop = stop
        self._sample_fps = sample_fps
        self._reconnector = reconnector
        self._control = control
        self._kind = connection.spec.kind
        self.t0 = time.monotonic()
        self.thread: threading.Thread | None = None
        self.end_s: float | None = None  # where a file's last frame read so far ends
        self.frames_read = 0
        self.frames_dropped = 0

    @property
    def _name(self) -> str:
        return self._status.name

    def start(self, open_failure: str) -> None:
        """Start the capture thread; `open_failure`: why the first open failed, where it did
        and is to be retried."""
        self.t0 = time.monotonic()
        self.thread = threading.Thread(target=self._run, args=(open_failure,),
                                       name=f"source:{self._name}", daemon=True)
        self.thread.start()

    def join(self, timeout: float, read_timeout_s: float) -> None:
        """Wait up to `timeout` for the capture thread to end (after a stop); one blocked in a
        network read ends by itself within `read_timeout_s`."""
        thread = self.thread
        if thread is None or thread is threading.current_thread():
            return
        thread.join(timeout)
        if thread.is_alive():
            log.warning("%s: capture thread still blocked in a read; it exits by itself "
                        "within %g s", self._name, read_timeout_s)

    def _run(self, open_failure: str) -> None:
        try:
            # the first open failed: a network stream keeps trying
            if self._connection.capture is None and \
                    self._reconnector.reconnect(open_failure, first=True) is None:
                return
            if self._connection.live:
                self._run_live()
            else:
                self._run_file()
        except Exception as exc:
            log.debug("%s: capture thread crashed: %s", self._name, masked_traceback(exc))
            if not self._stop.is_set():
                self._status.fail(f"capture failed: {mask_credentials(str(exc))}")
        finally:
            self._connection.release()
            self._buffer.close()

    def _frame_time(self, capture: Capture, index: int) -> float:
        pos = capture.position_s()
        if pos is not None and (pos > 0 or index == 0):
            return pos
        fps = self._connection.fps
        return index / fps if fps > 0 else 0.0

    def _run_file(self) -> None:
        """Every frame read, in order; the sampled ones (by presentation time) handed on,
        waiting while the buffer is full. Also a video file served over the network."""
        capture = self._connection.capture
        assert capture is not None
        fps = self._connection.fps
        # it numbers its own frames, and knows those it left undecoded
        sampled = capture if isinstance(capture, SampledH264Capture) else None
        index, previous = -1, None
        while not self._stop.is_set():
            if not capture.grab():
                break
            index = sampled.index if sampled else index + 1
            t = self._frame_time(capture, index)
            if sampled:
                previous = sampled.previous_s()
            keep = keeps_time(t, previous, self._sample_fps)
            self.end_s = sampled.end_s() if sampled else \
                t + (t - previous if previous is not None and t > previous else
                     1.0 / fps if fps > 0 else 0.0)
            previous = t
            if not keep:
                continue  # grabbed only: never converted to an array
            image = capture.retrieve()
            if image is None:
                break
            frame = Frame(self._name, index, t, time.monotonic(), image)
            accepted, _ = self._buffer.put(frame)
            if not accepted:
                return  # stopped
            self.frames_read += 1
        if self._stop.is_set():
            return
        if self._kind is SourceKind.STREAM and \
                not capture.failure().startswith("stream ended"):
            self._status.fail(f"{capture.failure()} after {index + 1} frames")
        else:
            self._finish_file(sampled.frames_seen if sampled else index + 1)

    def _finish_file(self, decoded: int) -> None:
        count = self._connection.frame_count
        if count and count - decoded > max(2, 0.05 * count):
            self._status.fail(f"decoding stopped at frame {decoded} of {count}")
        else:
            what = "stream" if self._kind is SourceKind.STREAM else "file"
            self._status.set(SourceState.ENDED, f"end of {what} after {decoded} frames")

    def _run_live(self) -> None:
        capture = self._connection.capture
        assert capture is not None
        kind, sample_fps = self._kind, self._sample_fps
        # files played live (and videos served over the network, played live) are paced and
        # sampled by presentation time; screens are captured at the sample rate already
        timed = kind is SourceKind.FILE or self._connection.finite
        paced_fps = capture.fps if kind is SourceKind.SCREEN else 0.0
        period = 1.0 / sample_fps if sample_fps and not timed and \
            kind in (SourceKind.STREAM, SourceKind.WEBCAM) else 0.0
        next_offer = self.t0
        index, previous = -1, None
        rebase_clock = True  # timed live play: the next frame is due at once
        while not self._stop.is_set():
            if kind is SourceKind.FILE:
                control = self._control.apply(capture, index)
                if control is None:
                    return
                index, rebase = control
                rebase_clock = rebase_clock or rebase
            if paced_fps > 0 and index >= 0:
                # deadline of the next frame on the monotonic clock; waits are interruptible
                delay = self.t0 + (index + 1) / paced_fps - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
            # A screen has its frame at hand now: the screenshot counts in its latency. A
            # stream's or camera's grab() waits for the frame to arrive, so theirs is taken
            # once it has; a timed frame's once it is due.
            before = time.monotonic()
            if not capture.grab():
                capture = self._after_failure(capture, index)
                if capture is None:
                    return
                continue
            index += 1
            now = time.monotonic()
            if timed:
                t = self._frame_time(capture, index)
                if rebase_clock:  # start, pause or seek: this frame is due now
                    rebase_clock, previous = False, None
                    self.t0 = now - t
                keep = keeps_time(t, previous, sample_fps)
                previous = t
                if not keep:
                    continue
                delay = self.t0 + t - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                captured = time.monotonic()
            else:
                if period:
                    if now < next_offer:
                        continue  # decoded, not converted: outside the offer rate
                    next_offer = max(next_offer + period, now - period / 2)
                t = now - self.t0
                captured = before if kind is SourceKind.SCREEN else now
            image = capture.retrieve()
            if image is None:
                continue
            accepted, dropped = self._buffer.put(Frame(self._name, index, t, captured, image))
            if not accepted:
                return
            self._control.delivered()
            self.frames_read += 1
            self.frames_dropped += dropped

    def _after_failure(self, capture: Capture, index: int) -> Capture | None:
        """End, fail, or reconnect after a failed grab; the capture to go on with, or None."""
        kind = self._kind
        if kind is SourceKind.FILE:
            self._finish_file(index + 1)
            return None
        reason = capture.failure()
        if kind is SourceKind.SCREEN:
            self._status.fail(reason)
            return None
        if kind is SourceKind.STREAM and getattr(capture, "finite", False) \
                and reason.startswith("stream ended"):
            self._status.set(SourceState.ENDED, "end of stream")
            return None
        return self._reconnector.reconnect(reason)
