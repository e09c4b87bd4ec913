"""MP4 files that browsers play: H.264 (libx264, which PyAV's wheel carries), yuv420p, with the
index at the front (+faststart) so a file starts playing before it is fully downloaded.

OpenCV's writer in the headless wheel offers only MPEG-4 Part 2 (`mp4v`), which browsers refuse,
so `scan --annotate` and the app's Record both write through `H264Writer`.

The file is written to an exclusive temporary beside its name and renamed into place when
closed complete (outputs.AtomicFile): never through a link planted at its name, never half a
file under it.

Frames carry their own times: a frame written with `t` is shown at `t` (relative to the first
frame), so a scan sampled at 5 fps of a 29.97 fps clip, or a recording whose display dropped a
frame, keeps the source's timing. Without `t`, frames follow each other at `fps`.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import UserError
from .atomic import AtomicFile

log = logging.getLogger(__name__)

CODEC = "libx264"
PIX_FMT = "yuv420p"
_TIME_BASE = Fraction(1, 1000)  # presentation times in milliseconds


class H264Writer:
    """Writes BGR frames to an H.264 MP4; opens on the first frame (its size is the file's,
    rounded up to even numbers by repeating the last row or column; a later frame of another
    size is resized to it). `crf` 20 with `preset` veryfast: visually
    clean overlays at a few ms a 720p frame on a CPU core."""

    def __init__(self, path: Path, fps: float, *, crf: int = 20, preset: str = "veryfast") -> None:
        self.path = Path(path)
        self.fps = fps if fps > 0 else 25.0
        self.crf = crf
        self.preset = preset
        self.frames_written = 0
        self.size: tuple[int, int] | None = None  # (w, h) as encoded (even numbers)
        self._content = (0, 0)  # (w, h) of the first frame, which later frames are resized to
        self._container: Any = None
        self._out: AtomicFile | None = None
        self._stream: Any = None
        self._av: Any = None
        self._first_t: float | None = None
        self._last_pts = -1

    def _open(self, width: int, height: int) -> None:
        try:
            import av
        except ImportError:
            raise UserError(f"{self.path}: writing MP4 needs the 'av' package (PyAV)") from None
        self._av = av
        try:
            out = AtomicFile(self.path)
        except OSError as exc:
            raise UserError(f"{self.path}: cannot write the video ({exc})") from None
        try:
            container = av.open(out.name, "w", format="mp4",
                                container_options={"movflags": "+faststart"})
        except (av.FFmpegError, OSError) as exc:
            out.discard()
            raise UserError(f"{self.path}: cannot write the video ({exc})") from None
        try:
            stream = container.add_stream(CODEC, rate=Fraction(self.fps).limit_denominator(1001))
            # yuv420p needs even sizes: an odd frame gets one replicated row or column
            stream.width, stream.height = width + width % 2, height + height % 2
            stream.pix_fmt = PIX_FMT
            stream.options = {"crf": str(self.crf), "preset": self.preset}
            stream.codec_context.time_base = _TIME_BASE
        except Exception:
            container.close()
            out.discard()
            raise
        self._container, self._stream, self._out = container, stream, out
        self.size = (stream.width, stream.height)

    def write(self, image: np.ndarray, t: float | None = None) -> None:
        """One BGR uint8 frame, shown at `t` seconds (relative to the first frame's `t`)."""
        if self._container is None:
            self._open(image.shape[1], image.shape[0])
            self._content = (image.shape[1], image.shape[0])
        assert self.size is not None
        w, h = self.size
        if (image.shape[1], image.shape[0]) != self._content:  # a camera changed its size
            image = cv2.resize(image, self._content, interpolation=cv2.INTER_AREA)
        if image.shape[1] != w or image.shape[0] != h:
            image = cv2.copyMakeBorder(image, 0, h - image.shape[0], 0, w - image.shape[1],
                                       cv2.BORDER_REPLICATE)
        if t is None:
            pts = round(self.frames_written * 1000 / self.fps)
        else:
            if self._first_t is None:
                self._first_t = t
            pts = round((t - self._first_t) * 1000)
        pts = max(pts, self._last_pts + 1)  # strictly increasing, whatever the clock did
        self._last_pts = pts
        frame = self._av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        frame.pts, frame.time_base = pts, _TIME_BASE
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self, *, discard: bool = False) -> None:
        """Flush the encoder, write the index and put the file in place; idempotent. A file
        without frames is not left behind, nor one closed with `discard` (an interrupted
        scan's) or one that failed."""
        container, self._container = self._container, None
        out, self._out = self._out, None
        if container is None or out is None:
            return
        try:
            try:
                if not discard:
                    for packet in self._stream.encode():
                        container.mux(packet)
            finally:
                container.close()
        except BaseException:
            out.discard()
            raise
        if discard:
            out.discard()
        else:
            out.commit()

    def __enter__(self) -> H264Writer:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(discard=exc_type is not None)
