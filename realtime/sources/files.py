"""Video files through OpenCV's FFmpeg backend (`FileCapture`), and why FFmpeg could not open
one, in a line (`diagnose_unopenable`: the MP4/MOV structure checked)."""

from __future__ import annotations

import logging
import math
import struct
from pathlib import Path

import cv2
import numpy as np

from ..errors import SourceError
from .credentials import mask_credentials as mask_credentials
from .credentials import quote_userinfo as quote_userinfo
from .credentials import split_userinfo as split_userinfo
from .rotation import opencv_turns
from .stream_kinds import no_video_reason

log = logging.getLogger(__name__)


class FileCapture:
    """A video file through OpenCV's FFmpeg backend."""

    def __init__(self, name: str, path: str) -> None:
        self.name = name
        p = Path(path)
        if not p.exists():
            raise SourceError(f"{name}: no such file")
        if p.is_dir():
            raise SourceError(f"{name}: is a directory, not a video file")
        if p.stat().st_size == 0:
            raise SourceError(f"{name}: empty file (0 bytes)")
        self._cap = cv2.VideoCapture(str(p), cv2.CAP_FFMPEG)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"{name}: {_diagnose_unopenable(p)}")
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if self.width <= 0 or self.height <= 0:
            self._cap.release()
            raise SourceError(f"{name}: no video stream")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        if not fps or not math.isfinite(fps) or fps <= 0:
            log.warning("%s: no frame rate in the file; assuming 25 fps", name)
            fps = 25.0
        self.fps = float(fps)
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count: int | None = count if count > 0 else None
        self.turns = opencv_turns(self._cap)  # OpenCV turns the frames upright itself

    def grab(self) -> bool:
        return bool(self._cap.grab())

    def retrieve(self) -> np.ndarray | None:
        ok, image = self._cap.retrieve()
        return image if ok else None

    def position_s(self) -> float | None:
        ms = self._cap.get(cv2.CAP_PROP_POS_MSEC)
        return ms / 1000.0 if math.isfinite(ms) and ms >= 0 else None

    def seek(self, seconds: float) -> int:
        """Move to the frame at `seconds` (clamped to the file); the index of the next frame."""
        target = max(0, round(seconds * self.fps))
        if self.frame_count:
            target = min(target, self.frame_count - 1)
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, target)
        pos = self._cap.get(cv2.CAP_PROP_POS_FRAMES)
        return int(pos) if math.isfinite(pos) and pos >= 0 else target

    def failure(self) -> str:
        return "end of file"

    def close(self) -> None:
        self._cap.release()


def _diagnose_unopenable(path: Path) -> str:
    """Why FFmpeg could not open a file, for the one-line error (MP4/MOV structure checked)."""
    no_video = no_video_reason(path)
    if no_video is not None:  # an audio-only MP4 is no corrupt one
        return no_video
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(12)
        if len(head) < 8 or head[4:8] != b"ftyp":
            return "not a video file (FFmpeg cannot read a video stream from it)"
        offset, kinds = 0, []
        while offset + 8 <= size:
            fh.seek(offset)
            header = fh.read(16)
            box_size, kind = struct.unpack(">I4s", header[:8])
            if box_size == 1 and len(header) == 16:
                box_size = struct.unpack(">Q", header[8:16])[0]
            elif box_size == 0:
                box_size = size - offset
            if box_size < 8:
                return "corrupt MP4 (invalid box structure)"
            label = kind.decode("latin-1")
            kinds.append(label)
            if offset + box_size > size:
                tail = "" if "moov" in kinds else " and has no 'moov' index"
                return (f"truncated MP4: the file ends inside its '{label}' box "
                        f"({size - offset} of {box_size} bytes){tail}")
            offset += box_size
    if "moov" not in kinds:
        return "corrupt MP4: no 'moov' index"
    return "corrupt MP4 (FFmpeg cannot decode it)"
