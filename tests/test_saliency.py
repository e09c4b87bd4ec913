"""Occlusion-sensitivity maps (train/saliency.py) on a real face, with real ONNX classifiers whose
decision depends on a known part of the crop: the map must find that part."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper
from tiny_models import REDNESS_CENTRE, REDNESS_GAIN, redness_contract

from deepfake_monitor.export.metadata import save_with_contract
from deepfake_monitor.realtime.faces.crop import crop_faces
from deepfake_monitor.realtime.faces.detector import FaceDetector
from deepfake_monitor.realtime.faces.face_mesh import FACE_OVAL, NOSE_TIP, FaceMesh
from deepfake_monitor.realtime.model.classifier import DeepfakeClassifier
from deepfake_monitor.train.saliency import (
    GREY,
    GridLayout,
    OcclusionConfig,
    heat_shares,
    main,
    occlusion_map,
    patch_starts,
    to_crop,
)

SIZE = 64
HALF = SIZE // 2
TEMPERATURE = 2.0
QUADRANTS = {"top-left": (0, 0), "bottom-right": (HALF, HALF)}


def quadrant_redness_model(path: Path, quadrant: str) -> Path:
    """logit = GAIN * (mean R - mean (G + B) / 2 - CENTRE) over one quadrant of the crop only:
    a classifier whose evidence is known to sit in that quadrant."""
    y0, x0 = QUADRANTS[quadrant]
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", SIZE, SIZE, 3])
    inits = [
        numpy_helper.from_array(np.array([y0, x0], np.int64), "starts"),
        numpy_helper.from_array(np.array([y0 + HALF, x0 + HALF], np.int64), "ends"),
        numpy_helper.from_array(np.array([1, 2], np.int64), "axes"),
        numpy_helper.from_array(
            (REDNESS_GAIN * np.array([[1.0], [-0.5], [-0.5]])).astype(np.float32), "w"),
        numpy_helper.from_array(np.array([-REDNESS_GAIN * REDNESS_CENTRE], np.float32), "b"),
    ]
    nodes = [
        helper.make_node("Slice", ["image", "starts", "ends", "axes"], ["part"]),
        helper.make_node("ReduceMean", ["part", "axes"], ["means"], keepdims=0),
        helper.make_node("MatMul", ["means", "w"], ["mm"]),
        helper.make_node("Add", ["mm", "b"], ["logit"]),
    ]
    y = helper.make_tensor_value_info("logit", TensorProto.FLOAT, ["N", 1])
    graph = helper.make_graph(nodes, "quadrant_redness", [x], [y], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 9
    return save_with_contract(model, redness_contract(SIZE, temperature=TEMPERATURE), path)


@pytest.fixture(scope="module")
def face_crop(astronaut_bgr: np.ndarray) -> np.ndarray:
    """The astronaut's face cut as the runtime cuts it for a SIZE px model."""
    faces = FaceDetector().detect(astronaut_bgr)
    assert faces, "BlazeFace must find the astronaut's face"
    contract = redness_contract(SIZE)
    return crop_faces(astronaut_bgr, faces[:1], size=SIZE, margin=contract.crop.margin,
                      align=contract.crop.align)[0]


def _quadrant_mask(quadrant: str, grow: int = 0) -> np.ndarray:
    y0, x0 = QUADRANTS[quadrant]
    mask = np.zeros((SIZE, SIZE), bool)
    mask[max(0, y0 - grow) : y0 + HALF + grow, max(0, x0 - grow) : x0 + HALF + grow] = True
    return mask


@pytest.mark.parametrize("quadrant", list(QUADRANTS))
def test_heat_concentrates_where_the_model_looks(tmp_path: Path, face_crop: np.ndarray,
                                                 quadrant: str) -> None:
    classifier = DeepfakeClassifier(quadrant_redness_model(tmp_path / "q.onnx", quadrant))
    config = OcclusionConfig(patch=8, stride=4, fill="grey")
    result = occlusion_map(classifier, face_crop, config)

    # The plain score is the runtime's: same preprocessing and calibration as predict().
    assert result.p_fake == pytest.approx(float(classifier.predict(face_crop[None])[0]), abs=1e-6)
    assert result.score == pytest.approx(np.log(result.p_fake / (1 - result.p_fake)), abs=1e-4)

    heat = result.heat
    positive = np.clip(heat, 0, None)
    assert positive.sum() > 0, "hiding the skin must lower a redness score"
    mask = _quadrant_mask(quadrant)
    inside = positive[mask].sum() / positive.sum()
    # Patches straddling the quadrant's edge spill a little heat over it (~7 % here).
    assert inside > 0.85, f"only {inside:.0%} of the heat lies in the {quadrant} quadrant"
    assert positive[mask].mean() > 10 * positive[~mask].mean()
    peak = np.unravel_index(np.argmax(heat), heat.shape)
    assert _quadrant_mask(quadrant)[peak]
    # Patches that never touch the quadrant cannot change the score.
    far = ~_quadrant_mask(quadrant, grow=config.patch - 1)
    assert np.abs(heat[far]).max() < 1e-4 * np.abs(heat).max()


