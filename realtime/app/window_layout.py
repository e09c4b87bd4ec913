"""The main window's widgets, built and laid out (`build_window`): the toolbar and its actions,
the alert banner, the grid of tiles (or the empty state) beside the side panel (detection
controls, the model panel, faces, alerts), and the status bar; and their saved layout restored
(`restore_layout`). Like Qt Designer's `setupUi`,
it sets the widgets as attributes of the window and connects them to its methods."""

from __future__ import annotations

from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtGui import QAction, QKeySequence
from PyQt6.QtWidgets import (
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPushButton,
    QSlider,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .alert_views import AlertBanner, EventLogPanel
from .empty_state import EmptyState
from .face_list import FaceList
from .model_panel import ModelPanel
from .settings import AppSettings
from .states import legend_html


def build_window(window: Any) -> None:
    """Every widget of `window` (a MainWindow), in its place."""
    build_toolbar(window)
    central = QWidget()
    outer = QVBoxLayout(central)
    outer.setContentsMargins(6, 6, 6, 6)
    window.banner = AlertBanner()
    outer.addWidget(window.banner)
    window.splitter = QSplitter(Qt.Orientation.Horizontal)
    window.splitter.setObjectName("main-splitter")
    outer.addWidget(window.splitter, 1)

    window.stack = QStackedWidget()
    window.empty = EmptyState()
    window.grid_host = QWidget()
    window.grid = QGridLayout(window.grid_host)
    window.grid.setContentsMargins(0, 0, 0, 0)
    window.grid.setSpacing(6)
    window.stack.addWidget(window.empty)
    window.stack.addWidget(window.grid_host)
    window.splitter.addWidget(window.stack)
    window.splitter.addWidget(build_side_panel(window))
    window.splitter.setStretchFactor(0, 1)
    window.splitter.setStretchFactor(1, 0)
    window.splitter.setSizes([900, 380])
    window.setCentralWidget(central)

    window.perf_label = QLabel()
    window.model_label = QLabel("model: loading…")
    window.statusBar().addPermanentWidget(window.perf_label)
    window.statusBar().addPermanentWidget(window.model_label)
    window.resize(1360, 840)


def build_toolbar(window: Any) -> None:
    toolbar = window.addToolBar("Main")
    toolbar.setObjectName("main-toolbar")
    toolbar.setMovable(False)
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)

    window.add_menu = QMenu("Add source", window)
    add_button = QToolButton()
    add_button.setText("Add source")
    add_button.setMenu(window.add_menu)
    add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
    toolbar.addWidget(add_button)
    toolbar.addSeparator()

    window.snapshot_action = QAction("Snapshot", window)
    window.snapshot_action.setToolTip("Save the selected tile as PNG, overlays included")
    window.snapshot_action.setShortcut(QKeySequence("Ctrl+S"))
    window.snapshot_action.triggered.connect(lambda: window.snapshot())
    window.record_action = QAction("Record", window)
    window.record_action.setCheckable(True)
    window.record_action.setToolTip("Record the selected tile as MP4, overlays included")
    window.record_action.triggered.connect(window.set_recording)
    window.pause_action = QAction("Pause / play", window)
    window.pause_action.setShortcut(QKeySequence(Qt.Key.Key_Space))
    window.pause_action.setToolTip("Pause or play the selected video file (Space)")
    window.pause_action.triggered.connect(window.toggle_selected)
    window.folder_action = QAction("Output folder…", window)
    window.folder_action.setToolTip("Where snapshots and recordings go")
    window.export_action = QAction("Export events…", window)
    window.export_action.setToolTip("Save alerts and status changes as JSON lines "
                                    "(the format of 'watch --events')")
    window.export_action.triggered.connect(window.export_dialog)
    window.sound_action = QAction("Sound", window)
    window.sound_action.setCheckable(True)
    window.sound_action.setToolTip("Beep when an alert starts")
    for action in (window.snapshot_action, window.record_action, window.pause_action,
                   window.folder_action):
        toolbar.addAction(action)
    toolbar.addSeparator()
    toolbar.addAction(window.export_action)
    toolbar.addAction(window.sound_action)
    quit_action = QAction("Quit", window)
    quit_action.setShortcut(QKeySequence("Ctrl+Q"))
    quit_action.triggered.connect(window.close)
    window.addAction(quit_action)


