"""Face crops for training, cut exactly as the live engine cuts them.

Frames are sampled evenly through each video (`frames_per_video`) or at a rate (`fps`); faces
come from the engine's `FaceDetector` (frames batched into one model call), get a track id from
its `FaceTracker`, and are cut by its `crop_faces`, so a classifier trains on the crops it
will see live. Each dataset video (or image: a single frame) gives

    out/crops/<video_id>/<frame>_<track>.jpg   crops (JPEG quality 95, or PNG)
    out/manifest.csv                           one row per crop (MANIFEST_COLUMNS)
    out/videos.csv                             one row per video: ok / no_faces / failed, why
    out/splits.csv                             every video's split, also those without crops
    out/extract_config.json                    crop size/margin/align, detector, sampling

Resumable: a video counts as done once its row is in videos.csv, written after its crops and
manifest rows (each file appended in one write, fsync'ed). On restart, manifest rows of videos
without that row (an interrupted run's last video) are dropped and the video is done again;
failed videos are retried. A restart must use the same crop and sampling settings; the split
may change (the dataset grew, another seed), and the manifest's split column follows.

Frames are read with OpenCV by grab()-ing through the file and retrieve()-ing only the chosen
indices: seeking by frame number is inexact for some codecs.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO

import cv2
import numpy as np

from deepfake_monitor.realtime.analysis.tracking import FaceTracker, TrackerConfig
from deepfake_monitor.realtime.errors import SourceError, UserError
from deepfake_monitor.realtime.faces.crop import crop_faces
from deepfake_monitor.realtime.faces.detector import FaceDetection, FaceDetector
from deepfake_monitor.realtime.model.contract import ModelContract
from deepfake_monitor.realtime.outputs.atomic import (
    atomic_write,
    atomic_write_bytes,
    open_append,
)
from deepfake_monitor.realtime.sources.spec import parse_source
from deepfake_monitor.realtime.sources.video_source import VideoSource

from .layouts import VideoEntry

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ("video_id", "identity", "source_video", "method", "label", "split", "frame",
                    "track", "t", "crop_path", "det_score")
VIDEO_COLUMNS = ("video_id", "label", "split", "status", "frames", "crops", "seconds", "error")
SPLIT_COLUMNS = ("video_id", "split", "label", "identity", "source_video", "method", "path")
DONE = ("ok", "no_faces")
CONFIG_NAME = "extract_config.json"
# Settings that change the crops: a resumed run must use the same ones.
_CROP_KEYS = ("size", "margin", "align", "detector", "min_face_score", "frames_per_video", "fps",
              "max_faces_per_frame", "image_format", "jpeg_quality")


@dataclass(frozen=True)
class CropSettings:
    """The crop a model expects (realtime.contract's input size and CropSpec)."""

    size: int = 224
    margin: float = 0.25
    align: bool = False


def _crop_from_dict(data: Mapping[str, object], source: str) -> dict[str, object]:
    """size / margin / align from a JSON config: the contract's sections or top-level keys."""
    found: dict[str, object] = {}
    inp, crop = data.get("input"), data.get("crop")
    size = inp.get("size") if isinstance(inp, dict) else data.get("size", data.get("input_size"))
    if size is not None:
        if isinstance(size, bool) or not isinstance(size, int) or not 16 <= size <= 2048:
            raise UserError(f"{source}: input size must be an integer within [16, 2048], "
                            f"got {size!r}")
        found["size"] = size
    section = crop if isinstance(crop, dict) else data
    if "margin" in section:
        margin = section["margin"]
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) \
                or not 0 <= margin <= 2:
            raise UserError(f"{source}: crop margin must be a number within [0, 2], "
                            f"got {margin!r}")
        found["margin"] = float(margin)
    if "align" in section:
        if not isinstance(section["align"], bool):
            raise UserError(f"{source}: crop align must be true or false")
        found["align"] = section["align"]
    if not found:
        raise UserError(f"{source}: no crop settings found: expected input.size, crop.margin "
                        "and crop.align (as in a model's deepfake-monitor metadata)")
    return found


