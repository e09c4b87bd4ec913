"""The app's widgets: video tiles, meters, per-face panels, the event log, banners, empty state.

They only display what the window hands them and emit what the user asks for; none of them
reads from the engine or blocks.
"""

from __future__ import annotations

import html
import os
import time
from collections.abc import Sequence
from datetime import datetime

import cv2
import numpy as np
import pyqtgraph as pg
from PyQt6.QtCore import QPointF, QRectF, QSignalBlocker, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QFont, QIcon, QImage, QPainter, QPen, QPixmap
from PyQt6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QStyle,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..analysis.pipeline import AlertEvent, FaceResult, FrameResult
from ..analysis.verdict import UNCERTAIN_BAND
from ..display_text import clean
from ..outputs.overlays import risk_colour
from ..sources.credentials import mask_source
from ..sources.spec import SourceState, StatusEvent
from .devices import Webcam
from .engine import LoadedModel
from .states import peak_text, percent, state_word
from .worker import StreamWorker

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


# -- video ------------------------------------------------------------------------------------


class VideoView(QWidget):
    """Paints the newest frame, scaled to fit with its aspect ratio kept. Frames come already
    drawn (overlays included); painting happens when Qt repaints, at most at display rate."""

    clicked = pyqtSignal()
    resized = pyqtSignal(int, int)  # device pixels

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._buffer: np.ndarray | None = None  # keeps the QImage's memory alive
        self.frames_shown = 0
        self.placeholder = ""
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 120)

    def sizeHint(self) -> QSize:
        return QSize(640, 360)

    def set_frame(self, image: np.ndarray) -> None:
        self._image, self._buffer = to_qimage(image)
        self.frames_shown += 1
        self.update()

    def has_frame(self) -> bool:
        return self._image is not None

    def image_rect(self) -> QRectF:
        """Where the frame is drawn inside the widget."""
        if self._image is None or self._image.width() == 0:
            return QRectF(self.rect())
        scale = min(self.width() / self._image.width(), self.height() / self._image.height())
        w, h = self._image.width() * scale, self._image.height() * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, event: object) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(16, 16, 18))
        if self._image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(self.image_rect(), self._image)
        elif self.placeholder:
            painter.setPen(QColor(150, 150, 155))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
        painter.end()

    def mousePressEvent(self, event: object) -> None:
        self.clicked.emit()

    def resizeEvent(self, event: object) -> None:
        ratio = self.devicePixelRatioF()
        self.resized.emit(round(self.width() * ratio), round(self.height() * ratio))


_PILL_COLOURS = {
    "live": "#2e7d32", "no face": "#455a64", "connecting": "#1565c0", "paused": "#6a5acd",
    "reconnecting": "#ef6c00", "disconnected": "#ef6c00", "ended": "#555", "error": "#c62828",
    "no model": "#6d4c41",
}


