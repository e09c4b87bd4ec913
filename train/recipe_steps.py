"""The steps both model recipes take (train/default_model.py, train/swap_recipe.py): the real
faces of `../shared/media` staged by identity and split, the project's own commands run one by
one (printed first, skipped when done), `scan --labels` and the metrics and threshold read from
its report, and the classifier's speed on the CPU."""

from __future__ import annotations

import json
import math
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from deepfake_monitor.realtime.errors import UserError

# --- who is who, and which side of the split they are on -------------------------------------
# Held-out clips: eight people, talking heads and stock clips of several cameras and styles.
TEST_CLIPS = ("liveportrait-driving-d3", "liveportrait-driving-d9", "liveportrait-driving-d12",
              "liveportrait-driving-d19", "liveportrait-source-s18", "video-retalking-face4",
              "tpsmm-driving", "aniportrait-pose_ref_video")
VAL_CLIPS = ("liveportrait-driving-d14", "liveportrait-source-s29", "video-retalking-face5")
PHOTO_IDENTITIES: dict[str, str] = {
    **{f"deepface-img{i}": "angelina_jolie" for i in (1, 2, 4, 5, 6, 7, 10, 11, 49)},
    "deepface-img11_reflection": "angelina_jolie",
    "facenet-pytorch-angelina_jolie": "angelina_jolie",
    **{f"deepface-img{i}": "jennifer_aniston" for i in (3, 12, 53, 54, 55, 56)},
    **{f"deepface-img{i}": "mark_zuckerberg" for i in (13, 14, 15, 57, 58)},
    **{f"deepface-img{i}": "jack_dorsey" for i in (16, 17, 61, 62)},
    **{f"deepface-img{i}": "jeff_bezos" for i in (20, 21)},
    **{f"deepface-img{i}": "marissa_mayer" for i in (22, 23)},
    **{f"deepface-img{i}": "sundar_pichai" for i in (24, 25)},
    **{f"deepface-img{i}": "katy_perry" for i in (26, 27, 28, 42, 43, 44, 45, 46)},
    **{f"deepface-img{i}": "matt_damon" for i in (29, 30, 31, 32, 33)},
    **{f"deepface-img{i}": "leonardo_dicaprio" for i in (34, 35, 36, 37)},
    **{f"deepface-img{i}": "george_clooney" for i in (38, 39, 40, 41)},
    **{f"deepface-img{i}": "scarlett_johansson" for i in (8, 9, 47, 48, 50, 51)},
    **{f"face_recognition-{n}": "barack_obama"
       for n in ("obama", "obama2", "obama3", "obama_partial_face")},
    "face_recognition-obama_and_biden": "obama_biden", "face_recognition-two_people": "obama_biden",
    "face_recognition-biden": "obama_biden",
    "face_recognition-john1": "kit_harington", "face_recognition-kit_with_rose": "kit_harington",
    "face_recognition-img2": "kit_harington",  # Rose Leslie, pictured with him in kit_with_rose
    # The Hamilton cast photos go with the Hamilton clip.
    "face_recognition-alex-lacamoire": "hamilton",
    "face_recognition-lin-manuel-miranda": "hamilton",
    # CompreFace: portraits of three people (A, B, C); group photos are one identity each.
    **{f"compreface-00{i}_A": "compreface_a" for i in range(1, 7)},
    **{f"compreface-00{i}_B": "compreface_b" for i in (7, 8)},
    "compreface-009_C": "compreface_c",
}
CLIP_IDENTITIES = {"face_recognition-short_hamilton_clip": "hamilton"}
# Obama is also in the DeepFaceLive part of the dev set: his photos stay out of training.
TEST_IDENTITIES = ("matt_damon", "george_clooney", "barack_obama", "obama_biden")
VAL_IDENTITIES = ("jeff_bezos", "sundar_pichai")
# Not camera footage of a real face: paintings, a sculpture, renders and animals; and a
# landscape without a face.
EXCLUDED_PHOTOS = frozenset(
    f"liveportrait-s{i}" for i in (0, 3, 4, 5, 6, 7, 8, 9, 10, 22, 23, 25, 30, 31, 32, 33, 36,
                                   38, 39, 40, 41)
) | {"compreface-017_0"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

@dataclass(frozen=True)
class StagedMedia:
    path: Path
    kind: str  # "clip" | "photo"
    identity: str
    split: str


def stage_sources(media: Path) -> list[StagedMedia]:
    """The usable clips and photos of `media`, each with its identity and split."""
    found = []
    for path in sorted((media / "videos").glob("*.mp4")):
        name = path.stem
        identity = CLIP_IDENTITIES.get(name, name)
        split = "test" if name in TEST_CLIPS else "val" if name in VAL_CLIPS else "train"
        found.append(StagedMedia(path, "clip", identity, split))
    for path in sorted((media / "images").glob("*/*")):
        if path.suffix.lower() not in IMAGE_SUFFIXES or path.stem in EXCLUDED_PHOTOS:
            continue
        identity = PHOTO_IDENTITIES.get(path.stem, path.stem)
        split = ("test" if identity in TEST_IDENTITIES else "val" if identity in VAL_IDENTITIES
                 else "train")
        found.append(StagedMedia(path, "photo", identity, split))
    if not any(s.kind == "clip" for s in found):
        raise UserError(f"{media}: no clips in videos/; is this ../shared/media?")
    # An identity's clips decide its side (the Hamilton clip takes its cast photos along).
    clip_split = {s.identity: s.split for s in found if s.kind == "clip"}
    return [StagedMedia(s.path, s.kind, s.identity, clip_split.get(s.identity, s.split))
            for s in found]


# --- running the project's commands ----------------------------------------------------------


def run_command(argv: Sequence[str], done: Path | None = None) -> None:
    """One `deepfake-monitor` command, printed first; skipped when `done` exists already."""
    from deepfake_monitor.realtime.cli import main as cli_main

    text = "deepfake-monitor " + " ".join(shlex.quote(a) for a in argv)
    if done is not None and done.exists():
        print(f"[recipe] done already: {text}", file=sys.stderr, flush=True)
        return
    print(f"[recipe] {text}", file=sys.stderr, flush=True)
    start = time.monotonic()
    code = cli_main(list(argv))
    if code != 0:
        raise UserError(f"`{text}` failed (exit {code})")
    print(f"[recipe] {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)


def scan_labelled(model: Path, labels: Path, report: Path, inputs: Sequence[str],
                  threshold: float | None = None) -> dict[str, Any]:
    """`deepfake-monitor scan INPUTS --labels LABELS --json REPORT --model MODEL`, resumable."""
    argv = ["scan", *inputs, "--labels", str(labels), "--json", str(report), "--model",
            str(model)]
    if threshold is not None:
        argv += ["--threshold", f"{threshold:.6f}"]
    run_command(argv, done=report)
    data: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
    return data


def clip_threshold(scores: Sequence[float], budget: float) -> float:
    """The lowest threshold at which at most `budget` of these real clips get a "fake" verdict
    (a verdict is fake at score >= threshold), rounded up to 3 decimals."""
    ordered = sorted(scores, reverse=True)
    allowed = math.floor(budget * len(ordered) + 1e-9)
    if allowed >= len(ordered):
        return 0.0
    return min(1.0, math.floor(ordered[allowed] * 1000) / 1000 + 0.001)


def videos_by_kind(report: dict[str, Any], labels: Path) -> dict[str, list[tuple[str, float]]]:
    """(path, score) of the report's scored videos, grouped by the labels' `kind`."""
    from deepfake_monitor.realtime.outputs.labelled_metrics import read_labels

    label_set = read_labels(labels)
    out: dict[str, list[tuple[str, float]]] = {}
    for v in report["videos"]:
        label = label_set.lookup(v["path"])
        if label is not None and label.kind is not None and v.get("score") is not None:
            out.setdefault(label.kind, []).append((v["path"], float(v["score"])))
    return out


def metrics_at(report: dict[str, Any], threshold: float, labels: Path) -> dict[str, Any]:
    """The report's labelled metrics recomputed at another threshold."""
    from deepfake_monitor.realtime.outputs.labelled_metrics import (
        LabelledVideo,
        labelled_metrics,
        read_labels,
    )

    label_set = read_labels(labels)
    videos = []
    for v in report["videos"]:
        label = label_set.lookup(v["path"])
        if label is not None:
            videos.append(LabelledVideo(v["path"], label.fake, v.get("score"), v["status"],
                                        label.kind, label.source))
    return labelled_metrics(videos, threshold, label_set)


def measure_speed(model: Path, crop: Path, seconds: float = 2.0) -> dict[int, float]:
    """Milliseconds per crop through the runtime's classifier on the CPU, at batch 1, 8 and
    32: `deepfake-monitor bench`'s classifier part, on one of the extracted face crops."""
    import cv2

    from deepfake_monitor.realtime.bench.stages import bench_classifier
    from deepfake_monitor.realtime.model.classifier import DeepfakeClassifier

    clf = DeepfakeClassifier(model, providers=("CPUExecutionProvider",))
    crops = cv2.imread(str(crop), cv2.IMREAD_COLOR)[None]
    return {t.batch: 1000.0 / t.per_s for t in bench_classifier(clf, crops, seconds)}
