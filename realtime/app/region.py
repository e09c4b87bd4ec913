"""The screen-region picker: a full-screen overlay over a still of the desktop where the user
drags a rectangle (e.g. over the other person's video in a call).

A still is shown instead of a transparent window because transparency needs a compositor, which
many X11 desktops (and Xvfb) lack. The picked rectangle is returned in physical pixels, the
coordinates `screen:x,y,w,h` (mss) captures in.
"""

from __future__ import annotations

from PyQt6.QtCore import QPoint, QRect, Qt, pyqtSignal
from PyQt6.QtGui import (
    QCloseEvent,
    QColor,
    QGuiApplication,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
)
from PyQt6.QtWidgets import QWidget

MIN_SIDE = 16  # logical pixels: smaller drags are taken for a click


def rect_between(a: QPoint, b: QPoint) -> QRect:
    """The rectangle a drag from `a` to `b` spans (QRect(a, b) would add a pixel)."""
    return QRect(min(a.x(), b.x()), min(a.y(), b.y()), abs(b.x() - a.x()), abs(b.y() - a.y()))


def region_source(rect: QRect, ratio: float = 1.0) -> str:
    """`screen:x,y,w,h` for a rectangle in logical desktop coordinates, at `ratio` physical
    pixels per logical pixel."""
    x, y = round(rect.x() * ratio), round(rect.y() * ratio)
    w, h = max(1, round(rect.width() * ratio)), max(1, round(rect.height() * ratio))
    return f"screen:{x},{y},{w},{h}"


class RegionPicker(QWidget):
    """Covers the whole desktop; drag to select, release (or Enter) to accept, Esc to cancel."""

    picked = pyqtSignal(str)  # "screen:x,y,w,h"
    cancelled = pyqtSignal()

    def __init__(self) -> None:
        super().__init__(None, Qt.WindowType.FramelessWindowHint
                         | Qt.WindowType.WindowStaysOnTopHint | Qt.WindowType.Tool)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setMouseTracking(True)
        screen = QGuiApplication.primaryScreen()
        self.desktop = screen.virtualGeometry() if screen is not None else QRect(0, 0, 800, 600)
        self.ratio = screen.devicePixelRatio() if screen is not None else 1.0
        self.still = self._grab_desktop()
        self.setGeometry(self.desktop)
        self._origin: QPoint | None = None
        self.selection = QRect()
        self._done = False

    def _grab_desktop(self) -> QPixmap:
        still = QPixmap(self.desktop.size())
        still.fill(QColor(30, 30, 30))
        painter = QPainter(still)
        for screen in QGuiApplication.screens():
            shot = screen.grabWindow(0)
            if not shot.isNull():
                target = screen.geometry().translated(-self.desktop.topLeft())
                painter.drawPixmap(target, shot)
        painter.end()
        return still

    def paintEvent(self, event: object) -> None:
        painter = QPainter(self)
        painter.drawPixmap(self.rect(), self.still)
        painter.fillRect(self.rect(), QColor(0, 0, 0, 150))
        sel = self.selection
        if not sel.isNull():
            painter.drawPixmap(sel, self.still, sel)
            painter.setPen(QPen(QColor(79, 140, 255), 2))
            painter.drawRect(sel)
            painter.setPen(QColor(255, 255, 255))
            size = f"{round(sel.width() * self.ratio)} × {round(sel.height() * self.ratio)}"
            painter.drawText(sel.bottomLeft() + QPoint(4, 18), size)
        painter.setPen(QColor(255, 255, 255))
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        painter.setFont(font)
        painter.drawText(self.rect().adjusted(0, 30, 0, 0),
                         Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                         "Drag a rectangle over the video to monitor · Esc to cancel")
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._origin = event.position().toPoint()
            self.selection = QRect()
            self.update()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._origin is not None:
            self.selection = rect_between(self._origin, event.position().toPoint())
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._origin is None:
            return
        self.selection = rect_between(self._origin, event.position().toPoint())
        self._origin = None
        if self.selection.width() >= MIN_SIDE and self.selection.height() >= MIN_SIDE:
            self.accept()
        else:
            self.selection = QRect()
            self.update()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Escape:
            self.cancel()
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not self.selection.isNull():
            self.accept()

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closed by other means (the window manager): the caller must still hear of it."""
        if not self._done:
            self._done = True
            self.cancelled.emit()
        super().closeEvent(event)

    def accept(self) -> None:
        if self._done:
            return
        self._done = True
        rect = self.selection.translated(self.desktop.topLeft())
        self.close()
        self.picked.emit(region_source(rect, self.ratio))

    def cancel(self) -> None:
        if self._done:
            return
        self._done = True
        self.close()
        self.cancelled.emit()
