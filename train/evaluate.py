"""Evaluating a training run: frame- and video-level metrics, ROC curves, calibration.

Fake is the positive class everywhere. Frame-level metrics score every crop; video-level ones
score each video with the live engine's rule (`realtime.verdict`), so the numbers describe what
a user of `scan` sees. The calibration temperature T (P(fake) = sigmoid(logit / T)) is fitted on
the validation split -- never on the split being reported -- and written into the run's
contract, so the exported model carries it.

Metric helpers take plain arrays and import no TensorFlow; only `evaluate_run` loads the model.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_monitor.realtime.analysis.verdict import video_scores_from_frames
from deepfake_monitor.realtime.errors import UserError

METRICS_NAME = "metrics.json"

log = logging.getLogger(__name__)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, np.float64)))


TEMPERATURE_BOUNDS = (0.05, 20.0)


def fit_temperature(logits: np.ndarray, labels: np.ndarray,
                    bounds: tuple[float, float] = TEMPERATURE_BOUNDS) -> float:
    """The T minimising the log loss of sigmoid(logit / T) on labelled logits (1 = fake)."""
    from scipy.optimize import minimize_scalar

    z = np.asarray(logits, np.float64)
    y = np.asarray(labels, np.float64)
    if len(z) == 0 or len(np.unique(y)) < 2:
        return 1.0

    def nll(log_t: float) -> float:
        s = z / math.exp(log_t)
        # log(1 + e^s) - y*s, stably
        return float(np.mean(np.logaddexp(0.0, s) - y * s))

    res = minimize_scalar(nll, bounds=(math.log(bounds[0]), math.log(bounds[1])),
                          method="bounded", options={"xatol": 1e-5})
    return float(math.exp(res.x))


def temperature_at_bound(t: float, bounds: tuple[float, float] = TEMPERATURE_BOUNDS
                         ) -> str | None:
    """"lower" or "upper" where a fitted temperature sits on the search's bound (the fit did
    not find a minimum inside it), else None."""
    if t <= bounds[0] * 1.001:
        return "lower"
    if t >= bounds[1] * 0.999:
        return "upper"
    return None


def equal_error_rate(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(EER, threshold there): where the false-fake rate equals the missed-fake rate."""
    from sklearn.metrics import roc_curve

    fpr, tpr, thresholds = roc_curve(labels, scores)
    thresholds = np.minimum(thresholds, 1.0)  # the first is inf: "nothing called fake"
    fnr = 1.0 - tpr
    i = int(np.nanargmin(np.abs(fnr - fpr)))
    # interpolate between the two ROC points around the crossing
    j = min(i + 1, len(fpr) - 1)
    d_i, d_j = fpr[i] - fnr[i], fpr[j] - fnr[j]
    if i != j and d_i * d_j < 0:
        w = d_i / (d_i - d_j)
        return float(fpr[i] + w * (fpr[j] - fpr[i])), float(thresholds[i])
    return float((fpr[i] + fnr[i]) / 2), float(thresholds[i])


def confusion(labels: np.ndarray, predicted_fake: np.ndarray) -> dict[str, int]:
    """Confusion cells, fake positive: true_fake (tp), false_fake (fp: a real called fake),
    true_real (tn), false_real (fn: a fake called real)."""
    y = np.asarray(labels).astype(bool)
    p = np.asarray(predicted_fake).astype(bool)
    return {"true_fake": int((y & p).sum()), "false_fake": int((~y & p).sum()),
            "true_real": int((~y & ~p).sum()), "false_real": int((y & ~p).sum())}


def binary_metrics(labels: np.ndarray, probs: np.ndarray, threshold: float) -> dict[str, Any]:
    """AUC, EER, log loss, accuracy and confusion at `threshold` (AUC/EER None for one class)."""
    from sklearn.metrics import log_loss, roc_auc_score

    y = np.asarray(labels, np.int64)
    p = np.clip(np.asarray(probs, np.float64), 1e-7, 1 - 1e-7)
    out: dict[str, Any] = {"count": len(y), "fakes": int(y.sum()), "reals": int(len(y) - y.sum())}
    if len(y) == 0:
        return out
    both = len(np.unique(y)) == 2
    out["auc"] = float(roc_auc_score(y, p)) if both else None
    out["eer"], out["eer_threshold"] = equal_error_rate(y, p) if both else (None, None)
    out["log_loss"] = float(log_loss(y, p, labels=[0, 1]))
    cells = confusion(y, p >= threshold)
    out["threshold"] = threshold
    out["accuracy"] = (cells["true_fake"] + cells["true_real"]) / len(y)
    out["fake_recall"] = cells["true_fake"] / out["fakes"] if out["fakes"] else None
    out["real_recall"] = cells["true_real"] / out["reals"] if out["reals"] else None
    out["confusion"] = cells
    out["score_mean"], out["score_std"] = float(p.mean()), float(p.std())
    return out


