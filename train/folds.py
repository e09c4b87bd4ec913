"""Leave-one-generator-out: the yardstick a recipe is chosen by.

One split says little with a few dozen real fakes; a detector is only worth shipping if it
catches generators it never saw. Each fold holds out one generator group of
`../shared/realfakes` (DeepFaceLive people two at a time, other face swaps, reenactment,
talking heads and lip-sync), trains the recipe on everything else, and scores the fold's fakes
against the fold's own real clips, which the run never saw either. Video score: the mean
P(fake) over the clip's crops.

    python -m deepfake_monitor.train.folds FACES LABELS.csv --out DIR [--epochs 6 --steps 60]

FACES is an `extract --layout labels` folder of LABELS.csv (train/corpora.py writes both for
the recipe). Fold runs reuse FACES's crops (a symlink); each fold's result is written as it
finishes, and a rerun skips the folds finished on the same schedule (epochs x steps).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import shutil
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_monitor.realtime.errors import UserError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Fold:
    name: str
    groups: tuple[str, ...] = ()  # realfakes folders
    people: tuple[str, ...] = ()  # realfakes persons (DeepFaceLive celebrity models)


FOLDS = (
    Fold("dfl-dean-liu", people=("Dean_Wiesel", "Liu_Lice")),
    Fold("dfl-emily-meggie", people=("Emily_Winston", "Meggie_Merkel")),
    Fold("dfl-natasha-rob", people=("Natasha_Former", "Rob_Doe")),
    Fold("dfl-tim-zahar", people=("Tim_Chrys", "Zahar_Lupin")),
    Fold("other-swaps", groups=("deepfacelive-inswapper", "deep-live-cam", "iroopdeepfacecam",
                                "simswap", "faceswap-gan", "refacer")),
    Fold("reenactment", groups=("liveportrait", "styleheat")),
    Fold("talking-heads", groups=("aniportrait", "edtalk", "sadtalker", "dreamtalk", "dinet",
                                  "synctalk", "geneface")),
)


def auc(labels: Sequence[float], scores: Sequence[float]) -> float:
    """Area under the ROC curve (ties count half); NaN without both classes."""
    y, s = np.asarray(labels, float), np.asarray(scores, float)
    pos, neg = s[y == 1], s[y == 0]
    if not len(pos) or not len(neg):
        return math.nan
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(greater / (len(pos) * len(neg)))


def fold_members(labels_csv: Path, fold: Fold) -> set[str]:
    """Absolute paths of the fold's clips, fakes and reals."""
    with Path(labels_csv).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    people = {f"realfakes:{p}" for p in fold.people}
    return {str(Path(r["path"]).resolve()) for r in rows
            if r.get("group") in fold.groups or r.get("person") in people}


def write_fold_faces(faces: Path, labels_csv: Path, fold: Fold, out: Path) -> Path:
    """A faces folder sharing `faces`'s crops whose manifest puts the fold in `val` (scored,
    never chosen by: fold runs keep their last epoch) and everything else but the held-out
    test split in `train`."""
    faces, out = Path(faces).resolve(), Path(out)
    members = fold_members(labels_csv, fold)
    with (faces / "splits.csv").open(newline="", encoding="utf-8") as fh:
        held = {r["video_id"] for r in csv.DictReader(fh)
                if str(Path(r["path"]).resolve()) in members}
    if not held:
        raise UserError(f"fold {fold.name}: none of its clips are in {faces}")
    out.mkdir(parents=True, exist_ok=True)
    link = out / "crops"
    if not link.exists():
        os.symlink(faces / "crops", link)
    shutil.copy(faces / "extract_config.json", out / "extract_config.json")
    with (faces / "manifest.csv").open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        columns, rows = reader.fieldnames or [], list(reader)
    for r in rows:
        r["split"] = "val" if r["video_id"] in held else \
            ("test" if r["split"] == "test" else "train")
    tmp = out / "manifest.csv.part"
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(out / "manifest.csv")
    return out


def score_fold(run: Path, faces: Path) -> dict[str, Any]:
    """Video AUC (mean P(fake) per clip), crop AUC, and for aligned pairs how many fakes score
    above their own real twin, on the fold (the run's `val` split)."""
    from .training import load_model, predict_logits, read_manifest

    samples = read_manifest(faces, "val")
    model = load_model(run)
    size = int(model.input_shape[1])
    p = 1.0 / (1.0 + np.exp(-predict_logits(model, samples, size)))
    per_video: dict[str, list[float]] = defaultdict(list)
    label: dict[str, float] = {}
    twin: dict[str, str] = {}
    for s, prob in zip(samples, p):
        per_video[s.video_id].append(float(prob))
        label[s.video_id] = s.label
        if s.source_video:
            twin[s.video_id] = s.source_video
    videos = sorted(per_video)
    score = {v: float(np.mean(per_video[v])) for v in videos}
    pairs = [(score[f], score[r]) for f, r in twin.items() if r in score]
    return {
        "video_auc": auc([label[v] for v in videos], [score[v] for v in videos]),
        "crop_auc": auc([s.label for s in samples], p.tolist()),
        "fakes": sum(1 for v in videos if label[v] == 1), "reals": sum(1 for v in videos
                                                                      if label[v] == 0),
        "pairs_above": sum(1 for f, r in pairs if f > r), "pairs": len(pairs),
        "median_fake": float(np.median([score[v] for v in videos if label[v] == 1] or [math.nan])),
        "median_real": float(np.median([score[v] for v in videos if label[v] == 0] or [math.nan])),
    }


