"""The per-face side of the window: a P(fake) meter (`MeterBar`) and one `FacePanel` per tracked
face (thumbnail, meter, history plot)."""

from __future__ import annotations

import time

import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, QRectF, Qt
from PyQt6.QtGui import QColor, QFont, QPainter, QPen
from PyQt6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from ..analysis.pipeline import FaceResult
from ..analysis.verdict import UNCERTAIN_BAND
from ..outputs.overlays import risk_colour
from .states import peak_text, percent, state_word
from .widgets import ElidedLabel, bgr_colour

# -- meters and face panels -------------------------------------------------------------------


class MeterBar(QWidget):
    """A horizontal probability meter: filled in the risk colour, a tick at the threshold, the
    percentage written on it."""

    def __init__(self, height: int = 30, show_text: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.value = 0.0
        self.threshold = 0.5
        self.band = UNCERTAIN_BAND
        self.show_text = show_text
        self.setFixedHeight(height)
        self.setMinimumWidth(120)

    def set_value(self, value: float, threshold: float, band: float = UNCERTAIN_BAND) -> None:
        self.value = float(np.clip(value, 0.0, 1.0))
        self.threshold = float(threshold)
        self.band = float(band)
        self.update()

    @property
    def colour(self) -> QColor:
        return bgr_colour(risk_colour(self.value, self.threshold, self.band))

    @property
    def text(self) -> str:
        """The probability and the word of its colour: "P(fake) 43 %  UNCERTAIN"."""
        return f"P(fake) {percent(self.value)}  " \
               f"{state_word(self.value, self.threshold, self.band)}"

    def paintEvent(self, event: object) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(62, 63, 70))
        painter.drawRoundedRect(r, 5, 5)
        fill = QRectF(r.x(), r.y(), r.width() * self.value, r.height())
        painter.setBrush(self.colour)
        painter.drawRoundedRect(fill, 5, 5)
        x = r.x() + r.width() * self.threshold
        painter.setPen(QPen(QColor(255, 255, 255), 2))
        painter.drawLine(QPointF(x, r.top() - 1), QPointF(x, r.bottom() + 1))
        if not self.show_text:
            painter.end()
            return
        font = QFont(self.font())
        font.setBold(True)
        font.setPixelSize(max(11, int(r.height() * 0.55)))
        painter.setFont(font)
        painter.setPen(QColor(255, 255, 255))
        painter.drawText(r, Qt.AlignmentFlag.AlignCenter, self.text)
        painter.end()


class FacePanel(QFrame):
    """One face: its smoothed P(fake) as a large meter, a plot of the last minute, and how long
    it has been above the threshold."""

    def __init__(self, source: str, track: int, label: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source = source
        self.track = track
        self.last_seen = time.monotonic()
        self.gone_since: float | None = None  # out of view since (time.monotonic())
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = ElidedLabel(f"Face #{track} · {label or source}")
        self.title.setToolTip(source)
        self.title.setStyleSheet("font-weight: bold;")
        self.value = QLabel("–")
        self.value.setFixedWidth(78)
        self.value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        font = self.value.font()
        font.setBold(True)
        font.setPixelSize(26)
        self.value.setFont(font)
        self.meter = MeterBar(26, show_text=False)
        self.meter.setToolTip("Smoothed P(fake); the white tick is the threshold")
        self.above = QLabel("below the threshold")
        self.plot = pg.PlotWidget(background=(24, 24, 28))
        self.plot.setFixedHeight(110)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setMenuEnabled(False)
        self.plot.setYRange(0, 1, padding=0.02)
        self.plot.setXRange(-60, 0, padding=0)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.getPlotItem().getAxis("bottom").setLabel("seconds ago")
        for axis in ("left", "bottom"):
            self.plot.getPlotItem().getAxis(axis).setTextPen(pg.mkPen((170, 170, 175)))
        self.threshold_line = pg.InfiniteLine(
            pos=0.5, angle=0, pen=pg.mkPen((255, 255, 255, 140), width=1,
                                           style=Qt.PenStyle.DashLine))
        self.plot.addItem(self.threshold_line)
        self.curve = self.plot.plot([], [], pen=pg.mkPen((90, 180, 255), width=2))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        meter_row = QHBoxLayout()
        meter_row.addWidget(self.meter, 1)
        meter_row.addWidget(self.value)
        layout.addWidget(self.title)
        layout.addLayout(meter_row)
        layout.addWidget(self.above)
        layout.addWidget(self.plot)

    def set_face(self, face: FaceResult, threshold: float,
                 band: float = UNCERTAIN_BAND) -> None:
        self.last_seen = time.monotonic()
        self.meter.set_value(face.p_smooth, threshold, band)
        self.value.setText(percent(face.p_smooth))
        self.value.setStyleSheet(f"color: {self.meter.colour.name()};")
        self.threshold_line.setPos(threshold)
        word = state_word(face.p_smooth, threshold, band)
        if face.alert:
            text = f"<b style='color:#ff6b6b'>ALERT</b> · {word} · above the threshold for " \
                   f"{face.above_s:.1f} s · {peak_text(face.peak)}"
        elif face.above_s > 0:
            text = f"{word} · above the threshold for {face.above_s:.1f} s"
        else:
            text = f"{word} · below the threshold · {peak_text(face.peak)}"
        self.above.setText(text)
        self.setEnabled(True)

    def set_history(self, points: list[tuple[float, float]], now: float) -> None:
        if not points:
            return
        data = np.asarray(points, np.float64)
        self.curve.setData(data[:, 0] - now, data[:, 1])

    def set_gone(self) -> None:
        self.above.setText("not in view")
        self.setEnabled(False)
