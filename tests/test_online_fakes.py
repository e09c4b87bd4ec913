"""Online training pairs (train/online_fakes.py): degradations and face-mesh masks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from deepfake_monitor.realtime.faces.crop import crop_face
from deepfake_monitor.realtime.faces.detector import FaceDetector
from deepfake_monitor.train import sbi
from deepfake_monitor.train.online_fakes import (
    Degrade,
    degrade,
    face_outlines,
    h264_round_trip,
)


@pytest.fixture(scope="module")
def face_crop(astronaut_bgr: np.ndarray) -> tuple[np.ndarray, object]:
    detector = FaceDetector("full")
    face = detector.detect(astronaut_bgr)[0]
    crop = crop_face(astronaut_bgr, face, size=160, margin=0.3, align=False)
    return crop, max(detector.detect(crop), key=lambda f: f.width * f.height)


def test_h264_round_trip_degrades_like_a_video_codec(face_crop: tuple) -> None:
    rgb = cv2.cvtColor(face_crop[0], cv2.COLOR_BGR2RGB)
    errors = []
    for crf in (18, 40):
        out = h264_round_trip(rgb, crf)
        assert out.shape == rgb.shape and out.dtype == np.uint8
        errors.append(np.abs(out.astype(int) - rgb).mean())
    assert 0.3 < errors[0] < errors[1] < 20  # lossy, and more so at a higher CRF
    odd = h264_round_trip(rgb[:99, :101], 30)  # yuv420p needs even sides: padded and cut back
    assert odd.shape == (99, 101, 3)


def test_degradations_draw_independently_and_leave_shape(face_crop: tuple) -> None:
    rgb = cv2.cvtColor(face_crop[0], cv2.COLOR_BGR2RGB)
    rng = np.random.default_rng(0)
    always = Degrade(h264=1.0, low_light=1.0, cast=1.0)
    outs = [degrade(rgb, rng, always) for _ in range(3)]
    assert all(o.shape == rgb.shape and o.dtype == np.uint8 for o in outs)
    assert all(o.mean() < rgb.mean() for o in outs)  # low light darkens
    assert not np.array_equal(outs[0], outs[1])  # a new draw each time
    never = Degrade(h264=0.0, low_light=0.0, cast=0.0)
    assert np.array_equal(degrade(rgb, rng, never), rgb)


def test_mesh_outline_masks_follow_the_face_oval(face_crop: tuple) -> None:
    crop, face = face_crop
    outline = face_outlines([crop], [face])[0]
    assert outline is not None and outline.shape[1] == 2 and len(outline) >= 30
    hull = cv2.convexHull(outline.astype(np.float32))
    mask = sbi.base_mask(crop.shape, face, None, "hull", outline=outline)
    ys, xs = np.nonzero(mask)
    inside = [cv2.pointPolygonTest(hull, (float(x), float(y)), True) for x, y in
              zip(xs[::37], ys[::37])]
    assert min(inside) > -2.0  # the mask stays within the oval (to anti-aliasing)
    assert mask.sum() > 0.9 * cv2.contourArea(hull)  # and fills it
    inner = sbi.base_mask(crop.shape, face, None, "inner", outline=outline)
    assert 0.3 * mask.sum() < inner.sum() < 0.9 * mask.sum()  # drawn in towards the centre
    # a self-blend in that mask changes the face and leaves the crop's corners alone
    fake = sbi.self_blend(crop, face, np.random.default_rng(3), outline=outline)
    changed = np.any(fake.image != crop, axis=2)
    assert changed[ys, xs].mean() > 0.5 and not changed[:10, :10].any()


def test_low_resolution_copies_lose_fine_detail(face_crop: tuple) -> None:
    """The 'lowres' blend renders half of the altered faces at a lower resolution, as a face
    generator does: such a copy keeps the face but loses its high frequencies."""
    crop = face_crop[0].astype(np.float32)
    soft = sbi.render_low_resolution(crop, np.random.default_rng(0), (0.35, 0.5))
    assert soft.shape == crop.shape

    def detail(x: np.ndarray) -> float:
        return float(np.abs(cv2.Laplacian(cv2.cvtColor(x, cv2.COLOR_BGR2GRAY), cv2.CV_32F)).mean())

    assert detail(soft) < 0.6 * detail(crop)
    assert np.abs(cv2.GaussianBlur(soft, (0, 0), 4) - cv2.GaussianBlur(crop, (0, 0), 4)).mean() < 3
    assert sbi.BLEND_PRESETS["lowres"].lowres_prob > 0 == sbi.BLEND_PRESETS["paper"].lowres_prob


def test_mesh_swap_renders_the_donor_in_the_targets_pose(astronaut_bgr: np.ndarray) -> None:
    """A swap by the face mesh: the donor face (here the astronaut mirrored and turned, so its
    pose differs) is warped triangle by triangle onto the target's landmarks; the result
    changes the face only, and the warped donor's landmarks land on the target's."""
    from deepfake_monitor.realtime.faces.face_mesh import FaceMesh
    from deepfake_monitor.train.online_fakes import face_meshes, mesh_fit

    detector, mesh = FaceDetector("full"), FaceMesh()
    target = crop_face(astronaut_bgr, detector.detect(astronaut_bgr)[0], size=160, margin=0.3,
                       align=False)
    h, w = astronaut_bgr.shape[:2]
    turned = cv2.warpAffine(astronaut_bgr[:, ::-1].copy(),
                            cv2.getRotationMatrix2D((w / 2, h / 3), 12, 1.0), (w, h))
    donor = crop_face(turned, detector.detect(turned)[0], size=160, margin=0.3, align=False)
    faces = [max(detector.detect(c), key=lambda f: f.width) for c in (target, donor)]
    t_mesh, d_mesh = face_meshes([target, donor], faces, mesh)
    assert t_mesh is not None and d_mesh is not None

    warped, covered = sbi.mesh_warp(donor, d_mesh, t_mesh, target.shape)
    assert 0.1 < covered.mean() < 0.6  # the face, not the whole crop
    # the warped donor is the donor in the target's geometry: its mesh is the target's
    again = face_meshes([np.where(covered[..., None], warped, target)], [faces[0]], mesh)[0]
    face_side = float(np.ptp(t_mesh, axis=0).max())
    assert np.sqrt(((again - t_mesh) ** 2).sum(axis=1)).mean() < 0.04 * face_side
    assert mesh_fit(t_mesh, t_mesh, 160) < 1e-6 < mesh_fit(d_mesh, t_mesh, 160)

    fake = sbi.mesh_swap(target, faces[0], t_mesh, donor, d_mesh, np.random.default_rng(2))
    changed = np.any(fake.image != target, axis=2)
    assert changed[covered].mean() > 0.5 and not changed[:8, :].any()