class StatusPill(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = ""
        self.set_status("connecting")

    def set_status(self, status: str, tooltip: str = "") -> None:
        self.status = status
        colour = _PILL_COLOURS.get(status, "#555")
        self.setText(status)
        self.setToolTip(tooltip)
        self.setStyleSheet(f"QLabel {{ background: {colour}; color: white; border-radius: 8px; "
                           "padding: 1px 8px; font-weight: bold; }")


class Tile(QFrame):
    """One source: its video with overlays, a status pill, an inline error, and for video
    files play/pause and a seek bar. A tile without a worker only shows why it could not open."""

    close_requested = pyqtSignal(object)  # Tile
    activated = pyqtSignal(object)  # Tile

    def __init__(self, name: str, worker: StreamWorker | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.worker = worker
        self.faces: int | None = None
        self.analysis_problem = ""
        self.selected = False
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setObjectName("tile")

        self.title = ElidedLabel(name)
        self.title.setStyleSheet("font-weight: bold;")
        self.pill = StatusPill()
        self.rec = QLabel("● REC")
        self.rec.setStyleSheet("color: #ff5252; font-weight: bold;")
        self.rec.hide()
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Close this source")
        close.setAutoRaise(True)
        close.clicked.connect(lambda: self.close_requested.emit(self))
        header = QHBoxLayout()
        header.setContentsMargins(6, 4, 4, 0)
        header.addWidget(self.title, 1)
        header.addWidget(self.rec)
        header.addWidget(self.pill)
        header.addWidget(close)

        self.view = VideoView()
        self.view.placeholder = "connecting…"
        self.view.clicked.connect(lambda: self.activated.emit(self))
        self.error_label = QLabel()
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)  # errors quote file names
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 4)
        layout.setSpacing(3)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.error_label)

        self.play_button: QToolButton | None = None
        self.seek_slider: QSlider | None = None
        self.time_label: QLabel | None = None
        self.transport: QWidget | None = None  # play, seek and time: files only
        if worker is not None and worker.seekable:
            self._add_transport(layout)
        if worker is not None:
            self.view.resized.connect(worker.set_display_size)
            worker.frame_ready.connect(self._on_frame)
            worker.status_changed.connect(self._on_status)
            worker.problem.connect(self._on_problem)
        self.set_selected(False)
        self.refresh_status()

    def _add_transport(self, layout: QVBoxLayout) -> None:
        self.play_button = QToolButton()
        self.play_button.setAutoRaise(True)
        self.play_button.clicked.connect(self.toggle_play)
        self.seek_slider = QSlider(Qt.Orientation.Horizontal)
        self.seek_slider.setTracking(False)  # seek once, on release, not on every pixel
        self.seek_slider.setEnabled(False)
        self.seek_slider.valueChanged.connect(self._seek_to)
        self.seek_slider.sliderMoved.connect(self._preview_time)
        self.time_label = QLabel("0:00 / 0:00")
        self.time_label.setMinimumWidth(84)
        self.transport = QWidget()
        row = QHBoxLayout(self.transport)
        row.setContentsMargins(4, 0, 6, 0)
        row.addWidget(self.play_button)
        row.addWidget(self.seek_slider, 1)
        row.addWidget(self.time_label)
        layout.addWidget(self.transport)

    # -- state shown ------------------------------------------------------------------------

    def set_selected(self, selected: bool) -> None:
        self.selected = selected
        colour = "#4f8cff" if selected else "#333"
        self.setStyleSheet(f"QFrame#tile {{ border: 2px solid {colour}; border-radius: 6px; }}")

    def set_error(self, message: str) -> None:
        message = clean(message, lines=True)
        self.error_label.setText(message)
        self.error_label.setVisible(bool(message))
        if self.worker is None:
            self.view.placeholder = "cannot open this source"
            self.pill.set_status("error", message)

    @property
    def error_text(self) -> str:
        return "" if self.error_label.isHidden() else self.error_label.text()

    def set_result(self, result: FrameResult | None) -> None:
        self.faces = None if result is None else len(result.faces)
        self.refresh_status()

    def refresh_status(self) -> None:
        worker = self.worker
        if worker is None:
            return
        state = worker.state
        if state is SourceState.FAILED:
            status = "error"
        elif state in (SourceState.RECONNECTING, SourceState.DISCONNECTED):
            status = "reconnecting"
        elif state is SourceState.ENDED:
            status = "ended"
        elif state is SourceState.CONNECTING:
            status = "connecting"
        elif worker.paused:
            status = "paused"
        elif worker.model is None:
            status = "no model"
        elif self.faces == 0:
            status = "no face"
        else:
            status = "live"
        self.pill.set_status(status, worker.message)
        self.rec.setVisible(worker.recording is not None)
        if self.play_button is not None:
            playing = state is SourceState.LIVE and not worker.paused
            icon = QStyle.StandardPixmap.SP_MediaPause if playing \
                else QStyle.StandardPixmap.SP_MediaPlay
            self.play_button.setIcon(self.style().standardIcon(icon))
            self.play_button.setToolTip("Pause" if playing else "Play")
            self.play_button.setEnabled(state in (SourceState.LIVE, SourceState.ENDED))

    # -- from the worker --------------------------------------------------------------------

    def _on_frame(self, worker: StreamWorker) -> None:
        composed = worker.take_frame()
        if composed is None:
            return
        self.view.set_frame(composed.image)
        self._show_position(composed.t)

    def _on_status(self, worker: StreamWorker, event: StatusEvent) -> None:
        if event.state is SourceState.FAILED:
            self.set_error(f"{worker.name}: {event.message}")
            self.view.placeholder = "cannot open this source" if not self.view.has_frame() \
                else ""
            if self.transport is not None:  # nothing to play: no 0:00 / 0:00 play bar
                self.transport.setVisible(self.view.has_frame())
        elif event.state is SourceState.LIVE and not self.analysis_problem:
            self.set_error("")
        if event.state is SourceState.LIVE:
            self.view.placeholder = "waiting for the first frame…"
            if self.transport is not None:
                self.transport.setVisible(True)
            duration = worker.duration_s
            if self.seek_slider is not None and duration:
                with QSignalBlocker(self.seek_slider):
                    self.seek_slider.setRange(0, int(duration * 10))
                self.seek_slider.setEnabled(True)
                self._show_position(worker.position_s)
        elif event.state is SourceState.RECONNECTING:
            self.view.placeholder = "reconnecting…"
        elif event.state in (SourceState.CONNECTING, SourceState.DISCONNECTED) \
                and not self.view.has_frame():
            # a camera that is down at the start: say why, and that it is being retried
            reason = event.message.rpartition("(last attempt: ")[2].rstrip(")") \
                if "last attempt" in event.message else event.message
            self.view.placeholder = "connecting…" if event.message.startswith("opening") \
                else f"waiting for the source: {reason}"
        self.refresh_status()

    def _on_problem(self, worker: StreamWorker, message: str) -> None:
        self.analysis_problem = message
        self.set_error(message)

    # -- transport --------------------------------------------------------------------------

    def toggle_play(self) -> None:
        worker = self.worker
        if worker is None:
            return
        if worker.paused or worker.state is SourceState.ENDED:
            worker.resume()
        else:
            worker.pause()
        self.refresh_status()

    def _seek_to(self, value: int) -> None:
        if self.worker is not None:
            self.worker.seek(value / 10)

    def _preview_time(self, value: int) -> None:
        self._show_time(value / 10)

    def _show_position(self, t: float) -> None:
        if self.seek_slider is None or self.seek_slider.isSliderDown():
            return
        with QSignalBlocker(self.seek_slider):
            self.seek_slider.setValue(int(t * 10))
        self._show_time(t)

    def _show_time(self, t: float) -> None:
        if self.time_label is None or self.worker is None:
            return
        duration = self.worker.duration_s or 0.0
        self.time_label.setText(f"{format_clock(t)} / {format_clock(duration)}")


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


