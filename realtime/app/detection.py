"""What the window's streams are analysed with (`DetectionControl`): the model (loaded in the
background, shown in the model panel), the threshold (the user's choice, or the model's
calibrated one) and the alert delay, applied to every worker and face panel at once."""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtWidgets import QFileDialog, QLabel, QSlider, QWidget

from .dialogs import ModelCardDialog
from .engine import Engine, LoadedModel
from .face_list import FaceList
from .model_panel import ModelPanel
from .settings import AppSettings, add_recent
from .states import legend_html
from .tile import Tile
from .worker import StreamWorker


class DetectionControl:
    """`workers` and `tiles` are the window's lists (read, never changed); `closing()` says
    whether the window is shutting down. A threshold the user chose (`explicit`) is kept when
    a model loads; otherwise the model's own applies."""

    def __init__(self, parent: QWidget, *, engine: Engine, settings: AppSettings,
                 model_panel: ModelPanel, model_label: QLabel, slider: QSlider,
                 value_label: QLabel, legend: QLabel, face_list: FaceList,
                 uncertain_band: float, workers: list[StreamWorker], tiles: list[Tile],
                 closing: Callable[[], bool], show_message: Callable[[str], None],
                 explicit: bool) -> None:
        self._parent = parent
        self.engine = engine
        self._settings = settings
        self._model_panel = model_panel
        self._model_label = model_label
        self._slider = slider
        self._value_label = value_label
        self._legend = legend
        self._face_list = face_list
        self._band = uncertain_band
        self._workers = workers
        self._tiles = tiles
        self._closing = closing
        self._show_message = show_message
        self.explicit = explicit
        slider.valueChanged.connect(self._on_slider)
        engine.loaded.connect(self._on_model_loaded)
        engine.load_failed.connect(self._on_model_failed)
        model_panel.model_chosen.connect(self.load_model)
        model_panel.browse_requested.connect(self._browse_model)
        model_panel.card_requested.connect(self._show_model_card)

    # -- threshold and sensitivity ------------------------------------------------------------

    @property
    def threshold(self) -> float:
        return self._slider.value() / 100

    def set_threshold(self, value: float) -> None:
        """As if the user had moved the slider."""
        self._slider.setValue(round(min(1.0, max(0.0, value)) * 100))

    def use_model_threshold(self) -> None:
        model = self.engine.current
        if model is not None:
            self.set_threshold_silently(model.contract.threshold)
            self.explicit = False

    def set_threshold_silently(self, value: float) -> None:
        """Set without counting as the user's choice (which the settings would keep)."""
        explicit = self.explicit
        self.set_threshold(value)
        self._apply_threshold()
        self.explicit = explicit

    def _on_slider(self, _: int) -> None:
        self.explicit = True
        self._apply_threshold()

    def _apply_threshold(self) -> None:
        p = self.threshold
        self._value_label.setText(f"{p:.2f}")
        self._legend.setText(legend_html(p, self._band))
        for worker in self._workers:
            worker.set_threshold(p)  # the engine re-evaluates alerts; the frame is redrawn
        self._face_list.set_threshold(p, self._band)

    def set_alert_after(self, seconds: float) -> None:
        for worker in self._workers:
            worker.set_alert_after(seconds)

    # -- model ----------------------------------------------------------------------------------

    def load_model(self, path: str | None) -> None:
        """Load a classifier in the background (None or "" = the bundled one); streams keep
        running on the current model until the new one is ready."""
        self._model_panel.show_loading(path or "")
        self.engine.load(path or None)

    def _on_model_loaded(self, model: LoadedModel) -> None:
        if self._closing():
            model.service.stop()
            return
        previous = self.engine.adopt(model)
        moved = [worker.use_model(model) for worker in self._workers]
        if previous is not None:
            self.engine.retire(previous, moved)
        settings = self._settings
        settings.model_path = model.requested
        if model.requested:
            settings.recent_models = add_recent(settings.recent_models, model.requested)
        self._model_panel.set_models(settings.recent_models, model.requested)
        self._model_panel.show_model(model)
        self._model_panel.clear_error()
        self._model_label.setText(f"model: {model.contract.card.name} · {model.provider}")
        if not self.explicit:
            self.set_threshold_silently(model.contract.threshold)
        for tile in self._tiles:
            tile.refresh_status()

    def _on_model_failed(self, path: str, message: str) -> None:
        self.engine.failed_load_seen()
        if self._closing():
            return
        current = self.engine.current
        if not path and "no default classifier" in message:
            message = ("The bundled classifier is not installed. Choose an ONNX classifier "
                       "with deepfake-monitor metadata: Browse… in the model list.")
        self._model_panel.show_error(message, have_model=current is not None)
        if current is not None:
            self._model_panel.show_model(current)
        else:
            self._model_label.setText("model: none")
        self._show_message("model not loaded (see the Model panel)")

    def _browse_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self._parent, "Choose a classifier", "",
                                              "ONNX models (*.onnx);;All files (*)")
        if path:
            self.load_model(path)

    def _show_model_card(self) -> None:
        if self.engine.current is not None:
            ModelCardDialog(self.engine.current, self._parent).exec()