@dataclass(frozen=True)
class Scored:
    """One crop's label (1 = fake), method, place in its video and logit."""

    video_id: str
    method: str
    label: int
    track: int
    t: float
    logit: float


def video_level(scored: Sequence[Scored], probs: np.ndarray
                ) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    """Per-video (ids, labels, scores, methods) by the live engine's rule."""
    frames: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
    meta: dict[str, tuple[int, str]] = {}
    for s, p in zip(scored, probs):
        frames[s.video_id].append((s.track, s.t, float(p)))
        meta[s.video_id] = (s.label, s.method)
    scores = video_scores_from_frames(frames)
    ids = [v for v in frames if scores[v] is not None]
    return (ids, np.array([meta[v][0] for v in ids], np.int64),
            np.array([scores[v] for v in ids], np.float64), [meta[v][1] for v in ids])


def report(scored: Sequence[Scored], temperature: float, threshold: float) -> dict[str, Any]:
    """All metrics of one split at a calibration temperature and threshold."""
    z = np.array([s.logit for s in scored], np.float64)
    y = np.array([s.label for s in scored], np.int64)
    p = sigmoid(z / temperature)
    methods = np.array([s.method for s in scored])
    out: dict[str, Any] = {"temperature": temperature, "frame": binary_metrics(y, p, threshold),
                           "frame_uncalibrated_log_loss": binary_metrics(y, sigmoid(z), threshold)
                           .get("log_loss")}
    _, vy, vp, vm = video_level(scored, p)
    out["video"] = binary_metrics(vy, vp, threshold)
    vm_arr = np.array(vm)
    per: dict[str, Any] = {}
    for method in sorted(set(methods.tolist()) - {"real"}):
        keep = (methods == method) | (methods == "real")
        vkeep = (vm_arr == method) | (vm_arr == "real")
        per[method] = {"frame": binary_metrics(y[keep], p[keep], threshold),
                       "video": binary_metrics(vy[vkeep], vp[vkeep], threshold)}
    out["per_method"] = per
    return out


