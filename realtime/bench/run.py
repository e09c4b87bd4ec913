"""The whole bench run: every selected part in order (`run_bench`), and the speed targets met or
not (`evaluate_targets`)."""

from __future__ import annotations

import contextlib
import os
import platform
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2

from ..errors import UserError
from ..faces.detector import PIPELINE_INTRA_OP_THREADS, FaceDetector
from ..model.classifier import DeepfakeClassifier, InferenceService
from .clips import make_clip, probe_video
from .live import run_live
from .processes import median_run, run_naive, run_scan
from .results import OPTIONAL_PARTS, PARTS, BenchConfig, BenchResult, Target
from .stages import bench_classifier, bench_decode, bench_detector, measure_stages

# -- the whole run ---------------------------------------------------------------------------


def machine_info(classifier: DeepfakeClassifier, detector: FaceDetector) -> dict[str, Any]:
    import onnxruntime as ort

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu": cpu, "cpu_count": usable, "platform": platform.platform(),
        "python": platform.python_version(), "onnxruntime": ort.__version__,
        "opencv": cv2.__version__,
        "provider": classifier.backend.providers[0], "detector_provider":
            detector.backend.providers[0],
        "model": str(classifier.path), "model_name": classifier.name,
        "detector": str(detector.model_path),
    }


def run_bench(config: BenchConfig, on_part: Callable[[str], None] | None = None) -> BenchResult:
    """Every selected part, in order; `on_part(name)` is called as each one starts."""
    unknown = [p for p in config.parts if p not in PARTS + OPTIONAL_PARTS]
    if unknown:
        raise UserError(f"--only: unknown part(s) {', '.join(unknown)} "
                        f"(known: {', '.join(PARTS + OPTIONAL_PARTS)})")

    def step(name: str) -> None:
        if on_part:
            on_part(name)

    if set(config.parts) <= set(OPTIONAL_PARTS):  # the cluster part alone: none of the rest
        return _cluster_only(config, step)

    classifier = DeepfakeClassifier(config.model, providers=config.providers)
    # The pipelines' detector (as scan and watch load it) and one at ORT's default threads
    # (as the naive loop loads it): stage terms take the faster, live parts use the former.
    detector = FaceDetector(config.detector, providers=config.providers,
                            min_score=config.min_face_score,
                            intra_op_threads=PIPELINE_INTRA_OP_THREADS)
    detectors = {
        f"threads={PIPELINE_INTRA_OP_THREADS}": detector,
        "threads=default": FaceDetector(config.detector, providers=config.providers,
                                        min_score=config.min_face_score),
    }
    threshold = config.threshold if config.threshold is not None else \
        classifier.contract.threshold
    with tempfile.TemporaryDirectory(prefix="deepfake-monitor-bench-") as tmp:
        workdir = Path(tmp)
        video = config.video
        if video is None:
            step("making the 720p30 clip")
            video = make_clip(workdir / "bench-720p30.mp4", config.clip_s)
        info = probe_video(video)
        result = BenchResult(machine_info(classifier, detector), info)
        step("decoding the sampled frames and timing each stage alone")
        stages, crops, frame = measure_stages(video, detectors, classifier, config.sample_fps)
        if frame is None:
            raise UserError(f"{video}: no frame could be decoded")
        if not len(crops):  # no face: time the models on the frame's centre instead
            size = classifier.size
            crops = cv2.resize(frame, (size, size))[None]
        if "classifier" in config.parts:
            step("classifier alone")
            result.classifier = bench_classifier(classifier, crops, config.measure_s)
        if "detector" in config.parts:
            step("detector alone")
            result.detector = bench_detector(detectors, frame, config.measure_s)
        if "decode" in config.parts:
            step("decode")
            result.decode = bench_decode(video)
        wanted = [p for p in ("scan", "naive") if p in config.parts]
        if wanted:
            step(f"{' and '.join(wanted)} as subprocesses, {config.repeats} run(s) each")
            scans, naives, tuned = [], [], []
            for _ in range(config.repeats):  # interleaved: drifting load hits both alike
                if "scan" in wanted:
                    scans.append(run_scan(video, config, workdir))
                if "naive" in wanted:
                    naives.append(run_naive(video, config))
                    tuned.append(run_naive(video, config, PIPELINE_INTRA_OP_THREADS))
            if scans:
                result.scan = median_run(scans)
                result.scan.stages = stages
                result.scan.efficiency = stages.total_s / result.scan.wall_s
                result.scan.efficiency_all_decoded = stages.total_all_decoded_s / \
                    result.scan.wall_s
            if naives:
                result.naive, result.naive_tuned = median_run(naives), median_run(tuned)
                if result.scan:
                    for naive in (result.naive, result.naive_tuned):
                        naive.speedup = naive.wall_s / result.scan.wall_s
        wanted_live = [p for p in ("live", "streams") if p in config.parts]
        if wanted_live:
            service = InferenceService(classifier).start()
            try:
                if "live" in wanted_live:
                    step(f"live replay, {config.live_s:g} s")
                    result.live = run_live(video, info, 1, config.live_s, detector, service,
                                           threshold, frame, crops[:1])
                if "streams" in wanted_live:
                    step(f"{config.streams} live streams, {config.streams_s:g} s")
                    result.streams = run_live(video, info, config.streams, config.streams_s,
                                              detector, service, threshold, frame, crops[:1])
            finally:
                service.stop()
        if "cluster" in config.parts:
            from .cluster_part import run_cluster

            result.cluster = run_cluster(config, workdir, step)
    result.targets = evaluate_targets(result)
    if config.quick:
        result.targets_judged = False
        result.targets = [Target(t.name, t.value, t.goal, None) for t in result.targets]
    return result


