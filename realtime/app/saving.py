"""What the window saves (`Saver`): snapshots and recordings of the selected tile, off the GUI
thread, in the output folder, and the events exported where the user says; each reports back
with a line for the status bar."""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path

from PyQt6.QtCore import QStandardPaths
from PyQt6.QtGui import QAction
from PyQt6.QtWidgets import QFileDialog, QWidget

from .recorder import Recorder
from .settings import AppSettings
from .tile import Tile
from .worker import StreamWorker


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[-60:] or "source"


class Saver:
    """Saves for the worker `selected()` returns. `post_message` may be called from any
    thread (a done snapshot or recording); `show_message` only on the GUI thread."""

    def __init__(self, parent: QWidget, settings: AppSettings, *,
                 selected: Callable[[], StreamWorker | None],
                 tile_of: Callable[[StreamWorker], Tile | None], record_action: QAction,
                 post_message: Callable[[str], None],
                 show_message: Callable[[str], None]) -> None:
        self._parent = parent
        self._settings = settings
        self._selected = selected
        self._tile_of = tile_of
        self._record_action = record_action
        self._post_message = post_message
        self._show_message = show_message

    def output_dir(self) -> Path:
        if self._settings.snapshot_dir:
            return Path(self._settings.snapshot_dir)
        pictures = QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.PicturesLocation)
        return Path(pictures or Path.home()) / "deepfake-monitor"

    def _output_path(self, worker: StreamWorker, suffix: str) -> Path:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]
        return self.output_dir() / f"{slug(worker.name)}-{stamp}{suffix}"

    def choose_output_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self._parent, "Save snapshots and recordings in",
                                                  str(self.output_dir()))
        if folder:
            self._settings.snapshot_dir = folder

    def snapshot(self) -> Future[Path] | None:
        """Save the selected tile (overlays included) as PNG, off the GUI thread."""
        worker = self._selected()
        if worker is None:
            self._show_message("select a source first")
            return None
        future = worker.save_snapshot(self._output_path(worker, ".png"))

        def done(f: Future[Path]) -> None:
            if f.cancelled():
                return
            error = f.exception()
            self._post_message(f"snapshot not saved: {error}" if error
                               else f"snapshot saved to {f.result()}")

        future.add_done_callback(done)
        return future

    def set_recording(self, on: bool) -> Path | None:
        """Start or stop recording the selected tile as MP4 with overlays."""
        worker = self._selected()
        if worker is None:
            self._record_action.setChecked(False)
            self._show_message("select a source first")
            return None
        path: Path | None = None
        if on:
            path = self._output_path(worker, ".mp4")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                self._record_action.setChecked(False)
                self._show_message(f"cannot record to {path.parent}: {exc}")
                return None

            def done(recorder: Recorder) -> None:  # on the recorder's thread
                self._post_message(
                    f"recording not saved: {recorder.error}" if recorder.error else
                    f"recording saved to {recorder.path} ({recorder.frames_written} frames"
                    + (f", {recorder.frames_dropped} dropped" if recorder.frames_dropped
                       else "") + ")")

            worker.start_recording(path, on_done=done)
            self._show_message(f"recording {worker.short_name} to {path}")
        else:
            recorder = worker.stop_recording()
            if recorder is not None:
                path = recorder.path
                self._show_message(f"finishing the recording {path}…")
        tile = self._tile_of(worker)
        if tile is not None:
            tile.refresh_status()
        return path

    def export_dialog(self, export: Callable[[Path], int]) -> None:
        """Ask where to write the events; `export(path)` writes them and says how many."""
        path, _ = QFileDialog.getSaveFileName(self._parent, "Export events", "events.jsonl",
                                              "JSON lines (*.jsonl);;All files (*)")
        if path:
            count = export(Path(path))
            self._show_message(f"{count} events written to {path}")
