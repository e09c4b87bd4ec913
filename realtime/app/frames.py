"""What the GUI gets from a source: the composed frame (`Composed`), alerts (`AlertInfo`), and the
drawing behind them: results scaled to the display, overlays, the rate label, face thumbnails."""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from ..analysis.pipeline import AlertEvent, FrameResult
from ..outputs.overlays import (
    DEFAULT_ANNOTATORS,
    FONT,
    WHITE,
    Annotator,
    BoxAnnotator,
    LabelAnnotator,
    MeterAnnotator,
    annotate,
)

HISTORY_S = 60.0  # what the per-face plots show
STALE_RESULT_S = 1.0  # overlays older than this (capture time) are not drawn on a newer frame
# -- what the GUI gets ------------------------------------------------------------------------


@dataclass(frozen=True)
class Composed:
    """A frame with its overlays drawn, ready to paint; never written to again."""

    image: np.ndarray  # BGR, C-contiguous
    t: float
    index: int
    seq: int


@dataclass(frozen=True)
class AlertInfo:
    source: str
    event: AlertEvent
    thumbnail: np.ndarray | None  # BGR crop of the face when the alert changed


def scale_result(result: FrameResult, sx: float, sy: float) -> FrameResult:
    """`result` with its boxes in the coordinates of the frame resized by (sx, sy)."""
    faces = tuple(replace(f, box=(f.box[0] * sx, f.box[1] * sy, f.box[2] * sx, f.box[3] * sy))
                  for f in result.faces)
    return replace(result, faces=faces)


@dataclass(frozen=True)
class RateAnnotator:
    """Analysed fps and latency in the corner: the tile's own title bar names the source and
    the side panel shows the provider and threshold, which the full header would repeat (and
    which would not fit a small tile)."""

    def annotate(self, frame: np.ndarray, result: FrameResult) -> np.ndarray:
        scale = max(0.8, frame.shape[0] / 720.0)
        text = f"{result.analysed_fps:.1f} fps  {result.latency_s * 1000:.0f} ms"
        size, thick = 0.5 * scale, max(1, round(scale))
        (tw, th), base = cv2.getTextSize(text, FONT, size, thick)
        pad = int(5 * scale)
        band = frame[: th + base + 2 * pad, : min(frame.shape[1], tw + 2 * pad)]
        band[:] = (band.astype(np.uint16) * 2 // 5).astype(np.uint8)  # darken, keep the video
        cv2.putText(frame, text, (pad, pad + th), FONT, size, WHITE, thick, cv2.LINE_AA)
        return frame


# Tiles: boxes, meters, labels and a compact header. Snapshots and recordings, which stand
# alone, get the full header (source, provider, threshold).
TILE_ANNOTATORS: tuple[Annotator, ...] = (
    BoxAnnotator(), MeterAnnotator(), LabelAnnotator(), RateAnnotator(),
)


def draw_overlays(image: np.ndarray, view: FrameResult | None,
                  fit: tuple[int, int] | None = None,
                  annotators: tuple[Annotator, ...] = DEFAULT_ANNOTATORS) -> np.ndarray:
    """A new image: `image`, scaled down to fit `fit` (w, h) when larger, with `view`'s
    overlays drawn at that size. Drawing after scaling keeps labels legible in a small tile
    (overlays size their text by the frame they are drawn on); the resize replaces the copy
    that drawing on a frame the analyzer still reads needs anyway."""
    h, w = image.shape[:2]
    scale = 1.0
    if fit is not None and fit[0] > 0 and fit[1] > 0:
        scale = min(1.0, fit[0] / w, fit[1] / h)
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        out = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        if view is not None:
            view = scale_result(view, size[0] / w, size[1] / h)
    else:
        out = image.copy()
    if view is not None:
        annotate(out, view, annotators)
    return out


def face_thumbnail(image: np.ndarray, box: tuple[float, float, float, float],
                   height: int = 72) -> np.ndarray | None:
    """The face with a little margin, scaled to `height` pixels (for the event log)."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    pad_x, pad_y = 0.15 * (x2 - x1), 0.15 * (y2 - y1)
    left, top = int(max(0, x1 - pad_x)), int(max(0, y1 - pad_y))
    right, bottom = int(min(w, x2 + pad_x)), int(min(h, y2 + pad_y))
    if right - left < 2 or bottom - top < 2:
        return None
    crop = image[top:bottom, left:right]
    scale = height / crop.shape[0]
    size = (max(1, round(crop.shape[1] * scale)), height)
    return np.ascontiguousarray(cv2.resize(crop, size, interpolation=cv2.INTER_AREA))
