"""Clips as phones and calls record them, made with PyAV (no ffmpeg program needed): stored
sideways with a display-rotation tag, and with a variable frame rate. Frames come from the
bundled public-domain sample clip (assets/samples/astronaut_sbi.mp4)."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from conftest import REPO

SAMPLE = REPO / "assets" / "samples" / "astronaut_sbi.mp4"


def sample_frames(n: int, size: tuple[int, int] = (320, 180), start: int = 0) -> list[np.ndarray]:
    """`n` real frames of the sample clip from frame `start`, resized to `size` (BGR)."""
    cap = cv2.VideoCapture(str(SAMPLE), cv2.CAP_FFMPEG)
    frames = []
    try:
        index = 0
        while len(frames) < n:
            ok, image = cap.read()
            assert ok, f"{SAMPLE} has fewer than {start + n} frames"
            if index >= start:
                frames.append(cv2.resize(image, size, interpolation=cv2.INTER_AREA))
            index += 1
    finally:
        cap.release()
    return frames


def write_h264(path: Path, frames: Sequence[np.ndarray], times: Sequence[float] | None = None,
               *, rotation: int | None = None, codec: str = "libx264") -> Path:
    """Encode BGR frames into an MP4 (H.264 with B-frames by default), frame i shown at
    `times[i]` seconds (default 25 fps); `rotation`: the display rotation tag, counter-clockwise
    degrees, as phones write it."""
    times = [i / 25 for i in range(len(frames))] if times is None else times
    h, w = frames[0].shape[:2]
    # index first (faststart): an HTTP server without range requests can serve it
    with av.open(str(path), "w", options={"movflags": "faststart"}) as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        if codec == "libx264":
            stream.options = {"bf": "2", "g": "25"}
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for image, t in zip(frames, times):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
            frame.pts, frame.time_base = round(t * 1000), Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def stored_sideways(frames: Sequence[np.ndarray], turns: int) -> list[np.ndarray]:
    """Upright frames as a phone stores them: turned `turns` quarter turns clockwise, so that a
    display rotation of 90 * turns degrees counter-clockwise shows them upright again."""
    return [np.ascontiguousarray(np.rot90(f, -turns)) for f in frames]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def http_folder(folder: Path) -> Iterator[str]:
    """Serve `folder` over HTTP on 127.0.0.1 (a free port) from a thread, for as long as the
    block runs; yields the base URL. The server is shut down and its thread joined after."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              name="test-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