# -- alerts -----------------------------------------------------------------------------------


class AlertBanner(QFrame):
    """A red bar across the window while any face is alerting."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet("QFrame { background: #b71c1c; border-radius: 4px; } "
                           "QLabel { color: white; font-weight: bold; }")
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        font = self.label.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.label.setFont(font)
        dismiss = QToolButton()
        dismiss.setText("✕")
        dismiss.setAutoRaise(True)
        dismiss.setToolTip("Hide until the next alert")
        dismiss.clicked.connect(self.dismiss)
        self.dismissed = False
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(dismiss)
        self.hide()

    def show_alert(self, text: str) -> None:
        """Update the text; shown unless dismissed since the last alert started."""
        self.label.setText(text)
        self.setVisible(not self.dismissed)

    def dismiss(self) -> None:
        self.dismissed = True
        self.hide()


class EventLogPanel(QTreeWidget):
    """Alerts as they happen: time, source, face, peak P(fake) and a thumbnail of the face."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(["Time", "Source", "Face", "Peak"])
        self.setRootIsDecorated(False)
        self.setIconSize(QSize(48, 48))
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        header = self.header()
        header.setStretchLastSection(False)
        for column, mode in enumerate((QHeaderView.ResizeMode.ResizeToContents,
                                       QHeaderView.ResizeMode.Stretch,
                                       QHeaderView.ResizeMode.ResizeToContents,
                                       QHeaderView.ResizeMode.ResizeToContents)):
            header.setSectionResizeMode(column, mode)
        self._open: dict[tuple[str, int], QTreeWidgetItem] = {}

    def add_alert(self, source: str, event: AlertEvent, thumbnail: np.ndarray | None,
                  label: str = "", band: float = UNCERTAIN_BAND) -> None:
        when = datetime.fromtimestamp(event.at).strftime("%H:%M:%S")
        item = QTreeWidgetItem([when, label or source, f"#{event.track}",
                                peak_text(event.peak)])
        item.setToolTip(1, source)
        if thumbnail is not None:
            item.setIcon(0, QIcon(thumbnail_pixmap(thumbnail)))
        item.setForeground(3, bgr_colour(risk_colour(event.peak, event.threshold, band)))
        self.insertTopLevelItem(0, item)
        self._open[(source, event.track)] = item

    def update_peak(self, source: str, track: int, peak: float) -> None:
        """An open alert's number follows its face's peak while it lasts (states.py)."""
        item = self._open.get((source, track))
        if item is not None:
            item.setText(3, peak_text(peak))

    def close_alert(self, source: str, event: AlertEvent) -> None:
        item = self._open.pop((source, event.track), None)
        if item is not None:
            item.setText(3, peak_text(event.peak))
            how = "cleared" if event.reason in (None, "below_threshold") else \
                f"ended ({(event.reason or '').replace('_', ' ')}, not cleared)"
            item.setToolTip(0, f"{how} at {datetime.fromtimestamp(event.at):%H:%M:%S}")


