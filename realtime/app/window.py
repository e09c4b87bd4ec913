"""The main window: a grid of source tiles, the threshold and sensitivity controls, the model
picker, per-face panels, the alert banner and the event log.

Everything here runs on the GUI thread and only ever hands work to the workers (which return at
once) or takes their newest frame and result; the engine runs elsewhere.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from PyQt6.QtCore import QSettings, QStandardPaths, Qt, QTimer, pyqtSignal
from PyQt6.QtGui import QAction, QCloseEvent, QKeySequence
from PyQt6.QtWidgets import (
    QApplication,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QScrollArea,
    QSlider,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..analysis.pipeline import AlertEvent, FaceResult
from ..analysis.verdict import UNCERTAIN_BAND, threshold_text
from ..display_text import clean
from ..errors import SourceError
from ..outputs.events import alert_record, status_record, write_event_file
from ..sources.credentials import mask_credentials, mask_source
from ..sources.spec import SourceKind, SourceState, StatusEvent, parse_source
from .alert_views import AlertBanner, EventLogPanel
from .devices import list_monitors, list_webcams
from .dialogs import ModelCardDialog, UrlDialog
from .empty_state import EmptyState
from .engine import Engine, LoadedModel, engine_threads
from .face_panels import FacePanel
from .frames import AlertInfo
from .model_panel import ModelPanel
from .recorder import Recorder
from .region import RegionPicker
from .settings import (
    AppSettings,
    add_recent,
    default_qsettings,
    needs_credentials,
    storable_source,
)
from .states import legend_html, peak_text
from .tile import Tile
from .worker import StreamWorker

MAX_FACE_PANELS = 8
MAX_EVENTS = 20_000  # a stream that keeps reconnecting for days must not grow memory
FACE_PANEL_KEEP_S = 10.0  # a face out of view keeps its panel (greyed) this long
PLOT_REFRESH_MS = 250
VIDEO_FILTER = ("Videos (*.mp4 *.mov *.mkv *.avi *.webm *.m4v *.mpg *.mpeg *.ts *.wmv *.flv);;"
                "All files (*)")


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[-60:] or "source"


class MainWindow(QMainWindow):
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
        # alert and status records for the export, the newest MAX_EVENTS of them
        self.events: deque[dict[str, Any]] = deque(maxlen=MAX_EVENTS)
        self.engine = Engine(providers=providers, detector=detector,
                             min_face_score=min_face_score, parent=self)
        self.workers: list[StreamWorker] = []
        self.tiles: list[Tile] = []
        self.selected: Tile | None = None
        self.face_panels: dict[tuple[int, int], FacePanel] = {}
        self.active_alerts: dict[tuple[str, int], AlertEvent] = {}
        self._alert_labels: dict[tuple[str, int], str] = {}
        self.last_message = ""
        self._latest_tracks: dict[int, set[int]] = {}
        self._stoppers: list[tuple[threading.Thread, StreamWorker]] = []
        self._closing = False
        self._picker: RegionPicker | None = None
        self._threshold_explicit = threshold is not None or self.settings.threshold is not None
        start_threshold = threshold if threshold is not None else self.settings.threshold
        self.webcams = list_webcams()

        self._build_ui()
        self._set_threshold_silently(0.5 if start_threshold is None else start_threshold)
        self.alert_spin.setValue(self.settings.alert_after_s)
        self.sound_action.setChecked(self.settings.sound)
        self._restore_layout()
        self.message_posted.connect(self._show_message)
        self.engine.loaded.connect(self._on_model_loaded)
        self.engine.load_failed.connect(self._on_model_failed)

        requested = model if model is not None else self.settings.model_path
        if model is None and requested and not Path(requested).is_file():
            requested = ""  # a remembered model that is gone: fall back to the bundled one
        self.model_panel.set_models(self.settings.recent_models, requested)
        self.load_model(requested)

        for text in sources:
            self.add_source(text)
        if not sources and open_default_webcam and self.webcams:
            self.add_source(self.webcams[0].source)
        self._refresh_empty_state()

        self.plot_timer = QTimer(self)
        self.plot_timer.setInterval(PLOT_REFRESH_MS)
        self.plot_timer.timeout.connect(self._refresh_face_panels)
        self.plot_timer.start()

    # -- building -------------------------------------------------------------------------------

    def _build_ui(self) -> None:
        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)

        self.add_menu = QMenu("Add source", self)
        self.add_menu.aboutToShow.connect(self._fill_add_menu)
        add_button = QToolButton()
        add_button.setText("Add source")
        add_button.setMenu(self.add_menu)
        add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        toolbar.addWidget(add_button)
        toolbar.addSeparator()

        self.snapshot_action = QAction("Snapshot", self)
        self.snapshot_action.setToolTip("Save the selected tile as PNG, overlays included")
        self.snapshot_action.setShortcut(QKeySequence("Ctrl+S"))
        self.snapshot_action.triggered.connect(lambda: self.snapshot())
        self.record_action = QAction("Record", self)
        self.record_action.setCheckable(True)
        self.record_action.setToolTip("Record the selected tile as MP4, overlays included")
        self.record_action.triggered.connect(self.set_recording)
        self.pause_action = QAction("Pause / play", self)
        self.pause_action.setShortcut(QKeySequence(Qt.Key.Key_Space))
        self.pause_action.setToolTip("Pause or play the selected video file (Space)")
        self.pause_action.triggered.connect(self._toggle_selected)
        folder_action = QAction("Output folder…", self)
        folder_action.setToolTip("Where snapshots and recordings go")
        folder_action.triggered.connect(self._choose_output_dir)
        self.export_action = QAction("Export events…", self)
        self.export_action.setToolTip("Save alerts and status changes as JSON lines "
                                      "(the format of 'watch --events')")
        self.export_action.triggered.connect(self._export_dialog)
        self.sound_action = QAction("Sound", self)
        self.sound_action.setCheckable(True)
        self.sound_action.setToolTip("Beep when an alert starts")
        for action in (self.snapshot_action, self.record_action, self.pause_action,
                       folder_action):
            toolbar.addAction(action)
        toolbar.addSeparator()
        toolbar.addAction(self.export_action)
        toolbar.addAction(self.sound_action)
        quit_action = QAction("Quit", self)
        quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        quit_action.triggered.connect(self.close)
        self.addAction(quit_action)

        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(6, 6, 6, 6)
        self.banner = AlertBanner()
        outer.addWidget(self.banner)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("main-splitter")
        outer.addWidget(self.splitter, 1)

        self.stack = QStackedWidget()
        self.empty = EmptyState()
        self.empty.open_file.connect(self.open_file_dialog)
        self.empty.pick_region.connect(self.pick_region)
        self.empty.open_url.connect(lambda: self.open_url_dialog())
        self.empty.open_source.connect(self.open_recent)
        self.empty.reopen_last.connect(self.reopen_last_session)
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(6)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.grid_host)
        self.splitter.addWidget(self.stack)
        self.splitter.addWidget(self._build_side_panel())
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setSizes([900, 380])
        self.setCentralWidget(central)

        self.perf_label = QLabel()
        self.model_label = QLabel("model: loading…")
        self.statusBar().addPermanentWidget(self.perf_label)
        self.statusBar().addPermanentWidget(self.model_label)
        self.resize(1360, 840)

    def _build_side_panel(self) -> QWidget:
        side = QWidget()
        side.setMinimumWidth(340)
        layout = QVBoxLayout(side)
        layout.setContentsMargins(0, 0, 0, 0)

        detection = QGroupBox("Detection")
        self.threshold_slider = QSlider(Qt.Orientation.Horizontal)
        self.threshold_slider.setRange(0, 100)
        self.threshold_slider.setPageStep(5)
        self.threshold_slider.setToolTip("P(fake) at or above which a face counts as fake")
        self.threshold_slider.valueChanged.connect(self._on_threshold_slider)
        self.threshold_value = QLabel("0.50")
        self.threshold_value.setMinimumWidth(36)
        font = self.threshold_value.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.2)
        self.threshold_value.setFont(font)
        default = QPushButton("Model default")
        default.setToolTip("Use the threshold the model was calibrated for")
        default.clicked.connect(self.use_model_threshold)
        self.alert_spin = QDoubleSpinBox()
        self.alert_spin.setRange(0.0, 30.0)
        self.alert_spin.setSingleStep(0.1)
        self.alert_spin.setDecimals(1)
        self.alert_spin.setSuffix(" s")
        self.alert_spin.setToolTip("How long a face must stay above the threshold before it "
                                   "alerts (lower = more sensitive)")
        self.alert_spin.valueChanged.connect(self._on_alert_after)
        row1 = QHBoxLayout()
        row1.addWidget(QLabel("Threshold"))
        row1.addWidget(self.threshold_slider, 1)
        row1.addWidget(self.threshold_value)
        # the colours of meters, labels and boxes
        self.legend = QLabel(legend_html(0.5, self.uncertain_band))
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setToolTip("Colours of the meters, boxes and labels: within the band "
                               "around the threshold a face is uncertain")
        row2 = QHBoxLayout()
        row2.addWidget(QLabel("Alert after"))
        row2.addWidget(self.alert_spin)
        row2.addStretch(1)
        row2.addWidget(default)
        box = QVBoxLayout(detection)
        box.addLayout(row1)
        box.addWidget(self.legend)
        box.addLayout(row2)
        layout.addWidget(detection)

        self.model_panel = ModelPanel()
        self.model_panel.model_chosen.connect(self.load_model)
        self.model_panel.browse_requested.connect(self._browse_model)
        self.model_panel.card_requested.connect(self._show_model_card)
        layout.addWidget(self.model_panel)

        faces = QGroupBox("Faces")
        self.faces_layout = QVBoxLayout()
        self.faces_layout.setContentsMargins(0, 0, 0, 0)
        self.no_faces = QLabel("No face yet")
        self.no_faces.setStyleSheet("color: #888;")
        self.no_faces.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.faces_layout.addWidget(self.no_faces)
        self.faces_layout.addStretch(1)
        holder = QWidget()
        holder.setLayout(self.faces_layout)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(holder)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        faces_box = QVBoxLayout(faces)
        faces_box.setContentsMargins(4, 4, 4, 4)
        faces_box.addWidget(scroll)

        alerts = QGroupBox("Alerts")
        self.event_log = EventLogPanel()
        export = QPushButton("Export events…")
        export.clicked.connect(self._export_dialog)
        alerts_box = QVBoxLayout(alerts)
        alerts_box.setContentsMargins(4, 4, 4, 4)
        alerts_box.addWidget(self.event_log)
        alerts_box.addWidget(export, 0, Qt.AlignmentFlag.AlignRight)

        self.side_splitter = QSplitter(Qt.Orientation.Vertical)
        self.side_splitter.addWidget(faces)
        self.side_splitter.addWidget(alerts)
        self.side_splitter.setStretchFactor(0, 3)
        self.side_splitter.setStretchFactor(1, 2)
        self.side_splitter.setSizes([440, 220])
        layout.addWidget(self.side_splitter, 1)
        return side

    def _restore_layout(self) -> None:
        s = self.settings
        if s.geometry is not None:
            self.restoreGeometry(s.geometry)
        if s.window_state is not None:
            self.restoreState(s.window_state)
        if s.splitter_state is not None:
            self.splitter.restoreState(s.splitter_state)

    # -- threshold and sensitivity ------------------------------------------------------------

    @property
    def threshold(self) -> float:
        return self.threshold_slider.value() / 100

    def set_threshold(self, value: float) -> None:
        """As if the user had moved the slider."""
        self.threshold_slider.setValue(round(min(1.0, max(0.0, value)) * 100))

    def use_model_threshold(self) -> None:
        model = self.engine.current
        if model is not None:
            self._set_threshold_silently(model.contract.threshold)
            self._threshold_explicit = False

    def _set_threshold_silently(self, value: float) -> None:
        """Set without counting as the user's choice (which the settings would keep)."""
        explicit = self._threshold_explicit
        self.set_threshold(value)
        self._apply_threshold()
        self._threshold_explicit = explicit

    def _on_threshold_slider(self, _: int) -> None:
        self._threshold_explicit = True
        self._apply_threshold()

    def _apply_threshold(self) -> None:
        p = self.threshold
        self.threshold_value.setText(f"{p:.2f}")
        self.legend.setText(legend_html(p, self.uncertain_band))
        for worker in self.workers:
            worker.set_threshold(p)  # the engine re-evaluates alerts; the frame is redrawn
        for panel in self.face_panels.values():
            panel.meter.set_value(panel.meter.value, p, self.uncertain_band)
            panel.threshold_line.setPos(p)

    def _on_alert_after(self, seconds: float) -> None:
        for worker in self.workers:
            worker.set_alert_after(seconds)

    # -- model ----------------------------------------------------------------------------------

    def load_model(self, path: str | None) -> None:
        """Load a classifier in the background (None or "" = the bundled one); streams keep
        running on the current model until the new one is ready."""
        self.model_panel.show_loading(path or "")
        self.engine.load(path or None)

    def _on_model_loaded(self, model: LoadedModel) -> None:
        if self._closing:
            model.service.stop()
            return
        previous = self.engine.adopt(model)
        moved = [worker.use_model(model) for worker in self.workers]
        if previous is not None:
            self.engine.retire(previous, moved)
        self.settings.model_path = model.requested
        if model.requested:
            self.settings.recent_models = add_recent(self.settings.recent_models,
                                                     model.requested)
        self.model_panel.set_models(self.settings.recent_models, model.requested)
        self.model_panel.show_model(model)
        self.model_panel.clear_error()
        self.model_label.setText(f"model: {model.contract.card.name} · {model.provider}")
        if not self._threshold_explicit:
            self._set_threshold_silently(model.contract.threshold)
        for tile in self.tiles:
            tile.refresh_status()

    def _on_model_failed(self, path: str, message: str) -> None:
        self.engine.failed_load_seen()
        if self._closing:
            return
        current = self.engine.current
        if not path and "no default classifier" in message:
            message = ("The bundled classifier is not installed. Choose an ONNX classifier "
                       "with deepfake-monitor metadata: Browse… in the model list.")
        self.model_panel.show_error(message, have_model=current is not None)
        if current is not None:
            self.model_panel.show_model(current)
        else:
            self.model_label.setText("model: none")
        self._show_message("model not loaded (see the Model panel)")

    def _browse_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a classifier", "",
                                              "ONNX models (*.onnx);;All files (*)")
        if path:
            self.load_model(path)

    def _show_model_card(self) -> None:
        if self.engine.current is not None:
            ModelCardDialog(self.engine.current, self).exec()

    # -- sources --------------------------------------------------------------------------------

    def add_source(self, text: str, storable: str | None = None) -> Tile:
        """Open a source in a new tile; one that cannot be opened says why on its tile."""
        text = text.strip()
        try:
            spec = parse_source(text, live_files=True)
        except SourceError as exc:
            tile = Tile(mask_source(text) or "(empty)", None)
            tile.set_error(mask_credentials(str(exc)))
            self._add_tile(tile)
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
        self._add_tile(tile)
        worker.start()
        self.settings.recent_sources = add_recent(self.settings.recent_sources, storable)
        return tile

    def _add_tile(self, tile: Tile) -> None:
        tile.close_requested.connect(self.remove_tile)
        tile.activated.connect(self.select)
        self.tiles.append(tile)
        self._relayout()
        self.select(tile)
        self._refresh_empty_state()

    def remove_tile(self, tile: Tile) -> None:
        """Close a source; its worker stops in the background (the GUI never waits)."""
        if tile not in self.tiles:
            return
        self.tiles.remove(tile)
        self.grid.removeWidget(tile)
        tile.hide()
        tile.deleteLater()
        worker = tile.worker
        if worker is not None and worker in self.workers:
            self.workers.remove(worker)
            for signal, slot in ((worker.result_ready, self._on_result),
                                 (worker.alert_changed, self._on_alert),
                                 (worker.status_changed, self._on_status)):
                with contextlib.suppress(TypeError, RuntimeError):
                    signal.disconnect(slot)
            stopper = threading.Thread(target=worker.stop, args=(2.0,),
                                       name=f"stopper:{worker.name}", daemon=True)
            stopper.start()
            self._stoppers.append((stopper, worker))
            for key in [k for k in self.face_panels if k[0] == id(worker)]:
                self._remove_panel(key)
            for key in [k for k in self.active_alerts if k[0] == worker.name]:
                del self.active_alerts[key]
            self._update_banner()
        if self.selected is tile:
            self.selected = None
            if self.tiles:
                self.select(self.tiles[-1])
        self._relayout()
        self._refresh_empty_state()

    def _relayout(self) -> None:
        while self.grid.count():
            self.grid.takeAt(0)
        n = len(self.tiles)
        cols = max(1, math.ceil(math.sqrt(n)))
        rows = max(1, math.ceil(n / cols))
        for i, tile in enumerate(self.tiles):
            self.grid.addWidget(tile, i // cols, i % cols)
        for r in range(self.grid.rowCount()):
            self.grid.setRowStretch(r, 1 if r < rows else 0)
        for c in range(self.grid.columnCount()):
            self.grid.setColumnStretch(c, 1 if c < cols else 0)

    def _refresh_empty_state(self) -> None:
        if self.tiles:
            self.stack.setCurrentWidget(self.grid_host)
        else:
            self.empty.populate(self.webcams, self.settings.recent_sources,
                                self.settings.last_sources)
            self.stack.setCurrentWidget(self.empty)

    def select(self, tile: Tile) -> None:
        self.selected = tile
        for t in self.tiles:
            t.set_selected(t is tile)
        worker = tile.worker
        self.record_action.setChecked(worker is not None and worker.recording is not None)
        self.perf_label.setText("")

    @property
    def selected_worker(self) -> StreamWorker | None:
        return self.selected.worker if self.selected is not None else None

    def tile_of(self, worker: StreamWorker) -> Tile | None:
        return next((t for t in self.tiles if t.worker is worker), None)

    # -- asking the user for a source -----------------------------------------------------------

    def _fill_add_menu(self) -> None:
        menu = self.add_menu
        menu.clear()
        menu.addAction("Video file…", self.open_file_dialog)
        menu.addAction("Screen / window region…", self.pick_region)
        monitors = menu.addMenu("Whole monitor")
        found = list_monitors()
        for monitor in found:
            monitors.addAction(monitor.label,
                               lambda s=monitor.source: self.add_source(s))
        if not found:
            monitors.addAction("No monitor found").setEnabled(False)
        menu.addAction("Stream URL (RTSP / HTTP)…", lambda: self.open_url_dialog())
        cams = menu.addMenu("Webcam")
        self.webcams = list_webcams()
        for cam in self.webcams:
            cams.addAction(f"{cam.name} ({cam.index})", lambda s=cam.source: self.add_source(s))
        if not self.webcams:
            cams.addAction("No webcam found").setEnabled(False)
        recent = menu.addMenu("Recent")
        for text in self.settings.recent_sources:
            recent.addAction(clean(mask_source(text)), lambda s=text: self.open_recent(s))
        if not self.settings.recent_sources:
            recent.addAction("Nothing yet").setEnabled(False)

    def open_file_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open video files", "", VIDEO_FILTER)
        for path in paths:
            self.add_source(path)

    def open_url_dialog(self, initial: str = "") -> None:
        dialog = UrlDialog(initial, self)
        if dialog.exec():
            self.add_source(dialog.source_text(), storable=dialog.storable())

    def open_recent(self, text: str) -> None:
        if needs_credentials(text):
            self.open_url_dialog(text)
        else:
            self.add_source(text, storable=text)

    def reopen_last_session(self) -> None:
        for text in list(self.settings.last_sources):
            self.open_recent(text)

    def pick_region(self) -> None:
        """Hide this window, then let the user drag over what to monitor."""
        QApplication.setQuitOnLastWindowClosed(False)
        self.hide()
        QTimer.singleShot(300, self._show_picker)  # let the window vanish from the still

    def _show_picker(self) -> None:
        picker = RegionPicker()
        picker.picked.connect(self._region_picked)
        picker.cancelled.connect(self._region_done)
        self._picker = picker
        picker.show()
        picker.activateWindow()
        picker.raise_()

    def _region_picked(self, source: str) -> None:
        self._region_done()
        self.add_source(source)

    def _region_done(self) -> None:
        self._picker = None
        self.show()
        QApplication.setQuitOnLastWindowClosed(True)

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
        self._latest_tracks[id(worker)] = {f.track for f in result.faces}
        for face in result.faces:
            key = (id(worker), face.track)
            panel = self.face_panels.get(key)
            if panel is None:
                if len(self.face_panels) >= MAX_FACE_PANELS:
                    continue
                panel = FacePanel(worker.name, face.track, worker.short_name)
                self.faces_layout.insertWidget(self.faces_layout.count() - 1, panel)
                self.face_panels[key] = panel
                self.no_faces.hide()
            panel.set_face(face, result.threshold, result.uncertain_band)
            panel.gone_since = None
        self._follow_peaks(worker.name, result.faces)
        if tile is not None and tile is self.selected:
            self.perf_label.setText(f"{worker.short_name}: {result.analysed_fps:.1f} fps "
                                    f"analysed · latency {result.latency_s * 1000:.0f} ms · "
                                    f"{result.provider}")

    def _refresh_face_panels(self) -> None:
        now = time.monotonic()
        by_id = {id(w): w for w in self.workers}
        histories: dict[int, dict[int, list[tuple[float, float]]]] = {}
        for key, panel in list(self.face_panels.items()):
            worker = by_id.get(key[0])
            if worker is None:
                self._remove_panel(key)
                continue
            if key[0] not in histories:
                histories[key[0]] = worker.histories()
            panel.set_history(histories[key[0]].get(key[1], []), now)
            if key[1] in self._latest_tracks.get(key[0], set()):
                continue
            if panel.gone_since is None:
                panel.gone_since = now
                panel.set_gone()
            elif now - panel.gone_since > FACE_PANEL_KEEP_S:
                self._remove_panel(key)

    def _remove_panel(self, key: tuple[int, int]) -> None:
        panel = self.face_panels.pop(key, None)
        if panel is not None:
            self.faces_layout.removeWidget(panel)
            panel.deleteLater()
        self.no_faces.setVisible(not self.face_panels)

    def _on_alert(self, worker: StreamWorker, info: AlertInfo) -> None:
        if self._closing:
            return
        event = info.event
        self.events.append(alert_record(event))
        key = (info.source, event.track)
        if event.active:
            self.active_alerts[key] = event
            self._alert_labels[key] = worker.short_name
            self.event_log.add_alert(info.source, event, info.thumbnail, worker.short_name,
                                     self.uncertain_band)
            if self.sound_action.isChecked():
                QApplication.beep()
            self.banner.dismissed = False  # a new alert shows the banner again
        else:
            self.active_alerts.pop(key, None)
            self.event_log.close_alert(info.source, event)
        self._update_banner()

    def _follow_peaks(self, source: str, faces: Sequence[FaceResult]) -> None:
        """An open alert's number is its face's peak (states.py): the banner and the alert log
        follow it as it rises, as the face panel does."""
        risen = False
        for face in faces:
            event = self.active_alerts.get((source, face.track))
            if event is not None and face.peak != event.peak:
                self.active_alerts[(source, face.track)] = replace(event, peak=face.peak)
                self.event_log.update_peak(source, face.track, face.peak)
                risen = True
        if risen:
            self._update_banner()

    def _update_banner(self) -> None:
        if not self.active_alerts:
            self.banner.hide()
            return
        (source, track), event = max(self.active_alerts.items(), key=lambda kv: kv[1].peak)
        more = len(self.active_alerts) - 1
        label = self._alert_labels.get((source, track), source)
        text = (f"⚠  Possible deepfake: face #{track} on {label} — P(fake) "
                f"{peak_text(event.peak)} (threshold {threshold_text(event.threshold)})"
                + (f"  ·  {more} more face{'s' if more > 1 else ''} alerting" if more else ""))
        self.banner.show_alert(text)

    def _on_status(self, worker: StreamWorker, event: StatusEvent) -> None:
        if self._closing:
            return
        self.events.append(status_record(event))
        if event.state is SourceState.FAILED:
            self._show_message(f"{event.source}: {event.message}")

    # -- output ---------------------------------------------------------------------------------

    def output_dir(self) -> Path:
        if self.settings.snapshot_dir:
            return Path(self.settings.snapshot_dir)
        pictures = QStandardPaths.writableLocation(
            QStandardPaths.StandardLocation.PicturesLocation)
        return Path(pictures or Path.home()) / "deepfake-monitor"

    def _output_path(self, worker: StreamWorker, suffix: str) -> Path:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")[:-3]
        return self.output_dir() / f"{_slug(worker.name)}-{stamp}{suffix}"

    def _choose_output_dir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save snapshots and recordings in",
                                                  str(self.output_dir()))
        if folder:
            self.settings.snapshot_dir = folder

    def snapshot(self) -> Future[Path] | None:
        """Save the selected tile (overlays included) as PNG, off the GUI thread."""
        worker = self.selected_worker
        if worker is None:
            self._show_message("select a source first")
            return None
        future = worker.save_snapshot(self._output_path(worker, ".png"))

        def done(f: Future[Path]) -> None:
            if f.cancelled():
                return
            error = f.exception()
            self.message_posted.emit(f"snapshot not saved: {error}" if error
                                     else f"snapshot saved to {f.result()}")

        future.add_done_callback(done)
        return future

    def set_recording(self, on: bool) -> Path | None:
        """Start or stop recording the selected tile as MP4 with overlays."""
        worker = self.selected_worker
        if worker is None:
            self.record_action.setChecked(False)
            self._show_message("select a source first")
            return None
        path: Path | None = None
        if on:
            path = self._output_path(worker, ".mp4")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                self.record_action.setChecked(False)
                self._show_message(f"cannot record to {path.parent}: {exc}")
                return None

            def done(recorder: Recorder) -> None:  # on the recorder's thread
                self.message_posted.emit(
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
        tile = self.tile_of(worker)
        if tile is not None:
            tile.refresh_status()
        return path

    def _toggle_selected(self) -> None:
        if self.selected is not None:
            self.selected.toggle_play()

    def export_events(self, path: Path) -> int:
        """Write every alert and status change so far as JSON lines (the format of
        `watch --events`); returns how many."""
        return write_event_file(path, list(self.events))

    def _export_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export events", "events.jsonl",
                                              "JSON lines (*.jsonl);;All files (*)")
        if path:
            count = self.export_events(Path(path))
            self._show_message(f"{count} events written to {path}")

    def _show_message(self, text: str) -> None:
        self.last_message = text
        self.statusBar().showMessage(clean(mask_credentials(text)), 10000)

    # -- closing --------------------------------------------------------------------------------

    def save_settings(self) -> None:
        s = self.settings
        s.threshold = self.threshold if self._threshold_explicit else None
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
        stoppers = [threading.Thread(target=w.stop, args=(timeout * 0.9,),
                                     name=f"stopper:{w.name}", daemon=True)
                    for w in self.workers]
        for thread in stoppers:
            thread.start()
        for thread in stoppers + [t for t, _ in self._stoppers]:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.engine.stop(max(0.1, deadline - time.monotonic()))
        return not engine_threads()