def plot_roc(path: Path, curves: dict[str, tuple[np.ndarray, np.ndarray]], title: str) -> None:
    """ROC curves (label -> (labels, scores)) into a PNG, without a display."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    for name, (y, s) in curves.items():
        if len(np.unique(y)) < 2:
            continue
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, s):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false-fake rate (reals called fake)", ylabel="fake recall", title=title,
           xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def score_split(model: Any, faces: Path, split: str, size: int) -> list[Scored]:
    from .training import predict_logits, read_manifest

    samples = read_manifest(faces, split)
    logits = predict_logits(model, samples, size)
    return [Scored(s.video_id, s.method, int(s.label), s.track, s.t, float(z))
            for s, z in zip(samples, logits)]


MEMORISATION_SAMPLE = 600


def memorisation(train_real: np.ndarray, unseen_real: np.ndarray, threshold: float
                 ) -> dict[str, Any]:
    """How differently the model scores the real faces it trained on and real faces of people
    it never saw.

    A detector that keys on the manipulation scores both alike (AUC near 0.5). One that learned
    its training people calls them real and new people fake: unseen reals score higher, the AUC
    (unseen real = positive) nears 1 -- and real footage of anyone else will raise false alarms.
    """
    from sklearn.metrics import roc_auc_score

    seen, unseen = np.asarray(train_real, np.float64), np.asarray(unseen_real, np.float64)
    out: dict[str, Any] = {
        "train_real": {"count": len(seen), "mean_p": float(seen.mean()) if len(seen) else None,
                       "above_threshold": float(np.mean(seen >= threshold)) if len(seen)
                       else None},
        "unseen_real": {"count": len(unseen),
                        "mean_p": float(unseen.mean()) if len(unseen) else None,
                        "above_threshold": float(np.mean(unseen >= threshold)) if len(unseen)
                        else None},
        "auc": None}
    if len(seen) and len(unseen):
        y = np.r_[np.zeros(len(seen)), np.ones(len(unseen))]
        out["auc"] = float(roc_auc_score(y, np.r_[seen, unseen]))
    return out


def evenly(items: Sequence[Any], at_most: int) -> list[Any]:
    """At most `at_most` items spread evenly over the sequence, in order."""
    if len(items) <= at_most:
        return list(items)
    return [items[i] for i in np.linspace(0, len(items) - 1, at_most).round().astype(int)]


def fpr_threshold(real_probs: np.ndarray, fpr: float) -> float:
    """The P(fake) threshold that a share `fpr` of these real faces reach or exceed."""
    p = np.sort(np.asarray(real_probs, np.float64))
    if len(p) == 0:
        raise ValueError("no real faces to set a threshold on")
    k = min(len(p) - 1, max(0, math.ceil(len(p) * (1.0 - fpr))))
    return float(p[k])


def evaluate_run(run: Path, faces: Path | None = None, split: str = "test",
                 fit_calibration: bool = True, threshold_fpr: float | None = None
                 ) -> dict[str, Any]:
    """Score a split with the run's best model; write metrics, predictions, ROC PNG, the
    fitted temperature and (with `threshold_fpr`) the threshold into the run; return the
    split's metrics."""
    from .training import CONFIG_NAME, load_model, read_contract, write_contract

    run = Path(run)
    config_path = run / CONFIG_NAME
    if not config_path.is_file():
        raise UserError(f"{run}: no {CONFIG_NAME}; is this a training run folder?")
    config = json.loads(config_path.read_text(encoding="utf-8"))
    faces = Path(faces or config["faces"])
    contract = read_contract(run)
    size = contract.input.size
    model = load_model(run)
    scored = score_split(model, faces, split, size)
    if not scored:
        raise UserError(f"{faces}: the manifest has no {split} crops")
    temperature, fitted_on = contract.temperature, None
    threshold, threshold_from = contract.threshold, None
    val = None
    if fit_calibration or threshold_fpr is not None:
        val = scored if split == "val" else score_split(model, faces, "val", size)
    if fit_calibration and val and len({s.label for s in val}) == 2:
        temperature = fit_temperature(np.array([s.logit for s in val]),
                                      np.array([s.label for s in val]))
        fitted_on = f"val ({len(val)} crops)"
        bound = temperature_at_bound(temperature)
        if bound:
            videos = len({s.video_id for s in val})
            log.warning("calibration: the fitted temperature %.3f is the search's %s bound "
                        "(validation: %d crops of %d videos): too little or too easy validation "
                        "data to calibrate on; the probabilities are not to be trusted",
                        temperature, bound, len(val), videos)
    if threshold_fpr is not None:
        real_val = np.array([s.logit for s in val or [] if s.label == 0])
        if not len(real_val):
            raise UserError(f"{faces}: no real validation crops to set the threshold on")
        threshold = fpr_threshold(sigmoid(real_val / temperature), threshold_fpr)
        threshold_from = f"{threshold_fpr:g} of {len(real_val)} validation real crops above it"
    result = report(scored, temperature, threshold)
    result.update(split=split, faces=str(faces), calibration_fitted_on=fitted_on,
                  threshold_from=threshold_from,
                  calibration_at_bound=temperature_at_bound(temperature) if fitted_on else None)
    if split != "train":
        from .training import predict_logits, read_manifest

        seen = evenly([s for s in read_manifest(faces, "train") if s.label == 0],
                      MEMORISATION_SAMPLE)
        unseen = np.array([s.logit for s in scored if s.label == 0])
        seen_p = sigmoid(predict_logits(model, seen, size) / temperature)
        result["memorisation"] = memorisation(seen_p, sigmoid(unseen / temperature), threshold)

    probs = sigmoid(np.array([s.logit for s in scored]) / temperature)
    with (run / f"predictions_{split}.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["video_id", "method", "label", "track", "t", "logit", "p_fake"])
        for s, p in zip(scored, probs):
            w.writerow([s.video_id, s.method, "fake" if s.label else "real", s.track,
                        f"{s.t:.3f}", f"{s.logit:.5f}", f"{p:.5f}"])
    ids, vy, vp, _ = video_level(scored, probs)
    roc_path = run / f"roc_{split}.png"
    plot_roc(roc_path, {"frames": (np.array([s.label for s in scored]), probs),
                        "videos": (vy, vp)}, f"{run.name}: {split}")
    result["roc_png"] = roc_path.name

    metrics_path = run / METRICS_NAME
    every = json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.is_file() else {}
    every[split] = result
    metrics_path.write_text(json.dumps(every, indent=2, allow_nan=False) + "\n",
                            encoding="utf-8")
    card_metrics = {**contract.card.metrics, split: {
        "frame_auc": result["frame"].get("auc"), "video_auc": result["video"].get("auc"),
        "frame_eer": result["frame"].get("eer"), "videos": len(ids)}}
    write_contract(run, replace(contract, temperature=temperature, threshold=threshold,
                                card=replace(contract.card, metrics=card_metrics)))
    return result
