"""synthesize → extract → train → evaluate end to end on CPU, and the metric helpers.

The end-to-end run uses real faces only (../shared/media clips where present, the scikit-image
astronaut always), makes SBI and swap fakes from them, and trains ResNet50 from scratch at 64 px
for one short epoch: numbers are meaningless as accuracy, but they must be computed from the
model (finite, in range, not constant) and every file the exporter needs must be in the run.
ResNet50 rather than MobileNetV3/EfficientNet: untrained, those two give near-zero features in
inference mode (their batch-norm statistics need hundreds of steps), so scores would be constant.
"""

from __future__ import annotations

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import astronaut_frames, run_cli, shared_clips, write_clip

from deepfake_monitor.realtime.analysis.verdict import video_scores_from_frames
from deepfake_monitor.realtime.model.contract import ModelContract

SIZE = 64


# -- metric helpers (no TensorFlow) ----------------------------------------------------------


def test_temperature_fit_recovers_a_known_temperature() -> None:
    pytest.importorskip("scipy")
    from deepfake_monitor.train.evaluate import fit_temperature, sigmoid

    rng = np.random.default_rng(0)
    true_logits = rng.normal(0.0, 2.0, 40_000)
    labels = (rng.random(true_logits.shape) < sigmoid(true_logits)).astype(np.int64)
    for t in (0.5, 2.5):  # over- and under-confident models
        fitted = fit_temperature(true_logits * t, labels)
        assert fitted == pytest.approx(t, rel=0.05)
    assert fit_temperature(true_logits, np.ones_like(labels)) == 1.0  # one class: no fit


def test_a_temperature_on_its_bound_is_named() -> None:
    pytest.importorskip("scipy")
    from deepfake_monitor.train.evaluate import fit_temperature, temperature_at_bound

    # Three videos' worth of perfectly separated crops: sharper is always better, so the fit
    # runs into its lower bound -- the tiny-validation case that must not pass silently.
    logits, labels = np.array([-2.0, -1.5, -1.0, 1.0, 1.5, 2.0]), np.array([0, 0, 0, 1, 1, 1])
    t = fit_temperature(logits, labels)
    assert temperature_at_bound(t) == "lower"
    rng = np.random.default_rng(3)
    noisy = rng.normal(0.0, 2.0, 4000)
    fitted = fit_temperature(noisy, (rng.random(4000) < 1 / (1 + np.exp(-noisy))).astype(int))
    assert temperature_at_bound(fitted) is None and temperature_at_bound(20.0) == "upper"


def test_equal_error_rate() -> None:
    pytest.importorskip("sklearn")
    from deepfake_monitor.train.evaluate import equal_error_rate

    rng = np.random.default_rng(1)
    reals, fakes = rng.uniform(0.0, 1.0, 20_000), rng.uniform(0.5, 1.5, 20_000)
    labels = np.r_[np.zeros(len(reals)), np.ones(len(fakes))]
    eer, threshold = equal_error_rate(labels, np.r_[reals, fakes])
    assert eer == pytest.approx(0.25, abs=0.01)  # the crossing at 0.75
    assert threshold == pytest.approx(0.75, abs=0.02)
    assert equal_error_rate(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9]))[0] == 0.0


def test_confusion_cells_are_named_with_fake_positive() -> None:
    pytest.importorskip("sklearn")
    from deepfake_monitor.train.evaluate import binary_metrics, confusion

    labels = np.array([1, 1, 0, 0, 1])  # 1 = fake
    called_fake = np.array([1, 0, 1, 0, 1], bool)
    assert confusion(labels, called_fake) == {
        "true_fake": 2, "false_fake": 1, "true_real": 1, "false_real": 1}
    m = binary_metrics(labels, np.where(called_fake, 0.9, 0.1), threshold=0.5)
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["fake_recall"] == pytest.approx(2 / 3) and m["real_recall"] == pytest.approx(0.5)
    assert binary_metrics(np.ones(3), np.full(3, 0.7), 0.5)["auc"] is None  # one class


def test_video_scores_use_the_engine_rule() -> None:
    pytest.importorskip("sklearn")
    from deepfake_monitor.train.evaluate import Scored, video_level

    scored = [Scored("v", "sbi", 1, track, t / 10, 0.0) for track in (1, 2) for t in range(8)]
    probs = np.r_[np.full(8, 0.2), np.linspace(0.1, 0.9, 8)]
    ids, labels, scores, methods = video_level(scored, probs)
    frames = {"v": [(s.track, s.t, float(p)) for s, p in zip(scored, probs)]}
    assert ids == ["v"] and labels.tolist() == [1] and methods == ["sbi"]
    assert scores[0] == pytest.approx(video_scores_from_frames(frames)["v"])


