"""The side panel's "Faces" box (`FaceList`): one `FacePanel` per face in view, with its meter
and plot; a face out of view stays greyed for a while, then its panel goes."""

from __future__ import annotations

import time

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QGroupBox, QLabel, QScrollArea, QVBoxLayout, QWidget

from ..analysis.pipeline import FrameResult
from .face_panels import FacePanel
from .worker import StreamWorker

MAX_FACE_PANELS = 8
FACE_PANEL_KEEP_S = 10.0  # a face out of view keeps its panel (greyed) this long


class FaceList(QGroupBox):
    """At most MAX_FACE_PANELS panels, keyed by (id of the worker, track)."""

    def __init__(self) -> None:
        super().__init__("Faces")
        self.panels: dict[tuple[int, int], FacePanel] = {}
        self._latest_tracks: dict[int, set[int]] = {}
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
        faces_box = QVBoxLayout(self)
        faces_box.setContentsMargins(4, 4, 4, 4)
        faces_box.addWidget(scroll)

    def show_result(self, worker: StreamWorker, result: FrameResult) -> None:
        """The faces of a worker's newest result: their panels, new ones added while room."""
        self._latest_tracks[id(worker)] = {f.track for f in result.faces}
        for face in result.faces:
            key = (id(worker), face.track)
            panel = self.panels.get(key)
            if panel is None:
                if len(self.panels) >= MAX_FACE_PANELS:
                    continue
                panel = FacePanel(worker.name, face.track, worker.short_name)
                self.faces_layout.insertWidget(self.faces_layout.count() - 1, panel)
                self.panels[key] = panel
                self.no_faces.hide()
            panel.set_face(face, result.threshold, result.uncertain_band)
            panel.gone_since = None

    def set_threshold(self, p: float, band: float) -> None:
        for panel in self.panels.values():
            panel.meter.set_value(panel.meter.value, p, band)
            panel.threshold_line.setPos(p)

    def refresh(self, workers: list[StreamWorker]) -> None:
        """Plots brought up to date; faces out of view greyed, and removed after a while."""
        now = time.monotonic()
        by_id = {id(w): w for w in workers}
        histories: dict[int, dict[int, list[tuple[float, float]]]] = {}
        for key, panel in list(self.panels.items()):
            worker = by_id.get(key[0])
            if worker is None:
                self.remove(key)
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
                self.remove(key)

    def forget_worker(self, worker: StreamWorker) -> None:
        for key in [k for k in self.panels if k[0] == id(worker)]:
            self.remove(key)

    def remove(self, key: tuple[int, int]) -> None:
        panel = self.panels.pop(key, None)
        if panel is not None:
            self.faces_layout.removeWidget(panel)
            panel.deleteLater()
        self.no_faces.setVisible(not self.panels)