def _schedule_of(run: Path) -> list[int] | None:
    """[epochs, steps per epoch] of a fold's earlier training, None where there was none."""
    try:
        config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return [config.get("epochs"), config.get("steps_per_epoch")]


def run_folds(faces: Path, labels_csv: Path, out: Path, base: Any,
              folds: Sequence[Fold] = FOLDS) -> list[dict[str, Any]]:
    """Train `base` (a TrainConfig; faces/out replaced per fold, last epoch kept) on each fold's
    complement and score the fold; results in OUT/folds.json, finished folds skipped."""
    from .training import train

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    results_path = out / "folds.json"
    results: dict[str, Any] = (json.loads(results_path.read_text(encoding="utf-8"))
                               if results_path.is_file() else {})
    schedule = [base.epochs, base.steps_per_epoch]
    for fold in folds:
        if results.get(fold.name, {}).get("schedule") == schedule:
            log.info("fold %s: done already", fold.name)
            continue
        fold_faces = write_fold_faces(faces, labels_csv, fold, out / fold.name / "faces")
        run = out / fold.name / "run"
        if _schedule_of(run) not in (None, schedule):
            log.info("fold %s: trained on another schedule before; training it again", fold.name)
            shutil.rmtree(run)
        if not (run / "best.keras").is_file() or (run / "resume").is_dir():
            train(replace(base, faces=str(fold_faces), out=str(run), checkpoint="last"))
        # Through JSON, so that a resumed run returns the very same values.
        results[fold.name] = json.loads(json.dumps({**asdict(fold), "schedule": schedule,
                                                    **score_fold(run, fold_faces)}))
        print(f"[folds] {fold.name}: {results[fold.name]}", file=sys.stderr, flush=True)
        tmp = results_path.with_name(results_path.name + ".part")
        tmp.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        tmp.replace(results_path)
    return [results[f.name] for f in folds if f.name in results]


def table(results: Sequence[dict[str, Any]]) -> str:
    """The fold table in Markdown, with the mean video AUC."""
    lines = ["| fold | fakes / reals | video AUC | crop AUC | fakes above their twin |"
             " median P(fake) fake / real |", "|---|---|---|---|---|---|"]
    for r in results:
        pairs = f"{r['pairs_above']}/{r['pairs']}" if r["pairs"] else ""
        lines.append(f"| {r['name']} | {r['fakes']} / {r['reals']} | {r['video_auc']:.3f} | "
                     f"{r['crop_auc']:.3f} | {pairs} | {r['median_fake']:.2f} / "
                     f"{r['median_real']:.2f} |")
    aucs = [r["video_auc"] for r in results if not math.isnan(r["video_auc"])]
    if aucs:
        lines.append(f"| **mean** | | **{np.mean(aucs):.3f}** | "
                     f"{np.nanmean([r['crop_auc'] for r in results]):.3f} | | |")
    return "\n".join(lines)


def fold_config(run_config: Path | None, epochs: int, steps: int) -> Any:
    """The TrainConfig of a recipe's run (its `config.json`; defaults without one) on the folds'
    shorter schedule, the last epoch kept (faces and out are set per fold)."""
    from .training import TrainConfig

    fields = set(TrainConfig.__dataclass_fields__)
    settings = ({k: v for k, v in json.loads(Path(run_config).read_text(encoding="utf-8")).items()
                 if k in fields} if run_config else {})
    return TrainConfig(**{**settings, "faces": settings.get("faces", ""), "out": "",
                          "verbose": 2, "epochs": epochs, "steps_per_epoch": steps,
                          "checkpoint": "last"})


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m deepfake_monitor.train.folds",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("faces", type=Path)
    p.add_argument("labels", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--config", type=Path, help="a run's config.json to take the recipe from")
    p.add_argument("--epochs", type=int, default=6,
                   help="epochs a fold (default: %(default)s, the swap recipe's own)")
    p.add_argument("--steps", type=int, default=60,
                   help="steps an epoch (default: %(default)s); a shorter schedule understates "
                        "the folds")
    p.add_argument("--only", nargs="*", help="fold names")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    base = replace(fold_config(args.config, args.epochs, args.steps), faces=str(args.faces))
    folds = [f for f in FOLDS if not args.only or f.name in args.only]
    try:
        results = run_folds(args.faces, args.labels, args.out, base, folds)
    except UserError as exc:
        print(f"folds: error: {exc}", file=sys.stderr)
        return 2
    text = table(results)
    (args.out / "folds.md").write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