# -- end to end ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("tensorflow", reason="training needs the train extra (TensorFlow)")
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    from skimage import data

    base = tmp_path_factory.mktemp("pipeline")
    reals = base / "reals" / "real"
    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    # Three "identities" from one photo (the splits need a person on each side).
    variants = {"astronaut": face, "astronaut_mirrored": face[:, ::-1].copy(),
                "astronaut_warm": cv2.convertScaleAbs(face, alpha=1.1, beta=12)}
    for name, image in variants.items():
        (reals / name).mkdir(parents=True)
        write_clip(reals / name / "pan.mp4", astronaut_frames(image, n=12))
    for clip in [c for c in shared_clips() if "liveportrait-source" in c.name][:4]:
        (reals / clip.stem).mkdir(parents=True)
        (reals / clip.stem / clip.name).symlink_to(clip)

    dataset, faces, run = base / "dataset", base / "faces", base / "runs" / "r1"
    code, log = run_cli("synthesize", str(base / "reals"), "--out", str(dataset),
                     "--synthesize", "sbi+swap", "--max-frames", "8")
    assert code == 0, log
    code, log = run_cli("extract", str(dataset), "--layout", "folders", "--out", str(faces),
                     "--size", str(SIZE), "--frames-per-video", "6", "--val", "0.3",
                     "--test", "0.3", "--seed", "1")
    assert code == 0, log
    code, log = run_cli("train", str(faces), "--out", str(run), "--backbone", "resnet50",
                     "--weights", "none", "--epochs", "1", "--batch-size", "16", "--quiet")
    assert code == 0, log
    code, log = run_cli("evaluate", str(run), str(faces), "--split", "test")
    assert code == 0, log
    return {"dataset": dataset, "faces": faces, "run": run, "reals": reals}


