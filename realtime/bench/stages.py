"""Bench parts 1-3: the classifier, the detector and decoding, each timed alone; and the stage
terms (`measure_stages`) that scan's whole-process efficiency is measured against."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..faces.crop import crop_faces
from ..faces.detector import FaceDetector
from ..model.classifier import DeepfakeClassifier
from ..sources.spec import SourceKind, SourceSpec, keeps_frame
from ..sources.video_source import VideoSource
from .results import (
    CLASSIFIER_BATCHES,
    DETECTOR_BATCHES,
    DETECTOR_SIZES,
    DecodeResult,
    StageTimes,
    Throughput,
)

# -- parts 1-3: each stage alone -----------------------------------------------------------


def _timed_repeats(fn: Callable[[], int], seconds: float, min_runs: int = 3) -> tuple[int, float]:
    """Run fn (returning items done) for at least `seconds` and `min_runs` runs, after one
    warm-up run; (items, elapsed)."""
    fn()
    items, runs = 0, 0
    start = time.perf_counter()
    while True:
        items += fn()
        runs += 1
        elapsed = time.perf_counter() - start
        if runs >= min_runs and elapsed >= seconds:
            return items, elapsed


def bench_classifier(classifier: DeepfakeClassifier, crops: np.ndarray,
                     seconds: float) -> list[Throughput]:
    results = []
    for batch in CLASSIFIER_BATCHES:
        x = _batch_of(crops, batch)
        items, elapsed = _timed_repeats(lambda x=x: len(classifier.predict(x)), seconds)
        results.append(Throughput("faces", batch, items, elapsed, items / elapsed))
    return results


def bench_detector(detectors: dict[str, FaceDetector], frame: np.ndarray,
                   seconds: float) -> list[Throughput]:
    """Frames/s per input size, batch 1 and 4, for each session setting ("threads=...")."""
    results = []
    runs = [(name, batch) for name in detectors for batch in (1, 4)]
    for label, size in DETECTOR_SIZES.items():
        image = cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR)
        for name, batch in runs:
            frames = [image] * batch
            detect = detectors[name].detect_batch
            items, elapsed = _timed_repeats(lambda f=frames, d=detect: len(d(f)),
                                            seconds / len(runs))
            results.append(Throughput(f"frames {label} {name}", batch, items, elapsed,
                                      items / elapsed))
    return results


def bench_decode(path: Path) -> DecodeResult:
    def run(read: bool) -> tuple[int, float]:
        cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        n = 0
        start = time.perf_counter()
        while (cap.read()[0] if read else cap.grab()):
            n += 1
        elapsed = time.perf_counter() - start
        cap.release()
        return n, elapsed

    frames, read_s = run(True)
    _, grab_s = run(False)
    return DecodeResult(frames, read_s, frames / read_s if read_s else 0.0, grab_s,
                        frames / grab_s if grab_s else 0.0)


def _batch_of(crops: np.ndarray, n: int) -> np.ndarray:
    reps = math.ceil(n / len(crops))
    return np.ascontiguousarray(np.concatenate([crops] * reps)[:n])


def decode_sampled(path: Path, sample_fps: float | None, threads: int | None) -> float:
    """Seconds to grab() every frame and retrieve() the sampled ones (what scan decodes);
    `threads`: FFmpeg decoder threads, None for OpenCV's default (all cores)."""
    params = [] if threads is None else [cv2.CAP_PROP_N_THREADS, threads]
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, params)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    index = 0
    start = time.perf_counter()
    while cap.grab():
        if keeps_frame(index, fps, sample_fps):
            cap.retrieve()
        index += 1
    elapsed = time.perf_counter() - start
    cap.release()
    return elapsed


def decode_as_scan(path: Path, sample_fps: float | None) -> float:
    """Seconds for scan's own source to deliver every sampled frame, with nothing else running
    (from the opened file, as the other decode terms)."""
    source = VideoSource(SourceSpec(SourceKind.FILE, str(path), str(path), live=False),
                         sample_fps=sample_fps)
    source.open()
    start = time.perf_counter()
    source.start()
    try:
        while not source.ended:
            source.read(timeout=0.5)
    finally:
        source.stop()
    return time.perf_counter() - start


