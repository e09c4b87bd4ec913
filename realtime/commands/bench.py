"""`deepfake-monitor bench`: the bench's parts run and rendered (realtime/bench/)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..argtypes import (
    PROG,
)
from ..errors import UserError
from .signals import EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..bench.render import render
    from ..bench.results import PARTS, BenchConfig
    from ..bench.run import run_bench
    from ..model.backend import parse_providers
    from ..outputs.atomic import atomic_write, check_output_file

    if args.json and args.json != "-":
        check_output_file(args.json, "--json")

    def pick(value: float | None, normal: float, quick: float) -> float:
        return value if value is not None else (quick if args.quick else normal)

    parts = tuple(p.strip() for p in args.only.split(",") if p.strip()) if args.only else PARTS
    if "cluster" in parts:  # the install hint before the clip is made, not an ImportError after
        from ..cluster.connection import require_ray

        require_ray("bench --only cluster")
    video = Path(args.video) if args.video else None
    if video is not None and not video.is_file():
        raise UserError(f"{video}: no such video file")
    config = BenchConfig(
        video=video, model=args.model, detector=args.detector,
        providers=parse_providers(args.providers), min_face_score=args.min_face_score,
        threshold=args.threshold, sample_fps=args.sample_fps, parts=parts,
        measure_s=pick(args.measure_seconds, 2.0, 0.2),
        clip_s=pick(args.clip_seconds, 30.0, 3.0),
        live_s=pick(args.live_seconds, 60.0, 3.0), streams=args.streams,
        streams_s=pick(args.stream_seconds, 30.0, 3.0),
        repeats=int(pick(args.repeat, 3, 1)), quick=args.quick,
    )
    err = Console(stderr=True)
    result = run_bench(config, on_part=lambda name: err.print(f"[dim]{PROG} bench: {name}…[/]"))
    if args.json == "-":
        json.dump(result.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.json:
        atomic_write(Path(args.json),
                     lambda fh: fh.write(json.dumps(result.to_dict(), indent=2) + "\n"))
    render(result, err if args.json == "-" else Console())
    return EXIT_OK
