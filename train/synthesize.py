"""Fake training videos made from real ones alone: self-blended (SBI) and face-swapped copies.

`synthesize(real_root, out)` writes a `folders` dataset that `deepfake-monitor extract` reads
unchanged, so fakes are cropped by the live engine's crop exactly like real faces:

    out/real/<identity>/<name>.mp4             the real video, re-encoded
    out/fake/<identity>/sbi/<name>_<k>.mp4     self-blended copy k of it
    out/fake/<identity>/swap/<name>_<k>.mp4    its faces replaced by another identity's face

A fake lies under its real source's identity folder, so the split by identity keeps it on the
side of its source (a swap's donor identity is not linked: the folders layout names one identity
per file). The folder below the identity names the method; `evaluate` reads it from there.

Reals are re-encoded with the same codec as the fakes: otherwise the classifier could tell the
classes apart by their compression alone. Frames where no face is found are dropped from both,
so every frame of a fake video holds a manipulated face. Each fake video draws its random
alterations once (one seed for every frame), so a fake is temporally stable, as real deepfakes
mostly are; per-frame jitter would be a give-away that real fakes lack.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from deepfake_monitor.realtime.errors import UserError
from deepfake_monitor.realtime.faces.detector import FaceDetection, FaceDetector
from deepfake_monitor.realtime.scan import VIDEO_EXTENSIONS

from .layouts import IMAGE_EXTENSIONS
from .sbi import BLEND_PRESETS, face_patch, face_swap, self_blend

log = logging.getLogger(__name__)

KINDS = ("sbi", "swap")


@dataclass(frozen=True)
class SynthesizeConfig:
    kinds: tuple[str, ...] = ("sbi",)
    per_video: int = 1  # fakes of each kind per real video
    max_frames: int = 0  # frames read per video, spread evenly; 0 for all
    detector: str = "full"
    min_face_score: float = 0.5
    seed: int = 0
    fourcc: str = "mp4v"
    blend: str = "paper"  # a sbi.BLEND_PRESETS name: how strong the alterations are
    mesh: bool = True  # masks from the face mesh's face oval (else the six landmarks)

    def __post_init__(self) -> None:
        bad = [k for k in self.kinds if k not in KINDS]
        if bad or not self.kinds:
            raise UserError(f"unknown fake kind(s) {', '.join(bad) or '(none)'}; "
                            f"choose from {', '.join(KINDS)}")
        if self.blend not in BLEND_PRESETS:
            raise UserError(f"unknown blend strength {self.blend!r}; choose from "
                            f"{', '.join(BLEND_PRESETS)}")


@dataclass(frozen=True)
class RealMedia:
    path: Path
    identity: str
    name: str  # file stem, unique within the identity

    @property
    def is_image(self) -> bool:
        return self.path.suffix.lower() in IMAGE_EXTENSIONS


@dataclass
class SynthesizeSummary:
    reals: int = 0
    fakes: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)  # "path: why"


def find_reals(root: Path) -> list[RealMedia]:
    """Real videos/images: `root/real/` if present, else `root` itself. A first sub-folder names
    the identity; a file directly inside is its own identity."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise UserError(f"{root}: no such folder")
    base = root / "real" if (root / "real").is_dir() else root
    media = VIDEO_EXTENSIONS | IMAGE_EXTENSIONS
    found = []
    for p in sorted(base.rglob("*")):
        if not p.is_file() or p.suffix.lower() not in media or p.name.startswith("."):
            continue
        rel = p.relative_to(base)
        identity = rel.parts[0] if len(rel.parts) > 1 else p.stem
        name = "_".join(rel.with_suffix("").parts[1:]) if len(rel.parts) > 1 else p.stem
        found.append(RealMedia(p, identity, name))
    if not found:
        raise UserError(f"{base}: holds no videos or images")
    return found


def _even(count: int, n: int) -> set[int]:
    if n <= 0 or count <= n:
        return set(range(max(count, 0)))
    return {math.floor((i + 0.5) * count / n) for i in range(n)}


