"""Overlays drawn on frames: small stateless annotators, `annotate(frame, result) -> frame`.

Each annotator draws one thing in place and returns the frame, so callers compose them
(roboflow/supervision style). Colours follow the smoothed P(fake) against the threshold the
result was computed with, so a threshold change recolours the next frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from .pipeline import FaceResult, FrameResult

GREEN = (80, 200, 60)
AMBER = (0, 190, 255)
RED = (40, 40, 230)
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def risk_colour(p: float, threshold: float) -> tuple[int, int, int]:
    """Green well below the threshold, amber approaching it, red at or above it (BGR)."""
    if p >= threshold:
        return RED
    approach = threshold * 0.6
    if p <= approach:
        return GREEN
    a = (p - approach) / max(threshold - approach, 1e-6)
    return tuple(round(g + a * (m - g)) for g, m in zip(GREEN, AMBER))  # type: ignore[return-value]


def _scale(frame: np.ndarray) -> float:
    """Text and line sizes follow the frame height so overlays read the same at 480p and 4K."""
    return max(0.8, frame.shape[0] / 720.0)


def _int_box(face: FaceResult, frame: np.ndarray) -> tuple[int, int, int, int]:
    h, w = frame.shape[:2]
    x1, y1, x2, y2 = face.box
    return (int(np.clip(x1, 0, w - 1)), int(np.clip(y1, 0, h - 1)),
            int(np.clip(x2, 0, w - 1)), int(np.clip(y2, 0, h - 1)))


def _label(frame: np.ndarray, text: str, org: tuple[int, int], colour: tuple[int, int, int],
           scale: float) -> None:
    size = 0.55 * scale
    thick = max(1, round(1.5 * scale))
    (tw, th), base = cv2.getTextSize(text, FONT, size, thick)
    x, y = org
    y = max(y, th + base + 2)
    cv2.rectangle(frame, (x, y - th - base - 2), (x + tw + 4, y + 2), colour, -1)
    cv2.putText(frame, text, (x + 2, y - base + 1), FONT, size, WHITE, thick, cv2.LINE_AA)


class Annotator(Protocol):
    def annotate(self, frame: np.ndarray, result: FrameResult) -> np.ndarray: ...


@dataclass(frozen=True)
class BoxAnnotator:
    """A box per face, coloured by its smoothed probability; thicker while alerting."""

    thickness: int = 2

    def annotate(self, frame: np.ndarray, result: FrameResult) -> np.ndarray:
        s = _scale(frame)
        for face in result.faces:
            x1, y1, x2, y2 = _int_box(face, frame)
            colour = risk_colour(face.p_smooth, result.threshold)
            thick = max(1, round(self.thickness * s * (2 if face.alert else 1)))
            cv2.rectangle(frame, (x1, y1), (x2, y2), colour, thick, cv2.LINE_AA)
        return frame


@dataclass(frozen=True)
class MeterAnnotator:
    """A vertical probability meter beside each face, with a tick at the threshold."""

    width: int = 10

    def annotate(self, frame: np.ndarray, result: FrameResult) -> np.ndarray:
        s = _scale(frame)
        w = max(4, int(self.width * s))
        fw = frame.shape[1]
        for face in result.faces:
            x1, y1, x2, y2 = _int_box(face, frame)
            gap = max(3, int(4 * s))
            left = x2 + gap if x2 + gap + w < fw else max(0, x1 - gap - w)
            height = max(y2 - y1, 1)
            cv2.rectangle(frame, (left, y1), (left + w, y2), BLACK, -1)
            fill = round(height * float(np.clip(face.p_smooth, 0, 1)))
            colour = risk_colour(face.p_smooth, result.threshold)
            if fill > 0:
                cv2.rectangle(frame, (left, y2 - fill), (left + w, y2), colour, -1)
            ty = y2 - round(height * result.threshold)
            cv2.line(frame, (left - 2, ty), (left + w + 2, ty), WHITE, max(1, int(s)))
            cv2.rectangle(frame, (left, y1), (left + w, y2), WHITE, 1)
        return frame


def face_label(face: FaceResult, threshold: float) -> str:
    """"#1 P(fake) 43%": a probability, not a verdict; the word FAKE only at or above the
    threshold, and ALERT once the face has stayed there for the alert time."""
    text = f"#{face.track} P(fake) {face.p_smooth * 100:.0f}%"
    if face.p_smooth >= threshold:
        text += " FAKE"
    if face.alert:
        text += " ALERT"
    return text


@dataclass(frozen=True)
class LabelAnnotator:
    """Track id and smoothed probability above each box."""

    def annotate(self, frame: np.ndarray, result: FrameResult) -> np.ndarray:
        s = _scale(frame)
        for face in result.faces:
            x1, y1, _, _ = _int_box(face, frame)
            _label(frame, face_label(face, result.threshold), (x1, y1 - 4),
                   risk_colour(face.p_smooth, result.threshold), s)
        return frame


def _clock(seconds: float) -> str:
    """Video time as m:ss.s (h:mm:ss.s past an hour)."""
    tenths = max(0, round(seconds * 10))
    minutes, tenth_s = divmod(tenths, 600)
    hours, minutes = divmod(minutes, 60)
    sec = f"{tenth_s // 10:02d}.{tenth_s % 10}"
    return f"{hours}:{minutes:02d}:{sec}" if hours else f"{minutes}:{sec}"


def _elide(text: str, size: float, thick: int, width: int) -> str:
    """`text` shortened in the middle ("ab...yz") to fit `width` pixels."""
    if cv2.getTextSize(text, FONT, size, thick)[0][0] <= width:
        return text
    keep = len(text)
    while keep > 2:
        keep -= 1
        head, tail = text[: (keep + 1) // 2], text[len(text) - keep // 2:]
        short = f"{head}...{tail}"
        if cv2.getTextSize(short, FONT, size, thick)[0][0] <= width:
            return short
    return "..."


def wrap_items(items: Sequence[str], size: float, thick: int, width: int,
               sep: str = "  ") -> list[str]:
    """Items laid out in lines no wider than `width` pixels, an item never split (one that is
    too wide alone is shortened in the middle)."""
    lines: list[str] = []
    for item in (_elide(i, size, thick, width) for i in items if i):
        if lines and cv2.getTextSize(lines[-1] + sep + item, FONT, size, thick)[0][0] <= width:
            lines[-1] += sep + item
        else:
            lines.append(item)
    return lines


@dataclass(frozen=True)
class HeaderAnnotator:
    """A header in the top-left corner, wrapped to the frame's width so that nothing is cut off.

    Live sources: the stream's name, the threshold, analysed fps, capture-to-result latency and
    the execution provider. Files (`file=True`): the name, the threshold, the video time, the
    model and `note` (which frames were analysed): processing speed says nothing about a file.
    """

    file: bool = False
    model: str = ""
    note: str = ""

    def items(self, result: FrameResult) -> list[str]:
        thr = f"thr {result.threshold:.2f}"
        if self.file:
            return [result.source, thr, _clock(result.t), self.model, self.note]
        return [result.source, thr, f"{result.analysed_fps:.1f} fps",
                f"latency {result.latency_s * 1000:.0f} ms", result.provider]

    def annotate(self, frame: np.ndarray, result: FrameResult) -> np.ndarray:
        s = _scale(frame)
        size = 0.55 * s
        thick = max(1, round(s))
        pad = int(6 * s)
        lines = wrap_items(self.items(result), size, thick, frame.shape[1] - 2 * pad)
        (_, th), base = cv2.getTextSize("Ag", FONT, size, thick)
        step = th + base + pad // 2
        width = max(cv2.getTextSize(line, FONT, size, thick)[0][0] for line in lines)
        band = frame[: min(frame.shape[0], pad + step * len(lines) + pad // 2),
                     : min(frame.shape[1], width + 2 * pad)]
        band[:] = (band.astype(np.uint16) * 2 // 5).astype(np.uint8)  # darken, keep the video
        for n, line in enumerate(lines):
            cv2.putText(frame, line, (pad, pad + th + n * step), FONT, size, WHITE, thick,
                        cv2.LINE_AA)
        return frame


# The header first: a face's label near the top edge is drawn over it, not hidden under it.
DEFAULT_ANNOTATORS: tuple[Annotator, ...] = (
    HeaderAnnotator(), BoxAnnotator(), MeterAnnotator(), LabelAnnotator(),
)


def annotate(frame: np.ndarray, result: FrameResult,
             annotators: Sequence[Annotator] = DEFAULT_ANNOTATORS) -> np.ndarray:
    """Every overlay, drawn on `frame` in place."""
    for annotator in annotators:
        frame = annotator.annotate(frame, result)
    return frame
