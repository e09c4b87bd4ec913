"""Webcams through OpenCV (`WebcamCapture`)."""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..errors import SourceError
from .credentials import mask_credentials as mask_credentials
from .credentials import quote_userinfo as quote_userinfo
from .credentials import split_userinfo as split_userinfo


class WebcamCapture:
    """A camera through OpenCV's default backend (V4L2, Media Foundation, AVFoundation)."""

    def __init__(self, name: str, index: int) -> None:
        self.name = name
        self._cap = cv2.VideoCapture(index)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"{name}: no such camera (cannot open video device {index}; "
                              "is it connected, or in use by another program?)")
        ok = self._cap.grab()
        if not ok:
            self._cap.release()
            raise SourceError(f"{name}: camera opened but delivers no frames")
        self._pending = True  # the first grab stays for the first frame
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and math.isfinite(fps) and fps > 0 else 0.0
        self.frame_count: int | None = None

    def grab(self) -> bool:
        if self._pending:
            self._pending = False
            return True
        return bool(self._cap.grab())

    def retrieve(self) -> np.ndarray | None:
        ok, image = self._cap.retrieve()
        return image if ok else None

    def position_s(self) -> float | None:
        return None

    def failure(self) -> str:
        return "camera stopped delivering frames"

    def close(self) -> None:
        self._cap.release()
