"""A source's tile: the video view, its status pill, and the `Tile` around them (title, controls,
recording, the play/pause and seek bar of a file)."""

from __future__ import annotations

import numpy as np
from PyQt6.QtCore import QRectF, QSignalBlocker, QSize, Qt, pyqtSignal
from PyQt6.QtGui import QColor, QImage, QPainter
from PyQt6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSlider,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..analysis.pipeline import FrameResult
from ..display_text import clean
from ..sources.spec import SourceState, StatusEvent
from .widgets import ERROR_STYLE, ElidedLabel, format_clock, to_qimage
from .worker import StreamWorker

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
