"""The bundled sample clip: a real face, untouched for the first half, manipulated in the second.

    python -m deepfake_monitor.train.make_sample_clip --out assets/samples/astronaut_sbi.mp4

Why this clip: the README's main command (`deepfake-monitor scan assets/samples/...`) needs a
video that ships with the project and whose licence allows that. `skimage.data.astronaut()`
(Eileen Collins, NASA) is in the public domain. A slow pan and zoom over the photo makes it a
video the detector and tracker follow as they would a real one; from the middle on, the face is
self-blended (`train/sbi.py`) with the same random draws in every frame, so the manipulation is
temporally stable, as a real manipulated video's is, rather than flickering.

The manipulated half is a synthetic self-blend, not a deepfake: it shows what the pipeline
reports, not how well any model detects real deepfakes.

Needs scikit-image (the `test` extra) for the photo. Encodes H.264 with ffmpeg where it is on
PATH, else MPEG-4 Part 2 with OpenCV.
"""

from __future__ import annotations

import argparse
import logging
import math
import shutil
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from .sbi import SBIConfig, self_blend

log = logging.getLogger(__name__)

DEFAULT_OUT = Path("assets/samples/astronaut_sbi.mp4")
# Where the face is in the 512x512 astronaut photo, and how the view moves over it: a 16:9
# window that starts wide and ends 1.3x closer, drifting towards the face.
START_CENTRE, END_CENTRE = (240.0, 150.0), (228.0, 128.0)
START_WIDTH, END_ZOOM = 448.0, 1.3
SEED = 20220619  # the self-blend's random draws (any seed works; this one is the bundled clip's)


def sample_config() -> SBIConfig:
    """The manipulation: one fixed, plainly visible self-blend rather than random ranges.

    The inner face (the "hull" mask from the landmarks, feathered) is replaced by a copy of
    itself 4 % larger, shifted by up to 2 % of the face size, with its colour channels offset
    by up to 25 levels (the seed picks a tint) and 20 % less saturated, at full strength: the
    colour and registration mismatch of a carelessly pasted face. Fixed and plain because the
    clip is a demonstration of what the pipeline reports, using the kind of blend the default
    model was trained on; its model card shows which subtler alterations it misses.
    """
    return SBIConfig(scale=(1.04, 1.04), shift=0.02, hue=0.0, saturation=(0.8, 0.8),
                     value=(1.0, 1.0), brightness=0.0, contrast=(1.0, 1.0), rgb_shift=25.0,
                     filter_prob=0.0, mask_kinds=("hull",), feather=(0.02, 0.02),
                     blend_ratios=(1.0,))


def astronaut_bgr() -> np.ndarray:
    """The public-domain astronaut photo (scikit-image), in OpenCV's BGR order."""
    try:
        from skimage import data
    except ImportError as exc:  # a dev tool: say what to install
        raise SystemExit("make_sample_clip needs scikit-image: pip install scikit-image") from exc
    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def pan_zoom_frames(image: np.ndarray, count: int, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """`count` frames of `size` (w, h): a slow, eased pan and zoom over `image`."""
    w, h = size
    for i in range(count):
        t = i / max(count - 1, 1)
        ease = 0.5 - 0.5 * math.cos(math.pi * t)  # smooth start and stop
        cx = START_CENTRE[0] + (END_CENTRE[0] - START_CENTRE[0]) * ease
        cy = START_CENTRE[1] + (END_CENTRE[1] - START_CENTRE[1]) * ease
        view_w = START_WIDTH / (1 + (END_ZOOM - 1) * ease)
        scale = w / view_w
        # Map the view window's centre to the frame's centre (pixel-centre convention).
        m = np.array([[scale, 0.0, (w - 1) / 2 - scale * (cx - 0.5)],
                      [0.0, scale, (h - 1) / 2 - scale * (cy - 0.5)]])
        yield cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_CUBIC,
                             borderMode=cv2.BORDER_REFLECT_101)


