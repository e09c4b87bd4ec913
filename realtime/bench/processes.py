"""Bench parts 4 and 5: `scan` and the notebooks' naive loop as whole processes on the same clip.

The naive loop runs as `python -m deepfake_monitor.realtime.bench.processes --naive VIDEO`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2

from ..errors import SourceError, UserError
from ..faces.crop import crop_faces
from ..faces.detector import FaceDetector
from ..model.classifier import DeepfakeClassifier
from ..sources.spec import keeps_frame
from .results import BenchConfig, NaiveResult, ScanResult

# -- parts 4 and 5: whole processes ----------------------------------------------------------


def _engine_args(config: BenchConfig) -> list[str]:
    args = ["--detector", config.detector, "--min-face-score", str(config.min_face_score)]
    if config.model:
        args += ["--model", config.model]
    if config.providers:
        args += ["--providers", ",".join(config.providers)]
    return args


def _sample_arg(config: BenchConfig) -> str:
    return "all" if config.sample_fps is None else repr(config.sample_fps)


def _run_process(command: list[str], what: str) -> tuple[float, str]:
    """(wall seconds, stdout) of a whole process; a failure is the user's one-line error."""
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise UserError(f"{what} failed (exit {proc.returncode}): "
                        f"{lines[-1] if lines else 'no output'}")
    return wall, proc.stdout


def run_scan(video: Path, config: BenchConfig, workdir: Path) -> ScanResult:
    report = workdir / "scan-report.json"
    command = [sys.executable, "-m", "deepfake_monitor.realtime.cli", "scan", str(video),
               "--json", str(report), "--sample-fps", _sample_arg(config), *_engine_args(config)]
    wall, _ = _run_process(command, "scan")
    data = json.loads(report.read_text())
    (entry,) = data["videos"]
    frames = int(entry["frames_analyzed"])
    faces = len(entry["timeline"])
    return ScanResult(command, wall, frames, faces, frames / wall, faces / wall)


def run_naive(video: Path, config: BenchConfig,
              detector_threads: int | None = None) -> NaiveResult:
    command = [sys.executable, "-m", "deepfake_monitor.realtime.bench.processes", "--naive",
               str(video), "--sample-fps", _sample_arg(config), *_engine_args(config)]
    if detector_threads is not None:
        command += ["--detector-threads", str(detector_threads)]
    wall, out = _run_process(command, "naive baseline")
    data = json.loads(out.strip().splitlines()[-1])
    return NaiveResult(command, wall, data["loop_s"], data["frames_decoded"],
                       data["frames_analysed"], data["faces"], data["faces"] / wall,
                       detector_threads)


def median_run(runs: list[Any]) -> Any:
    """The run with the median wall time (the lower one of the middle two), all walls kept."""
    chosen = sorted(runs, key=lambda r: r.wall_s)[(len(runs) - 1) // 2]
    chosen.walls = [r.wall_s for r in runs]
    return chosen


def naive_loop(video: Path, detector: FaceDetector, classifier: DeepfakeClassifier,
               sample_fps: float | None) -> dict[str, Any]:
    """The original notebooks' way: one thread, every frame read() into an array, the sampled
    ones detected at batch 1, every face classified on its own."""
    contract = classifier.contract
    cap = cv2.VideoCapture(str(video), cv2.CAP_FFMPEG)
    if not cap.isOpened():
        raise SourceError(f"{video}: cannot open")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    decoded = analysed = faces = 0
    start = time.perf_counter()
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        index, decoded = decoded, decoded + 1
        if not keeps_frame(index, fps, sample_fps):
            continue
        analysed += 1
        for face in detector.detect(frame):
            crop = crop_faces(frame, [face], size=contract.input.size,
                              margin=contract.crop.margin, align=contract.crop.align)
            classifier.predict(crop)
            faces += 1
    loop_s = time.perf_counter() - start
    cap.release()
    return {"loop_s": loop_s, "frames_decoded": decoded, "frames_analysed": analysed,
            "faces": faces}


def _naive_main(argv: Sequence[str]) -> int:
    """`python -m deepfake_monitor.realtime.bench --naive VIDEO ...`: the baseline process."""
    import argparse

    from ..argtypes import sample_fps
    from ..model.backend import parse_providers

    p = argparse.ArgumentParser(prog="deepfake-monitor bench --naive")
    p.add_argument("--naive", required=True, metavar="VIDEO")
    p.add_argument("--sample-fps", type=sample_fps, default=5.0)
    p.add_argument("--model")
    p.add_argument("--detector", default="full")
    p.add_argument("--providers")
    p.add_argument("--min-face-score", type=float, default=0.5)
    p.add_argument("--detector-threads", type=int)
    args = p.parse_args(argv)
    providers = parse_providers(args.providers)
    classifier = DeepfakeClassifier(args.model, providers=providers)
    detector = FaceDetector(args.detector, providers=providers, min_score=args.min_face_score,
                            intra_op_threads=args.detector_threads)
    print(json.dumps(naive_loop(Path(args.naive), detector, classifier, args.sample_fps)))
    return 0




if __name__ == "__main__":
    sys.exit(_naive_main(sys.argv[1:]))