def crop_settings_from_model(path: Path) -> dict[str, object]:
    """The crop a model was trained on: from its ONNX metadata, or from a JSON config."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UserError(f"{path}: model config not found")
    if path.suffix.lower() == ".onnx":
        from deepfake_monitor.realtime.model.backend import OnnxBackend

        contract = ModelContract.from_metadata(OnnxBackend(path, ["CPUExecutionProvider"]).metadata,
                                               source=str(path))
        return {"size": contract.input.size, "margin": contract.crop.margin,
                "align": contract.crop.align}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: not an ONNX model or a readable JSON file ({exc})") from exc
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a JSON object with input/crop fields")
    return _crop_from_dict(data, str(path))


@dataclass(frozen=True)
class ExtractConfig:
    crop: CropSettings = field(default_factory=CropSettings)
    frames_per_video: int | None = 32  # evenly through the video; None with `fps`
    fps: float | None = None
    max_faces_per_frame: int = 1  # the largest faces; 0 keeps all
    detector: str = "full"
    min_face_score: float = 0.5
    image_format: str = "jpg"
    jpeg_quality: int = 95
    batch_size: int = 16

    def __post_init__(self) -> None:
        if (self.frames_per_video is None) == (self.fps is None):
            raise ValueError("give exactly one of frames_per_video and fps")
        if self.image_format not in ("jpg", "png"):
            raise ValueError(f"image_format must be jpg or png, got {self.image_format!r}")

    def settings(self) -> dict[str, object]:
        """What extract_config.json records about the crops."""
        return {**asdict(self.crop), "detector": self.detector,
                "min_face_score": self.min_face_score, "frames_per_video": self.frames_per_video,
                "fps": self.fps, "max_faces_per_frame": self.max_faces_per_frame,
                "image_format": self.image_format,
                "jpeg_quality": self.jpeg_quality if self.image_format == "jpg" else None}


# -- reading frames --------------------------------------------------------------------------


@dataclass(frozen=True)
class SampledFrame:
    index: int
    t: float
    image: np.ndarray  # BGR


@dataclass
class ReadReport:
    """What reading a video found: frames decoded, and a note when it ended early."""

    decoded: int = 0
    note: str = ""


def even_indices(frame_count: int, n: int) -> list[int]:
    """n frame numbers spread evenly: the middle of n equal stretches of the video."""
    if frame_count <= 0 or n <= 0:
        return []
    return sorted({min(frame_count - 1, int((i + 0.5) * frame_count / n)) for i in range(n)})


def _unreadable_reason(path: Path) -> str:
    """The engine's one-line diagnosis of a file OpenCV cannot open."""
    source = VideoSource(parse_source(str(path)))
    try:
        source.open()
    except SourceError as exc:
        return str(exc).removeprefix(f"{path}: ")
    finally:
        source.stop()
    return "FFmpeg cannot open it"


def _open_video(path: Path) -> cv2.VideoCapture:
    cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not cap.isOpened() or int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) <= 0:
        cap.release()
        raise SourceError(f"{path}: {_unreadable_reason(path)}")
    return cap


def _count_frames(path: Path) -> int:
    cap = _open_video(path)
    try:
        n = 0
        while cap.grab():
            n += 1
        return n
    finally:
        cap.release()


def read_frames(path: Path, report: ReadReport, *, frames_per_video: int | None = None,
                fps: float | None = None) -> Iterator[SampledFrame]:
    """The sampled frames of a video, in order; SourceError when it cannot be read at all."""
    cap = _open_video(path)
    try:
        rate = cap.get(cv2.CAP_PROP_FPS)
        rate = float(rate) if rate and math.isfinite(rate) and rate > 0 else 25.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        wanted: set[int] | None = None
        last = -1
        if frames_per_video is not None:
            if count <= 0:  # no count in the header: one grab-only pass to count
                count = _count_frames(path)
            wanted = set(even_indices(count, frames_per_video))
            last = max(wanted, default=-1)
        ratio = (fps / rate) if fps is not None and fps < rate else None
        index = -1
        while cap.grab():
            index += 1
            if wanted is not None:
                keep = index in wanted
            else:
                keep = ratio is None or index == 0 \
                    or math.floor(index * ratio) > math.floor((index - 1) * ratio)
            if keep:
                ok, image = cap.retrieve()
                if not ok or image is None:
                    break
                yield SampledFrame(index, index / rate, image)
            if wanted is not None and index >= last:
                break
        report.decoded = index + 1
        needed = (last + 1) if wanted is not None else count
        if report.decoded == 0:
            raise SourceError(f"{path}: no frame could be decoded")
        if needed > 0 and needed - report.decoded > max(2, 0.05 * needed):
            report.note = f"decoding stopped at frame {report.decoded} of {count}"
    finally:
        cap.release()


