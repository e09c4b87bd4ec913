"""`bench`: how fast this machine runs deepfake-monitor, measured in one run.

Seven parts, each answering one question about the live pipeline's speed:

1. classifier: faces/s of the ONNX classifier alone at batch 1, 8 and 32 (the ceiling).
2. detector: frames/s of the face detector alone on 480p, 720p and 1080p frames.
3. decode: frames/s of decoding the input video (read() of every frame, and grab() only).
4. scan: the real `scan` command as a subprocess (start-up included) on the clip; faces/s,
   frames/s and the whole-process efficiency: (the decoding scan really does + detector on
   every analysed frame at its best batch + classifier on every face at its best batch, each
   timed alone in this process) / scan's wall time. Above 1.0 means the stages overlap on
   several cores. Scan leaves unsampled frames that nothing references undecoded; counting it
   as if it decoded every frame (the other efficiency shown beside it) would credit that
   saving as overlap.
5. naive: the original notebooks' loop (one thread: read a frame, detect the sampled ones at
   batch 1, classify each face at batch 1) as a subprocess too, on the same clip, model,
   detector and sampled frames; speedup = naive wall / scan wall, both with start-up. Run
   twice: with ORT's default threads as the notebooks had it, and with the detector session
   set up as scan's, so that the speedup from overlap and skipped decoding shows alone.
6. live: the clip replayed as a live source at its own frame rate through the real
   `StreamAnalyzer`: capture-to-result latency p50/p95, analysed and displayed fps, and
   whether latency grows from the first to the last stretch (a backlog).
7. streams: N such live sources at once sharing one detector and one classifier session.

Without a VIDEO the bench writes its own 720p30 clip (the bundled sample, scaled and padded to
1280x720 and looped) into a temporary folder, so it runs on a fresh machine with no media.
Wall times are measured on the monotonic clock; the numbers in the JSON are the raw terms, so
every ratio in it can be recomputed from them.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .classifier import DeepfakeClassifier, InferenceService
from .crop import crop_faces
from .detector import PIPELINE_INTRA_OP_THREADS, FaceDetector
from .errors import SourceError, UserError
from .pipeline import AnalysisConfig, FrameResult, StreamAnalyzer
from .sources import SourceKind, SourceSpec, VideoSource, keeps_frame

PARTS: tuple[str, ...] = ("classifier", "detector", "decode", "scan", "naive", "live", "streams")
# Run only when named in --only: the cluster part starts a local Ray cluster (realtime/
# cluster_bench.py), which the default bench must not need.
OPTIONAL_PARTS: tuple[str, ...] = ("cluster",)
CLASSIFIER_BATCHES: tuple[int, ...] = (1, 8, 32)
DETECTOR_BATCHES: tuple[int, ...] = (1, 4, 8)
DETECTOR_SIZES: dict[str, tuple[int, int]] = {
    "480p": (854, 480), "720p": (1280, 720), "1080p": (1920, 1080),
}
CLIP_SIZE = (1280, 720)
CLIP_FPS = 30
BACKLOG_WINDOW_S = 10.0


@dataclass(frozen=True)
class BenchConfig:
    """What to measure and for how long."""

    video: Path | None = None
    model: str | None = None
    detector: str = "full"
    providers: list[str] | None = None
    min_face_score: float = 0.5
    threshold: float | None = None
    sample_fps: float | None = 5.0
    parts: tuple[str, ...] = PARTS
    measure_s: float = 2.0  # per throughput figure (parts 1 and 2)
    clip_s: float = 30.0  # generated clip: a 10-30 s clip, as the efficiency target says
    live_s: float = 60.0
    streams: int = 4
    streams_s: float = 30.0
    repeats: int = 3  # runs of the scan and naive processes, interleaved; the median counts
    # --quick: seconds-long runs for checking that the bench works. The targets are stated for
    # the full run (a 10-30 s clip, a minute live), so they are shown but not judged.
    quick: bool = False


@dataclass
class Throughput:
    """`items` processed in `seconds`; `per_s` = items / seconds."""

    label: str
    batch: int
    items: int
    seconds: float
    per_s: float


@dataclass
class DecodeResult:
    frames: int
    read_s: float  # cv2 read() of every frame: decode + colour conversion
    read_fps: float
    grab_s: float  # grab() of every frame: decode only
    grab_fps: float


@dataclass
class StageTimes:
    """The scan's stages, each timed alone in this process (the efficiency numerator)."""

    frames_decoded: int
    frames_analysed: int
    faces: int
    decode_s: float  # grab() every frame, retrieve() the sampled ones: every frame decoded
    decode_s_by_threads: dict[str, float]  # FFmpeg's own thread count ("auto") and one thread
    # What scan's source really decodes (sampled H.264: no unsampled non-reference frame),
    # through VideoSource alone; the efficiency's decode term.
    decode_scan_s: float
    detect_s_by_setting: dict[str, float]  # "threads=T batch=B": ORT default threads or one
    detect_best: str
    detect_s: float
    classify_s_by_batch: dict[str, float]
    classify_best_batch: int
    classify_s: float
    total_s: float  # decode_scan_s + detect_s + classify_s: the efficiency's numerator
    total_all_decoded_s: float  # decode_s + detect_s + classify_s: as if every frame decoded


