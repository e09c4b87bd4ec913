"""Alerts on screen: the banner over the tiles and the event log panel."""

from __future__ import annotations

from datetime import datetime

import numpy as np
from PyQt6.QtCore import QSize, Qt
from PyQt6.QtGui import QIcon
from PyQt6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from ..analysis.pipeline import AlertEvent
from ..analysis.verdict import UNCERTAIN_BAND
from ..outputs.overlays import risk_colour
from .states import peak_text
from .widgets import bgr_colour, thumbnail_pixmap

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