# -- model ------------------------------------------------------------------------------------


class ModelPanel(QGroupBox):
    """Model picker (the bundled model, recent ones, any ONNX file with our metadata), a short
    model card, the execution provider, and an inline error when a model cannot be used."""

    model_chosen = pyqtSignal(str)  # a path, or "" for the bundled model
    browse_requested = pyqtSignal()
    card_requested = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Model", parent)
        self.combo = QComboBox()
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(16)
        self.combo.activated.connect(self._activated)
        card = QPushButton("Card…")
        card.setToolTip("Show the model card")
        card.clicked.connect(self.card_requested.emit)
        self.info = QLabel("loading…")
        self.info.setWordWrap(True)
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.error = QLabel()
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.hide()
        row = QHBoxLayout()
        row.addWidget(self.combo, 1)
        row.addWidget(card)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.info)
        layout.addWidget(self.error)
        self._current = ""

    def set_models(self, recent: list[str], current: str) -> None:
        self._current = current
        with QSignalBlocker(self.combo):
            self.combo.clear()
            self.combo.addItem("Bundled model", "")
            for path in [current, *recent]:
                if path and self.combo.findData(path) < 0:
                    self.combo.addItem(os.path.basename(path), path)
                    self.combo.setItemData(self.combo.count() - 1, path,
                                           Qt.ItemDataRole.ToolTipRole)
            self.combo.addItem("Browse…", BROWSE)
            self.combo.setCurrentIndex(max(0, self.combo.findData(current)))

    def _activated(self, index: int) -> None:
        data = self.combo.itemData(index)
        if data == BROWSE:
            self.combo.setCurrentIndex(max(0, self.combo.findData(self._current)))
            self.browse_requested.emit()
        elif data != self._current or not self.error.isHidden():
            self.model_chosen.emit(str(data or ""))

    def show_loading(self, path: str) -> None:
        name = html.escape(clean(os.path.basename(path)))
        self.info.setText(f"loading {name or 'the bundled model'}…")

    def show_model(self, model: LoadedModel) -> None:
        card = model.contract.card
        metrics = ", ".join(f"{k} {metric_text(v)}" for k, v in list(card.metrics.items())[:3])

        def text(value: object) -> str:  # a card is the model maker's text, never HTML
            return html.escape(clean(value))

        self.info.setText(
            f"<b>{text(card.name)}</b> v{text(card.version)} · threshold "
            f"{model.contract.threshold:.2f}<br>provider <b>{text(model.provider)}</b>"
            + (f"<br>{text(metrics)}" if metrics else ""))
        self.info.setToolTip(model.path)

    def clear_error(self) -> None:
        self.error.hide()

    def show_error(self, message: str, have_model: bool) -> None:
        message = clean(message, lines=True)
        self.error.setText(message if have_model else
                           f"{message}\nVideo plays without analysis until a model loads.")
        self.error.show()
        if not have_model:
            self.info.setText("no model loaded")
        with QSignalBlocker(self.combo):
            self.combo.setCurrentIndex(max(0, self.combo.findData(self._current)))

    @property
    def error_text(self) -> str:
        return "" if self.error.isHidden() else self.error.text()


