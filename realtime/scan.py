"""`scan`: analyse video files as fast as the machine allows, never dropping a sampled frame."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .analysis.pipeline import AnalysisConfig, FrameResult, StreamAnalyzer
from .errors import SourceError
from .faces.detector import FaceDetector
from .model.classifier import InferenceService
from .outputs.overlays import (
    BoxAnnotator,
    HeaderAnnotator,
    LabelAnnotator,
    MeterAnnotator,
    annotate,
)
from .outputs.report import TimelineEntry, VideoReport
from .outputs.video_writer import H264Writer
from .sources.credentials import mask_credentials
from .sources.spec import SourceKind, SourceSpec
from .sources.video_source import VideoSource

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv", ".ts",
    ".mts", ".m2ts", ".3gp", ".ogv",
})

# Five analysed frames a second: a face swap shows in every frame, so denser sampling mostly
# costs time, and 5 fps still gives ~50 samples per face in a 10 s clip.
DEFAULT_SCAN_FPS = 5.0


@dataclass(frozen=True)
class InputProblem:
    """An input that names no video at all (a missing path, an empty folder)."""

    path: str
    reason: str
    after: int = 0  # files the inputs before it gave: where it stands in input order


def expand_inputs(inputs: Iterable[str]) -> tuple[list[Path], list[InputProblem]]:
    """Files as given, folders searched recursively for video files, in a stable order."""
    files: list[Path] = []
    problems: list[InputProblem] = []
    seen: set[Path] = set()
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            found = sorted(p for p in path.rglob("*")
                           if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
            if not found:
                exts = ", ".join(sorted(VIDEO_EXTENSIONS))
                problems.append(InputProblem(text, f"folder holds no video files ({exts})",
                                             len(files)))
            candidates = found
        elif path.exists():
            candidates = [path]
        else:
            problems.append(InputProblem(mask_credentials(text), "no such file or folder",
                                         len(files)))
            continue
        for p in candidates:
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                files.append(p)
    return files, problems


def expected_samples(frame_count: int | None, fps: float, sample_fps: float | None) -> int | None:
    """How many frames a scan of this file will analyse (for the progress bar)."""
    if not frame_count or frame_count <= 0:
        return None
    if not sample_fps or not fps or sample_fps >= fps:
        return frame_count
    return math.floor((frame_count - 1) * sample_fps / fps) + 1


class AnnotatedWriter:
    """Writes analysed frames with overlays to an MP4 that browsers play (H.264, see
    video_writer.py), each frame at its own video time: with every frame analysed, the source's
    frames at its rate; when sampled, the analysed frames at the analysed rate. The header
    shows the video time, the model, and which of the two it is."""

    def __init__(self, path: Path, fps: float, *, source_fps: float | None = None,
                 model: str = "") -> None:
        self.path = path
        self.fps = fps
        every = source_fps is None or fps >= source_fps
        note = "every frame" if every else f"{fps:g} of {source_fps:g} fps analysed"
        header = HeaderAnnotator(file=True, model=model, note=note)
        self.annotators = (header, BoxAnnotator(), MeterAnnotator(), LabelAnnotator(header))
        self._writer = H264Writer(path, fps)

    def write(self, result: FrameResult) -> None:
        self._writer.write(annotate(result.image, result, self.annotators), result.t)

    def close(self, *, discard: bool = False) -> None:
        self._writer.close(discard=discard)


def annotated_path(out_dir: Path, video: Path, used: set[Path]) -> Path:
    """out/<name>.annotated.mp4, numbered when two inputs share a name."""
    candidate = out_dir / f"{video.stem}.annotated.mp4"
    n = 2
    while candidate in used:
        candidate = out_dir / f"{video.stem}-{n}.annotated.mp4"
        n += 1
    used.add(candidate)
    return candidate


def start_source(path: Path, sample_fps: float | None) -> VideoSource | None:
    """The file's source, opened and decoding into its (bounded) buffer already, for
    `scan_file(source=...)`; None where it cannot be opened (scan_file then reports why)."""
    spec = SourceSpec(kind=SourceKind.FILE, target=str(path), name=str(path), live=False)
    source = VideoSource(spec, sample_fps=sample_fps)
    try:
        source.start()
    except SourceError:
        source.stop()
        return None
    return source


ProgressHook = Callable[[str, int | None], Callable[[int], None]]
"""Given a file label and the expected frame count, returns an `advance(n)` callback."""


def scan_file(
    path: Path,
    detector: FaceDetector,
    service: InferenceService,
    config: AnalysisConfig,
    *,
    sample_fps: float | None,
    annotate_to: Path | None = None,
    progress: ProgressHook | None = None,
    source: VideoSource | None = None,
) -> VideoReport:
    """Analyse one file; every problem ends up in the report, none escapes as an exception.
    `source`: this file's source from `start_source`, already decoding."""
    report = VideoReport(path=str(path), threshold=config.threshold, band=config.uncertain_band)
    if source is None:
        spec = SourceSpec(kind=SourceKind.FILE, target=str(path), name=str(path), live=False)
        source = VideoSource(spec, sample_fps=sample_fps)
        try:
            source.open()
        except SourceError as exc:
            return report.finish(error=str(exc))
    fps = source.fps or 25.0
    if source.frame_count:
        report.duration_s = source.frame_count / fps
    advance = progress(str(path), expected_samples(source.frame_count, fps, sample_fps)) \
        if progress else None
    out_fps = min(fps, sample_fps) if sample_fps else fps
    writer = AnnotatedWriter(annotate_to, out_fps, source_fps=fps,
                             model=service.classifier.name) if annotate_to else None

    def on_result(result: FrameResult) -> None:
        report.frames_analyzed += 1
        for face in result.faces:
            report.timeline.append(TimelineEntry(result.t, face.track, face.p, face.box))
        if writer:
            writer.write(result)
        if advance:
            advance(1)

    analyzer = StreamAnalyzer(source, detector, service, config, on_result=on_result)
    try:
        analyzer.start()
        while not analyzer.wait(timeout=0.5):
            pass
    except BaseException:
        analyzer.stop()
        if writer:  # an interrupted file leaves no annotated video behind, nor half of one
            writer.close(discard=True)
        raise
    finally:
        if writer:
            writer.close()
    # read to its end, by the frames' presentation times (variable frame rates too)
    report.duration_s = source.duration_s
    error = analyzer.error
    if error and not error.startswith(f"{path}: "):  # the source's own reason lacks its name
        error = f"{path}: {error}"
    return report.finish(error=error)


