"""The face crop: one definition used live and for extracting training data.

A classifier only sees what it was trained on, so the live pipeline and the training-data
extraction must cut faces identically; both call `crop_faces` here.

Geometry: a square centred on the detection box's centre, of side
`max(box width, box height) * (1 + 2 * margin)`: `margin` is the fraction of the face box
added on each side (0.25 adds a quarter of the box's longer side left, right, above and below).
With `align=True` the square is turned about its centre so that the line from the subject's
right eye (landmark 0) to their left eye (landmark 1) is horizontal in the crop.

Cropping, rotation and resizing are one `cv2.warpAffine` per face, bilinear, with black
outside the frame: one resampling keeps the most detail, and faces at the frame's edge get
padding instead of shifting off-centre. Bilinear aliases a little when a face shrinks by more
than ~2x; that is the same live and in training, which is what the classifier needs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from .detector import FaceDetection


def crop_geometry(
    face: FaceDetection, margin: float, align: bool
) -> tuple[tuple[float, float], float, float]:
    """(centre x, y), side and rotation in degrees of a face's crop square, in frame pixels.

    The angle is that of the eye line (image y pointing down): the crop is turned by it so the
    eyes come out level. 0 when `align` is False or the eyes coincide.
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    x1, y1, x2, y2 = face.box
    centre = ((x1 + x2) / 2, (y1 + y2) / 2)
    side = max(x2 - x1, y2 - y1) * (1 + 2 * margin)
    angle = 0.0
    if align:
        (rx, ry), (lx, ly) = face.landmarks[0], face.landmarks[1]
        if lx != rx or ly != ry:
            angle = math.degrees(math.atan2(float(ly - ry), float(lx - rx)))
    return centre, side, angle


def crop_matrix(face: FaceDetection, *, size: int, margin: float, align: bool) -> np.ndarray:
    """The 2x3 affine map from frame pixels to crop pixels (OpenCV's pixel-centre convention).

    Also maps the face's landmarks into the crop: `cv2.transform(points[None], m)[0]`.
    """
    if size <= 0:
        raise ValueError(f"crop size must be positive, got {size}")
    (cx, cy), side, angle = crop_geometry(face, margin, align)
    scale = size / side if side > 0 else 1.0
    theta = math.radians(angle)
    cos, sin = scale * math.cos(theta), scale * math.sin(theta)
    # A pixel's centre is at index + 0.5 in continuous coordinates, so the crop square's centre
    # (cx, cy) is index (cx - 0.5, cy - 0.5) and lands on the output's centre (size - 1) / 2.
    # Rotating by -angle turns the eye direction (cos a, sin a) into (1, 0).
    rot = np.array([[cos, sin], [-sin, cos]])
    src = np.array([cx - 0.5, cy - 0.5])
    shift = (size - 1) / 2 - rot @ src
    return np.hstack([rot, shift[:, None]])


def crop_face(
    frame: np.ndarray, face: FaceDetection, *, size: int, margin: float, align: bool
) -> np.ndarray:
    """One face as a (size, size, channels) crop in the frame's colour order and dtype."""
    m = crop_matrix(face, size=size, margin=margin, align=align)
    return cv2.warpAffine(
        frame, m, (size, size), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0),
    )


def crop_faces(
    frame: np.ndarray, faces: Sequence[FaceDetection], *, size: int, margin: float, align: bool
) -> np.ndarray:
    """All faces of a frame as an (N, size, size, 3) batch, same colour order as the frame."""
    if size <= 0:
        raise ValueError(f"crop size must be positive, got {size}")
    out = np.empty((len(faces), size, size, *frame.shape[2:]), dtype=frame.dtype)
    for i, face in enumerate(faces):
        out[i] = crop_face(frame, face, size=size, margin=margin, align=align).reshape(out[i].shape)
    return out
