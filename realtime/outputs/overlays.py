"""Overlays drawn on frames: small stateless annotators, `annotate(frame, result) -> frame`.

Each annotator draws one thing in place and returns the frame, so callers compose them
(roboflow/supervision style). Colours follow the smoothed P(fake) against the threshold the
result was computed with, so a threshold change recolours the next frame: green real, amber
uncertain (within the band around the threshold, verdict.py), red fake; the header carries
that legend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from ..analysis.pipeline import FaceResult, FrameResult
from ..analysis.verdict import UNCERTAIN_BAND, band_edges, threshold_text, verdict

GREEN = (80, 200, 60)
AMBER = (0, 190, 255)
RED = (40, 40, 230)
WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
FONT = cv2.FONT_HERSHEY_SIMPLEX


STATE_COLOURS = {"real": GREEN, "uncertain": AMBER, "fake": RED}
STATE_WORDS = {"real": "REAL", "uncertain": "UNCERTAIN", "fake": "FAKE"}


def face_state(p: float, threshold: float, band: float = UNCERTAIN_BAND) -> str:
    """"real", "uncertain" or "fake": the same rule as a video's verdict (analysis/verdict.py)."""
    return verdict(p, threshold, band) or "real"


def risk_colour(p: float, threshold: float, band: float = UNCERTAIN_BAND) -> tuple[int, int, int]:
    """One colour per state, so a colour always means one word (BGR): green real, amber
    uncertain, red fake."""
    return STATE_COLOURS[face_state(p, threshold, band)]


def legend_items(threshold: float, band: float = UNCERTAIN_BAND) -> list[tuple[str, str]]:
    """(state, text) for the colour legend: "real < 0.60", "uncertain", "fake >= 0.80"."""
    low, high = band_edges(threshold, band)
    if band <= 0:
        return [("real", f"real < {threshold_text(threshold)}"),
                ("fake", f"fake >= {threshold_text(threshold)}")]
    return [("real", f"real < {threshold_text(low)}"), ("uncertain", "uncertain"),
            ("fake", f"fake >= {threshold_text(high)}")]


def _scale(frame: np.ndarray) -> float:
    """Text and line sizes follow the frame height so overlays read the same at 480p and 4K."""
    return max(0.8, frame.shape[0] / 720.0)


def _int_box(face: FaceResult, frame: np.ndarray) -> tuple[int, int, int, int]:
    h, w = frame.shape[:2]
    x1, y1, x2, y2 = face.box
    return (int(np.clip(x1, 0, w - 1)), int(np.clip(y1, 0, h - 1)),
            int(np.clip(x2, 0, w - 1)), int(np.clip(y2, 0, h - 1)))


Rect = tuple[int, int, int, int]  # x1, y1, x2, y2


def _label_size(text: str, scale: float) -> tuple[int, int, int]:
    """(width, height, baseline) of a face label's coloured band."""
    size, thick = 0.55 * scale, max(1, round(1.5 * scale))
    (tw, th), base = cv2.getTextSize(text, FONT, size, thick)
    return tw + 4, th + base + 4, base


def _draw_label(frame: np.ndarray, text: str, rect: Rect, colour: tuple[int, int, int],
                scale: float) -> None:
    size, thick = 0.55 * scale, max(1, round(1.5 * scale))
    base = _label_size(text, scale)[2]
    x1, y1, x2, y2 = rect
    cv2.rectangle(frame, (x1, y1), (x2, y2), colour, -1)
    cv2.putText(frame, text, (x1 + 2, y2 - 2 - base + 1), FONT, size, WHITE, thick, cv2.LINE_AA)


