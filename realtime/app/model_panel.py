"""The model panel: which classifier is loaded, its card, and the picker to change it."""

from __future__ import annotations

import html
import os

from PyQt6.QtCore import QSignalBlocker, Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..display_text import clean
from .engine import LoadedModel
from .widgets import BROWSE, ERROR_STYLE, metric_text

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
