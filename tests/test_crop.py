"""The face crop used live and for training data: geometry, alignment and frame edges."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from deepfake_monitor.realtime.faces.crop import crop_face, crop_faces, crop_geometry, crop_matrix
from deepfake_monitor.realtime.faces.detector import FaceDetection, FaceDetector


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


def box_face(x1: float, y1: float, x2: float, y2: float) -> FaceDetection:
    """A face with only a box: eyes level at a third of its height."""
    eye_y = y1 + (y2 - y1) / 3
    landmarks = np.array(
        [[x1 + (x2 - x1) * f, eye_y] for f in (0.3, 0.7, 0.5, 0.5, 0.0, 1.0)], np.float32
    )
    return FaceDetection((x1, y1, x2, y2), 1.0, landmarks)


def eye_angle(face: FaceDetection) -> float:
    (rx, ry), (lx, ly) = face.landmarks[:2]
    return math.degrees(math.atan2(ly - ry, lx - rx))


def rotated(image: np.ndarray, degrees: float) -> np.ndarray:
    """The image on a black canvas large enough to rotate it without cutting the face."""
    h, w = image.shape[:2]
    side = int(math.hypot(h, w)) + 2
    canvas = np.zeros((side, side, 3), np.uint8)
    y, x = (side - h) // 2, (side - w) // 2
    canvas[y : y + h, x : x + w] = image
    m = cv2.getRotationMatrix2D((side / 2, side / 2), degrees, 1.0)
    return cv2.warpAffine(canvas, m, (side, side), flags=cv2.INTER_LINEAR)


def test_shapes_and_dtype(detector: FaceDetector, astronaut_bgr: np.ndarray):
    faces = detector.detect(astronaut_bgr)
    batch = crop_faces(astronaut_bgr, faces + faces, size=224, margin=0.25, align=True)
    assert batch.shape == (2, 224, 224, 3) and batch.dtype == np.uint8
    np.testing.assert_array_equal(batch[0], batch[1])
    np.testing.assert_array_equal(
        batch[0], crop_face(astronaut_bgr, faces[0], size=224, margin=0.25, align=True)
    )
    empty = crop_faces(astronaut_bgr, [], size=96, margin=0.25, align=True)
    assert empty.shape == (0, 96, 96, 3) and empty.dtype == np.uint8


def test_colour_order_is_kept(detector: FaceDetector, astronaut_bgr: np.ndarray):
    face = detector.detect(astronaut_bgr)[0]
    rgb = np.ascontiguousarray(astronaut_bgr[..., ::-1])
    from_bgr = crop_face(astronaut_bgr, face, size=128, margin=0.2, align=True)
    from_rgb = crop_face(rgb, face, size=128, margin=0.2, align=True)
    np.testing.assert_array_equal(from_rgb, from_bgr[..., ::-1])


def test_margin_definition():
    face = box_face(100, 50, 180, 150)  # 80 wide, 100 tall
    centre, side, angle = crop_geometry(face, margin=0.25, align=False)
    assert centre == (140, 100)
    assert side == pytest.approx(100 * 1.5)
    assert angle == 0
    assert crop_geometry(face, margin=0, align=False)[1] == pytest.approx(100)


def test_margin_zero_crops_exactly_the_box(astronaut_bgr: np.ndarray):
    face = box_face(100.0, 50.0, 300.0, 250.0)
    region = astronaut_bgr[50:250, 100:300]
    # At the box's own size the warp is a pure integer shift: the exact pixels.
    same = crop_face(astronaut_bgr, face, size=200, margin=0, align=False)
    np.testing.assert_array_equal(same, region)
    for size in (64, 128, 224, 299):
        crop = crop_face(astronaut_bgr, face, size=size, margin=0, align=False).astype(int)
        expected = cv2.resize(region, (size, size), interpolation=cv2.INTER_LINEAR).astype(int)
        # Inside, both sample the same points (warpAffine's weights are 5-bit fixed point,
        # resize's 11-bit); on the rim resize repeats the slice's edge where the warp reads
        # the real neighbouring pixels.
        inner = np.abs(crop - expected)[2:-2, 2:-2]
        assert inner.max() <= 1 and inner.mean() < 0.2


def test_non_square_box_is_centred(astronaut_bgr: np.ndarray):
    face = box_face(150.0, 60.0, 250.0, 260.0)  # 100 x 200: the square is 200 around x=200
    crop = crop_face(astronaut_bgr, face, size=200, margin=0, align=False)
    np.testing.assert_array_equal(crop, astronaut_bgr[60:260, 100:300])


@pytest.mark.parametrize("degrees", [20, -20])
def test_align_levels_the_eyes_of_a_rotated_face(
    detector: FaceDetector, astronaut_bgr: np.ndarray, degrees: float
):
    frame = rotated(astronaut_bgr, degrees)
    (face,) = detector.detect(frame)
    assert abs(eye_angle(face)) > 8  # the rotated face really is tilted
    size = 224
    crop = crop_face(frame, face, size=size, margin=0.3, align=True)

    # The eye landmarks, carried into the crop by the same transform, are exactly level...
    m = crop_matrix(face, size=size, margin=0.3, align=True)
    eyes = cv2.transform(face.landmarks[None, :2].astype(np.float64), m)[0]
    assert eyes[0, 1] == pytest.approx(eyes[1, 1], abs=1e-6)
    assert eyes[0, 0] < eyes[1, 0]  # and the subject's right eye stays on the left
    # ...and the face's centre lands on the crop's centre.
    (cx, cy), _, _ = crop_geometry(face, 0.3, True)
    centre = cv2.transform(np.array([[[cx - 0.5, cy - 0.5]]]), m)[0, 0]
    np.testing.assert_allclose(centre, [(size - 1) / 2] * 2, atol=1e-9)

    # Detecting again in the crop finds level eyes; without alignment they stay tilted.
    (again,) = detector.detect(crop)
    assert abs(eye_angle(again)) < 5
    unaligned = crop_face(frame, face, size=size, margin=0.3, align=False)
    (tilted,) = detector.detect(unaligned)
    assert abs(eye_angle(tilted)) > 8


def test_face_at_frame_edge_is_padded_black(detector: FaceDetector, astronaut_bgr: np.ndarray):
    frame = np.ascontiguousarray(astronaut_bgr[30:, 195:])  # face cut by the left edge
    (face,) = detector.detect(frame)
    assert face.box[0] == 0
    crop = crop_face(frame, face, size=160, margin=0.4, align=False)
    assert crop.shape == (160, 160, 3)
    (cx, _), side, _ = crop_geometry(face, 0.4, False)
    outside = int((side / 2 - cx) * 160 / side) - 1  # crop columns left of the frame
    assert outside > 10
    assert not crop[:, :outside].any()
    assert crop[:, outside + 2 :].mean() > 50


def test_face_past_the_corner_gives_black_not_an_error(astronaut_bgr: np.ndarray):
    face = box_face(-40.0, -40.0, 40.0, 40.0)  # crop square -80..80: the frame starts mid-crop
    crop = crop_face(astronaut_bgr, face, size=64, margin=0.5, align=True)
    assert crop.shape == (64, 64, 3)
    assert not crop[:31].any() and not crop[:, :31].any()
    assert crop[33:, 33:].all(axis=-1).mean() > 0.9
    far = box_face(2000.0, 2000.0, 2100.0, 2100.0)
    assert not crop_face(astronaut_bgr, far, size=32, margin=0.1, align=False).any()


def test_bad_arguments():
    face = box_face(0, 0, 10, 10)
    frame = np.zeros((20, 20, 3), np.uint8)
    with pytest.raises(ValueError, match="size"):
        crop_face(frame, face, size=0, margin=0.1, align=False)
    with pytest.raises(ValueError, match="margin"):
        crop_face(frame, face, size=16, margin=-0.1, align=False)