def _overlaps(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(boxes: Sequence[Rect], sizes: Sequence[tuple[int, int]], frame_w: int,
                 frame_h: int, keep_clear: Sequence[Rect] = ()) -> list[Rect]:
    """A rectangle per label, none over another or over `keep_clear` (the header): above its
    box where that is free, else below it, else the nearest free place further down (in a
    crowd, labels stack instead of covering each other)."""
    placed: list[Rect] = []
    taken = list(keep_clear)
    for (x1, y1, _, y2), (w, h) in zip(boxes, sizes):
        x = int(np.clip(x1, 0, max(frame_w - w, 0)))
        tops = [y1 - 4 - h, y2 + 4] + [y1 - 4 - h + k * (h + 2) for k in range(1, 64)]
        spots = [(x, t, x + w, t + h) for t in tops if t >= 0 and t + h <= frame_h]
        free = [r for r in spots if not any(_overlaps(r, o) for o in taken)]
        rect = free[0] if free else (spots[0] if spots else (x, 0, x + w, h))
        placed.append(rect)
        taken.append(rect)
    return placed


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
            colour = risk_colour(face.p_smooth, result.threshold, result.uncertain_band)
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
            colour = risk_colour(face.p_smooth, result.threshold, result.uncertain_band)
            if fill > 0:
                cv2.rectangle(frame, (left, y2 - fill), (left + w, y2), colour, -1)
            ty = y2 - round(height * result.threshold)
            cv2.line(frame, (left - 2, ty), (left + w + 2, ty), WHITE, max(1, int(s)))
            cv2.rectangle(frame, (left, y1), (left + w, y2), WHITE, 1)
        return frame


def face_label(face: FaceResult, threshold: float, band: float = UNCERTAIN_BAND) -> str:
    """"#1 P(fake) 43% REAL": the probability and the word of its state (the label's colour),
    then ALERT while the face alerts (an alert holds a little below the threshold, so its
    word may read UNCERTAIN: the colour and word always agree with the number)."""
    text = f"#{face.track} P(fake) {face.p_smooth * 100:.0f}% " \
           f"{STATE_WORDS[face_state(face.p_smooth, threshold, band)]}"
    if face.alert:
        text += " ALERT"
    return text


@dataclass(frozen=True)
class LabelAnnotator:
    """Track id, smoothed probability and state word by each box, placed clear of `header`
    (the frame's HeaderAnnotator, when there is one) and of each other."""

    header: HeaderAnnotator | None = None

    def annotate(self, frame: np.ndarray, result: FrameResult) -> np.ndarray:
        s = _scale(frame)
        h, w = frame.shape[:2]
        faces = sorted(result.faces, key=lambda f: (f.box[1], f.box[0]))
        texts = [face_label(f, result.threshold, result.uncertain_band) for f in faces]
        sizes = [_label_size(t, s)[:2] for t in texts]
        clear = [] if self.header is None else [self.header.rect(frame, result)]
        rects = place_labels([_int_box(f, frame) for f in faces], sizes, w, h, clear)
        for face, text, rect in zip(faces, texts, rects):
            _draw_label(frame, text, rect,
                        risk_colour(face.p_smooth, result.threshold, result.uncertain_band), s)
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
        thr = f"thr {threshold_text(result.threshold)}"
        if self.file:
            return [result.source, thr, _clock(result.t), self.model, self.note]
        return [result.source, thr, f"{result.analysed_fps:.1f} fps",
                f"latency {result.latency_s * 1000:.0f} ms", result.provider]

    def _layout(self, frame: np.ndarray, result: FrameResult
                ) -> tuple[list[str], float, int, int, int, int]:
        """(lines, text size, thickness, padding, line step, text height)."""
        s = _scale(frame)
        size, thick, pad = 0.55 * s, max(1, round(s)), int(6 * s)
        lines = wrap_items(self.items(result), size, thick, frame.shape[1] - 2 * pad)
        (_, th), base = cv2.getTextSize("Ag", FONT, size, thick)
        return lines, size, thick, pad, th + base + pad // 2, th

    def _legend_width(self, result: FrameResult, size: float, thick: int, th: int) -> int:
        return sum(th + 4 + cv2.getTextSize(text, FONT, size, thick)[0][0] + 2 * th
                   for _, text in legend_items(result.threshold, result.uncertain_band))

    def rect(self, frame: np.ndarray, result: FrameResult) -> Rect:
        """Where the header is drawn on this frame (labels keep clear of it)."""
        lines, size, thick, pad, step, th = self._layout(frame, result)
        width = max([cv2.getTextSize(line, FONT, size, thick)[0][0] for line in lines]
                    + [self._legend_width(result, size, thick, th)])
        return (0, 0, min(frame.shape[1], width + 2 * pad),
                min(frame.shape[0], pad + step * (len(lines) + 1) + pad // 2))

    def annotate(self, frame: np.ndarray, result: FrameResult) -> np.ndarray:
        lines, size, thick, pad, step, th = self._layout(frame, result)
        _, _, x2, y2 = self.rect(frame, result)
        band = frame[:y2, :x2]
        band[:] = (band.astype(np.uint16) * 2 // 5).astype(np.uint8)  # darken, keep the video
        for n, line in enumerate(lines):
            cv2.putText(frame, line, (pad, pad + th + n * step), FONT, size, WHITE, thick,
                        cv2.LINE_AA)
        # the colour legend: a swatch and its word per state
        x, y = pad, pad + th + len(lines) * step
        for state, text in legend_items(result.threshold, result.uncertain_band):
            cv2.rectangle(frame, (x, y - th), (x + th, y), STATE_COLOURS[state], -1)
            x += th + 4
            cv2.putText(frame, text, (x, y), FONT, size, WHITE, thick, cv2.LINE_AA)
            x += cv2.getTextSize(text, FONT, size, thick)[0][0] + 2 * th
        return frame


# The header first; face labels are placed clear of it (and of each other).
DEFAULT_ANNOTATORS: tuple[Annotator, ...] = (
    HeaderAnnotator(), BoxAnnotator(), MeterAnnotator(), LabelAnnotator(HeaderAnnotator()),
)


def annotate(frame: np.ndarray, result: FrameResult,
             annotators: Sequence[Annotator] = DEFAULT_ANNOTATORS) -> np.ndarray:
    """Every overlay, drawn on `frame` in place."""
    for annotator in annotators:
        frame = annotator.annotate(frame, result)
    return frame
