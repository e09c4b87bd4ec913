"""The manipulation mask (train/manipulation_mask.py): targets from real differences, a head
trained beside the classifier, and the exported model's second output.

Real data: scikit-image's astronaut photo, a self-blend of it (its blend mask is the truth the
difference mask must recover), and the paired clips of test_paired_training (a real pan and the
same pan with the face reddened) extracted by the project's own `extract`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import astronaut_frames, run_cli, write_clip

pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def astronaut_crop(astronaut_bgr: np.ndarray) -> tuple[np.ndarray, object]:
    """The astronaut's face crop (160 px, the engine's crop) and its detection in the crop."""
    from deepfake_monitor.realtime.faces.crop import crop_faces
    from deepfake_monitor.realtime.faces.detector import FaceDetector

    detector = FaceDetector("full", min_score=0.3)
    face = max(detector.detect(astronaut_bgr), key=lambda f: f.width * f.height)
    crop = crop_faces(astronaut_bgr, [face], size=160, margin=0.3, align=False)[0]
    found = detector.detect(crop)
    assert found, "the detector finds the face in its own crop"
    return crop, max(found, key=lambda f: f.width * f.height)


def test_difference_mask_recovers_a_blend_region(astronaut_crop: tuple) -> None:
    import cv2

    from deepfake_monitor.train.manipulation_mask import difference_mask, grid_side, to_grid
    from deepfake_monitor.train.sbi import BLEND_PRESETS, self_blend

    crop, face = astronaut_crop
    rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
    made = self_blend(crop, face, np.random.default_rng(5), BLEND_PRESETS["strong"])
    fake = cv2.cvtColor(made.image, cv2.COLOR_BGR2RGB)
    truth = made.mask > 0.3
    assert 0.05 < truth.mean() < 0.8
    for shifted in (fake, np.roll(fake, (2, -1), axis=(0, 1))):  # halves' boxes differ a bit
        found = difference_mask(rgb, shifted)
        assert found is not None and found.shape == truth.shape
        inter = np.logical_and(found > 0, truth).sum()
        union = np.logical_or(found > 0, truth).sum()
        assert inter / union > 0.4, inter / union
        assert found[~truth].mean() < 0.3  # little outside the blended region
    assert not difference_mask(rgb, rgb).any()  # nothing replaced
    other = cv2.cvtColor(np.ascontiguousarray(crop[:, ::-1]), cv2.COLOR_BGR2RGB)
    assert difference_mask(rgb, other) is None  # background differs too: not aligned
    grid = to_grid(truth, grid_side(160))
    assert grid.shape == (10, 10) and grid.min() >= 0 and grid.max() <= 1


@pytest.fixture(scope="module")
def paired_faces(tmp_path_factory: pytest.TempPathFactory, astronaut_bgr: np.ndarray) -> Path:
    """Three paired clips, 12 frames each: the astronaut panning, and the same frames with the
    inside of the detected face (an ellipse within its box) reddened -- a "swap" that leaves
    hair and background alone, as a live swap does. Extracted at 64 px."""
    import cv2

    from deepfake_monitor.realtime.faces.detector import FaceDetector

    detector = FaceDetector("full", min_score=0.3)
    root = tmp_path_factory.mktemp("maskpairs")
    rows = ["path,label,person,pair,generator"]
    for k, person in enumerate(("ann", "bob", "cid")):
        real = astronaut_frames(np.roll(astronaut_bgr, 25 * k, axis=1), n=12)
        fake = []
        for frame in real:
            f = max(detector.detect(frame), key=lambda d: d.width * d.height)
            inside = np.zeros(frame.shape[:2], np.uint8)
            x1, y1, x2, y2 = f.box
            cv2.ellipse(inside, (int((x1 + x2) / 2), int((y1 + y2) / 2)),
                        (int(0.4 * (x2 - x1)), int(0.45 * (y2 - y1))), 0, 0, 360, 1, -1)
            red = frame.copy()
            red[..., 2] = np.where(inside > 0, np.clip(frame[..., 2].astype(int) + 90, 0, 255),
                                   frame[..., 2])
            fake.append(red)
        for label, frames in ((0, real), (1, fake)):
            name = f"{'fake' if label else 'real'}/{person}.mp4"
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            write_clip(root / name, frames)
            rows.append(f"{name},{label},{person},p-{person},{'Red' if label else ''}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    out = root / "faces"
    code, text = run_cli("extract", str(root), "--layout", "labels", "--out", str(out),
                      "--frames-per-video", "6", "--size", "64", "--margin", "0.3",
                      "--no-align", "--val", "0.34", "--test", "0.0")
    assert code == 0, text
    return out


def test_paired_source_gives_each_crop_its_mask(paired_faces: Path) -> None:
    from deepfake_monitor.train.manipulation_mask import IGNORE, grid_side
    from deepfake_monitor.train.paired import PairedSource, find_couples
    from deepfake_monitor.train.training import read_manifest

    side = grid_side(64)
    couples = find_couples(read_manifest(paired_faces, "train"))
    items = PairedSource(couples, 64, 1.0, seed=1, mask_side=side)()
    fakes = []
    for _ in range(6):
        real, fake = next(items), next(items)
        assert real[1] == 0.0 and fake[1] == 1.0
        assert real[2].shape == fake[2].shape == (side, side)
        assert not real[2].any()  # nothing replaced in an original
        fakes.append(fake[2])
    known = [m for m in fakes if (m != IGNORE).all()]
    assert known, "aligned twins of the same frames give a difference mask"
    for m in known:
        # The reddened face is in the middle of the crop, the background untouched.
        assert m[1:3, 1:3].mean() > 0.5 and m[0].mean() < m[1:3, 1:3].mean()


def test_mask_head_trains_exports_and_the_runtime_ignores_it(paired_faces: Path,
                                                             tmp_path: Path) -> None:
    import onnx

    from deepfake_monitor.realtime.model.classifier import DeepfakeClassifier
    from deepfake_monitor.realtime.model.contract import MASK_OUTPUT
    from deepfake_monitor.train.saliency import predicted_mask
    from deepfake_monitor.train.training import read_manifest

    run = tmp_path / "run"
    code, text = run_cli("train", str(paired_faces), "--out", str(run), "--backbone", "compact",
                      "--weights", "none", "--epochs", "2", "--steps-per-epoch", "3",
                      "--batch-size", "8", "--paired", "1", "--mask-weight", "1", "--quiet")
    assert code == 0, text
    config = json.loads((run / "config.json").read_text())
    assert config["mask_weight"] == 1.0 and 0.0 <= config["best"]["val_auc"] <= 1.0
    header = (run / "history.csv").read_text().splitlines()[0].split(",")
    assert {"val_auc", "mask_loss", "logit_loss"} <= set(header)
    model = tmp_path / "m.onnx"
    code, text = run_cli("export", str(run), "--out", str(model))  # parity-checked, both outputs
    assert code == 0, text
    graph = onnx.load(str(model)).graph
    assert [o.name for o in graph.output] == ["logit", MASK_OUTPUT]
    classifier = DeepfakeClassifier(str(model))
    import cv2

    crops = np.stack([cv2.imread(s.path) for s in read_manifest(paired_faces, "val")])
    p = classifier.predict(crops)
    assert p.shape == (len(crops),) and np.all((p >= 0) & (p <= 1))
    mask = predicted_mask(classifier, crops[0])
    assert mask is not None and mask.shape == (64, 64) and 0 <= mask.min() <= mask.max() <= 1
