"""The pieces the app's widgets share: colours and images for Qt, the clock format, an eliding
label, the error style, and how a metric reads.

The widgets themselves (one module each: tile, face_panels, alert_views, model_panel,
empty_state) only display what the window hands them and emit what the user asks for; none of
them reads from the engine or blocks."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QColor, QImage, QPixmap
from PyQt6.QtWidgets import (
    QLabel,
    QSizePolicy,
    QWidget,
)

from ..display_text import clean

BROWSE = "\x00browse"  # the model picker's "Browse…" entry
_BGR888 = getattr(QImage.Format, "Format_BGR888", None)

ERROR_STYLE = ("QLabel { background: #5c1a1a; color: #ffd8d8; border: 1px solid #a33; "
               "border-radius: 4px; padding: 6px; }")


def bgr_colour(bgr: Sequence[int]) -> QColor:
    return QColor(int(bgr[2]), int(bgr[1]), int(bgr[0]))


def to_qimage(image: np.ndarray) -> tuple[QImage, np.ndarray]:
    """A QImage over the array's own buffer (no copy) and the array that buffer belongs to,
    which the caller must keep referenced while the QImage is used. Qt builds without BGR888
    (before 5.14) get one colour conversion instead."""
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3 \
            or not image.flags.c_contiguous:
        raise ValueError("expected a C-contiguous uint8 HxWx3 BGR image")
    h, w = image.shape[:2]
    if _BGR888 is not None:
        return QImage(image.data, w, h, image.strides[0], _BGR888), image
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return QImage(rgb.data, w, h, rgb.strides[0], QImage.Format.Format_RGB888), rgb


def thumbnail_pixmap(image: np.ndarray) -> QPixmap:
    qimage, _ = to_qimage(image)
    return QPixmap.fromImage(qimage)  # a copy: thumbnails outlive the array


def format_clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class ElidedLabel(QLabel):
    """One line that elides in the middle to fit, so a long path keeps its file name; the full
    text is in the tooltip. Plain text without control characters: a file name is no HTML."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.full_text = ""
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.set_full_text(text)

    def set_full_text(self, text: str) -> None:
        text = clean(text)
        self.full_text = text
        self.setToolTip(text)
        self._elide()

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self._elide()

    def _elide(self) -> None:
        width = max(0, self.contentsRect().width())
        self.setText(self.fontMetrics().elidedText(self.full_text, Qt.TextElideMode.ElideMiddle,
                                                   width))


def metric_text(value: object) -> str:
    """A model card metric for people: 3 decimals, nested breakdowns flattened."""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {metric_text(v)}" for k, v in value.items())
    return str(value)
