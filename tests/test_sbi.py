"""Self-blended images and face swaps (train/sbi.py) on real faces."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from conftest import shared_clips

from deepfake_monitor.realtime.faces.detector import FaceDetection, FaceDetector
from deepfake_monitor.train import sbi


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector("full")


def _face(detector: FaceDetector, frame: np.ndarray) -> FaceDetection:
    faces = detector.detect(frame)
    assert faces, "no face found in a real face image"
    return max(faces, key=lambda f: f.width * f.height)


def _shared_frame() -> np.ndarray | None:
    """The middle frame of one real talking-head clip from ../shared/media, if present."""
    clips = [c for c in shared_clips() if "driving" in c.name] or shared_clips()
    if not clips:
        return None
    cap = cv2.VideoCapture(str(clips[0]))
    cap.set(cv2.CAP_PROP_POS_FRAMES, int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) // 2)
    ok, frame = cap.read()
    cap.release()
    return frame if ok else None


@pytest.fixture(params=["astronaut", "shared clip"])
def frame(request: pytest.FixtureRequest, astronaut_bgr: np.ndarray) -> np.ndarray:
    if request.param == "astronaut":
        return astronaut_bgr
    shared = _shared_frame()
    if shared is None:
        pytest.skip("../shared/media has no clip here")
    return shared


def test_self_blend_changes_only_inside_the_mask(frame: np.ndarray,
                                                 detector: FaceDetector) -> None:
    face = _face(detector, frame)
    for seed in range(6):
        result = sbi.self_blend(frame, face, np.random.default_rng(seed))
        assert result.image.shape == frame.shape and result.image.dtype == frame.dtype
        assert result.mask.shape == frame.shape[:2] and result.mask.dtype == np.float32
        assert result.mask.min() >= 0.0 and result.mask.max() <= 1.0
        changed = np.any(result.image != frame, axis=2)
        assert changed.sum() > 0.05 * face.width * face.height, f"seed {seed}: nothing changed"
        inside = cv2.dilate((result.mask > 0).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        assert not np.any(changed & ~inside), f"seed {seed}: pixels changed outside the mask"
        # The mask lies on the face: most of it inside the (generously padded) face box.
        x1, y1, x2, y2 = face.box
        pad = 0.5 * max(face.width, face.height)
        ys, xs = np.nonzero(result.mask)
        near = (xs >= x1 - pad) & (xs <= x2 + pad) & (ys >= y1 - pad) & (ys <= y2 + pad)
        assert near.mean() == 1.0


def test_self_blend_is_deterministic_for_a_seed(astronaut_bgr: np.ndarray,
                                                detector: FaceDetector) -> None:
    face = _face(detector, astronaut_bgr)
    a = sbi.self_blend(astronaut_bgr, face, np.random.default_rng(42))
    b = sbi.self_blend(astronaut_bgr, face, np.random.default_rng(42))
    c = sbi.self_blend(astronaut_bgr, face, np.random.default_rng(43))
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.mask, b.mask)
    assert not np.array_equal(a.image, c.image)


def test_self_blend_leaves_the_input_untouched(astronaut_bgr: np.ndarray,
                                               detector: FaceDetector) -> None:
    face = _face(detector, astronaut_bgr)
    before = astronaut_bgr.copy()
    sbi.self_blend(astronaut_bgr, face, np.random.default_rng(0))
    np.testing.assert_array_equal(astronaut_bgr, before)


def test_face_swap_replaces_the_face_region(astronaut_bgr: np.ndarray,
                                            detector: FaceDetector) -> None:
    target = astronaut_bgr
    target_face = _face(detector, target)
    # Another real face: the shared clip where present, else the astronaut mirrored and
    # shifted (a different face geometry as far as the alignment is concerned).
    source = _shared_frame()
    if source is None:
        source = np.ascontiguousarray(np.roll(astronaut_bgr[:, ::-1], 40, axis=1))
    source_face = _face(detector, source)
    result = sbi.face_swap(target, target_face, source, source_face, np.random.default_rng(3))
    assert result.image.shape == target.shape and result.image.dtype == np.uint8
    changed = np.any(result.image != target, axis=2)
    inside = cv2.dilate((result.mask > 0).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    assert not np.any(changed & ~inside)
    # The face region really changed: a large mean difference where the blend is strongest.
    full = result.mask >= 0.9 * result.mask.max()
    assert full.sum() > 0.1 * target_face.width * target_face.height
    diff = np.abs(result.image.astype(np.int16) - target.astype(np.int16)).mean(axis=2)
    assert diff[full].mean() > 8.0
    again = sbi.face_swap(target, target_face, source, source_face, np.random.default_rng(3))
    np.testing.assert_array_equal(result.image, again.image)


def test_face_patch_gives_the_same_fake_as_the_full_frame(astronaut_bgr: np.ndarray,
                                                          detector: FaceDetector) -> None:
    """Training keeps only the region around a face; a fake made there must be the same."""
    from deepfake_monitor.realtime.faces.crop import crop_faces

    face = _face(detector, astronaut_bgr)
    patch, moved = sbi.face_patch(astronaut_bgr, face)
    full = sbi.self_blend(astronaut_bgr, face, np.random.default_rng(9)).image
    local = sbi.self_blend(patch, moved, np.random.default_rng(9)).image
    kw = {"size": 128, "margin": 0.25, "align": False}
    a = crop_faces(full, [face], **kw).astype(np.int16)
    b = crop_faces(local, [moved], **kw).astype(np.int16)
    # Equal up to float rounding of the shifted landmarks: +-1 in a handful of pixels.
    assert np.abs(a - b).max() <= 1
    assert (a != b).mean() < 1e-3


def test_similarity_transform_recovers_a_known_one() -> None:
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (4, 2))
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -5.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ rot.T + shift
    m = sbi.similarity_transform(src, dst)
    np.testing.assert_allclose(m[:, :2], rot, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], shift, atol=1e-9)


def test_mask_kinds_cover_the_face_centre(astronaut_bgr: np.ndarray,
                                          detector: FaceDetector) -> None:
    face = _face(detector, astronaut_bgr)
    nose = tuple(int(v) for v in face.landmarks[sbi.NOSE])
    for kind in sbi.MASK_KINDS:
        mask = sbi.base_mask(astronaut_bgr.shape, face, None, kind)
        assert mask[nose[1], nose[0]] == 1.0, kind
        assert 0.1 < mask.sum() / (face.width * face.height) < 1.5, kind


def test_strong_blend_preset_alters_faces_more_than_the_papers(astronaut_bgr: np.ndarray,
                                                               detector: FaceDetector) -> None:
    """`synthesize --blend strong` (the default model's fakes) moves the face's colours further
    from the original than the SBI paper's ranges, over the same random draws."""
    face = _face(detector, astronaut_bgr)

    def mean_change(preset: str) -> float:
        changes = []
        for seed in range(12):
            r = sbi.self_blend(astronaut_bgr, face, np.random.default_rng(seed),
                               sbi.BLEND_PRESETS[preset])
            diff = np.abs(r.image.astype(np.float32) - astronaut_bgr.astype(np.float32))
            changes.append(float(diff[r.mask > 0].mean()))
        return float(np.mean(changes))

    paper, strong = mean_change("paper"), mean_change("strong")
    print(f"mean change inside the mask: paper {paper:.1f}, strong {strong:.1f}")
    assert strong > 1.3 * paper, (paper, strong)