def measure_stages(path: Path, detectors: dict[str, FaceDetector],
                   classifier: DeepfakeClassifier,
                   sample_fps: float | None) -> tuple[StageTimes, np.ndarray, np.ndarray | None]:
    """What scan has to do on this clip, each stage timed alone, at its fastest setting.

    Decoding is timed in passes of its own (FFmpeg threads auto and one). One more pass decodes
    the analysed frames and runs the detector on them at every batch size with every session
    setting in `detectors`; then the classifier runs on every face at each of its batch sizes.
    Each term is the fastest of its settings, so the efficiency is not flattered by a slow
    setting. Returns the times, the face crops (for part 1) and one analysed frame.
    """
    decode = {"auto": decode_sampled(path, sample_fps, None),
              "1": decode_sampled(path, sample_fps, 1)}
    decode_scan_s = decode_as_scan(path, sample_fps)
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    chunk_size = max(DETECTOR_BATCHES)
    settings = [(name, b) for name in detectors for b in DETECTOR_BATCHES]
    detect_s = {f"{name} batch={b}": 0.0 for name, b in settings}
    contract = classifier.contract
    crop_args = {"size": contract.input.size, "margin": contract.crop.margin,
                 "align": contract.crop.align}
    crops: list[np.ndarray] = []
    sample: np.ndarray | None = None
    chunk: list[np.ndarray] = []
    decoded = analysed = 0
    for name in detectors:  # warm-up of every batch shape
        for b in DETECTOR_BATCHES:
            detectors[name].detect_batch([np.zeros((64, 64, 3), np.uint8)] * b)

    def detect_chunk() -> None:
        faces: list[list[Any]] = []
        for name, batch in settings:
            detect = detectors[name].detect_batch
            start = time.perf_counter()
            out = []
            for i in range(0, len(chunk), batch):
                out.extend(detect(chunk[i : i + batch]))
            detect_s[f"{name} batch={batch}"] += time.perf_counter() - start
            faces = out
        for frame, found in zip(chunk, faces):
            crops.append(crop_faces(frame, found, **crop_args))
        chunk.clear()

    try:
        while cap.grab():
            index, decoded = decoded, decoded + 1
            if not keeps_frame(index, fps, sample_fps):
                continue
            image = cap.retrieve()[1]
            analysed += 1
            if sample is None:
                sample = image
            chunk.append(image)
            if len(chunk) == chunk_size:
                detect_chunk()
        if chunk:
            detect_chunk()
    finally:
        cap.release()
    face_crops = np.concatenate(crops) if crops else \
        np.zeros((0, contract.input.size, contract.input.size, 3), np.uint8)
    classify_s: dict[int, float] = {}
    for batch in CLASSIFIER_BATCHES:
        if len(face_crops):
            classifier.predict(face_crops[:batch])  # warm-up for this shape
        start = time.perf_counter()
        for i in range(0, len(face_crops), batch):
            classifier.predict(face_crops[i : i + batch])
        classify_s[batch] = time.perf_counter() - start
    det_best = min(detect_s, key=lambda k: detect_s[k])
    cls_best = min(classify_s, key=lambda b: classify_s[b])
    decode_s = min(decode.values())
    stages = StageTimes(
        frames_decoded=decoded, frames_analysed=analysed, faces=len(face_crops),
        decode_s=decode_s, decode_s_by_threads=decode, decode_scan_s=decode_scan_s,
        detect_s_by_setting=detect_s, detect_best=det_best, detect_s=detect_s[det_best],
        classify_s_by_batch={str(b): t for b, t in classify_s.items()},
        classify_best_batch=cls_best, classify_s=classify_s[cls_best],
        total_s=decode_scan_s + detect_s[det_best] + classify_s[cls_best],
        total_all_decoded_s=decode_s + detect_s[det_best] + classify_s[cls_best],
    )
    return stages, face_crops, sample
