"""`deepfake-monitor extract`, registered through the `deepfake_monitor.commands` entry point.

Registering must stay cheap (the CLI builds every command's parser on each start), so this
module imports only argparse; the handler imports the extraction code when it runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from deepfake_monitor.realtime.argtypes import (
    PROG,
    add_verbose,
    count,
    fraction,
    positive,
    positive_int,
    ranged,
)

EXIT_OK, EXIT_PARTIAL = 0, 1

_EPILOG = """\
layouts:
  dfdc     folders holding a metadata.json (dfdc_train_part_N/), or a test folder with
           labels.csv; a fake's identity is its original video
  ffpp     original_sequences/ and manipulated_sequences/ (FaceForensics++, DeepFakeDetection);
           official splits from ROOT/splits/ or --splits-dir
  celebdf  Celeb-real/, Celeb-synthesis/, YouTube-real/ (Celeb-DF v1/v2); official test set
           from ROOT/List_of_testing_videos.txt or --test-list
  folders  real/ and fake/ with videos or images (images are single-frame videos), optionally
           inside train/ val/ test/; real/NAME/... and fake/NAME/... share the identity NAME
  labels   a CSV (ROOT/labels.csv or ROOT.csv itself): path,label (1 fake, 0 real) and
           optional person (identity), pair (a fake and the real clip it was made from),
           generator, kind, split columns; paths relative to the CSV's folder

splits: by video and identity, never by frame; a fake stays with its originals. Official
splits win; videos sharing an identity with an official test video but not in it are
'excluded'. Where an official test set exists, the rest is split into train and val only.

outputs (in --out): crops/<video_id>/<frame>_<track>.jpg, manifest.csv (a row per crop),
videos.csv (a row per video: ok, no_faces or failed and why), splits.csv (every video's
split), extract_config.json. Rerunning the same command resumes: finished videos are
skipped, failed ones retried.