def scan_files(
    files: Sequence[Path],
    detector: FaceDetector,
    service: InferenceService,
    config: AnalysisConfig,
    *,
    sample_fps: float | None,
    annotate_dir: Path | None = None,
    progress: ProgressHook | None = None,
    on_report: Callable[[VideoReport], None] | None = None,
    first_source: VideoSource | None = None,
    previous: Callable[[Path], VideoReport | None] | None = None,
) -> list[VideoReport]:
    """`first_source`: the source of the first file to analyse, from `start_source` (stopped
    here if unused). `previous(path)`: the file's report from an earlier run, kept instead of
    analysing it again (scan --resume), or None."""
    reports = []
    used: set[Path] = set()
    pending = first_source
    try:
        for path in files:
            # Named for every file, kept or not, so a resumed run numbers them as the first.
            target = annotated_path(annotate_dir, path, used) if annotate_dir else None
            kept = previous(path) if previous else None
            if kept is not None:
                reports.append(kept)
                if on_report:
                    on_report(kept)
                continue
            source, pending = pending, None
            report = scan_file(path, detector, service, config, sample_fps=sample_fps,
                               annotate_to=target, progress=progress, source=source)
            reports.append(report)
            if on_report:
                on_report(report)
    finally:
        if pending is not None:
            pending.stop()
    return reports
