"""The main window: a grid of source tiles, the threshold and sensitivity controls, the model
picker, per-face panels, the alert banner and the event log.

Everything here runs on the GUI thread and only ever hands work to the workers (which return at
once) or takes their newest frame and result; the engine runs elsewhere. The window's parts:
window_layout.py builds its widgets, source_chooser.py asks the user for sources, face_list.py
keeps the face panels, alert_state.py the open alerts and the records for the export, saving.py
the snapshots and recordings.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from pathlib import Path

from PyQt6.QtCore import QSettings, QTimer, pyqtSignal
from PyQt6.QtGui import QCloseEvent
from PyQt6.QtWidgets import QMainWindow

from ..analysis.verdict import UNCERTAIN_BAND
from ..display_text import clean
from ..errors import SourceError
from ..sources.credentials import mask_credentials, mask_source
from ..sources.spec import SourceKind, SourceState, StatusEvent, parse_source
from .alert_state import AlertState
from .detection import DetectionControl
from .devices import list_webcams
from .engine import Engine, engine_threads
from .frames import AlertInfo
from .region import RegionPicker
from .saving import Saver
from .settings import (
    AppSettings,
    add_recent,
    default_qsettings,
    needs_credentials,
    storable_source,
)
from .source_chooser import SourceChooser
from .tile import Tile
from .tile_grid import TileGrid
from .window_layout import build_window, restore_layout
from .worker import StreamWorker, stop_in_background

__all__ = ["MainWindow", "list_webcams", "needs_credentials"]  # tests patch and use these here

PLOT_REFRESH_MS = 250


class MainWindow(QMainWindow):
    """The window and its parts (see the module docstring); what tests and `main` use of those
    parts is reachable from here."""

    message_posted = pyqtSignal(str)  # from any thread: a line for the status bar

    def __init__(self, sources: Sequence[str] = (), *, model: str | None = None,
                 threshold: float | None = None, providers: list[str] | None = None,
                 detector: str = "full", min_face_score: float = 0.5,
                 settings: QSettings | None = None, open_default_webcam: bool = True,
                 uncertain_band: float = UNCERTAIN_BAND) -> None:
        super().__init__()
        self.uncertain_band = uncertain_band  # verdict.py: real / uncertain / fake
        self.setWindowTitle("deepfake-monitor")
        self.qsettings = settings if settings is not None else default_qsettings()
        self.settings = AppSettings.load(self.qsettings)
        self.engine = Engine(providers=providers, detector=detector,
                             min_face_score=min_face_score, parent=self)
        self.workers: list[StreamWorker] = []
        self.last_message = ""
        self._stoppers: list[tuple[threading.Thread, StreamWorker]] = []
        self._closing = False
        start_threshold = threshold if threshold is not None else self.settings.threshold

        build_window(self)
        self.face_panels = self.face_list.panels
        self.tile_grid = TileGrid(self.stack, self.grid_host, self.grid, self.empty, self.settings,
                                  webcams=lambda: self.chooser.webcams,
                                  on_close=self.remove_tile, on_selected=self._on_selected)
        self.tiles = self.tile_grid.tiles
        self.alerts = AlertState(self.banner, self.event_log, uncertain_band,
                                 self.sound_action.isChecked)
        self.events, self.active_alerts = self.alerts.events, self.alerts.active
        self.chooser = SourceChooser(self, self.add_menu, self.settings, self.add_source,
                                     lambda: list_webcams())  # looked up here at each call
        self.saver = Saver(self, self.settings, selected=lambda: self.selected_worker,
                           tile_of=self.tile_of, record_action=self.record_action,
                           post_message=lambda text: self.message_posted.emit(text),
                           show_message=self._show_message)
        self.detection = DetectionControl(
            self, engine=self.engine, settings=self.settings, model_panel=self.model_panel,
            model_label=self.model_label, slider=self.threshold_slider,
            value_label=self.threshold_value, legend=self.legend, face_list=self.face_list,
            uncertain_band=uncertain_band, workers=self.workers, tiles=self.tiles,
            closing=lambda: self._closing, show_message=self._show_message,
            explicit=threshold is not None or self.settings.threshold is not None)
        for signal, slot in ((self.empty.open_file, self.chooser.open_file_dialog),
                             (self.empty.pick_region, self.pick_region),
                             (self.empty.open_url, lambda: self.chooser.open_url_dialog()),
                             (self.empty.open_source, self.chooser.open_recent),
                             (self.empty.reopen_last, self.chooser.reopen_last_session),
                             (self.folder_action.triggered, self.saver.choose_output_dir),
                             (self.default_button.clicked, self.detection.use_model_threshold),
                             (self.alert_spin.valueChanged, self.detection.set_alert_after)):
            signal.connect(slot)
        self.detection.set_threshold_silently(0.5 if start_threshold is None
                                              else start_threshold)
        self.alert_spin.setValue(self.settings.alert_after_s)
        self.sound_action.setChecked(self.settings.sound)
        restore_layout(self, self.settings)
        self.message_posted.connect(self._show_message)

        requested = model if model is not None else self.settings.model_path
        if model is None and requested and not Path(requested).is_file():
            requested = ""  # a remembered model that is gone: fall back to the bundled one
        self.model_panel.set_models(self.settings.recent_models, requested)
        self.load_model(requested)

        for text in sources:
            self.add_source(text)
        if not sources and open_default_webcam and self.chooser.webcams:
            self.add_source(self.chooser.webcams[0].source)
        self.tile_grid.refresh_empty_state()

        self.plot_timer = QTimer(self)
        self.plot_timer.setInterval(PLOT_REFRESH_MS)
        self.plot_timer.timeout.connect(lambda: self.face_list.refresh(self.workers))
        self.plot_timer.start()

    # -- what the window's parts do, asked for here -------------------------------------------

    @property
    def threshold(self) -> float:
        return self.detection.threshold

    def set_threshold(self, value: float) -> None:
        """As if the user had moved the slider."""
        self.detection.set_threshold(value)

    def load_model(self, path: str | None) -> None:
        """Load a classifier in the background (None or "" = the bundled one)."""
        self.detection.load_model(path)

    def pick_region(self) -> None:
        self.chooser.pick_region()

    @property
    def _picker(self) -> RegionPicker | None:
        return self.chooser.picker

    def snapshot(self) -> Future[Path] | None:
        return self.saver.snapshot()

    def set_recording(self, on: bool) -> Path | None:
        return self.saver.set_recording(on)

    def export_events(self, path: Path) -> int:
        return self.alerts.export(path)

    def export_dialog(self) -> None:
        self.saver.export_dialog(self.export_events)

    def toggle_selected(self) -> None:
        if self.selected is not None:
            self.selected.toggle_play()

    def _show_message(self, text: str) -> None:
        self.last_message = text
        self.statusBar().showMessage(clean(mask_credentials(text)), 10000)

    # -- sources --------------------------------------------------------------------------------

    def add_source(self, text: str, storable: str | None = None) -> Tile:
        """Open a source in a new tile; one that cannot be opened says why on its tile."""
        text = text.strip()
        try:
            spec = parse_source(text, live_files=True)
        except SourceError as exc:
            tile = Tile(mask_source(text) or "(empty)", None)
            tile.set_error(mask_credentials(str(exc)))
            self.tile_grid.add(tile)
            return tile
        if storable is None:
            storable = str(Path(text).expanduser().resolve()) if spec.kind is SourceKind.FILE \
                else storable_source(text)
        worker = StreamWorker(spec, threshold=self.threshold,
                              alert_after_s=self.alert_spin.value(), model=self.engine.current,
                              storable=storable, uncertain_band=self.uncertain_band)
        worker.result_ready.connect(self._on_result)
        worker.alert_changed.connect(self._on_alert)
        worker.status_changed.connect(self._on_status)
        self.workers.append(worker)
        tile = Tile(worker.name, worker)
        self.tile_grid.add(tile)
        worker.start()
        self.settings.recent_sources = add_recent(self.settings.recent_sources, storable)
        return tile

    def remove_tile(self, tile: Tile) -> None:
        """Close a source; its worker stops in the background (the GUI never waits)."""
        if not self.tile_grid.take(tile):
            return
        worker = tile.worker
        if worker is not None and worker in self.workers:
            self.workers.remove(worker)
            for signal, slot in ((worker.result_ready, self._on_result),
                                 (worker.alert_changed, self._on_alert),
                                 (worker.status_changed, self._on_status)):
                with contextlib.suppress(TypeError, RuntimeError):
                    signal.disconnect(slot)
            self._stoppers.append((stop_in_background(worker, 2.0), worker))
            self.face_list.forget_worker(worker)
            self.alerts.forget_source(worker.name)
        self.tile_grid.settle(tile)

    def _on_selected(self, tile: Tile) -> None:
        worker = tile.worker
        self.record_action.setChecked(worker is not None and worker.recording is not None)
        self.perf_label.setText("")

    @property
    def selected(self) -> Tile | None:
        return self.tile_grid.selected

    @property
    def selected_worker(self) -> StreamWorker | None:
        return self.tile_grid.selected_worker

    def tile_of(self, worker: StreamWorker) -> Tile | None:
        return self.tile_grid.tile_of(worker)

    # -- from the workers -----------------------------------------------------------------------

    def _on_result(self, worker: StreamWorker) -> None:
        if self._closing or worker not in self.workers:
            return
        result = worker.take_result()
        tile = self.tile_of(worker)
        if tile is not None:
            tile.set_result(result)
        if result is None:
            return
        self.face_list.show_result(worker, result)
        self.alerts.follow_peaks(worker.name, result.faces)
        if tile is not None and tile is self.selected:
            self.perf_label.setText(f"{worker.short_name}: {result.analysed_fps:.1f} fps "
                                    f"analysed · latency {result.latency_s * 1000:.0f} ms · "
                                    f"{result.provider}")

    def _on_alert(self, worker: StreamWorker, info: AlertInfo) -> None:
        if not self._closing:
            self.alerts.on_alert(info, worker.short_name)

    def _on_status(self, worker: StreamWorker, event: StatusEvent) -> None:
        if self._closing:
            return
        self.alerts.on_status(event)
        if event.state is SourceState.FAILED:
            self._show_message(f"{event.source}: {event.message}")

    # -- closing --------------------------------------------------------------------------------

    def save_settings(self) -> None:
        s = self.settings
        s.threshold = self.threshold if self.detection.explicit else None
        s.alert_after_s = self.alert_spin.value()
        s.sound = self.sound_action.isChecked()
        s.last_sources = [w.storable for w in self.workers]
        s.geometry = self.saveGeometry()
        s.window_state = self.saveState()
        s.splitter_state = self.splitter.saveState()
        s.save(self.qsettings)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._closing:
            self.save_settings()
            self.shutdown()
        event.accept()

    def shutdown(self, timeout: float = 2.0) -> bool:
        """Stop every source, analyzer and model within `timeout`; True when no engine thread
        is left. Idempotent."""
        if self._closing:
            return not engine_threads()
        self._closing = True
        self.plot_timer.stop()
        deadline = time.monotonic() + timeout
        stoppers = [stop_in_background(w, timeout * 0.9) for w in self.workers]
        for thread in stoppers + [t for t, _ in self._stoppers]:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.engine.stop(max(0.1, deadline - time.monotonic()))
        return not engine_threads()
