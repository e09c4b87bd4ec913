"""The bench's own 720p30 clip (the bundled sample, scaled, padded and looped), and what a
clip holds (`probe_video`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import UserError
from ..sources.spec import SourceKind, SourceSpec
from ..sources.video_source import VideoSource
from .results import CLIP_FPS, CLIP_SIZE

# -- the clip -------------------------------------------------------------------------------


def make_clip(out: Path, seconds: float, source: Path | None = None) -> Path:
    """A 1280x720, 30 fps H.264 clip of the bundled sample (scaled, padded, looped).

    H.264 because that is what real footage is; PyAV ships libx264. Where it lacks it, OpenCV's
    MPEG-4 part 2 writer stands in (faster to decode, so decode figures come out higher).
    """
    from deepfake_monitor.assets import ASSETS_DIR

    source = source or ASSETS_DIR / "samples" / "astronaut_sbi.mp4"
    frames = list(_fit_frames(source, CLIP_SIZE))
    if not frames:
        raise UserError(f"{source}: no frames to build the benchmark clip from")
    total = max(1, round(seconds * CLIP_FPS))
    looped = (frames[i % len(frames)] for i in range(total))
    try:
        import av

        if "libx264" not in av.codecs_available:
            raise ImportError("no libx264")
    except ImportError:
        writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), CLIP_FPS, CLIP_SIZE)
        for frame in looped:
            writer.write(frame)
        writer.release()
        return out
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=CLIP_FPS)
        stream.width, stream.height, stream.pix_fmt = *CLIP_SIZE, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for frame in looped:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out


def _fit_frames(path: Path, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """Every frame scaled to fit `size` and centred on black."""
    cap = cv2.VideoCapture(str(path))
    w, h = size
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            fh, fw = frame.shape[:2]
            scale = min(w / fw, h / fh)
            nw, nh = round(fw * scale), round(fh * scale)
            canvas = np.zeros((h, w, 3), np.uint8)
            x0, y0 = (w - nw) // 2, (h - nh) // 2
            canvas[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(frame, (nw, nh))
            yield canvas
    finally:
        cap.release()


def probe_video(path: Path) -> dict[str, Any]:
    """Size, rate and length through the runtime's own source (its errors, its checks)."""
    source = VideoSource(SourceSpec(SourceKind.FILE, str(path), str(path), live=False))
    source.open()
    info = {"path": str(path), "width": source.width, "height": source.height,
            "fps": source.fps, "frames": source.frame_count,
            "seconds": source.duration_s}
    source.stop()
    return info