exit status: 0 all videos read; 1 some videos could not be read (listed on stderr and in
videos.csv, the others extracted); 2 bad input (no dataset at ROOT, bad option, other
settings than the crops already in --out); 130 interrupted (resume by rerunning).
"""


def register_extract(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "extract", help="cut training face crops from a dataset, with splits by identity",
        description="Sample frames from every video of a dataset, find faces with the live\n"
                    "engine's detector, cut them with its crop function (so crops match what a\n"
                    "model sees live) and write crops plus a manifest with train/val/test splits\n"
                    "by identity.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("root", metavar="DATASET_ROOT")
    p.add_argument("--layout", required=True,
                   choices=("dfdc", "ffpp", "celebdf", "folders", "labels"))
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (resumable)")

    s = p.add_argument_group("sampling")
    how = s.add_mutually_exclusive_group()
    how.add_argument("--frames-per-video", type=positive_int, default=None, metavar="N",
                     help="frames spread evenly through each video (default: 32)")
    how.add_argument("--fps", type=positive, metavar="F",
                     help="frames per second of video instead (every frame if F >= its rate)")
    s.add_argument("--max-faces-per-frame", type=count, default=1, metavar="K",
                   help="the K largest faces of a frame, 0 for all (default: %(default)s, "
                        "for one-person datasets)")

    c = p.add_argument_group("crop (default: 224 px, margin 0.25, no alignment)")
    c.add_argument("--model-config", metavar="PATH",
                   help="take size, margin and align from a model: an ONNX file with "
                        "deepfake-monitor metadata, or a JSON with input.size and "
                        "crop.margin/crop.align; the options below override it")
    c.add_argument("--size", type=ranged(int, 16, 2048), metavar="PX", help="crop side in pixels")
    c.add_argument("--margin", type=ranged(float, 0.0, 2.0), metavar="M",
                   help="fraction of the face box added on each side")
    c.add_argument("--align", action=argparse.BooleanOptionalAction, default=None,
                   help="turn crops so that the eyes are level")
    c.add_argument("--format", dest="image_format", choices=("jpg", "png"), default="jpg",
                   help="crop files: JPEG quality 95 or PNG (default: %(default)s)")

    d = p.add_argument_group("detection")
    d.add_argument("--detector", default="full", metavar="short|full|PATH",
                   help="BlazeFace model, as for scan (default: %(default)s)")
    d.add_argument("--min-face-score", type=fraction, default=0.5, metavar="P",
                   help="detector confidence needed to keep a face (default: %(default)s)")
    d.add_argument("--batch", type=positive_int, default=16, metavar="N",
                   help="frames per detector call (default: %(default)s)")

    sp = p.add_argument_group("splits")
    sp.add_argument("--val", type=fraction, default=0.15, help="default: %(default)s")
    sp.add_argument("--test", type=fraction, default=0.15, help="default: %(default)s")
    sp.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    sp.add_argument("--no-official", dest="use_official", action="store_false",
                    help="ignore the dataset's own split lists")

    ds = p.add_argument_group("dataset options")
    ds.add_argument("--compression", choices=("raw", "c23", "c40"),
                    help="ffpp: compression level (default: c23, or the only one present)")
    ds.add_argument("--splits-dir", metavar="DIR",
                    help="ffpp: folder with train.json, val.json, test.json")
    ds.add_argument("--test-list", metavar="PATH",
                    help="celebdf: the official test list (List_of_testing_videos.txt)")
    add_verbose(p)
    p.set_defaults(handler=run_extract)


def _options(args: argparse.Namespace) -> dict[str, object]:
    from deepfake_monitor.realtime.errors import UserError

    wrong = [name for name, value, layout in (
        ("--compression", args.compression, "ffpp"), ("--splits-dir", args.splits_dir, "ffpp"),
        ("--test-list", args.test_list, "celebdf")) if value is not None and args.layout != layout]
    if wrong:
        raise UserError(f"{wrong[0]} does not apply to the {args.layout} layout")
    if args.layout == "ffpp":
        return {"compression": args.compression,
                "splits_dir": Path(args.splits_dir) if args.splits_dir else None}
    if args.layout == "celebdf":
        return {"test_list": Path(args.test_list) if args.test_list else None}
    return {}


def run_extract(args: argparse.Namespace) -> int:
    from rich.console import Console

    from deepfake_monitor.realtime.display_text import clean
    from deepfake_monitor.realtime.errors import UserError
    from deepfake_monitor.realtime.progress import counting_progress

    from .extract import CropSettings, ExtractConfig, Extractor, crop_settings_from_model
    from .layouts import VideoEntry, parse_layout
    from .splits import split_counts, split_videos

    if args.val + args.test >= 1.0:
        raise UserError(f"--val {args.val} and --test {args.test} leave nothing to train on")
    crop: dict[str, object] = {}
    if args.model_config:
        crop.update(crop_settings_from_model(Path(args.model_config)))
    for key in ("size", "margin", "align"):
        if getattr(args, key) is not None:
            crop[key] = getattr(args, key)
    config = ExtractConfig(
        crop=CropSettings(**crop),  # type: ignore[arg-type]
        frames_per_video=None if args.fps else (args.frames_per_video or 32),
        fps=args.fps, max_faces_per_frame=args.max_faces_per_frame, detector=args.detector,
        min_face_score=args.min_face_score, image_format=args.image_format,
        batch_size=args.batch,
    )
    root = Path(args.root)
    entries = parse_layout(args.layout, root, **_options(args))
    assignment = split_videos(entries, val=args.val, test=args.test, seed=args.seed,
                              use_official=args.use_official)
    info = {"layout": args.layout, "root": str(root.resolve()),
            "model_config": args.model_config,
            "split": {"val": args.val, "test": args.test, "seed": args.seed,
                      "use_official": args.use_official}}
    extractor = Extractor(Path(args.out), config, info=info)
    todo = extractor.prepare(entries, assignment)
    counts = split_counts(entries, assignment)
    err = Console(stderr=True)
    err.print(f"{len(entries)} videos: " + ", ".join(
        f"{side} {c['real']} real / {c['fake']} fake"
        for side, c in sorted(counts.items(), key=lambda kv: _SIDE_ORDER.get(kv[0], 9)))
        + f"; {len(entries) - len(todo)} already extracted", markup=False, highlight=False)
    progress = counting_progress(err, "videos", "extract")
    task = progress.add_task("extract", total=len(todo))

    def on_video(entry: VideoEntry, result: Any) -> None:
        if result.status == "failed":
            progress.console.print(clean(f"{PROG}: error: {entry.path}: {result.error}"),
                                   markup=False, highlight=False, soft_wrap=True)
        progress.advance(task)

    with progress:
        summary = extractor.extract(todo, assignment, on_video=on_video)

    failed = summary.failed
    no_faces = sum(1 for r in summary.results if r.status == "no_faces")
    print(f"{PROG}: extracted {summary.crops} crops from {len(summary.results) - len(failed)} "
          f"videos into {args.out} ({summary.skipped} already done, {no_faces} without a face, "
          f"{len(failed)} unreadable)", file=sys.stderr)
    return EXIT_PARTIAL if failed else EXIT_OK


_SIDE_ORDER = {"train": 0, "val": 1, "test": 2, "excluded": 3}