def _cluster_only(config: BenchConfig, step: Callable[[str], None]) -> BenchResult:
    """`--only cluster`: the machine's description and the cluster part, judged as a run is."""
    from .cluster_part import run_cluster

    classifier = DeepfakeClassifier(config.model, providers=config.providers)
    detector = FaceDetector(config.detector, providers=config.providers,
                            min_score=config.min_face_score,
                            intra_op_threads=PIPELINE_INTRA_OP_THREADS)
    with tempfile.TemporaryDirectory(prefix="deepfake-monitor-bench-") as tmp:
        cluster = run_cluster(config, Path(tmp), step)
    result = BenchResult(machine_info(classifier, detector), cluster.clip, cluster=cluster)
    result.targets = evaluate_targets(result)
    if config.quick:
        result.targets_judged = False
        result.targets = [Target(t.name, t.value, t.goal, None) for t in result.targets]
    return result


def evaluate_targets(r: BenchResult) -> list[Target]:
    """The issue's speed targets, met or not, from the figures measured."""
    targets = []
    if r.scan and r.scan.efficiency is not None:
        targets.append(Target("scan whole-process efficiency", r.scan.efficiency, ">= 0.9",
                              r.scan.efficiency >= 0.9))
    if r.naive and r.naive.speedup is not None:
        targets.append(Target("speedup over the naive loop", r.naive.speedup, ">= 1.6",
                              r.naive.speedup >= 1.6))
    if r.live:
        s = r.live.streams[0]
        targets.append(Target("live: displayed fps at the source rate", s.displayed_fps,
                              f">= 0.95 x {s.source_fps:g}",
                              s.displayed_fps >= 0.95 * s.source_fps))
        targets.append(Target("live: no backlog growth (last-window latency, ms)",
                              s.latency_last_ms,
                              "within max(a frame, 25 %) of the first window's",
                              not s.backlog_growing))
        p95 = s.latency_p95_ms
        targets.append(Target("live: p95 latency (ms)", p95,
                              f"<= {r.live.latency_target_ms:.1f}",
                              None if p95 is None else p95 <= r.live.latency_target_ms))
    if r.streams:
        worst = min(r.streams.streams, key=lambda s: s.faces_per_s)
        slowest = min(r.streams.streams, key=lambda s: s.displayed_fps / (s.source_fps or 1))
        n = len(r.streams.streams)
        targets.append(Target(f"{n} streams: faces/s of the slowest stream", worst.faces_per_s,
                              ">= 5", worst.faces_per_s >= 5))
        targets.append(Target(f"{n} streams: displayed fps of the slowest stream",
                              slowest.displayed_fps, f">= 0.95 x {slowest.source_fps:g}",
                              slowest.displayed_fps >= 0.95 * slowest.source_fps))
    if r.cluster:
        from .cluster_part import COST_GOAL

        cost = r.cluster.cost_at_one_worker
        targets.append(Target("cluster: per-file cost at 1 worker / local scan", cost,
                              f"<= {COST_GOAL:.2f}", cost <= COST_GOAL))
    return targets