@dataclass
class ScanResult:
    command: list[str]
    wall_s: float  # the whole process, start-up included (the median run's)
    frames_analysed: int
    faces: int
    frames_per_s: float
    faces_per_s: float
    stages: StageTimes | None = None
    efficiency: float | None = None  # stages.total_s / wall_s: the headline figure
    efficiency_all_decoded: float | None = None  # stages.total_all_decoded_s / wall_s
    walls: list[float] = field(default_factory=list)  # every run, in order


@dataclass
class NaiveResult:
    command: list[str]
    wall_s: float  # the whole process, start-up included, like ScanResult.wall_s
    loop_s: float  # the loop alone, models already loaded
    frames_decoded: int
    frames_analysed: int
    faces: int
    faces_per_s: float
    detector_threads: int | None  # None: ORT's default, as the notebooks ran it
    speedup: float | None = None  # wall_s / scan wall_s
    walls: list[float] = field(default_factory=list)  # every run, in order


@dataclass
class StreamStats:
    """One live source over the run."""

    name: str
    seconds: float
    source_fps: float
    frames_displayed: int  # frames the source delivered at its own pace
    frames_dropped: int  # delivered but replaced by a newer one before analysis
    frames_analysed: int
    faces: int
    displayed_fps: float
    analysed_fps: float
    faces_per_s: float
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_first_ms: float | None  # mean over the first window
    latency_last_ms: float | None  # mean over the last window
    backlog_growing: bool
    error: str | None = None


@dataclass
class LiveResult:
    streams: list[StreamStats]
    width: int
    height: int
    inference_ms: float  # one batch-1 inference: detector on a frame + classifier on one face
    detector_ms: float
    classifier_ms: float
    frame_interval_ms: float
    latency_target_ms: float  # 2 x (inference + frame interval)
    latency_p95_ms: float | None  # over every stream's results


@dataclass
class Target:
    name: str
    value: float | None
    goal: str
    met: bool | None


@dataclass
class BenchResult:
    machine: dict[str, Any]
    video: dict[str, Any]
    classifier: list[Throughput] = field(default_factory=list)
    detector: list[Throughput] = field(default_factory=list)
    decode: DecodeResult | None = None
    scan: ScanResult | None = None
    naive: NaiveResult | None = None
    # The same loop with the pipelines' session settings: its speedup is what overlap and
    # not decoding unsampled frames give, without the detector's thread setting.
    naive_tuned: NaiveResult | None = None
    live: LiveResult | None = None
    streams: LiveResult | None = None
    cluster: Any = None  # cluster_bench.ClusterResult, with --only cluster
    targets: list[Target] = field(default_factory=list)
    targets_judged: bool = True  # False for --quick: `met` is None, the goals are for full runs

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- the clip -------------------------------------------------------------------------------