def manipulated_frames(frames: Iterator[np.ndarray], count: int, manipulate_from: int,
                       seed: int) -> Iterator[np.ndarray]:
    """The frames, with the largest face self-blended from frame `manipulate_from` on.

    A fresh generator from the same seed per frame gives every frame the same colour shift,
    misregistration and mask deformation, relative to the face (the mask follows the landmarks
    BlazeFace finds in each frame).
    """
    from deepfake_monitor.realtime.faces.detector import FaceDetector

    detector = FaceDetector("full")
    config = sample_config()
    for i, frame in enumerate(frames):
        if i >= manipulate_from:
            faces = detector.detect(frame)
            if not faces:
                log.warning("frame %d: no face found, left untouched", i)
            else:
                face = max(faces, key=lambda f: f.width * f.height)
                frame = self_blend(frame, face, np.random.default_rng(seed), config).image
        yield frame
    log.info("%d frames, manipulated from %d", count, manipulate_from)


def write_video(frames: Iterator[np.ndarray], path: Path, fps: float, size: tuple[int, int],
                crf: int = 20) -> str:
    """Encode BGR frames; H.264 through ffmpeg when available, else OpenCV's mp4v."""
    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg:
        cmd = [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "bgr24",
               "-s", f"{w}x{h}", "-r", str(fps), "-i", "-", "-an", "-c:v", "libx264",
               "-preset", "slow", "-crf", str(crf), "-pix_fmt", "yuv420p",
               "-movflags", "+faststart", str(path)]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
        assert proc.stdin is not None
        try:
            for frame in frames:
                proc.stdin.write(np.ascontiguousarray(frame).tobytes())
        finally:
            proc.stdin.close()
        if proc.wait() != 0:
            raise SystemExit(f"ffmpeg failed to write {path}")
        return "h264 (ffmpeg)"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise SystemExit(f"cannot write {path}")
    for frame in frames:
        writer.write(frame)
    writer.release()
    return "mp4v (OpenCV)"


def make_clip(out: Path = DEFAULT_OUT, *, seconds: float = 10.0, fps: float = 25.0,
              size: tuple[int, int] = (640, 360), seed: int = SEED, crf: int = 20) -> Path:
    """Write the sample clip; the manipulation starts at half its length."""
    count = round(seconds * fps)
    frames = pan_zoom_frames(astronaut_bgr(), count, size)
    codec = write_video(manipulated_frames(frames, count, count // 2, seed), out, fps, size, crf)
    log.info("wrote %s: %d frames, %.1f s at %g fps, %dx%d, %s, %.2f MB", out, count,
             count / fps, fps, size[0], size[1], codec, out.stat().st_size / 1e6)
    return out


def sample_half_scores(model: str | Path | None, clip: Path = DEFAULT_OUT, step: int = 5
                       ) -> tuple[list[float], list[float]]:
    """P(fake) of the largest face in every `step`-th frame of a clip made by `make_clip`,
    split into its untouched first half and its manipulated second half (model None: the
    bundled default). The check that a model sees the sample's manipulation."""
    from deepfake_monitor.realtime.faces.crop import crop_faces
    from deepfake_monitor.realtime.faces.detector import FaceDetector
    from deepfake_monitor.realtime.model.classifier import DeepfakeClassifier

    classifier = DeepfakeClassifier(model, providers=("CPUExecutionProvider",))
    detector = FaceDetector("full")
    spec = classifier.contract.crop
    cap = cv2.VideoCapture(str(clip))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    first: list[float] = []
    second: list[float] = []
    index = 0
    try:
        while cap.grab():
            if index % step == 0:
                ok, frame = cap.retrieve()
                faces = detector.detect(frame) if ok else []
                if faces:
                    face = max(faces, key=lambda f: f.width * f.height)
                    crop = crop_faces(frame, [face], size=classifier.size, margin=spec.margin,
                                      align=spec.align)
                    p = float(classifier.predict(crop)[0])
                    (first if index < total // 2 else second).append(p)
            index += 1
    finally:
        cap.release()
    return first, second


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deepfake_monitor.train.make_sample_clip",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--crf", type=int, default=20, help="H.264 quality (lower is better)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    make_clip(args.out, seconds=args.seconds, fps=args.fps, size=(args.width, args.height),
              seed=args.seed, crf=args.crf)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