def test_map_matches_the_linear_models_exact_answer(tmp_path: Path,
                                                    face_crop: np.ndarray) -> None:
    """The redness logit is linear in the pixels and a grey pixel has redness 0, so hiding a
    patch drops the calibrated logit by GAIN / T * (its pixels' redness inside the quadrant) /
    (quadrant area); the map is the mean of that over the patches covering each pixel."""
    quadrant = "top-left"
    classifier = DeepfakeClassifier(quadrant_redness_model(tmp_path / "q.onnx", quadrant))
    config = OcclusionConfig(patch=12, stride=5, fill="grey", batch=7)
    heat = occlusion_map(classifier, face_crop, config).heat

    px = face_crop.astype(np.float64) / 255
    redness = (px[..., 2] - (px[..., 1] + px[..., 0]) / 2) * _quadrant_mask(quadrant)
    assert (GREY - (GREY + GREY) / 2) == 0
    total = np.zeros((SIZE, SIZE))
    count = np.zeros((SIZE, SIZE))
    p = config.patch
    starts = patch_starts(SIZE, p, config.stride)
    assert starts[-1] == SIZE - p  # the last patch reaches the edge (64 - 12 is not a step)
    for y in starts:
        for x in starts:
            drop = REDNESS_GAIN / TEMPERATURE * redness[y : y + p, x : x + p].sum() / HALF**2
            total[y : y + p, x : x + p] += drop
            count[y : y + p, x : x + p] += 1
    assert count.min() >= 1
    np.testing.assert_allclose(heat, total / count, atol=1e-5)


def test_heat_shares_follow_the_face_oval(astronaut_bgr: np.ndarray) -> None:
    """Heat on the mesh's oval points counts as boundary, at the nose tip as face, in the crop's
    corners as outside."""
    size, margin = 128, 0.25
    face = FaceDetector().detect(astronaut_bgr)[0]
    points = FaceMesh().landmarks(astronaut_bgr, [face])[0].points
    oval = to_crop(points[list(FACE_OVAL)], face, size, margin, False)
    nose = to_crop(points[[NOSE_TIP]], face, size, margin, False)[0]
    # The oval sits around the middle of the crop, inside it.
    assert oval.min() > 0 and oval.max() < size
    assert np.linalg.norm(oval.mean(axis=0) - size / 2) < 0.1 * size

    def heat_at(xy: np.ndarray) -> np.ndarray:
        heat = np.zeros((size, size))
        idx = np.floor(xy).astype(int)
        heat[idx[:, 1], idx[:, 0]] = 1.0
        return heat

    assert heat_shares(heat_at(oval), oval) == pytest.approx((0, 1, 0))
    assert heat_shares(heat_at(nose[None]), oval) == pytest.approx((1, 0, 0))
    corners = np.array([[1.5, 1.5], [size - 1.5, 1.5], [1.5, size - 1.5]])
    assert heat_shares(heat_at(corners), oval) == pytest.approx((0, 0, 1))
    assert heat_shares(-heat_at(nose[None]), oval) == (0, 0, 0)  # only evidence for fake counts


def test_cli_writes_the_grid(tmp_path: Path, astronaut_bgr: np.ndarray,
                             astronaut_clip: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = quadrant_redness_model(tmp_path / "q.onnx", "bottom-right")
    image = tmp_path / "astronaut.png"
    cv2.imwrite(str(image), astronaut_bgr)
    labels = tmp_path / "labels.csv"
    with labels.open("w", newline="") as f:
        csv.writer(f).writerows([["path", "label"], ["astronaut.png", "0"],
                                 [astronaut_clip.name, "1"]])
    out = tmp_path / "maps.png"
    code = main([str(image), str(astronaut_clip), "--model", str(model), "--out", str(out),
                 "--frames", "3", "--labels", str(labels), "--patch", "8", "--stride", "8"])
    assert code == 0
    err = capsys.readouterr().err
    assert "[2/2] astronaut.mp4: 3 face(s) in 3 frame(s)" in err

    figure = cv2.imread(str(out))
    assert figure is not None
    layout = GridLayout()
    width, height = layout.size(rows=2, cols=3)  # two inputs, at most three faces each
    assert figure.shape == (height, width, 3)
    assert width >= 3 * 2 * layout.tile and height >= 2 * layout.tile
    # Each cell shows the crop and, beside it, the map over it: different pixels.
    y = layout.legend + layout.header
    crop = figure[y : y + layout.tile, layout.pad : layout.pad + layout.tile].astype(int)
    x = layout.pad + layout.tile + layout.pad
    overlay = figure[y : y + layout.tile, x : x + layout.tile].astype(int)
    assert crop.std() > 20 and np.abs(crop - overlay).mean() > 20


def test_cli_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope.mp4"
    assert main([str(missing), "--out", str(tmp_path / "m.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: {missing}: no such file"

    image = tmp_path / "x.png"
    cv2.imwrite(str(image), np.zeros((8, 8, 3), np.uint8))
    assert main([str(image), "--model", str(tmp_path / "m.onnx"),
                 "--out", str(tmp_path / "m.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"error: --model {tmp_path / 'm.onnx'}: no such file"
    assert not (tmp_path / "m.png").exists()

    # An unreadable video is a row that says why, beside the inputs that could be read.
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    assert main([str(broken), str(image), "--out", str(tmp_path / "m.png")]) == 1
    err = capsys.readouterr().err
    assert "broken.mp4: error: " in err and "x.png: 0 face(s) in 1 frame(s)" in err
    assert "Traceback" not in err and cv2.imread(str(tmp_path / "m.png")) is not None
