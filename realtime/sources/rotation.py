"""Display rotation: phones store portrait video sideways and tag it with a display matrix.

A clip recorded upright on a phone is usually stored as landscape frames plus a "rotate by 90"
display matrix in the container; every player turns it upright, and so must every path that
analyses or shows frames, or the detector and classifier see faces lying on their side. OpenCV's
FFmpeg backend applies the matrix itself (`CAP_PROP_ORIENTATION_AUTO`, on by default), PyAV does
not: its frames come as stored, with the angle in `VideoFrame.rotation`. So the PyAV readers
(sampled H.264 files, network streams) turn their frames with `upright`, which gives exactly the
pixels OpenCV's `cv::rotate` gives. Only rotations by multiples of 90 degrees exist in practice
(mirroring matrices are not applied, as OpenCV does not apply them either).
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np


def quarter_turns(degrees: float | None) -> int:
    """Counter-clockwise quarter turns (0-3) that make a frame with this display rotation
    (counter-clockwise degrees, as PyAV reports it) upright; 0 for anything not near a
    multiple of 90."""
    if degrees is None or not math.isfinite(degrees):
        return 0
    turns = round(degrees / 90.0)
    if abs(degrees - 90.0 * turns) > 1.0:
        return 0
    return turns % 4


def frame_turns(frame: Any) -> int:
    """The quarter turns a decoded PyAV frame needs (0 where PyAV is too old to say)."""
    return quarter_turns(getattr(frame, "rotation", 0))


def opencv_turns(capture: cv2.VideoCapture) -> int:
    """The quarter turns OpenCV applies to this capture's frames (counter-clockwise), from the
    file's display matrix as OpenCV reads it (`CAP_PROP_ORIENTATION_META`, clockwise degrees);
    0 where it applies none."""
    if not capture.get(cv2.CAP_PROP_ORIENTATION_AUTO):
        return 0
    return quarter_turns(-capture.get(cv2.CAP_PROP_ORIENTATION_META))


def upright(image: np.ndarray, turns: int) -> np.ndarray:
    """`image` turned `turns` quarter turns counter-clockwise, C-contiguous (as OpenCV's own
    rotation gives it)."""
    if turns % 4 == 0:
        return image
    code = {1: cv2.ROTATE_90_COUNTERCLOCKWISE, 2: cv2.ROTATE_180,
            3: cv2.ROTATE_90_CLOCKWISE}[turns % 4]
    return cv2.rotate(image, code)


def turned_size(width: int, height: int, turns: int) -> tuple[int, int]:
    """Width and height of a frame after `turns` quarter turns."""
    return (height, width) if turns % 2 else (width, height)