def read_media(item: RealMedia, max_frames: int = 0) -> tuple[list[np.ndarray], float]:
    """BGR frames and the frame rate (images: one frame)."""
    if item.is_image:
        image = cv2.imread(str(item.path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError("not a readable image")
        return [image], 0.0
    cap = cv2.VideoCapture(str(item.path))
    try:
        if not cap.isOpened():
            raise ValueError("not a readable video")
        rate = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        rate = rate if math.isfinite(rate) and rate > 0 else 25.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        wanted = _even(count, max_frames) if max_frames and count > 0 else None
        frames, index = [], -1
        while cap.grab():
            index += 1
            if wanted is not None and index not in wanted:
                if index > max(wanted, default=-1):
                    break
                continue
            ok, image = cap.retrieve()
            if not ok or image is None:
                break
            frames.append(image)
    finally:
        cap.release()
    if not frames:
        raise ValueError("no frame could be decoded")
    return frames, rate


def _largest(faces: Sequence[FaceDetection]) -> FaceDetection | None:
    return max(faces, key=lambda f: f.width * f.height, default=None)


class Synthesizer:
    """Writes the synthetic dataset; one detector for all videos."""

    def __init__(self, out: Path, config: SynthesizeConfig,
                 detector: FaceDetector | None = None) -> None:
        self.out = Path(out)
        self.config = config
        self._detector = detector
        self._mesh: Any = None  # the face mesh once loaded; False where it cannot be

    @property
    def detector(self) -> FaceDetector:
        if self._detector is None:
            self._detector = FaceDetector(self.config.detector,
                                          min_score=self.config.min_face_score)
        return self._detector

    def faces(self, frames: Sequence[np.ndarray]) -> list[FaceDetection | None]:
        out: list[FaceDetection | None] = []
        for i in range(0, len(frames), 16):
            out.extend(_largest(f) for f in self.detector.detect_batch(frames[i:i + 16]))
        return out

    def _write(self, path: Path, frames: Sequence[np.ndarray], rate: float,
               like: RealMedia) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if like.is_image:
            ext = like.path.suffix.lower()
            params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext in (".jpg", ".jpeg") else []
            if not cv2.imwrite(str(path.with_suffix(ext)), frames[0], params):
                raise UserError(f"{path}: cannot write the image")
            return
        h, w = frames[0].shape[:2]
        writer = cv2.VideoWriter(str(path.with_suffix(".mp4")),
                                 cv2.VideoWriter_fourcc(*self.config.fourcc), rate, (w, h))
        if not writer.isOpened():
            raise UserError(f"{path}: cannot write a {self.config.fourcc} video")
        try:
            for frame in frames:
                writer.write(frame)
        finally:
            writer.release()

    def _load(self, item: RealMedia, max_frames: int
              ) -> tuple[list[np.ndarray], list[FaceDetection], float]:
        """Frames holding a face, their largest face, and the rate; ValueError if none."""
        frames, rate = read_media(item, max_frames)
        found = self.faces(frames)
        kept = [(f, d) for f, d in zip(frames, found) if d is not None]
        if not kept:
            raise ValueError("no face found")
        return [f for f, _ in kept], [d for _, d in kept], rate

    def run(self, reals: Sequence[RealMedia],
            on_item: Callable[[RealMedia], None] | None = None) -> SynthesizeSummary:
        """One video in memory at a time; swap donors (a face region per identity) first."""
        cfg = self.config
        summary = SynthesizeSummary(fakes={k: 0 for k in cfg.kinds})
        donors: dict[str, tuple[np.ndarray, FaceDetection, np.ndarray | None]] = {}
        if "swap" in cfg.kinds:
            for item in reals:
                if item.identity not in donors:
                    try:
                        frames, faces, _ = self._load(item, 8)
                    except ValueError:
                        continue
                    patch, face = face_patch(frames[0], faces[0])
                    donors[item.identity] = (patch, face, self._outline(patch, face))
        for n, item in enumerate(reals):
            try:
                frames, faces, rate = self._load(item, cfg.max_frames)
            except ValueError as exc:
                summary.skipped.append(f"{item.path}: {exc}")
                continue
            self._write(self.out / "real" / item.identity / item.name, frames, rate, item)
            summary.reals += 1
            others = sorted(i for i in donors if i != item.identity)
            for kind in cfg.kinds:
                if kind == "swap" and not others:
                    summary.skipped.append(f"{item.path}: swap needs a second identity")
                    continue
                for k in range(cfg.per_video):
                    seed = (cfg.seed, n, KINDS.index(kind), k)
                    donor = others[(n + k) % len(others)] if kind == "swap" else None
                    fake = list(self._fake_frames(kind, frames, faces, seed, donor, donors))
                    path = self.out / "fake" / item.identity / kind / f"{item.name}_{k}"
                    self._write(path, fake, rate, item)
                    summary.fakes[kind] += 1
            if on_item:
                on_item(item)
        return summary

    def _outline(self, frame: np.ndarray, face: FaceDetection) -> np.ndarray | None:
        """The face mesh's face oval for one face (None: six-landmark masks)."""
        if not self.config.mesh:
            return None
        if self._mesh is None:
            from .online_fakes import load_face_mesh

            self._mesh = load_face_mesh() or False
        if self._mesh is False:
            return None
        from .online_fakes import face_outlines

        return face_outlines([frame], [face], self._mesh)[0]

    def _fake_frames(self, kind: str, frames: Sequence[np.ndarray],
                     faces: Sequence[FaceDetection], seed: tuple[int, ...], donor: str | None,
                     donors: dict[str, tuple[np.ndarray, FaceDetection, np.ndarray | None]]
                     ) -> Iterator[np.ndarray]:
        blend = BLEND_PRESETS[self.config.blend]
        for frame, face in zip(frames, faces):
            rng = np.random.default_rng(seed)  # same draw every frame: a stable fake
            outline = self._outline(frame, face)
            if kind == "sbi":
                yield self_blend(frame, face, rng, blend, outline=outline).image
            else:
                assert donor is not None
                patch, donor_face, donor_outline = donors[donor]
                yield face_swap(frame, face, patch, donor_face, rng, blend,
                                target_outline=outline, source_outline=donor_outline).image


def synthesize(real_root: Path, out: Path, config: SynthesizeConfig,
               on_item: Callable[[RealMedia], None] | None = None) -> SynthesizeSummary:
    """Write the synthetic `folders` dataset of `real_root`'s real media into `out`."""
    out = Path(out)
    if (out / "real").exists() or (out / "fake").exists():
        raise UserError(f"{out}: already holds a dataset (real/ or fake/); use another --out")
    return Synthesizer(out, config).run(find_reals(real_root), on_item)
