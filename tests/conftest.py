"""Shared test fixtures: real media from ../shared/media and synthetic clips of a real face."""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_MEDIA = REPO.parent / "shared" / "media"


def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    """Poll `predicate` every 50 ms until it holds; AssertionError naming `what` after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def shared_clips() -> list[Path]:
    """Every real clip in ../shared/media/videos (empty where that folder is absent)."""
    folder = SHARED_MEDIA / "videos"
    return sorted(folder.glob("*.mp4")) if folder.is_dir() else []


@pytest.fixture(scope="session")
def shared_media() -> Path:
    if not SHARED_MEDIA.is_dir():
        pytest.skip(f"{SHARED_MEDIA} is absent (real media lives beside the checkout)")
    return SHARED_MEDIA


@pytest.fixture(scope="session")
def astronaut_bgr() -> np.ndarray:
    """A real, public-domain face photo (scikit-image), in OpenCV's BGR order."""
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def write_clip(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    """Encode frames as an MP4 that OpenCV and FFmpeg can read back."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened(), f"cannot write {path}"
    for f in frames:
        writer.write(f)
    writer.release()
    return path


def astronaut_frames(face: np.ndarray, n: int = 50, size: tuple[int, int] = (640, 360),
                     redden_from: int | None = None) -> list[np.ndarray]:
    """The astronaut's head and shoulders panning across a grey frame.

    From frame `redden_from` on, the face region is pushed towards red: a visible manipulation
    that the tests' redness classifier scores higher.
    """
    w, h = size
    head = cv2.resize(face[0:300, 100:350], (220, 264))
    frames = []
    for i in range(n):
        frame = np.full((h, w, 3), 90, np.uint8)
        x = 20 + int((w - 260) * i / max(n - 1, 1))
        y = 50 + int(20 * np.sin(i / 6))
        patch = head.copy()
        if redden_from is not None and i >= redden_from:
            patch[..., 2] = np.clip(patch[..., 2].astype(np.int16) + 90, 0, 255).astype(np.uint8)
        frame[y : y + 264, x : x + 220] = patch
        frames.append(frame)
    return frames


@pytest.fixture
def astronaut_clip(tmp_path: Path, astronaut_bgr: np.ndarray) -> Path:
    """A 2 s, 25 fps, 640x360 clip of a real face moving across the frame."""
    return write_clip(tmp_path / "astronaut.mp4", astronaut_frames(astronaut_bgr))


def run_cli(*args: str) -> tuple[int, str]:
    """`deepfake-monitor ARGS` in this process: (exit code, stdout + stderr)."""
    from deepfake_monitor.realtime.cli import main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        code = main(list(args))
    return code, out.getvalue() + err.getvalue()