def build_side_panel(window: Any) -> QWidget:
    side = QWidget()
    side.setMinimumWidth(340)
    layout = QVBoxLayout(side)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(build_detection(window))

    window.model_panel = ModelPanel()
    layout.addWidget(window.model_panel)

    window.face_list = FaceList()

    alerts = QGroupBox("Alerts")
    window.event_log = EventLogPanel()
    export = QPushButton("Export events…")
    export.clicked.connect(window.export_dialog)
    alerts_box = QVBoxLayout(alerts)
    alerts_box.setContentsMargins(4, 4, 4, 4)
    alerts_box.addWidget(window.event_log)
    alerts_box.addWidget(export, 0, Qt.AlignmentFlag.AlignRight)

    window.side_splitter = QSplitter(Qt.Orientation.Vertical)
    window.side_splitter.addWidget(window.face_list)
    window.side_splitter.addWidget(alerts)
    window.side_splitter.setStretchFactor(0, 3)
    window.side_splitter.setStretchFactor(1, 2)
    window.side_splitter.setSizes([440, 220])
    layout.addWidget(window.side_splitter, 1)
    return side


def build_detection(window: Any) -> QGroupBox:
    """The threshold slider, the colour legend and the alert delay."""
    detection = QGroupBox("Detection")
    window.threshold_slider = QSlider(Qt.Orientation.Horizontal)
    window.threshold_slider.setRange(0, 100)
    window.threshold_slider.setPageStep(5)
    window.threshold_slider.setToolTip("P(fake) at or above which a face counts as fake")
    window.threshold_value = QLabel("0.50")
    window.threshold_value.setMinimumWidth(36)
    font = window.threshold_value.font()
    font.setBold(True)
    font.setPointSizeF(font.pointSizeF() * 1.2)
    window.threshold_value.setFont(font)
    window.default_button = default = QPushButton("Model default")
    default.setToolTip("Use the threshold the model was calibrated for")
    window.alert_spin = QDoubleSpinBox()
    window.alert_spin.setRange(0.0, 30.0)
    window.alert_spin.setSingleStep(0.1)
    window.alert_spin.setDecimals(1)
    window.alert_spin.setSuffix(" s")
    window.alert_spin.setToolTip("How long a face must stay above the threshold before it "
                                 "alerts (lower = more sensitive)")
    row1 = QHBoxLayout()
    row1.addWidget(QLabel("Threshold"))
    row1.addWidget(window.threshold_slider, 1)
    row1.addWidget(window.threshold_value)
    # the colours of meters, labels and boxes
    window.legend = QLabel(legend_html(0.5, window.uncertain_band))
    window.legend.setTextFormat(Qt.TextFormat.RichText)
    window.legend.setToolTip("Colours of the meters, boxes and labels: within the band "
                             "around the threshold a face is uncertain")
    row2 = QHBoxLayout()
    row2.addWidget(QLabel("Alert after"))
    row2.addWidget(window.alert_spin)
    row2.addStretch(1)
    row2.addWidget(default)
    box = QVBoxLayout(detection)
    box.addLayout(row1)
    box.addWidget(window.legend)
    box.addLayout(row2)
    return detection


def restore_layout(window: Any, s: AppSettings) -> None:
    """The window's geometry, toolbars and splitter as the settings kept them."""
    if s.geometry is not None:
        window.restoreGeometry(s.geometry)
    if s.window_state is not None:
        window.restoreState(s.window_state)
    if s.splitter_state is not None:
        window.splitter.restoreState(s.splitter_state)
