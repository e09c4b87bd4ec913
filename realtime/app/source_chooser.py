"""Asking the user for a source (`SourceChooser`): the "Add source" menu, the file and URL
dialogs, recent sources, and a screen region dragged out over the desktop."""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QApplication, QFileDialog, QMainWindow, QMenu

from ..display_text import clean
from ..sources.credentials import mask_source
from .devices import Webcam, list_monitors
from .dialogs import UrlDialog
from .region import RegionPicker
from .settings import AppSettings, needs_credentials

VIDEO_FILTER = ("Videos (*.mp4 *.mov *.mkv *.avi *.webm *.m4v *.mpg *.mpeg *.ts *.wmv *.flv);;"
                "All files (*)")


class SourceChooser:
    """Hands what the user chose to `add_source(text, storable)`. `list_webcams` is asked
    again each time the menu opens (a camera plugged in since shows up)."""

    def __init__(self, window: QMainWindow, menu: QMenu, settings: AppSettings,
                 add_source: Callable[..., object],
                 list_webcams: Callable[[], list[Webcam]]) -> None:
        self._window = window
        self.menu = menu
        self._settings = settings
        self._add_source = add_source
        self._list_webcams = list_webcams
        self.webcams = list_webcams()
        self.picker: RegionPicker | None = None
        menu.aboutToShow.connect(self.fill_menu)

    def fill_menu(self) -> None:
        menu = self.menu
        menu.clear()
        menu.addAction("Video file…", self.open_file_dialog)
        menu.addAction("Screen / window region…", self.pick_region)
        monitors = menu.addMenu("Whole monitor")
        found = list_monitors()
        for monitor in found:
            monitors.addAction(monitor.label,
                               lambda s=monitor.source: self._add_source(s))
        if not found:
            monitors.addAction("No monitor found").setEnabled(False)
        menu.addAction("Stream URL (RTSP / HTTP)…", lambda: self.open_url_dialog())
        cams = menu.addMenu("Webcam")
        self.webcams = self._list_webcams()
        for cam in self.webcams:
            cams.addAction(f"{cam.name} ({cam.index})", lambda s=cam.source: self._add_source(s))
        if not self.webcams:
            cams.addAction("No webcam found").setEnabled(False)
        recent = menu.addMenu("Recent")
        for text in self._settings.recent_sources:
            recent.addAction(clean(mask_source(text)), lambda s=text: self.open_recent(s))
        if not self._settings.recent_sources:
            recent.addAction("Nothing yet").setEnabled(False)

    def open_file_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self._window, "Open video files", "",
                                                VIDEO_FILTER)
        for path in paths:
            self._add_source(path)

    def open_url_dialog(self, initial: str = "") -> None:
        dialog = UrlDialog(initial, self._window)
        if dialog.exec():
            self._add_source(dialog.source_text(), storable=dialog.storable())

    def open_recent(self, text: str) -> None:
        if needs_credentials(text):
            self.open_url_dialog(text)
        else:
            self._add_source(text, storable=text)

    def reopen_last_session(self) -> None:
        for text in list(self._settings.last_sources):
            self.open_recent(text)

    def pick_region(self) -> None:
        """Hide the window, then let the user drag over what to monitor."""
        QApplication.setQuitOnLastWindowClosed(False)
        self._window.hide()
        QTimer.singleShot(300, self._show_picker)  # let the window vanish from the still

    def _show_picker(self) -> None:
        picker = RegionPicker()
        picker.picked.connect(self._region_picked)
        picker.cancelled.connect(self._region_done)
        self.picker = picker
        picker.show()
        picker.activateWindow()
        picker.raise_()

    def _region_picked(self, source: str) -> None:
        self._region_done()
        self._add_source(source)

    def _region_done(self) -> None:
        self.picker = None
        self._window.show()
        QApplication.setQuitOnLastWindowClosed(True)
