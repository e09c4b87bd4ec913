"""Training on real fakes beside their originals (train/paired.py), the labels layout that
carries the pairs, and leave-one-generator-out folds (train/folds.py).

The "real fakes" here are the scikit-image astronaut panning across a frame and the same pan
with the face reddened from the first frame on: two clips of the same frames that differ only
in the manipulated face, as a live swap's original and swapped halves do.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from conftest import astronaut_frames, run_cli, write_clip

from deepfake_monitor.realtime.errors import UserError
from deepfake_monitor.train.layouts import parse_labels

pytest.importorskip("tensorflow")


@pytest.fixture(scope="module")
def paired_faces(tmp_path_factory: pytest.TempPathFactory, astronaut_bgr: np.ndarray) -> Path:
    """Two groups of paired clips (real and reddened twin, 12 frames each), extracted."""
    root = tmp_path_factory.mktemp("pairs")
    rows = [("path", "label", "person", "pair", "generator", "group")]
    for group, people in (("swapA", ("ann", "bob")), ("swapB", ("cid", "dee"))):
        for k, person in enumerate(people):
            shift = 25 * k + (7 if group == "swapB" else 0)
            face = np.roll(astronaut_bgr, shift, axis=1)
            for label, redden in ((0, None), (1, 0)):
                name = f"{group}/{'fake' if label else 'real'}/{person}.mp4"
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                write_clip(root / name, astronaut_frames(face, n=12, redden_from=redden))
                rows.append((name, str(label), person, f"{group}-{person}",
                             group if label else "", group))
    with (root / "labels.csv").open("w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    out = root / "faces"
    code, text = run_cli("extract", str(root), "--layout", "labels", "--out", str(out),
                      "--frames-per-video", "6", "--size", "64", "--margin", "0.3",
                      "--no-align", "--val", "0.25", "--test", "0.0")
    assert code == 0, text
    return out


def test_labels_layout_links_each_fake_to_its_twin(tmp_path: Path) -> None:
    for name in ("real/a.mp4", "fake/a.mp4", "real/b.mp4"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "labels.csv").write_text(
        "path,label,person,pair,generator\nreal/a.mp4,0,alice,p1,\nfake/a.mp4,1,alice,p1,Tool\n"
        "real/b.mp4,real,bob,,\n")
    entries = {e.video_id: e for e in parse_labels(tmp_path)}
    assert entries["fake/a"].source_video == "real/a" and entries["fake/a"].method == "Tool"
    assert entries["real/a"].source_video is None and entries["real/b"].label == "real"
    assert entries["fake/a"].identities == entries["real/a"].identities == ("labels:alice",)
    (tmp_path / "bad.csv").write_text("path,label\nreal/a.mp4,maybe\n")
    with pytest.raises(UserError, match="label must be"):
        parse_labels(tmp_path / "bad.csv")
    (tmp_path / "gone.csv").write_text("path,label\nreal/nope.mp4,0\n")
    with pytest.raises(UserError, match="no such file"):
        parse_labels(tmp_path / "gone.csv")


def test_couples_are_the_same_frame_of_twin_clips(paired_faces: Path) -> None:
    import cv2

    from deepfake_monitor.train.paired import PairedSource, find_couples
    from deepfake_monitor.train.training import read_manifest

    samples = read_manifest(paired_faces, "train") + read_manifest(paired_faces, "val")
    couples = find_couples(samples)
    assert len(couples.aligned) >= 12 and not couples.unpaired
    for real, fake in couples.aligned:
        assert real.label == 0 and fake.label == 1 and real.frame == fake.frame
        assert fake.source_video == real.video_id
        a, b = (cv2.imread(s.path).astype(int) for s in (real, fake))
        # Same frame, same crop: the reddened face is the difference, in the red channel.
        assert (b[..., 2] - a[..., 2]).mean() > 20 > abs((b[..., 0] - a[..., 0]).mean())
    source = PairedSource(couples, 64, 1.0, seed=3)
    items = source()
    labels = [float(next(items)[1]) for _ in range(8)]
    assert labels == [0.0, 1.0] * 4  # a real, then its fake, in one batch
    with pytest.raises(UserError, match="another source"):
        PairedSource(couples, 64, 0.5)


def test_real_photos_take_the_real_side_of_a_share_of_couples(paired_faces: Path) -> None:
    from dataclasses import replace

    from deepfake_monitor.train.paired import PairedSource, find_couples
    from deepfake_monitor.train.training import read_manifest

    samples = read_manifest(paired_faces, "train")
    real = next(s for s in samples if s.label == 0)
    # a one-frame real source is a photo (as a realfaces picture is after extract)
    photo = replace(real, video_id="photos/someone_else", frame=0, source_video="")
    couples = find_couples([*samples, photo])
    assert couples.photos == [photo] and photo not in couples.footage
    drawn = [PairedSource(couples, 64, 1.0, seed=1, photo_share=share) for share in (0, .5, 1)]
    reals = [[source.draw()[0].video_id for _ in range(200)] for source in drawn]
    assert "photos/someone_else" not in reals[0]
    assert 60 < reals[1].count("photos/someone_else") < 140
    assert set(reals[2]) == {"photos/someone_else"}
    with pytest.raises(UserError, match="no real photos"):
        PairedSource(find_couples(samples), 64, 1.0, photo_share=0.3)


def test_paired_training_runs_and_keeps_the_last_epoch(paired_faces: Path,
                                                       tmp_path: Path) -> None:
    run = tmp_path / "run"
    code, text = run_cli("train", str(paired_faces), "--out", str(run), "--backbone", "compact",
                      "--weights", "none", "--epochs", "2", "--steps-per-epoch", "3",
                      "--batch-size", "8", "--paired", "1", "--checkpoint", "last", "--quiet")
    assert code == 0, text
    config = json.loads((run / "config.json").read_text())
    assert config["paired"] == 1.0 and config["best"]["best_epoch"] == 2  # the last, not best
    history = list(csv.DictReader((run / "history.csv").open()))
    assert len(history) == 2 and all(np.isfinite(float(r["loss"])) for r in history)


def test_patch_head_run_exports_one_logit_the_runtime_reads(paired_faces: Path,
                                                            tmp_path: Path) -> None:
    import cv2
    import onnx

    from deepfake_monitor.realtime.model.classifier import DeepfakeClassifier
    from deepfake_monitor.train.training import read_manifest

    run = tmp_path / "run"
    code, text = run_cli("train", str(paired_faces), "--out", str(run), "--backbone",
                         "efficientnet_lite0", "--weights", "imagenet", "--input-size", "64",
                         "--head", "patch", "--epochs", "1", "--steps-per-epoch", "2",
                         "--batch-size", "8", "--paired", "1", "--real-photos", "0", "--quiet")
    assert code == 0, text
    assert json.loads((run / "config.json").read_text())["head"] == "patch"
    model = tmp_path / "m.onnx"
    code, text = run_cli("export", str(run), "--out", str(model))  # parity-checked
    assert code == 0, text
    assert [o.name for o in onnx.load(str(model)).graph.output] == ["logit"]
    crops = np.stack([cv2.imread(s.path) for s in read_manifest(paired_faces, "val")])
    p = DeepfakeClassifier(str(model)).predict(crops)
    assert p.shape == (len(crops),) and np.all((p >= 0) & (p <= 1)) and np.ptp(p) > 0


def test_paired_below_one_fills_the_rest_with_dataset_couples(paired_faces: Path) -> None:
    from deepfake_monitor.train.training import TrainConfig, paired_dataset, read_manifest

    samples = read_manifest(paired_faces, "train")
    config = TrainConfig(faces=str(paired_faces), out="", backbone="compact", weights="none",
                         input_size=64, batch_size=8, paired=0.5, augment=False)
    images, labels = next(iter(paired_dataset(samples, 64, config, None)))
    # a real then a fake, whichever source the couple came from, at the crops' size
    assert images.shape == (8, 64, 64, 3)
    assert labels.numpy().reshape(-1).tolist() == [0.0, 1.0] * 4


def test_leave_one_generator_out_holds_each_group_out(paired_faces: Path,
                                                      tmp_path: Path) -> None:
    from dataclasses import replace

    from deepfake_monitor.train.folds import Fold, auc, run_folds, table, write_fold_faces
    from deepfake_monitor.train.training import TrainConfig, read_manifest

    labels = paired_faces.parent / "labels.csv"
    # Fold membership from the labels file's group column, as realfakes' folders are.
    rows = list(csv.DictReader(labels.open()))
    for r in rows:
        r["path"] = str((labels.parent / r["path"]).resolve())
    absolute = tmp_path / "labels.csv"
    with absolute.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    folds = (Fold("A", groups=("swapA",)), Fold("B", groups=("swapB",)))
    faces_a = write_fold_faces(paired_faces, absolute, folds[0], tmp_path / "A")
    held = {s.video_id for s in read_manifest(faces_a, "val")}
    trained = {s.video_id for s in read_manifest(faces_a, "train")}
    assert held == {f"swapA/{k}/{p}" for k in ("real", "fake") for p in ("ann", "bob")}
    assert not held & trained and trained
    base = TrainConfig(faces="", out="", backbone="compact", weights="none", input_size=64,
                       epochs=1, steps_per_epoch=2, batch_size=8, paired=1.0, verbose=0)
    results = run_folds(paired_faces, absolute, tmp_path / "folds", base, folds)
    assert [r["name"] for r in results] == ["A", "B"]
    for r in results:
        assert r["fakes"] == r["reals"] == 2 and r["pairs"] == 2
        assert 0.0 <= r["video_auc"] <= 1.0
    assert "| A | 2 / 2 |" in table(results) and "**mean**" in table(results)
    again = run_folds(paired_faces, absolute, tmp_path / "folds", base, folds)  # resumes
    assert again == results
    # Another schedule is another measurement: the fold trains again instead of being reused.
    longer = run_folds(paired_faces, absolute, tmp_path / "folds", replace(base, epochs=2),
                       folds[:1])
    assert longer[0]["schedule"] == [2, 2] and results[0]["schedule"] == [1, 2]
    config = json.loads((tmp_path / "folds" / "A" / "run" / "config.json").read_text())
    assert config["epochs"] == 2
    assert auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]) == 1.0
    assert auc([0, 1], [0.5, 0.5]) == 0.5
