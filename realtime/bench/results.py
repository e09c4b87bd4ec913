"""The bench's parts, its settings (`BenchConfig`) and what each part measures: plain dataclasses
that the JSON output is written from."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PARTS: tuple[str, ...] = ("classifier", "detector", "decode", "scan", "naive", "live", "streams")
# Run only when named in --only: the cluster part starts a local Ray cluster (realtime/
# bench/cluster_part.py), which the default bench must not need.
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
    cluster: Any = None  # cluster_part.ClusterResult, with --only cluster
    targets: list[Target] = field(default_factory=list)
    targets_judged: bool = True  # False for --quick: `met` is None, the goals are for full runs

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
