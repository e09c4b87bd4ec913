"""BlazeFace on ONNX Runtime against real faces: a photo, the same face moved, and real clips."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import shared_clips

from deepfake_monitor.realtime.errors import ModelError
from deepfake_monitor.realtime.faces.detector import (
    DEFAULT_MODEL,
    FaceDetection,
    FaceDetector,
    ssd_anchors,
    weighted_nms,
)

# The astronaut photo's face, read off the 512x512 image by hand: pupils of the subject's right
# eye (image left) and left eye, nose tip, mouth centre, and a box from hairline to chin.
RIGHT_EYE = (205, 101)
LEFT_EYE = (245, 104)
NOSE = (225, 126)
MOUTH = (222, 145)
FACE_BOX = (178, 75, 275, 178)

# Frames sampled per clip, and the share of them that must have a face. The LivePortrait clips
# are single talking heads throughout; the Hamilton clip cuts to full-profile close-ups (about
# one frame in ten), which a frontal detector like BlazeFace does not find.
CLIP_SAMPLES = 30
MIN_RATE = 0.9
MIN_RATE_BY_CLIP = {"face_recognition-short_hamilton_clip": 0.8}


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector()


@pytest.fixture(scope="module", params=["short", "full"])
def any_detector(request: pytest.FixtureRequest) -> FaceDetector:
    return FaceDetector(request.param)


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def inside(point: tuple[float, float], box: tuple[float, ...]) -> bool:
    return box[0] <= point[0] <= box[2] and box[1] <= point[1] <= box[3]


def sample_frames(path: Path, n: int) -> list[np.ndarray]:
    """n frames spread evenly over a clip (decoding in order: seeking is 10x slower)."""
    cap = cv2.VideoCapture(str(path))
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    wanted = set(np.linspace(0, max(count - 1, 0), n).round().astype(int).tolist())
    frames = []
    for i in range(count):
        if not cap.grab():
            break
        if i in wanted:
            ok, frame = cap.retrieve()
            if ok:
                frames.append(frame)
    cap.release()
    return frames


def test_astronaut_face_and_landmarks(any_detector: FaceDetector, astronaut_bgr: np.ndarray):
    faces = any_detector.detect(astronaut_bgr)
    assert len(faces) == 1
    face = faces[0]
    assert isinstance(face, FaceDetection)
    assert face.score > 0.8
    assert iou(face.box, FACE_BOX) > 0.7, face.box
    for point in (RIGHT_EYE, LEFT_EYE, NOSE, MOUTH):
        assert inside(point, face.box)
    assert face.landmarks.shape == (6, 2) and face.landmarks.dtype == np.float32
    right, left, nose, mouth = face.landmarks[:4]
    # MediaPipe's order: the subject's right eye first, which is on the image's left.
    assert np.hypot(*(right - RIGHT_EYE)) < 8, right
    assert np.hypot(*(left - LEFT_EYE)) < 8, left
    assert np.hypot(*(nose - NOSE)) < 10, nose
    assert np.hypot(*(mouth - MOUTH)) < 10, mouth
    # Ear tragions sit outside the eyes, on the matching sides.
    assert face.landmarks[4, 0] < right[0] < left[0] < face.landmarks[5, 0]


def test_face_found_at_offset_in_larger_frame(detector: FaceDetector, astronaut_bgr: np.ndarray):
    reference = detector.detect(astronaut_bgr)[0]
    width = reference.width
    for (w, h), (x, y) in (((800, 600), (200, 50)), ((1280, 720), (610, 170)),
                           ((512, 1000), (0, 300)), ((1000, 512), (400, 0))):
        frame = np.full((h, w, 3), 100, np.uint8)
        frame[y : y + 512, x : x + 512] = astronaut_bgr
        faces = detector.detect(frame)
        assert len(faces) == 1, (w, h)
        face = faces[0]
        # The face shrinks up to 2.5x in the model's input here, and BlazeFace's box and
        # landmarks move by up to ~15% of the face's width with scale (measured: its boxes get
        # tighter); the letterbox mapping itself is exact (next test).
        expected = np.add(reference.box, (x, y, x, y))
        assert iou(face.box, tuple(expected)) > 0.65, (w, h, face.box, expected)
        for point in (RIGHT_EYE, LEFT_EYE, NOSE, MOUTH):
            assert inside((point[0] + x, point[1] + y), face.box)
        eyes = face.landmarks[:2] - (x, y)
        tolerance = 0.06 * width if (w, h) == (800, 600) else 0.18 * width
        np.testing.assert_allclose(eyes, reference.landmarks[:2], atol=tolerance)


@pytest.mark.parametrize("factor", [2, 3])
def test_letterbox_mapping_is_exact_for_scaled_frames(
    detector: FaceDetector, astronaut_bgr: np.ndarray, factor: int
):
    """A frame enlarged k times reaches the model almost unchanged: coordinates scale by k."""
    reference = detector.detect(astronaut_bgr)[0]
    big = cv2.resize(astronaut_bgr, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)
    (face,) = detector.detect(big)
    np.testing.assert_allclose(np.divide(face.box, factor), reference.box, atol=1.0)
    np.testing.assert_allclose(face.landmarks / factor, reference.landmarks, atol=1.0)


def test_no_face_in_blank_or_noise(detector: FaceDetector):
    rng = np.random.default_rng(0)
    assert detector.detect(np.full((480, 640, 3), 128, np.uint8)) == []
    assert detector.detect(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)) == []


def test_boxes_are_clipped_to_the_frame(detector: FaceDetector, astronaut_bgr: np.ndarray):
    frame = np.ascontiguousarray(astronaut_bgr[40:, 200:])  # cuts through the face's left half
    faces = detector.detect(frame)
    assert faces
    x1, y1, x2, y2 = faces[0].box
    h, w = frame.shape[:2]
    assert x1 == 0.0 and 0 <= y1 < y2 <= h and x2 <= w


def test_batch_equals_single(detector: FaceDetector, astronaut_bgr: np.ndarray):
    frames = [
        astronaut_bgr,
        np.ascontiguousarray(astronaut_bgr[:, ::-1]),
        cv2.resize(astronaut_bgr, (960, 540)),
        np.full((360, 640, 3), 90, np.uint8),
        np.ascontiguousarray(astronaut_bgr[50:400, 100:450]),
    ]
    batched = detector.detect_batch(frames)
    assert len(batched) == len(frames)
    assert batched[3] == []
    for frame, got in zip(frames, batched):
        single = detector.detect(frame)
        assert len(got) == len(single)
        for a, b in zip(got, single):
            np.testing.assert_allclose(a.box, b.box, atol=1e-3)
            np.testing.assert_allclose(a.landmarks, b.landmarks, atol=1e-3)
            assert a.score == pytest.approx(b.score, abs=1e-5)
    assert detector.detect_batch([]) == []


def test_several_faces_are_all_found(detector: FaceDetector, astronaut_bgr: np.ndarray):
    frame = np.zeros((512, 1024, 3), np.uint8)
    frame[:, :512] = astronaut_bgr
    frame[:, 512:] = astronaut_bgr[:, ::-1]
    faces = detector.detect(frame)
    assert len(faces) == 2
    xs = sorted((f.box[0] + f.box[2]) / 2 for f in faces)
    assert xs[0] < 512 < xs[1]
    assert faces[0].score >= faces[1].score
    assert len(FaceDetector(max_faces=1).detect(frame)) == 1


def test_anchor_layouts_match_the_models():
    short, full = ssd_anchors(128), ssd_anchors(192)
    assert short.shape == (896, 2) and full.shape == (2304, 2)
    # Short range: 16x16 cells with 2 anchors each, then 8x8 cells with 6 each.
    np.testing.assert_allclose(short[0], [0.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(short[1], short[0])
    np.testing.assert_allclose(short[2], [1.5 / 16, 0.5 / 16])
    np.testing.assert_allclose(short[512:518], np.tile([0.5 / 8, 0.5 / 8], (6, 1)))
    np.testing.assert_allclose(full[-1], [47.5 / 48, 47.5 / 48])
    for model in ("short", "full"):
        det = FaceDetector(model)
        assert det.backend.session.get_outputs()[0].shape[1] == len(det.anchors)


def test_weighted_nms_blends_overlapping_detections():
    def det(x: float, y: float) -> np.ndarray:
        rows = [[x, y], [x + 10, y + 10]] + [[x + 5, y + 5]] * 6
        return np.array(rows, np.float32)

    dets = np.stack([det(0, 0), det(2, 0), det(50, 50)])
    scores = np.array([0.9, 0.6, 0.7], np.float32)
    out = weighted_nms(dets, scores, iou_threshold=0.3, max_out=16)
    assert [round(s, 3) for _, s in out] == [0.9, 0.7]
    # The first output averages the two overlapping boxes by score; its score is the best one.
    np.testing.assert_allclose(out[0][0][0], [2 * 0.6 / 1.5, 0], atol=1e-6)
    np.testing.assert_allclose(out[1][0], det(50, 50))


def test_bad_models_raise_model_error(tmp_path: Path):
    with pytest.raises(ModelError, match="not 'short', 'full'"):
        FaceDetector("medium")
    with pytest.raises(ModelError):
        FaceDetector(tmp_path / "missing.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not an onnx model")
    with pytest.raises(ModelError, match="not a loadable ONNX model"):
        FaceDetector(garbage)

    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 64, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 3, 64, 64])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    other = tmp_path / "other.onnx"
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.save(model, other)
    with pytest.raises(ModelError, match="square NHWC"):
        FaceDetector(other)


def test_rejects_frames_that_are_not_bgr(detector: FaceDetector):
    with pytest.raises(ValueError, match="HxWx3"):
        detector.detect(np.zeros((100, 100), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        detector.detect(np.zeros((100, 100, 3), np.float32))


@pytest.mark.parametrize("clip", shared_clips(), ids=lambda p: p.stem)
def test_real_clips_have_faces_in_most_frames(
    shared_media: Path, detector: FaceDetector, clip: Path
):
    frames = sample_frames(clip, CLIP_SAMPLES)
    assert len(frames) >= CLIP_SAMPLES * 0.9
    results = detector.detect_batch(frames)
    found = sum(1 for faces in results if faces)
    rate = found / len(frames)
    most = max(len(faces) for faces in results)
    h, w = frames[0].shape[:2]
    print(f"\n{clip.stem} ({w}x{h}): faces in {found}/{len(frames)} frames = {rate:.0%}, "
          f"up to {most} per frame")
    assert rate >= MIN_RATE_BY_CLIP.get(clip.stem, MIN_RATE)
    for faces in results:
        for face in faces:
            assert 0 <= face.box[0] < face.box[2] <= w and 0 <= face.box[1] < face.box[3] <= h
            assert not any(math.isnan(v) for v in face.box)


def test_default_model_is_full_range():
    assert DEFAULT_MODEL == "full"
    assert FaceDetector().input_size == 192
