"""The `VideoSource` state machine: one capture thread per source, its states and events, file
playback (backpressure, pacing, pause/resume/seek) and live capture with reconnects."""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from types import TracebackType

from ..errors import SourceError
from .buffer import FrameBuffer
from .capture import Capture, NotRetryable
from .credentials import mask_credentials as mask_credentials
from .credentials import quote_userinfo as quote_userinfo
from .credentials import remember_url
from .credentials import split_userinfo as split_userinfo
from .files import FileCapture
from .frame_limit import check_file
from .h264 import SampledH264Capture
from .sampling import keeps_time
from .screen import ScreenCapture
from .spec import (
    DEFAULT_SCREEN_FPS,
    Frame,
    SourceKind,
    SourceSpec,
    SourceState,
    StatusEvent,
    parse_screen,
)
from .streams import StreamCapture
from .webcam import WebcamCapture

log = logging.getLogger(__name__)

_FIRST_BACKOFF_S = 0.5
def _gave_up(retries: int, first: bool, waited: float, reason: str) -> str:
    """Why a source was given up, counting attempts as --max-retries does: retries after the
    first open (which counts as an attempt of its own) or after a disconnect."""
    plural = "y" if retries == 1 else "ies"
    if first:
        tries = retries + 1
        counted = f"{tries} attempt{'s' if tries != 1 else ''} ({retries} retr{plural})"
    else:
        counted = f"{retries} retr{plural} to reconnect"
    return f"gave up after {counted} in {waited:.1f} s: {reason}"


# --------------------------------------------------------------------------------------------


def _masked_traceback(exc: BaseException) -> str:
    """A traceback for the log, with URL credentials masked (exception texts quote URLs)."""
    return mask_credentials("".join(traceback.format_exception(type(exc), exc,
                                                               exc.__traceback__)))