def test_synthesized_fakes_keep_their_source_identity(pipeline: dict[str, Path]) -> None:
    dataset, reals = pipeline["dataset"], pipeline["reals"]
    identities = sorted(p.name for p in reals.iterdir())
    assert sorted(p.name for p in (dataset / "real").iterdir()) == identities
    for identity in identities:
        for kind in ("sbi", "swap"):
            assert list((dataset / "fake" / identity / kind).glob("*.mp4")), (identity, kind)
    with (pipeline["faces"] / "manifest.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    split_of: dict[str, set[str]] = {}
    for r in rows:
        split_of.setdefault(r["identity"], set()).add(r["split"])
    assert all(len(s) == 1 for s in split_of.values())  # a fake never leaves its source's side
    assert {r["split"] for r in rows} >= {"train", "val", "test"}


def test_evaluate_compares_training_reals_with_unseen_reals(pipeline: dict[str, Path]) -> None:
    """The memorisation check scores the training people's real crops with the same model:
    its unseen-real side is exactly the reported split's real crops."""
    metrics = json.loads((pipeline["run"] / "metrics.json").read_text())["test"]
    mem = metrics["memorisation"]
    with (pipeline["faces"] / "manifest.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    train_reals = sum(r["split"] == "train" and r["label"] == "real" for r in rows)
    assert mem["train_real"]["count"] == min(train_reals, 600) > 0
    with (pipeline["run"] / "predictions_test.csv").open(newline="") as fh:
        real_p = [float(r["p_fake"]) for r in csv.DictReader(fh) if r["label"] == "real"]
    assert mem["unseen_real"]["count"] == len(real_p)
    assert mem["unseen_real"]["mean_p"] == pytest.approx(sum(real_p) / len(real_p), abs=1e-4)
    assert 0.0 <= mem["auc"] <= 1.0


def test_memorisation_auc_ranks_unseen_reals_against_training_reals() -> None:
    from deepfake_monitor.train.evaluate import evenly, memorisation

    rng = np.random.default_rng(0)
    same = memorisation(rng.uniform(size=400), rng.uniform(size=400), 0.5)
    assert 0.42 < same["auc"] < 0.58
    learned = memorisation(np.full(10, 0.1), np.array([0.2, 0.6, 0.9]), 0.5)
    assert learned["auc"] == 1.0
    assert learned["train_real"]["above_threshold"] == 0.0
    assert learned["unseen_real"]["above_threshold"] == pytest.approx(2 / 3)
    assert memorisation(np.zeros(0), np.ones(3), 0.5)["auc"] is None
    assert evenly(list(range(10)), 3) == [0, 4, 9]
    assert evenly([1, 2], 5) == [1, 2]


def test_run_folder_holds_model_contract_and_history(pipeline: dict[str, Path]) -> None:
    run = pipeline["run"]
    for name in ("config.json", "history.csv", "best.keras", "contract.json", "metrics.json",
                 "roc_test.png", "predictions_test.csv"):
        assert (run / name).is_file(), name
    config = json.loads((run / "config.json").read_text())
    assert config["backbone"] == "resnet50" and config["input_size"] == SIZE
    assert config["extract_config"]["size"] == SIZE and not config["mixed_precision_used"]
    with (run / "history.csv").open() as fh:
        history = list(csv.DictReader(fh))
    assert len(history) == 1 and {"val_auc", "val_loss", "loss"} <= set(history[0])
    png = cv2.imread(str(run / "roc_test.png"))
    assert png is not None and png.shape[0] > 100

    contract = ModelContract.from_json((run / "contract.json").read_text(), source="contract")
    metrics = json.loads((run / "metrics.json").read_text())["test"]
    assert contract.input.size == SIZE and contract.input.color == "RGB"
    assert contract.input.scale == 1.0 and contract.input.mean == (0.0, 0.0, 0.0)
    assert contract.output.activation == "logit" and contract.output.fake_index == 0
    assert contract.temperature == pytest.approx(metrics["temperature"])
    assert metrics["calibration_fitted_on"].startswith("val")
    assert "test" in contract.card.metrics
    # the card names its dataset, not the training machine's absolute path (issue 17 item 22)
    root = json.loads((run / "config.json").read_text())["extract_config"]["root"]
    assert root not in contract.card.training_data
    assert Path(root).name in contract.card.training_data


def test_metrics_are_computed_from_the_model(pipeline: dict[str, Path]) -> None:
    run = pipeline["run"]
    m = json.loads((run / "metrics.json").read_text())["test"]
    frame, video = m["frame"], m["video"]
    assert frame["fakes"] > 0 and frame["reals"] > 0
    for key in ("auc", "eer", "accuracy"):
        assert 0.0 <= frame[key] <= 1.0, key
    assert math.isfinite(frame["log_loss"]) and frame["log_loss"] > 0
    assert sum(frame["confusion"].values()) == frame["count"]
    assert frame["score_std"] > 1e-6  # not a constant output
    with (run / "predictions_test.csv").open(newline="") as fh:
        preds = list(csv.DictReader(fh))
    assert len(preds) == frame["count"]
    assert np.std([float(p["logit"]) for p in preds]) > 1e-6
    assert video["count"] == len({p["video_id"] for p in preds})
    assert set(m["per_method"]) == {"sbi", "swap"}
    assert 0.05 <= m["temperature"] <= 20.0


def test_fpr_threshold_leaves_the_asked_share_of_reals_above() -> None:
    from deepfake_monitor.train.evaluate import fpr_threshold

    probs = np.random.default_rng(3).uniform(0, 1, 1000)
    for fpr in (0.01, 0.1, 0.25):
        t = fpr_threshold(probs, fpr)
        assert np.mean(probs >= t) == pytest.approx(fpr, abs=0.002)
    assert fpr_threshold(probs, 0.0) == probs.max()


def test_compact_backbone_trains_and_evaluate_sets_a_false_alarm_threshold(
        pipeline: dict[str, Path]) -> None:
    """The default model's recipe: `train --backbone compact`, then `evaluate --threshold-fpr`
    puts the threshold where that share of validation real crops scores above it."""
    run = pipeline["run"].parent / "compact"
    code, log = run_cli("train", str(pipeline["faces"]), "--out", str(run), "--backbone", "compact",
                     "--weights", "none", "--epochs", "1", "--steps-per-epoch", "4",
                     "--batch-size", "16", "--online-sbi", "0.5", "--quiet")
    assert code == 0, log
    code, log = run_cli("train", str(pipeline["faces"]), "--out", str(run / "x"), "--backbone",
                     "compact", "--weights", "imagenet")
    assert code == 2 and "no ImageNet weights" in log
    code, log = run_cli("evaluate", f"{run}/", str(pipeline["faces"]), "--split", "val",
                     "--threshold-fpr", "0.25")
    assert code == 0, log
    assert f"written: {run}/metrics.json, " in log  # as a path, not 'runs/compact//metrics.json'
    contract = ModelContract.from_json((run / "contract.json").read_text(), source="contract")
    with (run / "predictions_val.csv").open(newline="") as fh:
        reals = [float(r["p_fake"]) for r in csv.DictReader(fh) if r["label"] == "real"]
    share = np.mean(np.array(reals) >= contract.threshold - 1e-5)
    assert 0.25 <= share <= 0.25 + 1.0 / len(reals) + 1e-9
    metrics = json.loads((run / "metrics.json").read_text())["val"]
    assert metrics["frame"]["threshold"] == pytest.approx(contract.threshold)
    assert "validation real crops" in metrics["threshold_from"]
    assert json.loads((run / "config.json").read_text())["online_sbi"] == 0.5


def test_online_blends_pair_each_real_crop_with_a_fresh_fake_of_it(
        pipeline: dict[str, Path]) -> None:
    from deepfake_monitor.train.training import OnlineBlends, read_manifest

    samples = read_manifest(pipeline["faces"], "train")
    reals = [s for s in samples if s.label == 0.0]
    fakes = [s for s in samples if s.label == 1.0]
    source = OnlineBlends(reals, fakes, SIZE, share=1.0, seed=5)
    assert sum(f is not None for f in source.faces) >= 0.8 * len(reals)
    stream = source()
    fresh = 0
    for _ in range(20):
        (real, real_label), (fake, fake_label) = next(stream), next(stream)
        assert (real_label, fake_label) == (0.0, 1.0)
        assert real.shape == fake.shape == (SIZE, SIZE, 3) and real.dtype == np.uint8
        changed = np.any(real != fake, axis=2).mean()
        # a self-blend of this very crop: part of it changed, the border left as it was
        if 0.02 < changed < 0.9 and np.array_equal(real[0], fake[0]):
            fresh += 1
    assert fresh >= 14, fresh  # crops without a detected face pair with a dataset fake

    # --online-swap: the fresh fake takes another identity's face; the crop's border stays
    swaps = OnlineBlends(reals, fakes, SIZE, share=1.0, seed=6, swap=1.0)
    stream = swaps()
    swapped = 0
    for _ in range(20):
        (real, _), (fake, label) = next(stream), next(stream)
        changed = np.any(real != fake, axis=2).mean()
        swapped += label == 1.0 and 0.02 < changed < 0.9 and np.array_equal(real[0], fake[0])
    assert swapped >= 14, swapped


def test_reals_only_training_with_online_fakes_resumes_after_an_interruption(
        pipeline: dict[str, Path], tmp_path: Path) -> None:
    """`--online-sbi 1`: the training split needs no fakes at all (every fake is made from the
    batch's own crops, degraded alike); and a run stopped after its first epoch picks up at
    the second when the same command runs again, keeping the first epoch's history."""
    import keras

    from deepfake_monitor.realtime.errors import UserError
    from deepfake_monitor.train.training import BACKUP_DIR, TrainConfig, train

    # a copy of the crops whose training split holds reals only
    faces = tmp_path / "faces"
    faces.mkdir()
    (faces / "extract_config.json").write_text(
        (pipeline["faces"] / "extract_config.json").read_text())
    with (pipeline["faces"] / "manifest.csv").open(newline="") as fh:
        reader = csv.DictReader(fh)
        rows = [r for r in reader if not (r["split"] == "train" and r["label"] == "fake")]
        fields = reader.fieldnames
    for r in rows:
        r["crop_path"] = str((pipeline["faces"] / r["crop_path"]).resolve())
    with (faces / "manifest.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)

    run = tmp_path / "run"
    config = TrainConfig(faces=str(faces), out=str(run), backbone="compact", weights="none",
                         epochs=2, steps_per_epoch=2, batch_size=8, online_sbi=1.0,
                         online_swap=0.5, degrade=True, verbose=0)
    with pytest.raises(UserError, match="needs real and fake"):
        train(TrainConfig(**{**config.__dict__, "online_sbi": 0.5}))

    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            if epoch == 0:
                raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, callbacks=[StopAfterFirstEpoch()])
    assert (run / BACKUP_DIR).is_dir(), "no resume point after the first epoch"
    with (run / "history.csv").open() as fh:
        assert [r["epoch"] for r in csv.DictReader(fh)] == ["0"]

    best = train(config)  # the same settings again: resumes
    with (run / "history.csv").open() as fh:
        assert [r["epoch"] for r in csv.DictReader(fh)] == ["0", "1"]
    assert best["epochs_run"] == 2 and 1 <= best["best_epoch"] <= 2
    assert not (run / BACKUP_DIR).exists()  # removed once training ended
    with pytest.raises(UserError, match="already holds a trained model"):
        train(config)


def test_evaluate_prints_none_of_tensorflows_native_log_lines() -> None:
    """Without -v, TensorFlow's native lines ('Could not find cuda drivers', 'E0000 ... failed
    call to cuInit') stay out of the output, as OpenCV's and FFmpeg's do at run time: a run
    folder that is none is refused in the one line of every other error."""
    pytest.importorskip("tensorflow", reason="training needs the train extra (TensorFlow)")
    done = subprocess.run([sys.executable, "-m", "deepfake_monitor.realtime.cli", "evaluate",
                           "/nonexistent/run/"], capture_output=True, text=True, timeout=300,
                          env={k: v for k, v in os.environ.items()
                               if k != "TF_CPP_MIN_LOG_LEVEL"})
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "deepfake-monitor: error: /nonexistent/run: no config.json; is this a training run "
        "folder?"], done.stderr
