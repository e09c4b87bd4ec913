"""What the window shows before any source is open: how to add one."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QGridLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..display_text import clean
from ..sources.credentials import mask_source
from .devices import Webcam

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