class VideoSource:
    """One source read on its own thread; see the module docstring for the buffering policy.

    `on_status` is called on the thread that changes the state (the capture thread, or the one
    calling open()/stop()); keep it quick. The timeouts apply to network streams; files, webcams
    and screens are read through backends with their own. `stream_options` are FFmpeg options
    for network streams (e.g. {"rtsp_transport": "udp"}). `max_retries` (retries in a
    row) and `give_up_after_s` (seconds without a connection) bound the retries of a network
    stream's first open and of every reconnect of streams and webcams; None: retry forever.
    A stream that turns out to be a video file (http(s) with a finite duration) is read like a
    file, every sampled frame in order at the analysis' own pace, unless `play_finite_live`,
    which plays it at its own frame rate as a file played live.
    """

    def __init__(
        self,
        spec: SourceSpec,
        *,
        sample_fps: float | None = None,
        queue_size: int = 8,
        on_status: Callable[[StatusEvent], None] | None = None,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 5.0,
        max_backoff_s: float = 10.0,
        stream_options: Mapping[str, str] | None = None,
        max_retries: int | None = None,
        give_up_after_s: float | None = None,
        play_finite_live: bool = False,
    ) -> None:
        if sample_fps is not None and not sample_fps > 0:
            raise ValueError(f"sample_fps must be > 0, got {sample_fps}")
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        if max_retries is not None and max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        if give_up_after_s is not None and not give_up_after_s > 0:
            raise ValueError(f"give_up_after_s must be > 0, got {give_up_after_s}")
        self._spec = spec
        if spec.kind is SourceKind.STREAM:  # its secrets masked in this process's messages too
            remember_url(str(spec.target))
        self._name = mask_credentials(spec.name)  # even if a caller built the spec by hand
        self.sample_fps = sample_fps
        self.queue_size = queue_size
        self.on_status = on_status
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.max_backoff_s = max_backoff_s
        self.stream_options = dict(stream_options or {})
        self.max_retries = max_retries
        self.give_up_after_s = give_up_after_s
        self.play_finite_live = play_finite_live
        self._finite = False  # a stream that is a video file (known once it is open)
        self._end_s: float | None = None  # where a file's last frame read so far ends
        self._rebase_clock = True  # timed live play: the next frame is due at once
        self._opened = False
        self._open_failure = ""  # why the first open failed, while it is being retried
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._buffer = FrameBuffer(queue_size, latest_wins=spec.live)
        self._thread: threading.Thread | None = None
        self._capture: Capture | None = None
        self._state = SourceState.CONNECTING
        self._events: list[StatusEvent] = []
        self._error: str | None = None
        self._stopped = False
        self._t0 = time.monotonic()
        self._fps = 0.0
        self._frame_count: int | None = None
        self._width = 0
        self._height = 0
        self._frames_read = 0
        self._frames_dropped = 0
        self._outages = 0
        # pause / seek of a file played live: set by any thread, acted on by the capture thread
        self._control = threading.Condition()
        self._paused = False
        self._seek_to: float | None = None
        self._step = False  # paused, after a seek: deliver the frame at the new position

    # -- properties -------------------------------------------------------------------------

    @property
    def spec(self) -> SourceSpec:
        return self._spec

    @property
    def name(self) -> str:
        return self._name

    @property
    def live(self) -> bool:
        """Whether only the newest frame counts (older ones are dropped): not for files, nor
        for video files served over the network unless played live."""
        return self._spec.live and not (self._finite and not self.play_finite_live)

    @property
    def finite(self) -> bool:
        """A network stream that is a video file with a duration (known once open)."""
        return self._finite

    @property
    def fps(self) -> float:
        """Nominal frame rate (screens: the capture rate; 0.0 where a stream does not say)."""
        return self._fps

    @property
    def frame_count(self) -> int | None:
        """Frames in the file, from its header; None for live sources."""
        return self._frame_count

    @property
    def width(self) -> int:
        return self._width

    @property
    def height(self) -> int:
        return self._height

    @property
    def frames_read(self) -> int:
        """Frames handed to the buffer (sampled-out frames do not count)."""
        return self._frames_read

    @property
    def frames_dropped(self) -> int:
        """Live sources: frames overwritten before the consumer read them."""
        return self._frames_dropped

    @property
    def outages(self) -> int:
        """How often the connection was lost (streams and webcams), for consumers whose
        state ends with it."""
        return self._outages

    @property
    def state(self) -> SourceState:
        return self._state

    @property
    def ended(self) -> bool:
        """True once no frame will come any more and the buffer is drained."""
        done = self._stop.is_set() or self._state in (SourceState.ENDED, SourceState.FAILED)
        return done and self._buffer.empty()

    @property
    def error(self) -> str | None:
        """Why the source failed, without its name ("decoding stopped at frame 812 of 1500")."""
        return self._error

    @property
    def events(self) -> list[StatusEvent]:
        with self._lock:
            return list(self._events)

    @property
    def seekable(self) -> bool:
        """Whether `pause()`, `resume()` and `seek()` apply: files played live."""
        return self._spec.kind is SourceKind.FILE and self._spec.live

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def duration_s(self) -> float | None:
        """Length of a file: where its last frame ends once it has been read to the end (by
        presentation time, right for variable frame rates too), before that from its header
        (frames / fps); None for live sources."""
        if self._end_s is not None and self._state is SourceState.ENDED:
            return self._end_s
        if self._frame_count and self._fps > 0:
            return self._frame_count / self._fps
        return None

    # -- pause and seek (files played live) --------------------------------------------------

    def pause(self) -> None:
        """Hold at the current frame; the capture thread waits without polling."""
        self._require_seekable("pause")
        with self._control:
            self._paused = True
            self._control.notify_all()

    def resume(self) -> None:
        """Play on from where it paused, at the file's own pace."""
        self._require_seekable("resume")
        with self._control:
            self._paused = False
            self._control.notify_all()

    def seek(self, seconds: float) -> None:
        """Continue from the frame at `seconds` (clamped to the file). While paused, the frame
        at the new position is delivered and the source stays paused. Requests coalesce: only
        the latest one before the capture thread gets to it counts. No effect once the file
        has ended (the capture is released then; open a new VideoSource)."""
        self._require_seekable("seek")
        if not math.isfinite(seconds):
            raise ValueError(f"seek position must be finite, got {seconds}")
        with self._control:
            self._seek_to = max(0.0, float(seconds))
            self._control.notify_all()

    def _require_seekable(self, what: str) -> None:
        if not self.seekable:
            raise ValueError(f"{self.name}: cannot {what}: only video files played live can "
                             "pause and seek")

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def retries_first_open(self) -> bool:
        """Whether a failed first open is retried (network streams, unless max_retries=0)."""
        return self._spec.kind is SourceKind.STREAM and self.max_retries != 0

    def open(self) -> None:
        """Open synchronously, so that a bad source fails here with a SourceError.

        A network stream that cannot be reached is no bad source: unless `max_retries` is 0,
        open() returns in DISCONNECTED and start()'s thread goes on trying."""
        if self._opened:
            return
        if self._stopped:
            raise RuntimeError(f"{self.name}: stopped; create a new VideoSource")
        self._set_state(SourceState.CONNECTING, f"opening {self._describe()}")
        try:
            capture = self._open_capture()
        except SourceError as exc:
            if self.retries_first_open and not isinstance(exc, NotRetryable):
                self._opened = True
                self._open_failure = str(exc).removeprefix(f"{self.name}: ")
                self._set_state(SourceState.DISCONNECTED, self._open_failure)
                return
            self._fail(str(exc))
            self._buffer.close()
            raise
        except Exception as exc:  # a backend bug must still surface as one clear line
            message = f"{self.name}: cannot open: {mask_credentials(str(exc)) or type(exc)}"
            self._fail(message)
            self._buffer.close()
            raise SourceError(message) from None
        self._opened = True
        self._capture = capture
        self._adopt(capture)
        self._fps, self._frame_count = capture.fps, capture.frame_count
        self._width, self._height = capture.width, capture.height
        count = f", {self._frame_count} frames" if self._frame_count else ""
        self._set_state(SourceState.LIVE,
                        f"opened {self.width}x{self.height} at {self.fps:g} fps{count}")

    def start(self) -> None:
        """Open if needed, then start the capture thread."""
        if self._thread is not None:
            return
        self.open()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"source:{self.name}",
                                        daemon=True)
        self._thread.start()

    def read(self, timeout: float | None = None) -> Frame | None:
        """The next frame; None on timeout, or when the source has ended (see `ended`)."""
        if self._thread is None and not self._stopped and self._state is not SourceState.FAILED:
            raise RuntimeError(f"{self.name}: call start() before read()")
        return self._buffer.get(timeout)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread and release the capture; idempotent, returns within `timeout`."""
        self._stop.set()
        with self._control:
            self._control.notify_all()  # a paused capture thread wakes up and sees the stop
        self._buffer.close(discard=True)
        thread = self._thread
        if thread is None:
            self._release()
        elif thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("%s: capture thread still blocked in a read; it exits by itself "
                            "within %g s", self.name, self.read_timeout_s)
        if not self._stopped:
            self._stopped = True
            if self._state not in (SourceState.ENDED, SourceState.FAILED):
                self._set_state(SourceState.ENDED, "stopped", final=True)

    def __enter__(self) -> VideoSource:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"VideoSource({self.name!r}, {self._spec.kind.value}, {self._state.value})"

    # -- internals --------------------------------------------------------------------------

    def _describe(self) -> str:
        kind = self._spec.kind
        if kind is SourceKind.FILE:
            return "file, played live" if self.live else "file"
        return kind.value

    def _open_capture(self) -> Capture:
        spec, name = self._spec, self.name
        if spec.kind is SourceKind.FILE:
            check_file(name, str(spec.target))  # frames too large: refused before decoding
            capture = FileCapture(name, str(spec.target))
            if not spec.live and self.sample_fps and self.sample_fps < capture.fps:
                # Sampling a file: frames nothing else references need not be decoded at all.
                sampled = SampledH264Capture.open(str(spec.target), capture.fps,
                                                   self.sample_fps, capture.turns)
                if sampled is not None:
                    capture.close()
                    return sampled
            return capture
        if spec.kind is SourceKind.WEBCAM:
            return WebcamCapture(name, int(spec.target))  # type: ignore[arg-type]
        if spec.kind is SourceKind.STREAM:
            return StreamCapture(name, str(spec.target), self.stream_options,
                                  self.open_timeout_s, self.read_timeout_s)
        if spec.kind is SourceKind.SCREEN:
            target = spec.target if isinstance(spec.target, (int, tuple)) else \
                parse_screen(str(spec.target))
            return ScreenCapture(name, target, self.sample_fps or DEFAULT_SCREEN_FPS)
        raise SourceError(f"{name}: unknown source kind {spec.kind!r}")

    def _adopt(self, capture: Capture) -> None:
        """A stream that is a video file: its frames are not dropped unless played live."""
        self._finite = self._spec.kind is SourceKind.STREAM and \
            bool(getattr(capture, "finite", False))
        self._buffer.set_latest_wins(self.live)

    def _set_state(self, state: SourceState, message: str, *, final: bool = False) -> None:
        if self._stop.is_set() and not final:
            return  # after stop() only its own "stopped" counts; a late thread stays quiet
        event = StatusEvent(self.name, state, mask_credentials(message), time.time())
        with self._lock:
            self._state = state
            self._events.append(event)
        level = logging.WARNING if state in (SourceState.DISCONNECTED, SourceState.FAILED) \
            else logging.INFO
        log.log(level, "%s: %s: %s", self.name, state.value, event.message)
        if self.on_status is not None:
            try:
                self.on_status(event)
            except Exception as exc:
                log.error("%s: on_status callback failed: %s", self.name, _masked_traceback(exc))

    def _fail(self, message: str) -> None:
        self._error = mask_credentials(message).removeprefix(f"{self.name}: ")
        self._set_state(SourceState.FAILED, self._error)

    def _release(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            with contextlib.suppress(Exception):
                capture.close()

    def _run(self) -> None:
        try:
            # the first open failed: a network stream keeps trying
            if self._capture is None and \
                    self._reconnect(self._open_failure, first=True) is None:
                return
            if self.live:
                self._run_live()
            else:
                self._run_file()
        except Exception as exc:
            log.debug("%s: capture thread crashed: %s", self.name, _masked_traceback(exc))
            if not self._stop.is_set():
                self._fail(f"capture failed: {mask_credentials(str(exc))}")
        finally:
            self._release()
            self._buffer.close()

    def _frame_time(self, capture: Capture, index: int) -> float:
        pos = capture.position_s()
        if pos is not None and (pos > 0 or index == 0):
            return pos
        return index / self.fps if self.fps > 0 else 0.0

    def _run_file(self) -> None:
        """Every frame read, in order; the sampled ones (by presentation time) handed on,
        waiting while the buffer is full. Also a video file served over the network."""
        capture = self._capture
        assert capture is not None
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
            keep = keeps_time(t, previous, self.sample_fps)
            self._end_s = sampled.end_s() if sampled else \
                t + (t - previous if previous is not None and t > previous else
                     1.0 / self.fps if self.fps > 0 else 0.0)
            previous = t
            if not keep:
                continue  # grabbed only: never converted to an array
            image = capture.retrieve()
            if image is None:
                break
            frame = Frame(self.name, index, t, time.monotonic(), image)
            accepted, _ = self._buffer.put(frame)
            if not accepted:
                return  # stopped
            self._frames_read += 1
        if self._stop.is_set():
            return
        if self._spec.kind is SourceKind.STREAM and \
                not capture.failure().startswith("stream ended"):
            self._fail(f"{capture.failure()} after {index + 1} frames")
        else:
            self._finish_file(sampled.frames_seen if sampled else index + 1)

    def _finish_file(self, decoded: int) -> None:
        count = self.frame_count
        if count and count - decoded > max(2, 0.05 * count):
            self._fail(f"decoding stopped at frame {decoded} of {count}")
        else:
            what = "stream" if self._spec.kind is SourceKind.STREAM else "file"
            self._set_state(SourceState.ENDED, f"end of {what} after {decoded} frames")

    def _run_live(self) -> None:
        capture = self._capture
        assert capture is not None
        kind = self._spec.kind
        # files played live (and videos served over the network, played live) are paced and
        # sampled by presentation time; screens are captured at the sample rate already
        timed = kind is SourceKind.FILE or self._finite
        paced_fps = capture.fps if kind is SourceKind.SCREEN else 0.0
        period = 1.0 / self.sample_fps if self.sample_fps and not timed and \
            kind in (SourceKind.STREAM, SourceKind.WEBCAM) else 0.0
        next_offer = self._t0
        index, previous = -1, None
        self._rebase_clock = True
        while not self._stop.is_set():
            if kind is SourceKind.FILE:
                control = self._file_control(capture, index)
                if control is None:
                    return
                index = control
            if paced_fps > 0 and index >= 0:
                # deadline of the next frame on the monotonic clock; waits are interruptible
                delay = self._t0 + (index + 1) / paced_fps - time.monotonic()
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
                if self._rebase_clock:  # start, pause or seek: this frame is due now
                    self._rebase_clock, previous = False, None
                    self._t0 = now - t
                keep = keeps_time(t, previous, self.sample_fps)
                previous = t
                if not keep:
                    continue
                delay = self._t0 + t - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                captured = time.monotonic()
            else:
                if period:
                    if now < next_offer:
                        continue  # decoded, not converted: outside the offer rate
                    next_offer = max(next_offer + period, now - period / 2)
                t = now - self._t0
                captured = before if kind is SourceKind.SCREEN else now
            image = capture.retrieve()
            if image is None:
                continue
            accepted, dropped = self._buffer.put(Frame(self.name, index, t, captured, image))
            if not accepted:
                return
            self._step = False
            self._frames_read += 1
            self._frames_dropped += dropped

    def _file_control(self, capture: Capture, index: int) -> int | None:
        """Apply pause and seek requests between two frames of a file played live.

        Returns the index of the last frame delivered (a seek changes it), or None once
        stopped. Waits on the condition while paused; seeks outside the lock (seeking decodes
        up to the target, and pause() or seek() from the GUI must not wait for that).
        Afterwards the pacing clock is re-based (on the next frame) so that the next frame is
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
        if rebase:
            self._rebase_clock = True
        return index

    def _after_failure(self, capture: Capture, index: int) -> Capture | None:
        """End, fail, or reconnect after a failed grab; the capture to go on with, or None."""
        kind = self._spec.kind
        if kind is SourceKind.FILE:
            self._finish_file(index + 1)
            return None
        reason = capture.failure()
        if kind is SourceKind.SCREEN:
            self._fail(reason)
            return None
        if kind is SourceKind.STREAM and getattr(capture, "finite", False) \
                and reason.startswith("stream ended"):
            self._set_state(SourceState.ENDED, "end of stream")
            return None
        return self._reconnect(reason)

    def _reconnect(self, reason: str, *, first: bool = False) -> Capture | None:
        """Retry with backoff until a capture opens (returned), stop(), or the retry bounds are
        spent (FAILED, None). `first`: the first open failed; no connection was made yet."""
        if not first:
            self._outages += 1
            self._set_state(SourceState.DISCONNECTED, reason)
        self._release()
        delay, attempt, last = _FIRST_BACKOFF_S, 0, reason if first else ""
        lost_at = time.monotonic()
        deadline = None if self.give_up_after_s is None else lost_at + self.give_up_after_s
        while True:
            waited = time.monotonic() - lost_at
            if (self.max_retries is not None and attempt >= self.max_retries) or \
                    (deadline is not None and time.monotonic() >= deadline):
                self._fail(_gave_up(attempt, first, waited, last or reason) if attempt or first
                           else f"{reason} (not retried)")
                return None
            attempt += 1
            wait = delay if deadline is None else max(0.0, min(delay, deadline - time.monotonic()))
            if first:
                self._set_state(SourceState.CONNECTING, f"attempt {attempt + 1} in "
                                f"{round(wait, 1):g} s (last attempt: {last})")
            else:  # a wait cut to the deadline reads 1.5 s, not 1.49681 s
                self._set_state(SourceState.RECONNECTING, f"reconnect attempt {attempt} in "
                                f"{round(wait, 1):g} s" + (f" (last attempt: {last})" if last
                                                           else ""))
            if self._stop.wait(wait):
                return None
            try:
                capture = self._open_capture()
            except SourceError as exc:
                last = str(exc).removeprefix(f"{self.name}: ")
                log.debug("%s: attempt %d failed: %s", self.name, attempt, last)
                delay = min(delay * 2, self.max_backoff_s)
                continue
            if self._stop.is_set():
                capture.close()
                return None
            self._capture = capture
            self._adopt(capture)
            # a camera may come back with another size or rate
            self._fps, self._width, self._height = capture.fps, capture.width, capture.height
            took = f"({time.monotonic() - lost_at:.1f} s)"
            if first:
                self._set_state(SourceState.LIVE, f"opened {self.width}x{self.height} at "
                                f"{self.fps:g} fps after {attempt + 1} attempts {took}")
            else:
                self._set_state(SourceState.LIVE, f"reconnected after {attempt} attempt"
                                f"{'s' if attempt > 1 else ''} {took}")
            return capture