def read_image(path: Path) -> SampledFrame:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise SourceError(f"{path}: not a readable image")
    return SampledFrame(0, 0.0, image)


# -- output files ----------------------------------------------------------------------------


def _csv_text(rows: Sequence[Sequence[object]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def _append(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Append rows in one write, then fsync: an interruption loses at most this chunk."""
    new = not path.exists() or path.stat().st_size == 0
    text = _csv_text(([header] if new else []) + list(rows))
    with open_append(path) as fh:  # never through a link planted at `path`
        fh.write(text.encode("utf-8"))
        os.fsync(fh.fileno())


def _replace(path: Path, header: Sequence[str], rows: Iterator[Sequence[object]]) -> None:
    def write(fh: IO[str]) -> None:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)

    atomic_write(path, write)  # an exclusive temporary, renamed: no fixed name to plant


def _read_rows(path: Path) -> tuple[list[dict[str, str]], bool]:
    """A CSV's complete rows, and whether its last line was cut off (then ignored)."""
    if not path.exists():
        return [], False
    text = path.read_text(encoding="utf-8")
    cut = bool(text) and not text.endswith("\n")
    if cut:
        text = text[: text.rfind("\n") + 1]
    return list(csv.DictReader(io.StringIO(text))), cut


@dataclass
class VideoResult:
    video_id: str
    status: str  # ok | no_faces | failed
    frames: int = 0
    crops: int = 0
    seconds: float = 0.0
    error: str = ""


@dataclass
class ExtractSummary:
    total: int = 0
    skipped: int = 0  # done in an earlier run
    results: list[VideoResult] = field(default_factory=list)

    @property
    def failed(self) -> list[VideoResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def crops(self) -> int:
        return sum(r.crops for r in self.results)


class Extractor:
    """Extracts a dataset's videos into `out_dir` (see the module docstring)."""

    def __init__(self, out_dir: Path, config: ExtractConfig, *,
                 detector: FaceDetector | None = None,
                 info: Mapping[str, object] | None = None) -> None:
        self.out = Path(out_dir)
        self.config = config
        self.info = dict(info or {})  # layout, root, split settings: recorded, not compared
        self._detector = detector
        self._done_before = 0

    @property
    def detector(self) -> FaceDetector:
        if self._detector is None:
            self._detector = FaceDetector(self.config.detector,
                                          min_score=self.config.min_face_score)
        return self._detector

    # -- state on disk -----------------------------------------------------------------------

    def _check_config(self) -> None:
        path = self.out / CONFIG_NAME
        if path.exists():
            try:
                old = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise UserError(f"{path}: unreadable ({exc}); use another --out folder") from exc
            mine = self.config.settings()
            changed = [k for k in _CROP_KEYS if old.get(k) != mine.get(k)]
            if changed:
                diff = ", ".join(f"{k} {old.get(k)!r} -> {mine.get(k)!r}" for k in changed)
                raise UserError(f"{self.out}: holds crops made with other settings ({diff}); "
                                "use another --out folder, or the same settings to resume")
        record = {**self.config.settings(), **self.info}
        atomic_write(path, lambda fh: fh.write(json.dumps(record, indent=2) + "\n"))

    def _resume_state(self, assignment: Mapping[str, str]) -> set[str]:
        """Videos done in earlier runs; drops the manifest rows of unfinished ones and brings
        the split column up to date."""
        videos_path, manifest_path = self.out / "videos.csv", self.out / "manifest.csv"
        logged, videos_cut = _read_rows(videos_path)
        latest = {row["video_id"]: row for row in logged}  # a retried video: its last row
        done = {v for v, row in latest.items() if row["status"] in DONE}
        moved = {v for v in done if v in assignment and latest[v]["split"] != assignment[v]}
        if moved:
            log.warning("%d extracted video(s) changed split (dataset or split settings "
                        "changed); updating the manifest", len(moved))
        manifest, manifest_cut = _read_rows(manifest_path)
        stale = any(r["video_id"] not in done for r in manifest)
        if moved or stale or manifest_cut:
            def updated(row: dict[str, str]) -> dict[str, str]:
                return {**row, "split": assignment.get(row["video_id"], row["split"])}

            _replace(manifest_path, MANIFEST_COLUMNS,
                     ([updated(r)[c] for c in MANIFEST_COLUMNS]
                      for r in manifest if r["video_id"] in done))
        if moved or videos_cut or len(latest) != len(logged):
            _replace(videos_path, VIDEO_COLUMNS,
                     ([{**row, "split": assignment.get(v, row["split"])}[c]
                       for c in VIDEO_COLUMNS] for v, row in sorted(latest.items())))
        return done

    def _write_splits(self, entries: Sequence[VideoEntry], assignment: Mapping[str, str]) -> None:
        _replace(self.out / "splits.csv", SPLIT_COLUMNS,
                 ([e.video_id, assignment[e.video_id], e.label, "|".join(e.identities),
                   e.source_video or "", e.method or "", str(e.path)] for e in entries))

    # -- the run -----------------------------------------------------------------------------

    def prepare(self, entries: Sequence[VideoEntry],
                assignment: Mapping[str, str]) -> list[VideoEntry]:
        """Check the settings against an earlier run, resume its state, write splits.csv;
        the entries still to extract."""
        self.out.mkdir(parents=True, exist_ok=True)
        (self.out / "crops").mkdir(exist_ok=True)
        self._check_config()
        done = self._resume_state(assignment)
        self._write_splits(entries, assignment)
        self._done_before = sum(1 for e in entries if e.video_id in done)
        todo = [e for e in entries if e.video_id not in done]
        if todo:
            _ = self.detector  # a bad --detector fails here, before any video
        return todo

    def extract(self, todo: Sequence[VideoEntry], assignment: Mapping[str, str], *,
                on_video: Callable[[VideoEntry, VideoResult], None] | None = None
                ) -> ExtractSummary:
        """Extract `todo` (from `prepare`), calling `on_video` after each video."""
        summary = ExtractSummary(total=len(todo) + self._done_before, skipped=self._done_before)
        for entry in todo:
            result = self.extract_video(entry, assignment[entry.video_id])
            summary.results.append(result)
            if on_video:
                on_video(entry, result)
        return summary

    def run(self, entries: Sequence[VideoEntry], assignment: Mapping[str, str], *,
            on_video: Callable[[VideoEntry, VideoResult], None] | None = None
            ) -> ExtractSummary:
        """`prepare`, then `extract` what is left."""
        return self.extract(self.prepare(entries, assignment), assignment, on_video=on_video)

    def _crop_dir(self, entry: VideoEntry) -> Path:
        folder = (self.out / "crops" / entry.video_id).resolve()
        if (self.out / "crops").resolve() not in folder.parents:
            raise UserError(f"video id {entry.video_id!r} leads outside {self.out}/crops")
        return folder

    def extract_video(self, entry: VideoEntry, split: str) -> VideoResult:
        """Crops and manifest rows of one video, then its videos.csv row (which marks it done)."""
        start = time.perf_counter()
        folder = self._crop_dir(entry)
        _remove_crops(folder)  # leftovers of an interrupted run
        rows: list[list[object]] = []
        report = ReadReport()
        try:
            if entry.is_image:
                frames: Iterator[SampledFrame] = iter([read_image(entry.path)])
                report.decoded = 1
            else:
                frames = read_frames(entry.path, report,
                                     frames_per_video=self.config.frames_per_video,
                                     fps=self.config.fps)
            sampled = self._crop_frames(entry, split, frames, folder, rows)
        except (SourceError, cv2.error, ValueError) as exc:
            # One odd file must not end a run of thousands: it is listed and skipped.
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            result = VideoResult(entry.video_id, "failed",
                                 error=message.removeprefix(f"{entry.path}: "),
                                 seconds=time.perf_counter() - start)
            rows.clear()
            _remove_crops(folder)
        else:
            status = "ok" if rows else "no_faces"
            result = VideoResult(entry.video_id, status, sampled, len(rows),
                                 time.perf_counter() - start, report.note)
            if report.note:
                log.warning("%s: %s; kept the %d frames before", entry.path, report.note,
                            sampled)
            if rows:
                _append(self.out / "manifest.csv", MANIFEST_COLUMNS, rows)
        _append(self.out / "videos.csv", VIDEO_COLUMNS,
                [[entry.video_id, entry.label, split, result.status, result.frames,
                  result.crops, f"{result.seconds:.3f}", result.error]])
        return result

    def _crop_frames(self, entry: VideoEntry, split: str, frames: Iterator[SampledFrame],
                     folder: Path, rows: list[list[object]]) -> int:
        """Detect in batches, track, crop and write; returns the number of frames sampled."""
        cfg = self.config
        # Sparse samples of a long video are seconds apart: a face keeps its track as long as
        # it shows up again within the next two or three samples.
        spacing = (1.0 / cfg.fps) if cfg.fps else 0.0
        tracker = FaceTracker()
        previous_t: float | None = None
        sampled = 0

        def process(batch: list[SampledFrame]) -> None:
            nonlocal spacing, previous_t
            for f, faces in zip(batch, self.detector.detect_batch([f.image for f in batch])):
                if previous_t is not None and f.t - previous_t > spacing:
                    spacing = f.t - previous_t
                    tracker.config = TrackerConfig(max_age_s=max(1.5, 2.5 * spacing))
                previous_t = f.t
                ids = tracker.update([face.box for face in faces], f.t)
                chosen = _largest(faces, ids, cfg.max_faces_per_frame)
                self._write_crops(entry, split, f, chosen, folder, rows)

        batch: list[SampledFrame] = []
        for frame in frames:
            batch.append(frame)
            sampled += 1
            if len(batch) == cfg.batch_size:
                process(batch)
                batch = []
        if batch:
            process(batch)
        return sampled

    def _write_crops(self, entry: VideoEntry, split: str, frame: SampledFrame,
                     chosen: list[tuple[FaceDetection, int]], folder: Path,
                     rows: list[list[object]]) -> None:
        if not chosen:
            return
        cfg = self.config
        crops = crop_faces(frame.image, [face for face, _ in chosen], size=cfg.crop.size,
                           margin=cfg.crop.margin, align=cfg.crop.align)
        folder.mkdir(parents=True, exist_ok=True)
        params = [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality] if cfg.image_format == "jpg" \
            else [cv2.IMWRITE_PNG_COMPRESSION, 3]
        for crop, (face, track) in zip(crops, chosen):
            path = folder / f"{frame.index:06d}_{track}.{cfg.image_format}"
            ok, data = False, None
            with contextlib.suppress(cv2.error):
                ok, data = cv2.imencode(f".{cfg.image_format}", crop, params)
            try:
                if not ok or data is None:
                    raise OSError("cannot encode")
                atomic_write_bytes(path, data.tobytes(), sync=False)
            except OSError:
                raise UserError(f"{path}: cannot write the crop (disk full or not "
                                "writable?)") from None
            rows.append([entry.video_id, "|".join(entry.identities), entry.source_video or "",
                         entry.method or "", entry.label, split, frame.index, track,
                         f"{frame.t:.3f}", path.relative_to(self.out.resolve()).as_posix(),
                         f"{face.score:.4f}"])


def _remove_crops(folder: Path) -> None:
    """A video's crop files; not sub-folders, which hold other videos' crops (the folders
    layout can have both real/alice.mp4 and real/alice/talk.mp4)."""
    if folder.is_dir():
        for path in folder.iterdir():
            if path.is_file():
                path.unlink()


def _largest(faces: Sequence[FaceDetection], ids: Sequence[int],
             k: int) -> list[tuple[FaceDetection, int]]:
    """The k largest faces by box area (all with k = 0), largest first."""
    ranked = sorted(zip(faces, ids), key=lambda p: -p[0].width * p[0].height)
    return ranked if k <= 0 else ranked[:k]