def make_clip(out: Path, seconds: float, source: Path | None = None) -> Path:
    """A 1280x720, 30 fps H.264 clip of the bundled sample (scaled, padded, looped).

    H.264 because that is what real footage is; PyAV ships libx264. Where it lacks it, OpenCV's
    MPEG-4 part 2 writer stands in (faster to decode, so decode figures come out higher).
    """
    from deepfake_monitor.assets import ASSETS_DIR

    source = source or ASSETS_DIR / "samples" / "astronaut_sbi.mp4"
    frames = list(_fit_frames(source, CLIP_SIZE))
    if not frames:
        raise UserError(f"{source}: no frames to build the benchmark clip from")
    total = max(1, round(seconds * CLIP_FPS))
    looped = (frames[i % len(frames)] for i in range(total))
    try:
        import av

        if "libx264" not in av.codecs_available:
            raise ImportError("no libx264")
    except ImportError:
        writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), CLIP_FPS, CLIP_SIZE)
        for frame in looped:
            writer.write(frame)
        writer.release()
        return out
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=CLIP_FPS)
        stream.width, stream.height, stream.pix_fmt = *CLIP_SIZE, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for frame in looped:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out


def _fit_frames(path: Path, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """Every frame scaled to fit `size` and centred on black."""
    cap = cv2.VideoCapture(str(path))
    w, h = size
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            fh, fw = frame.shape[:2]
            scale = min(w / fw, h / fh)
            nw, nh = round(fw * scale), round(fh * scale)
            canvas = np.zeros((h, w, 3), np.uint8)
            x0, y0 = (w - nw) // 2, (h - nh) // 2
            canvas[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(frame, (nw, nh))
            yield canvas
    finally:
        cap.release()


def probe_video(path: Path) -> dict[str, Any]:
    """Size, rate and length through the runtime's own source (its errors, its checks)."""
    source = VideoSource(SourceSpec(SourceKind.FILE, str(path), str(path), live=False))
    source.open()
    info = {"path": str(path), "width": source.width, "height": source.height,
            "fps": source.fps, "frames": source.frame_count,
            "seconds": source.duration_s}
    source.stop()
    return info


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
    command = [sys.executable, "-m", "deepfake_monitor.realtime.bench", "--naive", str(video),
               "--sample-fps", _sample_arg(config), *_engine_args(config)]
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

    from .argtypes import sample_fps
    from .backend import parse_providers

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


# -- parts 6 and 7: live sources -------------------------------------------------------------


@dataclass
class _Collector:
    """Every result of one stream: (done_at, latency, faces), appended by the result thread."""

    name: str
    results: list[tuple[float, float, int]] = field(default_factory=list)
    displayed: int = 0
    dropped: int = 0
    error: str | None = None

    def add(self, result: FrameResult) -> None:
        self.results.append((result.done_at, result.latency_s, len(result.faces)))


def _percentile(values: Sequence[float], q: float) -> float | None:
    return float(np.percentile(np.asarray(values), q)) if values else None


def median_latency_ms(fn: Callable[[], object], runs: int = 30) -> float:
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def run_live(video: Path, info: dict[str, Any], n: int, seconds: float, detector: FaceDetector,
             service: InferenceService, threshold: float, frame: np.ndarray,
             crop: np.ndarray) -> LiveResult:
    """N copies of the clip played live at its own rate, analysed as `watch` does.

    A stream that reaches the end of the clip starts it again at once (a new source), until
    `seconds` have passed; the frames it delivered and dropped are summed over the restarts.
    """
    config = AnalysisConfig(threshold=threshold, pending_frames=2)  # as `watch` runs
    collectors = [_Collector(f"live{i + 1}") for i in range(n)]

    def start(c: _Collector) -> StreamAnalyzer:
        spec = SourceSpec(SourceKind.FILE, str(video), c.name, live=True)
        return StreamAnalyzer(VideoSource(spec), detector, service, config,
                              on_result=c.add).start()

    def settle(c: _Collector, analyzer: StreamAnalyzer) -> None:
        analyzer.stop()
        c.displayed += analyzer.source.frames_read
        c.dropped += analyzer.source.frames_dropped
        c.error = c.error or analyzer.error

    t0 = time.monotonic()
    deadline = t0 + seconds
    analyzers = [start(c) for c in collectors]
    tick = threading.Event()
    try:
        while (now := time.monotonic()) < deadline:
            tick.wait(min(0.05, deadline - now))
            for i, (c, a) in enumerate(zip(collectors, analyzers)):
                if a.done and time.monotonic() < deadline:
                    settle(c, a)
                    if c.error:
                        raise UserError(f"live replay of {video} failed: {c.error}")
                    analyzers[i] = start(c)
    finally:
        for c, a in zip(collectors, analyzers):
            settle(c, a)
    elapsed = time.monotonic() - t0
    fps = float(info["fps"] or 0.0)
    interval_ms = 1000 / fps if fps else 0.0
    det_ms = median_latency_ms(lambda: detector.detect(frame))
    cls_ms = median_latency_ms(lambda: service.classifier.predict(crop))
    stats = [_stream_stats(c, t0, elapsed, fps, interval_ms) for c in collectors]
    every = [lat * 1000 for c in collectors for _, lat, _ in c.results]
    return LiveResult(
        streams=stats, width=int(info["width"]), height=int(info["height"]),
        inference_ms=det_ms + cls_ms, detector_ms=det_ms, classifier_ms=cls_ms,
        frame_interval_ms=interval_ms, latency_target_ms=2 * (det_ms + cls_ms + interval_ms),
        latency_p95_ms=_percentile(every, 95),
    )


def backlog_margin_ms(first_ms: float, interval_ms: float) -> float:
    """How much later results may come at the end than at the start before that counts as a
    growing backlog: a frame interval, or a quarter of the starting latency where that is more
    (other load on the machine moves latency by that much without any queue growing)."""
    return max(interval_ms, 0.25 * first_ms, 1.0)


def _stream_stats(c: _Collector, t0: float, elapsed: float, fps: float,
                  interval_ms: float) -> StreamStats:
    latencies = [lat * 1000 for _, lat, _ in c.results]
    faces = sum(k for _, _, k in c.results)
    window = min(BACKLOG_WINDOW_S, elapsed / 3)
    first = [lat * 1000 for at, lat, _ in c.results if at - t0 <= window]
    last = [lat * 1000 for at, lat, _ in c.results if at - t0 >= elapsed - window]
    first_ms = statistics.fmean(first) if first else None
    last_ms = statistics.fmean(last) if last else None
    growing = first_ms is not None and last_ms is not None and \
        last_ms - first_ms > backlog_margin_ms(first_ms, interval_ms)
    return StreamStats(
        name=c.name, seconds=elapsed, source_fps=fps, frames_displayed=c.displayed,
        frames_dropped=c.dropped, frames_analysed=len(c.results), faces=faces,
        displayed_fps=c.displayed / elapsed, analysed_fps=len(c.results) / elapsed,
        faces_per_s=faces / elapsed, latency_p50_ms=_percentile(latencies, 50),
        latency_p95_ms=_percentile(latencies, 95), latency_first_ms=first_ms,
        latency_last_ms=last_ms, backlog_growing=growing, error=c.error,
    )


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
            from .cluster_bench import run_cluster

            result.cluster = run_cluster(config, workdir, step)
    result.targets = evaluate_targets(result)
    if config.quick:
        result.targets_judged = False
        result.targets = [Target(t.name, t.value, t.goal, None) for t in result.targets]
    return result


def _cluster_only(config: BenchConfig, step: Callable[[str], None]) -> BenchResult:
    """`--only cluster`: the machine's description and the cluster part, judged as a run is."""
    from .cluster_bench import run_cluster

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
        from .cluster_bench import COST_GOAL

        cost = r.cluster.cost_at_one_worker
        targets.append(Target("cluster: per-file cost at 1 worker / local scan", cost,
                              f"<= {COST_GOAL:.2f}", cost <= COST_GOAL))
    return targets


# -- output ---------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def render(r: BenchResult, console: Any) -> None:
    """The figures as rich tables, with the machine, provider and model they came from."""
    from rich.table import Table

    from .display_text import escape

    m = r.machine
    console.print(f"[bold]deepfake-monitor bench[/] — {escape(m['cpu'])}, {m['cpu_count']} CPU(s), "
                  f"{m['platform']}")
    console.print(f"classifier {escape(m['model_name'])} ({escape(m['model'])}) on "
                  f"{m['provider']}; detector {escape(Path(m['detector']).name)} on "
                  f"{m['detector_provider']}; "
                  f"onnxruntime {m['onnxruntime']}, OpenCV {m['opencv']}")
    v = r.video
    seconds = f"{v['seconds']:.1f} s" if v.get("seconds") else "? s"
    console.print(f"video {escape(v['path'])}: {v['width']}x{v['height']} at {v['fps']:g} fps, "
                  f"{v['frames']} frames, {seconds}")
    table = Table(title="measurements")
    for col, justify in (("part", "left"), ("measure", "left"), ("value", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]

    def row(part: str, measure: str, value: str) -> None:
        table.add_row(part, measure, value)

    for t in r.classifier:
        row("1 classifier", f"batch {t.batch}", f"{t.per_s:,.0f} faces/s")
    for t in r.detector:
        row("2 detector", f"{t.label.removeprefix('frames ')} batch={t.batch}",
            f"{t.per_s:,.0f} frames/s")
    if r.decode:
        row("3 decode", "read() every frame", f"{r.decode.read_fps:,.0f} frames/s")
        row("3 decode", "grab() every frame", f"{r.decode.grab_fps:,.0f} frames/s")
    if r.scan:
        s = r.scan
        row("4 scan", f"process wall, start-up included (median of {len(s.walls)})",
            f"{s.wall_s:.2f} s")
        row("4 scan", "frames / faces analysed", f"{s.frames_analysed} / {s.faces}")
        row("4 scan", "throughput", f"{s.frames_per_s:.1f} frames/s, {s.faces_per_s:.1f} faces/s")
        if s.stages:
            st = s.stages
            row("4 scan", "decoding what scan decodes, alone", f"{st.decode_scan_s:.2f} s")
            row("4 scan", f"detector on {st.frames_analysed} frames alone "
                          f"({st.detect_best})", f"{st.detect_s:.2f} s")
            row("4 scan", f"classifier on {st.faces} faces alone "
                          f"(batch {st.classify_best_batch})", f"{st.classify_s:.2f} s")
            row("4 scan", "whole-process efficiency (stages / wall)",
                f"[bold]{s.efficiency:.2f}[/] (decoding all {st.frames_decoded} frames, "
                f"{st.decode_s:.2f} s: {s.efficiency_all_decoded:.2f})")
    for n in (r.naive, r.naive_tuned):
        if n is None:
            continue
        how = "ORT default threads" if n.detector_threads is None else \
            f"detector threads={n.detector_threads}, as scan"
        row("5 naive", f"process wall, start-up included, median of {len(n.walls)} ({how})",
            f"{n.wall_s:.2f} s")
        row("5 naive", f"loop alone ({how})", f"{n.loop_s:.2f} s")
        if n.speedup is not None:
            row("5 naive", f"speedup of scan: naive wall / scan wall ({how})",
                f"{n.speedup:.2f}x")
    for part, live in (("6 live", r.live), ("7 streams", r.streams)):
        if not live:
            continue
        for s in live.streams:
            row(part, f"{s.name} ({live.width}x{live.height}, {s.seconds:.0f} s)",
                f"latency p50 {_ms(s.latency_p50_ms)} / p95 {_ms(s.latency_p95_ms)} ms; "
                f"analysed {s.analysed_fps:.1f} fps, "
                f"{s.faces_per_s:.1f} faces/s; displayed {s.displayed_fps:.1f} fps; "
                f"{s.frames_dropped} frames dropped; latency first/last "
                f"{_ms(s.latency_first_ms)}/{_ms(s.latency_last_ms)} ms: backlog "
                f"{'GROWS' if s.backlog_growing else 'none'}")
        row(part, "latency target 2 x (inference + frame interval)",
            f"2 x ({live.inference_ms:.1f} + {live.frame_interval_ms:.1f}) = "
            f"{live.latency_target_ms:.0f} ms")
    if r.cluster:
        from .cluster_bench import cluster_rows

        for measure, value in cluster_rows(r.cluster):
            row("8 cluster", measure, value)
    console.print(table)
    if r.targets:
        title = "targets" if r.targets_judged else \
            "targets (not judged: they apply to the full run, not to --quick)"
        targets = Table(title=title)
        for col in ("target", "measured", "goal", "met"):
            targets.add_column(col)
        for t in r.targets:
            value = "-" if t.value is None else f"{t.value:.2f}"
            met = "-" if t.met is None else ("[green]yes[/]" if t.met else "[red]no[/]")
            targets.add_row(t.name, value, t.goal, met)
        console.print(targets)


if __name__ == "__main__":
    sys.exit(_naive_main(sys.argv[1:]))
