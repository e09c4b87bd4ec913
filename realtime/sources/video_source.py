"""The `VideoSource` state machine: one capture thread per source, its states and events, file
playback (backpressure, pacing, pause/resume/seek) and live capture with reconnects.

`VideoSource` is the face its consumers see; the work is done by its collaborators: the status
(status.py: states and events), the connection (connection.py: which backend, the capture in
use), the reconnects with backoff (reconnect.py), the reading loop on the capture thread
(reading.py: never a drop for files, latest frame wins for live sources) and the pause/seek
requests of a file played live (playback.py)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from types import TracebackType

from ..errors import SourceError
from .buffer import FrameBuffer
from .capture import Capture
from .connection import CaptureOpener, Connection
from .credentials import mask_credentials as mask_credentials
from .credentials import quote_userinfo as quote_userinfo
from .credentials import remember_url
from .credentials import split_userinfo as split_userinfo
from .playback import PlaybackControl
from .reading import CaptureLoop
from .reconnect import Reconnector, RetryPolicy
from .spec import Frame, SourceKind, SourceSpec, SourceState, StatusEvent
from .status import SourceStatus


def check_settings(sample_fps: float | None, queue_size: int, max_retries: int | None,
                   give_up_after_s: float | None) -> None:
    """ValueError for the first setting of a VideoSource out of its range."""
    if sample_fps is not None and not sample_fps > 0:
        raise ValueError(f"sample_fps must be > 0, got {sample_fps}")
    if queue_size < 1:
        raise ValueError(f"queue_size must be >= 1, got {queue_size}")
    if max_retries is not None and max_retries < 0:
        raise ValueError(f"max_retries must be >= 0, got {max_retries}")
    if give_up_after_s is not None and not give_up_after_s > 0:
        raise ValueError(f"give_up_after_s must be > 0, got {give_up_after_s}")


class VideoSource:
    """One source read on its own thread; see the package docstring for the buffering policy.

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
        check_settings(sample_fps, queue_size, max_retries, give_up_after_s)
        self._spec = spec
        if spec.kind is SourceKind.STREAM:  # its secrets masked in this process's messages too
            remember_url(str(spec.target))
        self._name = mask_credentials(spec.name)  # even if a caller built the spec by hand
        self.sample_fps = sample_fps
        self.queue_size = queue_size
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.max_backoff_s = max_backoff_s
        self.stream_options = dict(stream_options or {})
        self.max_retries = max_retries
        self.give_up_after_s = give_up_after_s
        self.play_finite_live = play_finite_live
        self._opened = False
        self._open_failure = ""  # why the first open failed, while it is being retried
        self._stop = threading.Event()
        self._buffer = FrameBuffer(queue_size, latest_wins=spec.live)
        self._stopped = False
        self._status = SourceStatus(self._name, self._stop, on_status)
        self._connection = Connection(spec, CaptureOpener(spec, self._name, sample_fps,
                                                          self.stream_options, open_timeout_s,
                                                          read_timeout_s),
                                      play_finite_live=play_finite_live,
                                      on_live=self._buffer.set_latest_wins)
        self._reconnector = Reconnector(self._connection, self._status, self._stop,
                                        RetryPolicy(max_backoff_s, max_retries, give_up_after_s))
        self._control = PlaybackControl(self._name, spec.kind is SourceKind.FILE and spec.live,
                                        self._stop)
        self._loop = CaptureLoop(self._connection, self._status, self._buffer, self._stop,
                                 sample_fps=sample_fps, reconnector=self._reconnector,
                                 control=self._control)

    # -- properties -------------------------------------------------------------------------

    @property
    def spec(self) -> SourceSpec:
        return self._spec

    @property
    def name(self) -> str:
        return self._name

    @property
    def on_status(self) -> Callable[[StatusEvent], None] | None:
        return self._status.on_status

    @on_status.setter
    def on_status(self, callback: Callable[[StatusEvent], None] | None) -> None:
        self._status.on_status = callback

    @property
    def live(self) -> bool:
        """Whether only the newest frame counts (older ones are dropped): not for files, nor
        for video files served over the network unless played live."""
        return self._connection.live

    @property
    def finite(self) -> bool:
        """A network stream that is a video file with a duration (known once open)."""
        return self._connection.finite

    @property
    def fps(self) -> float:
        """Nominal frame rate (screens: the capture rate; 0.0 where a stream does not say)."""
        return self._connection.fps

    @property
    def frame_count(self) -> int | None:
        """Frames in the file, from its header; None for live sources."""
        return self._connection.frame_count

    @property
    def width(self) -> int:
        return self._connection.width

    @property
    def height(self) -> int:
        return self._connection.height

    @property
    def frames_read(self) -> int:
        """Frames handed to the buffer (sampled-out frames do not count)."""
        return self._loop.frames_read

    @property
    def frames_dropped(self) -> int:
        """Live sources: frames overwritten before the consumer read them."""
        return self._loop.frames_dropped

    @property
    def outages(self) -> int:
        """How often the connection was lost (streams and webcams), for consumers whose
        state ends with it."""
        return self._reconnector.outages

    @property
    def state(self) -> SourceState:
        return self._status.state

    @property
    def ended(self) -> bool:
        """True once no frame will come any more and the buffer is drained."""
        done = self._stop.is_set() or self.state in (SourceState.ENDED, SourceState.FAILED)
        return done and self._buffer.empty()

    @property
    def error(self) -> str | None:
        """Why the source failed, without its name ("decoding stopped at frame 812 of 1500")."""
        return self._status.error

    @property
    def events(self) -> list[StatusEvent]:
        return self._status.events

    @property
    def seekable(self) -> bool:
        """Whether `pause()`, `resume()` and `seek()` apply: files played live."""
        return self._control.seekable

    @property
    def paused(self) -> bool:
        return self._control.paused

    @property
    def duration_s(self) -> float | None:
        """Length of a file: where its last frame ends once it has been read to the end (by
        presentation time, right for variable frame rates too), before that from its header
        (frames / fps); None for live sources."""
        end_s = self._loop.end_s
        if end_s is not None and self.state is SourceState.ENDED:
            return end_s
        if self.frame_count and self.fps > 0:
            return self.frame_count / self.fps
        return None

    @property
    def _capture(self) -> Capture | None:
        """The capture in use (None before open and once released)."""
        return self._connection.capture

    # -- pause and seek (files played live) --------------------------------------------------

    def pause(self) -> None:
        """Hold at the current frame; the capture thread waits without polling."""
        self._control.pause()

    def resume(self) -> None:
        """Play on from where it paused, at the file's own pace."""
        self._control.resume()

    def seek(self, seconds: float) -> None:
        """Continue from the frame at `seconds` (clamped to the file). While paused, the frame
        at the new position is delivered and the source stays paused. Requests coalesce: only
        the latest one before the capture thread gets to it counts. No effect once the file
        has ended (the capture is released then; open a new VideoSource)."""
        self._control.seek(seconds)

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def retries_first_open(self) -> bool:
        """Whether a failed first open is retried (network streams, unless max_retries=0)."""
        return self._reconnector.retries_first_open

    def open(self) -> None:
        """Open synchronously, so that a bad source fails here with a SourceError.

        A network stream that cannot be reached is no bad source: unless `max_retries` is 0,
        open() returns in DISCONNECTED and start()'s thread goes on trying."""
        if self._opened:
            return
        if self._stopped:
            raise RuntimeError(f"{self.name}: stopped; create a new VideoSource")
        try:
            self._open_failure = self._reconnector.open()
        except SourceError:
            self._buffer.close()
            raise
        self._opened = True

    def start(self) -> None:
        """Open if needed, then start the capture thread."""
        if self._loop.thread is not None:
            return
        self.open()
        self._loop.start(self._open_failure)

    def read(self, timeout: float | None = None) -> Frame | None:
        """The next frame; None on timeout, or when the source has ended (see `ended`)."""
        if self._loop.thread is None and not self._stopped and self.state is not SourceState.FAILED:
            raise RuntimeError(f"{self.name}: call start() before read()")
        return self._buffer.get(timeout)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread and release the capture; idempotent, returns within `timeout`."""
        self._stop.set()
        self._control.wake()  # a paused capture thread wakes up and sees the stop
        self._buffer.close(discard=True)
        if self._loop.thread is None:
            self._connection.release()
        else:
            self._loop.join(timeout, self.read_timeout_s)
        if not self._stopped:
            self._stopped = True
            if self.state not in (SourceState.ENDED, SourceState.FAILED):
                self._status.set(SourceState.ENDED, "stopped", final=True)

    def __enter__(self) -> VideoSource:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"VideoSource({self.name!r}, {self._spec.kind.value}, {self.state.value})"
