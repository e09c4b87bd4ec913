"""Which capture backend a source is read with, and the capture it is read from now
(`Connection`): opened for the source's kind, replaced on a reconnect, released at the end."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..errors import SourceError
from .capture import Capture
from .files import FileCapture
from .frame_limit import check_file
from .h264 import SampledH264Capture
from .screen import ScreenCapture
from .spec import DEFAULT_SCREEN_FPS, SourceKind, SourceSpec, parse_screen
from .streams import StreamCapture
from .webcam import WebcamCapture


@dataclass(frozen=True)
class CaptureOpener:
    """Opens a new capture of one source (raising SourceError); network streams honour the
    timeouts and FFmpeg `stream_options`, sampled files and screens `sample_fps`."""

    spec: SourceSpec
    name: str
    sample_fps: float | None = None
    stream_options: Mapping[str, str] = field(default_factory=dict)
    open_timeout_s: float = 10.0
    read_timeout_s: float = 5.0

    def __call__(self) -> Capture:
        spec, name = self.spec, self.name
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


class Connection:
    """The capture in use (None before the first open and after a release) and what it says
    about itself. `live`: whether only the newest frame counts, which a stream learns once
    open (a video file served over the network is read like a file unless `play_finite_live`);
    `on_live` hears it at every adopt (the buffer switches its policy)."""

    def __init__(self, spec: SourceSpec, open_capture: Callable[[], Capture], *,
                 play_finite_live: bool, on_live: Callable[[bool], None]) -> None:
        self.spec = spec
        self.open_capture = open_capture
        self.play_finite_live = play_finite_live
        self._on_live = on_live
        self.capture: Capture | None = None
        self.finite = False  # a stream that is a video file (known once it is open)
        self.fps = 0.0
        self.frame_count: int | None = None
        self.width = 0
        self.height = 0

    @property
    def live(self) -> bool:
        return self.spec.live and not (self.finite and not self.play_finite_live)

    def describe(self) -> str:
        kind = self.spec.kind
        if kind is SourceKind.FILE:
            return "file, played live" if self.live else "file"
        return kind.value

    def adopt(self, capture: Capture, *, first: bool) -> None:
        """Read from `capture` now; a camera may come back with another size or rate (its
        frame count is taken from the first open only)."""
        self.capture = capture
        # A stream that is a video file: its frames are not dropped unless played live.
        self.finite = self.spec.kind is SourceKind.STREAM and \
            bool(getattr(capture, "finite", False))
        self._on_live(self.live)
        self.fps = capture.fps
        if first:
            self.frame_count = capture.frame_count
        self.width, self.height = capture.width, capture.height

    def release(self) -> None:
        capture, self.capture = self.capture, None
        if capture is not None:
            with contextlib.suppress(Exception):
                capture.close()
