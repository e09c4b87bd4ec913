"""Bench parts 6 and 7: the clip replayed as one live source, then as N at once, through the
real `StreamAnalyzer`: latency percentiles, analysed and displayed fps, backlog or not."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.pipeline import AnalysisConfig, FrameResult, StreamAnalyzer
from ..errors import UserError
from ..faces.detector import FaceDetector
from ..model.classifier import InferenceService
from ..sources.spec import SourceKind, SourceSpec
from ..sources.video_source import VideoSource
from .results import BACKLOG_WINDOW_S, LiveResult, StreamStats

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
