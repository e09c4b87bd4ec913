"""Dialogs: a stream URL with credentials that are never shown in clear, and the model card."""

from __future__ import annotations

import html
import json
from urllib.parse import quote, urlsplit

from PyQt6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ..display_text import clean
from ..errors import SourceError
from ..sources.spec import SourceKind, parse_source
from .engine import LoadedModel
from .settings import needs_credentials, storable_source, without_credentials
from .widgets import ERROR_STYLE, metric_text


def with_credentials(url: str, user: str, password: str) -> str:
    """`url` with user and password put back in (percent-encoded), if any."""
    if not user and not password:
        return url
    parts = urlsplit(url)
    userinfo = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    return parts._replace(netloc=f"{userinfo}@{parts.netloc}").geturl()


class UrlDialog(QDialog):
    """Asks for an RTSP/HTTP URL. A user and password typed or pasted into the URL move to their
    own fields at once (the password field shows dots), so the password is never on screen."""

    def __init__(self, initial: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Watch a stream")
        self.url = QLineEdit()
        self.url.setPlaceholderText("rtsp://camera.local:554/stream  or  https://…/live.m3u8")
        self.url.setMinimumWidth(420)
        self.user = QLineEdit()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.remember = QCheckBox("Remember the credentials (stored in plain text in the "
                                  "settings file)")
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.hide()
        form = QFormLayout()
        form.addRow("URL", self.url)
        form.addRow("User", self.user)
        form.addRow("Password", self.password)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.remember)
        layout.addWidget(self.note)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.url.textChanged.connect(self._split_credentials)
        if needs_credentials(initial):
            self.note.setText("The credentials of this URL were not remembered: enter them "
                              "again.")
        self.url.setText(initial)
        self.note.setVisible(bool(self.note.text()))

    def _split_credentials(self, text: str) -> None:
        if "@" not in text or "://" not in text:
            return
        url, user, password = without_credentials(text)
        if url == text.strip():
            return
        if user or password:
            self.user.setText(user)
            self.password.setText(password)
        self.url.setText(url)

    def source_text(self) -> str:
        """The URL to open, with the credentials."""
        return with_credentials(self.url.text().strip(), self.user.text(),
                                self.password.text())

    def storable(self) -> str:
        return storable_source(self.source_text(), self.remember.isChecked())

    def accept(self) -> None:
        try:
            spec = parse_source(self.source_text())
        except SourceError as exc:
            self._fail(str(exc))
            return
        if spec.kind is not SourceKind.STREAM:
            self._fail("enter a stream URL (rtsp://, http://, https://, …)")
            return
        super().accept()

    def _fail(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()


class ModelCardDialog(QDialog):
    """The model's card and contract, as the ONNX file carries them."""

    def __init__(self, model: LoadedModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        card = model.contract.card
        self.setWindowTitle(f"Model card: {clean(card.name)}")
        rows = [("Name", card.name), ("Version", card.version), ("File", model.path),
                ("Execution provider", model.provider),
                ("Default threshold", f"{model.contract.threshold:.2f}"),
                ("Description", card.description), ("Training data", card.training_data),
                ("Known limits", card.limits)]
        body = "".join(f"<tr><th align=left valign=top>{html.escape(k)}</th>"
                       f"<td>{html.escape(clean(v, lines=True))}</td></tr>" for k, v in rows if v)
        metrics = "".join(f"<tr><td>{html.escape(clean(k))}</td>"
                          f"<td>{html.escape(clean(metric_text(v)))}</td></tr>"
                          for k, v in card.metrics.items())
        contract = html.escape(json.dumps(model.contract.summary(), indent=2))
        text = QTextBrowser()
        text.setHtml(f"<table cellspacing=6>{body}</table>"
                     + (f"<h4>Metrics</h4><table cellspacing=4>{metrics}</table>"
                        if metrics else "")
                     + f"<h4>Contract</h4><pre>{contract}</pre>")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(buttons)
        self.resize(560, 520)