# -- empty state ------------------------------------------------------------------------------


class EmptyState(QWidget):
    """What the window shows with no source: the ways to add one, never an error dialog."""

    open_file = pyqtSignal()
    pick_region = pyqtSignal()
    open_url = pyqtSignal()
    open_source = pyqtSignal(str)  # a webcam index, monitor, or recent source
    reopen_last = pyqtSignal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.buttons: dict[str, QPushButton] = {}

    def populate(self, webcams: list[Webcam], recent: list[str], last: list[str]) -> None:
        while (item := self._layout.takeAt(0)) is not None:
            widget = item.widget()
            if widget is not None:
                widget.deleteLater()
        self.buttons.clear()
        title = QLabel("Nothing to monitor yet")
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.8)
        font.setBold(True)
        title.setFont(font)
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint = QLabel("Choose what to watch. Every face in it gets a live fake-probability "
                      "meter.")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setWordWrap(True)
        self._layout.addWidget(title)
        self._layout.addWidget(hint)
        self._layout.addSpacing(12)

        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(12)
        entries = [
            ("region", "Screen / window region…",
             "Drag a rectangle over the other person's video in a call", self.pick_region),
            ("file", "Video file…", "Play a file at its own speed, with pause and seek",
             self.open_file),
            ("url", "Stream URL…", "An RTSP or HTTP camera or stream", self.open_url),
        ]
        for i, (key, text, tip, signal) in enumerate(entries):
            button = self._big_button(text, tip)
            button.clicked.connect(signal.emit)
            grid.addWidget(button, i // 2, i % 2)
            self.buttons[key] = button
        if webcams:
            for j, cam in enumerate(webcams):
                button = self._big_button(f"Webcam: {cam.name}", f"Camera {cam.index}")
                button.clicked.connect(lambda _=False, s=cam.source: self.open_source.emit(s))
                grid.addWidget(button, (len(entries) + j) // 2, (len(entries) + j) % 2)
                self.buttons[f"webcam {cam.index}"] = button
        else:
            none = QLabel("No webcam found")
            none.setAlignment(Qt.AlignmentFlag.AlignCenter)
            none.setStyleSheet("color: #888;")
            grid.addWidget(none, len(entries) // 2, len(entries) % 2)
        holder = QWidget()
        holder.setLayout(grid)
        holder.setMaximumWidth(640)
        self._layout.addWidget(holder, 0, Qt.AlignmentFlag.AlignHCenter)

        if last:
            again = QPushButton(f"Reopen the last session ({len(last)} source"
                                f"{'s' if len(last) > 1 else ''})")
            again.clicked.connect(self.reopen_last.emit)
            self._layout.addSpacing(8)
            self._layout.addWidget(again, 0, Qt.AlignmentFlag.AlignHCenter)
            self.buttons["last"] = again
        if recent:
            label = QLabel("Recent")
            label.setStyleSheet("color: #999; margin-top: 10px;")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self._layout.addWidget(label)
            for text in recent[:5]:
                button = QPushButton(clean(mask_source(text)))
                button.setFlat(True)
                button.clicked.connect(lambda _=False, s=text: self.open_source.emit(s))
                self._layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)

    @staticmethod
    def _big_button(text: str, tooltip: str) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tooltip)
        button.setMinimumSize(260, 56)
        return button


def metric_text(value: object) -> str:
    """A model card metric for people: 3 decimals, nested breakdowns flattened."""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {metric_text(v)}" for k, v in value.items())
    return str(value)
