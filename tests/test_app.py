"""The desktop app, offscreen, on real decoded clips and a real ONNX classifier: frames and meters,
the threshold slider reaching the engine and the colours, inline errors, pause and seek,
snapshot and recording, settings, credentials, the events export, the empty state, a slow model,
and a clean stop (closing the window, SIGTERM, Ctrl+C) that leaves no thread behind.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before Qt creates its application

import json
import math
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import REPO, astronaut_frames, shared_clips, write_clip
from tiny_models import build_redness_model

pytest.importorskip("pytestqt")
from PyQt6.QtCore import QPoint, QSettings, Qt
from PyQt6.QtGui import QImage
from PyQt6.QtWidgets import QApplication, QLabel, QLineEdit, QTextBrowser

from deepfake_monitor.realtime.app import window as window_module
from deepfake_monitor.realtime.app.devices import list_webcams
from deepfake_monitor.realtime.app.dialogs import ModelCardDialog, UrlDialog
from deepfake_monitor.realtime.app.engine import engine_threads
from deepfake_monitor.realtime.app.region import RegionPicker
from deepfake_monitor.realtime.app.settings import AppSettings
from deepfake_monitor.realtime.app.tile import Tile
from deepfake_monitor.realtime.app.window import MainWindow
from deepfake_monitor.realtime.model.classifier import DeepfakeClassifier
from deepfake_monitor.realtime.outputs.events import alert_record
from deepfake_monitor.realtime.sources.spec import SourceState

pytestmark = pytest.mark.timeout(60)
PASSWORD = "s3cr3t-Pw"
WAIT_MS = 20_000  # generous: two shared cores


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_redness_model(tmp_path_factory.mktemp("model") / "redness.onnx")


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 10 s clip of a real face, one that turns fake at once, and a 2 s one."""
    from skimage import data

    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    folder = tmp_path_factory.mktemp("clips")
    return {
        "long": write_clip(folder / "call.mp4", astronaut_frames(face, n=250)),
        "fake": write_clip(folder / "fake.mp4", astronaut_frames(face, n=250, redden_from=0)),
        "short": write_clip(folder / "short.mp4", astronaut_frames(face, n=50)),
    }


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def no_webcams(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app must cope with a machine without cameras, whatever this one has."""
    monkeypatch.setattr(window_module, "list_webcams", lambda: [])


@pytest.fixture
def make_window(qtbot, settings: QSettings, no_webcams: None
                ) -> Iterator[Callable[..., MainWindow]]:
    windows: list[MainWindow] = []

    def make(*sources: str, **kwargs: object) -> MainWindow:
        kwargs.setdefault("settings", settings)
        kwargs.setdefault("open_default_webcam", False)
        window = MainWindow(list(sources), **kwargs)  # type: ignore[arg-type]
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
    assert wait_no_engine_threads(3.0), [t.name for t in engine_threads()]


def wait_no_engine_threads(timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while engine_threads() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not engine_threads()


def wait_until_settled(qtbot, value, quiet_ms: int):  # type: ignore[no-untyped-def]
    """`value()` once it has not changed for `quiet_ms` (within WAIT_MS, else fail)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    last, since = value(), time.monotonic()
    while time.monotonic() - since < quiet_ms / 1000:
        assert time.monotonic() < deadline, f"still changing after {WAIT_MS} ms: {value()}"
        qtbot.wait(20)
        if value() != last:
            last, since = value(), time.monotonic()
    return last


def rendered(widget) -> np.ndarray:  # type: ignore[no-untyped-def]
    """What the widget shows on screen, as an RGB array."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    w, h, line = image.width(), image.height(), image.bytesPerLine()
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    return np.frombuffer(ptr, np.uint8).reshape(h, line)[:, : w * 3].reshape(h, w, 3).copy()


def overlay_pixels(rgb: np.ndarray) -> tuple[int, int]:
    """(red, green) pixels in the overlays' risk colours (boxes, labels, meters)."""
    r, g, b = (rgb[..., i].astype(int) for i in range(3))
    red = (r > 190) & (g < 70) & (b < 70)
    green = (g > 160) & (r < 110) & (b < 120)
    return int(red.sum()), int(green.sum())


def wait_for_faces(qtbot, window: MainWindow, tile: Tile) -> None:  # type: ignore[no-untyped-def]
    qtbot.waitUntil(lambda: tile.view.frames_shown > 5 and tile.faces == 1
                    and bool(window.face_panels), timeout=WAIT_MS)


def all_texts(window: MainWindow) -> str:
    """Every text and tooltip a user can see in the window."""
    parts = [window.windowTitle(), window.statusBar().currentMessage()]
    for widget in window.findChildren(QLabel):
        parts += [widget.text(), widget.toolTip()]
    for widget in window.findChildren(QLineEdit):
        if widget.echoMode() == QLineEdit.EchoMode.Normal:
            parts.append(widget.text())
    log = window.event_log
    for i in range(log.topLevelItemCount()):
        item = log.topLevelItem(i)
        parts += [item.text(c) for c in range(log.columnCount())]
    return "\n".join(parts)


# -- frames, meters, alerts, export -----------------------------------------------------------


def test_file_source_frames_meters_alerts_and_export(make_window, qtbot, clips: dict[str, Path],
                                                    model: Path, tmp_path: Path) -> None:
    window = make_window(str(clips["fake"]), model=str(model))
    window.alert_spin.setValue(0.3)
    tile = window.tiles[0]
    worker = tile.worker
    assert worker is not None and tile.title.full_text == str(clips["fake"])
    wait_for_faces(qtbot, window, tile)
    assert tile.pill.status == "live"
    assert worker.analyzer is not None and worker.analyzer.smoother.config.alert_after_s == 0.3
    panel = next(iter(window.face_panels.values()))
    # the reddened face scores high: the meter fills and an alert is raised and logged
    qtbot.waitUntil(lambda: panel.meter.value > 0.5 and bool(window.active_alerts),
                    timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.event_log.topLevelItemCount() >= 1, timeout=WAIT_MS)
    assert window.banner.isVisible() and "Possible deepfake" in window.banner.label.text()
    item = window.event_log.topLevelItem(0)
    assert item.text(2) == "#1" and item.text(1) == "fake.mp4"
    assert not item.icon(0).isNull()  # the face's thumbnail
    # one number for the alert everywhere: its face's peak, in the banner, the log and the panel

    def one_peak() -> bool:
        shown = re.search(r"peak \d+ %", panel.above.text())
        return shown is not None and item.text(3) == shown.group() \
            and shown.group() in window.banner.label.text()

    qtbot.waitUntil(one_peak, timeout=WAIT_MS)
    # the legend names the colours at the current threshold
    assert "uncertain" in window.legend.text() and "fake &gt;= " in window.legend.text()
    shown = tile.view.frames_shown
    qtbot.waitUntil(lambda: tile.view.frames_shown > shown + 10, timeout=WAIT_MS)  # it plays on
    # the plot gets a minute of history from the worker
    qtbot.waitUntil(lambda: len(panel.curve.getData()[0] if panel.curve.getData()[0]
                                is not None else []) > 3, timeout=WAIT_MS)

    out = tmp_path / "events.jsonl"
    count = window.export_events(out)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == count > 1
    assert {r["type"] for r in records} >= {"status", "alert"}
    alert = next(r for r in records if r["type"] == "alert")
    assert alert["source"] == str(clips["fake"]) and alert["track"] == 1
    assert alert["p"] >= 0.5 and alert["threshold"] == pytest.approx(window.threshold)
    assert set(alert) == set(alert_record(window.active_alerts[(str(clips["fake"]), 1)]))
    status = next(r for r in records if r["type"] == "status")
    assert set(status) == {"type", "time", "source", "state", "message"}


def test_threshold_slider_reaches_the_engine_and_recolours(make_window, qtbot,
                                                         clips: dict[str, Path],
                                                         model: Path) -> None:
    window = make_window(str(clips["long"]), model=str(model))
    window.alert_spin.setValue(0.0)
    window.set_threshold(0.5)
    tile = window.tiles[0]
    worker = tile.worker
    assert worker is not None
    wait_for_faces(qtbot, window, tile)
    tile.toggle_play()  # hold one frame, so that only the threshold changes the picture
    assert worker.paused and tile.pill.status == "paused"
    # an untouched face scores ~0.13: green boxes and meters at 0.5
    qtbot.waitUntil(lambda: (lambda r, g: g > 300 and r < g / 10)(
        *overlay_pixels(rendered(tile.view))), timeout=WAIT_MS)
    panel = next(iter(window.face_panels.values()))
    p = panel.meter.value
    assert p < 0.3 and not window.active_alerts
    green_meter = panel.meter.colour.name()

    window.threshold_slider.setValue(5)  # as a user drags it down to 0.05
    assert window.threshold_value.text() == "0.05"
    assert worker.analyzer is not None and worker.analyzer.threshold == pytest.approx(0.05)
    assert worker.analyzer.smoother.threshold == pytest.approx(0.05)
    # ~0.13 is within the uncertain band (0.10) of 0.05: amber now, no green left
    def amber_not_green() -> bool:
        rgb = rendered(tile.view).astype(int)
        amber = (rgb[..., 0] > 200) & (abs(rgb[..., 1] - 190) < 30) & (rgb[..., 2] < 70)
        return int(amber.sum()) > 300 and overlay_pixels(rgb)[1] < 30

    qtbot.waitUntil(amber_not_green, timeout=WAIT_MS)
    assert panel.meter.colour.name() != green_meter and "UNCERTAIN" in panel.meter.text
    # alerts are re-evaluated at once, without a new frame (alert-after is 0 here)
    qtbot.waitUntil(lambda: bool(window.active_alerts), timeout=WAIT_MS)
    assert window.banner.isVisible()

    # The default hysteresis band (0.05): the slider moved to just above the face's score
    # keeps its alert; 0.05 above the score, it clears.
    state = worker.analyzer.smoother.faces[1]
    p = state.p_smooth  # paused: the score stays
    inside = math.ceil(p * 100 + 1)  # 0.01 .. 0.02 above p
    window.threshold_slider.setValue(inside)
    assert worker.analyzer.threshold == pytest.approx(inside / 100)
    qtbot.wait(300)  # the GUI handles what the engine reports
    assert state.alert and window.active_alerts and window.banner.isVisible()
    assert p < inside / 100 < p + 0.05
    outside = math.ceil(p * 100 + 5.5)  # more than 0.05 above p
    window.threshold_slider.setValue(outside)
    qtbot.waitUntil(lambda: not window.active_alerts and not window.banner.isVisible(),
                    timeout=WAIT_MS)
    assert not state.alert and worker.analyzer.threshold == pytest.approx(outside / 100)

    window.threshold_slider.setValue(90)  # and far up: still no alert
    qtbot.wait(200)
    assert not window.active_alerts
    assert worker.analyzer.threshold == pytest.approx(0.9)


# -- bad input --------------------------------------------------------------------------------


def test_bad_files_show_inline_errors_and_the_rest_keeps_running(
    make_window, qtbot, clips: dict[str, Path], model: Path, tmp_path: Path
) -> None:
    fake_video = tmp_path / "notes.mp4"
    fake_video.write_text("this is not a video\n")
    window = make_window(str(clips["long"]), str(fake_video), str(tmp_path / "missing.mp4"),
                         model=str(model))
    good, bad, missing = window.tiles
    qtbot.waitUntil(lambda: bad.error_text != "", timeout=WAIT_MS)
    assert "not a video file" in bad.error_text and str(fake_video) in bad.error_text
    assert bad.pill.status == "error" and bad.worker is not None
    assert bad.worker.state is SourceState.FAILED
    # nothing to play: no play bar reading 0:00 / 0:00 (the good file keeps its own)
    assert bad.transport is not None and bad.transport.isHidden()
    assert good.transport is not None and not good.transport.isHidden()
    assert "no such file" in missing.error_text and missing.worker is None
    assert QApplication.activeModalWidget() is None  # no dialog: the message is on the tile
    wait_for_faces(qtbot, window, good)
    assert good.error_text == ""
    shown = good.view.frames_shown
    qtbot.waitUntil(lambda: good.view.frames_shown > shown + 10, timeout=WAIT_MS)
    window.remove_tile(bad)  # closing the bad tile stops its worker in the background
    assert len(window.tiles) == 2 and bad.worker not in window.workers


def test_bad_model_shows_an_inline_error_and_the_app_keeps_running(
    make_window, qtbot, clips: dict[str, Path], model: Path, tmp_path: Path
) -> None:
    window = make_window(str(clips["long"]), model=str(model))
    tile = window.tiles[0]
    wait_for_faces(qtbot, window, tile)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not an onnx model at all")
    window.load_model(str(bad))
    qtbot.waitUntil(lambda: window.model_panel.error_text != "", timeout=WAIT_MS)
    assert str(bad) in window.model_panel.error_text
    assert QApplication.activeModalWidget() is None
    assert window.engine.current is not None and window.engine.current.requested == str(model)
    assert "redness-test" in window.model_panel.info.text()  # still shows the working model
    card = ModelCardDialog(window.engine.current, window)
    assert "redness-test" in card.findChild(QTextBrowser).toPlainText()
    assert "training" in card.findChild(QTextBrowser).toPlainText().lower()
    card.deleteLater()
    analysed = tile.worker.analyzer.frames_analyzed  # type: ignore[union-attr]
    qtbot.waitUntil(lambda: tile.worker.analyzer.frames_analyzed > analysed + 5,  # type: ignore[union-attr]
                    timeout=WAIT_MS)
    # a good model picked afterwards replaces the error
    window.load_model(str(model))
    qtbot.waitUntil(lambda: window.model_panel.error_text == "", timeout=WAIT_MS)


def test_model_card_and_file_names_are_shown_as_text_never_as_html_or_escapes(
    make_window, qtbot, clips: dict[str, Path], tmp_path: Path
) -> None:
    """A model card's name and version go into the model panel's rich-text label escaped; a
    file name goes into its tile's title as plain text; control characters are shown as "?"."""
    import dataclasses

    from PyQt6.QtGui import QTextDocument
    from tiny_models import redness_contract, redness_graph

    from deepfake_monitor.export.metadata import save_with_contract
    from deepfake_monitor.realtime.model.contract import ModelCard

    contract = dataclasses.replace(redness_contract(), card=ModelCard(
        name="<img src=x><u>Verified</u>\x1b[2J", version="<i>9</i>"))
    hostile = save_with_contract(redness_graph(), contract, tmp_path / "card.onnx")
    clip = tmp_path / "<h1>BIG\x1b]0;T\x07.mp4"
    shutil.copy(clips["short"], clip)
    window = make_window(str(clip), model=str(hostile))
    info = window.model_panel.info
    qtbot.waitUntil(lambda: "Verified" in info.text(), timeout=WAIT_MS)
    shown = QTextDocument()
    shown.setHtml(info.text())
    assert "<img src=x><u>Verified</u>?[2J v<i>9</i>" in shown.toPlainText()
    title = window.tiles[0].title
    assert title.textFormat() == Qt.TextFormat.PlainText
    assert title.full_text.endswith("<h1>BIG?]0;T?.mp4") and "\x1b" not in title.text()


@pytest.mark.parametrize(("url", "masked", "secret"), [
    (f"rtsp://viewer:{PASSWORD}@127.0.0.1:1/live", "rtsp://***@127.0.0.1:1/live", PASSWORD),
    # "#", "/", "?" and "@" unencoded in the password
    ("rtsp://viewer:p#ss/w?rd@x@127.0.0.1:1/live", "rtsp://***@127.0.0.1:1/live", "w?rd@x"),
    # credentials in the query string
    ("rtsp://127.0.0.1:1/live?user=viewer&password=s3cr3t-Q", "rtsp://127.0.0.1:1/live"
     "?user=***&password=***", "s3cr3t-Q"),
    # a blank in the password (FFmpeg gets it percent-encoded), a secret under another key
    ("rtsp://viewer:my secret@127.0.0.1:1/live?X-Amz-Signature=AMZSIG",
     "rtsp://***@127.0.0.1:1/live?X-Amz-Signature=***", "my secret"),
])
def test_unreachable_stream_retried_on_its_tile_never_shows_the_password(
    make_window, qtbot, settings: QSettings, url: str, masked: str, secret: str
) -> None:
    window = make_window(url)
    tile = window.tiles[0]
    assert tile.title.full_text == masked
    # a camera that is down is retried: the tile says so and why, with no error
    qtbot.waitUntil(lambda: "attempt 3 " in tile.pill.toolTip(), timeout=WAIT_MS)
    assert tile.pill.status in ("connecting", "reconnecting") and tile.error_text == ""
    assert "Connection refused" in tile.pill.toolTip()
    assert tile.view.placeholder == "waiting for the source: cannot open stream: " \
        "Connection refused"
    assert secret not in all_texts(window) and "viewer" not in all_texts(window)
    window.close()
    settings.sync()
    stored = Path(settings.fileName()).read_text()
    assert masked in stored and secret not in stored and "viewer" not in stored
    assert "AMZSIG" not in stored and "my%20secret" not in stored
    # remembered credentials may be in it: its owner alone reads it, whatever the umask
    assert os.stat(settings.fileName()).st_mode & 0o777 == 0o600
    # picked again from the recent list, it asks for the credentials instead of opening
    assert window_module.needs_credentials(masked)


def test_url_dialog_takes_a_password_with_reserved_characters_apart(qtbot) -> None:
    dialog = UrlDialog()
    qtbot.addWidget(dialog)
    dialog.url.setText("rtsp://viewer:p#ss/w?rd@x@127.0.0.1:1/live")
    assert dialog.url.text() == "rtsp://127.0.0.1:1/live"
    assert dialog.user.text() == "viewer" and dialog.password.text() == "p#ss/w?rd@x"
    assert dialog.source_text() == "rtsp://viewer:p%23ss%2Fw%3Frd%40x@127.0.0.1:1/live"
    assert dialog.storable() == "rtsp://***@127.0.0.1:1/live"


def test_url_dialog_keeps_credentials_out_of_sight_and_stores_them_only_when_asked(
    qtbot, make_window, settings: QSettings
) -> None:
    dialog = UrlDialog()
    qtbot.addWidget(dialog)
    dialog.url.setText(f"rtsp://viewer:{PASSWORD}@127.0.0.1:1/live")  # pasted with credentials
    assert dialog.url.text() == "rtsp://127.0.0.1:1/live"
    assert dialog.user.text() == "viewer" and dialog.password.text() == PASSWORD
    assert dialog.password.echoMode() == QLineEdit.EchoMode.Password
    assert dialog.source_text() == f"rtsp://viewer:{PASSWORD}@127.0.0.1:1/live"
    assert PASSWORD not in dialog.storable()
    dialog.remember.setChecked(True)
    assert dialog.storable() == dialog.source_text()
    dialog.url.setText("ftp://nope")
    dialog.accept()
    assert not dialog.error.isHidden() and dialog.result() == 0  # stays open, says why

    window = make_window()
    window.add_source(dialog_url := f"rtsp://viewer:{PASSWORD}@127.0.0.1:1/live",
                      storable=dialog_url)  # as the dialog hands it over with "remember"
    window.close()
    assert PASSWORD in Path(settings.fileName()).read_text()
    # a masked URL picked from the recent list asks for the credentials again
    again = UrlDialog("rtsp://***@127.0.0.1:1/live")
    qtbot.addWidget(again)
    assert again.url.text() == "rtsp://127.0.0.1:1/live" and again.user.text() == ""
    assert "not remembered" in again.note.text()


def test_the_uncertain_band_is_the_app_s_to_set(make_window, qtbot, clips: dict[str, Path],
                                               model: Path) -> None:
    """`app --uncertain-band 0`: two states, in the engine's frames, the meters and the legend."""
    window = make_window(str(clips["long"]), model=str(model), uncertain_band=0.0)
    window.set_threshold(0.05)
    tile = window.tiles[0]
    wait_for_faces(qtbot, window, tile)
    panel = next(iter(window.face_panels.values()))
    assert tile.worker is not None and tile.worker.analyzer is not None
    assert tile.worker.analyzer.config.uncertain_band == 0.0
    # ~0.13 against 0.05 without a band: fake (with the default band it would be uncertain)
    qtbot.waitUntil(lambda: panel.meter.text.endswith("  FAKE"), timeout=WAIT_MS)
    assert "uncertain" not in window.legend.text() and "fake &gt;= 0.05" in window.legend.text()


# -- pause, seek, snapshot, record ------------------------------------------------------------


def test_pause_seek_and_reopen_after_the_end(make_window, qtbot, clips: dict[str, Path],
                                             model: Path) -> None:
    window = make_window(str(clips["short"]), model=str(model))
    tile = window.tiles[0]
    worker = tile.worker
    assert worker is not None and tile.seek_slider is not None
    qtbot.waitUntil(lambda: tile.view.frames_shown > 3 and tile.seek_slider.isEnabled(),
                    timeout=WAIT_MS)
    assert tile.seek_slider.maximum() == 20  # 2.0 s in tenths
    tile.toggle_play()
    assert worker.paused
    at_pause = tile.view.frames_shown
    # Frames decoded before the pause may still reach the screen (more slowly on a loaded
    # machine): wait until nothing new has come for 300 ms -- a source that kept playing at
    # 25 fps never gets there -- then the picture must hold.
    shown = wait_until_settled(qtbot, lambda: tile.view.frames_shown, quiet_ms=300)
    # No more than the buffers between decoder and screen hold: the source's frame buffer
    # (full when the analysis lags, as on a loaded machine), the app's 2 pending frames, one
    # being analysed and the tile's mailbox.
    assert worker.source is not None
    assert shown <= at_pause + worker.source.queue_size + 2 + 2
    qtbot.wait(500)
    assert tile.view.frames_shown == shown  # held
    tile.seek_slider.setValue(12)  # the user drags to 1.2 s and lets go
    qtbot.waitUntil(lambda: abs(worker.position_s - 1.2) < 0.05, timeout=WAIT_MS)
    assert worker.paused and "0:01 / 0:02" in tile.time_label.text()  # type: ignore[union-attr]
    tile.toggle_play()
    qtbot.waitUntil(lambda: worker.state is SourceState.ENDED, timeout=WAIT_MS)
    # the tile hears of it through a queued signal: on a busy machine a moment later
    qtbot.waitUntil(lambda: tile.pill.status == "ended", timeout=WAIT_MS)
    tile.seek_slider.setValue(5)  # after the end: the file reopens at 0.5 s, paused
    qtbot.waitUntil(lambda: worker.state is SourceState.LIVE and worker.paused
                    and abs(worker.position_s - 0.5) < 0.05, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: tile.faces == 1, timeout=WAIT_MS)  # analysed again


def test_snapshot_and_recording_keep_the_overlays(make_window, qtbot, clips: dict[str, Path],
                                                 model: Path, tmp_path: Path) -> None:
    window = make_window(str(clips["long"]), model=str(model))
    window.settings.snapshot_dir = str(tmp_path / "out")
    tile = window.tiles[0]
    wait_for_faces(qtbot, window, tile)
    future = window.snapshot()
    assert future is not None
    png = future.result(timeout=10)
    assert png.suffix == ".png" and png.parent == tmp_path / "out"
    image = cv2.imread(str(png))
    assert image.shape == (360, 640, 3)
    assert overlay_pixels(image[..., ::-1])[1] > 100  # the green box and meter are in it
    qtbot.waitUntil(lambda: "snapshot saved" in window.last_message, timeout=WAIT_MS)

    window.record_action.trigger()  # the user presses Record
    assert window.record_action.isChecked() and tile.rec.isVisible()
    mp4 = tile.worker.recording  # type: ignore[union-attr]
    assert mp4 is not None and mp4.suffix == ".mp4" and mp4.parent == tmp_path / "out"
    shown = tile.view.frames_shown
    qtbot.waitUntil(lambda: tile.view.frames_shown > shown + 15, timeout=WAIT_MS)
    window.record_action.trigger()  # the user presses Record again
    assert not window.record_action.isChecked()
    qtbot.waitUntil(lambda: "recording saved to" in window.last_message, timeout=WAIT_MS)
    assert not tile.rec.isVisible()
    cap = cv2.VideoCapture(str(mp4))
    frames = []
    while (ok_frame := cap.read())[0]:
        frames.append(ok_frame[1])
    cap.release()
    assert len(frames) >= 10 and frames[0].shape == (360, 640, 3)
    assert f"({len(frames)} frames" in window.last_message
    # what browsers play: H.264, yuv420p, the index first; frames at their capture times
    import av

    with av.open(str(mp4)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264" and stream.codec_context.pix_fmt == "yuv420p"
        times = [f.time for f in container.decode(stream)]
    data = mp4.read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat")
    gaps = np.diff(times)
    assert (gaps > 0).all() and np.median(gaps) == pytest.approx(1 / 25, abs=0.01)


# -- settings, empty state, devices ------------------------------------------------------------


def test_settings_persist_between_runs(make_window, qtbot, clips: dict[str, Path], model: Path,
                                       settings: QSettings) -> None:
    first = make_window(str(clips["long"]), model=str(model))
    qtbot.waitUntil(lambda: first.engine.current is not None, timeout=WAIT_MS)
    first.threshold_slider.setValue(37)
    first.alert_spin.setValue(2.5)
    first.sound_action.setChecked(True)
    first.resize(1000, 640)
    size = first.size()
    first.close()

    stored = AppSettings.load(settings)
    assert stored.threshold == pytest.approx(0.37) and stored.alert_after_s == 2.5
    assert stored.model_path == str(model) and stored.sound
    assert stored.last_sources == [str(clips["long"])]
    assert stored.recent_sources[0] == str(clips["long"])
    assert stored.geometry is not None

    second = make_window()  # no sources, no model given: everything comes from the settings
    assert second.threshold == pytest.approx(0.37) and second.alert_spin.value() == 2.5
    assert second.sound_action.isChecked()
    # the layout comes back (the offscreen screen is 800 px wide, so only the height is kept)
    assert second.size().height() == size.height()
    assert second.stack.currentWidget() is second.empty and "last" in second.empty.buttons
    qtbot.waitUntil(lambda: second.engine.current is not None, timeout=WAIT_MS)
    assert second.engine.current.requested == str(model)
    assert second.threshold == pytest.approx(0.37)  # the user's, not the model's default
    second.empty.buttons["last"].click()
    assert [t.title.full_text for t in second.tiles] == [str(clips["long"])]


def test_no_arguments_and_no_webcam_open_on_the_empty_state(make_window, qtbot) -> None:
    window = make_window(open_default_webcam=True)
    assert window.stack.currentWidget() is window.empty and window.tiles == []
    assert {"region", "file", "url"} <= set(window.empty.buttons)
    texts = [label.text() for label in window.empty.findChildren(QLabel)]
    assert "No webcam found" in texts and "Nothing to monitor yet" in texts
    # whatever happens with the model (the bundled one may be absent), no dialog pops up
    qtbot.waitUntil(lambda: window.engine.loading == 0, timeout=WAIT_MS)
    assert QApplication.activeModalWidget() is None


def test_webcam_enumeration_never_hangs_or_fails(tmp_path: Path) -> None:
    started = time.monotonic()
    cams = list_webcams()
    assert isinstance(cams, list) and time.monotonic() - started < 1.0
    assert list_webcams(sysfs=tmp_path / "absent") == []
    sysfs, dev = tmp_path / "sys", tmp_path / "dev"
    dev.mkdir()
    for n, index, name in ((0, "0", "Integrated Camera"), (1, "1", "Integrated Camera"),
                           (2, "0", "USB Cam")):
        node = sysfs / f"video{n}"
        node.mkdir(parents=True)
        (node / "index").write_text(index + "\n")
        (node / "name").write_text(name + "\n")
        (dev / f"video{n}").touch()
    (sysfs / "video7").mkdir()  # no device node: gone
    found = list_webcams(sysfs=sysfs, dev=dev)
    assert [(c.index, c.name) for c in found] == [(0, "Integrated Camera"), (2, "USB Cam")]


def test_region_picker_gives_a_screen_source(qtbot) -> None:
    picker = RegionPicker()  # deletes itself once it has answered
    picker.show()
    origin = picker.desktop.topLeft()
    with qtbot.waitSignal(picker.picked, timeout=5000) as got:
        qtbot.mousePress(picker, Qt.MouseButton.LeftButton, pos=QPoint(40, 30))
        qtbot.mouseMove(picker, QPoint(200, 130))
        qtbot.mouseRelease(picker, Qt.MouseButton.LeftButton, pos=QPoint(240, 150))
    ratio = picker.ratio
    x, y = round((origin.x() + 40) * ratio), round((origin.y() + 30) * ratio)
    assert got.args == [f"screen:{x},{y},{round(200 * ratio)},{round(120 * ratio)}"]


# -- responsiveness and stopping --------------------------------------------------------------


def test_gui_stays_responsive_while_a_slow_model_runs(make_window, qtbot, clips: dict[str, Path],
                                                      model: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    predict = DeepfakeClassifier.predict

    def slow_predict(self: DeepfakeClassifier, crops: np.ndarray) -> np.ndarray:
        time.sleep(0.5)  # a model far slower than the video
        return predict(self, crops)

    monkeypatch.setattr(DeepfakeClassifier, "predict", slow_predict)
    window = make_window(str(clips["long"]), model=str(model))
    tile = window.tiles[0]
    qtbot.waitUntil(lambda: tile.faces == 1, timeout=WAIT_MS)
    # the video still plays at its own rate while each result takes half a second
    shown, started = tile.view.frames_shown, time.monotonic()
    qtbot.wait(1000)
    rate = (tile.view.frames_shown - shown) / (time.monotonic() - started)
    assert rate > 10, rate
    # dragging the slider: every step returns at once, and the event loop never stalls
    ticks: list[float] = []
    window.plot_timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    window.plot_timer.setInterval(20)
    slowest = 0.0
    for value in list(range(50, 10, -2)) + list(range(10, 60, 2)):
        t0 = time.monotonic()
        window.threshold_slider.setValue(value)
        slowest = max(slowest, time.monotonic() - t0)
        qtbot.wait(15)
    assert slowest < 0.1, f"a slider step took {slowest * 1000:.0f} ms"
    gaps = np.diff(ticks)
    assert len(gaps) > 20 and gaps.max() < 0.3, f"the event loop stalled {gaps.max():.2f} s"


def test_closing_the_window_stops_everything_within_two_seconds(
    make_window, qtbot, clips: dict[str, Path], model: Path
) -> None:
    window = make_window(str(clips["long"]), str(clips["fake"]), model=str(model))
    for tile in window.tiles:
        wait_for_faces(qtbot, window, tile)
    window.tiles[1].toggle_play()  # a paused source stops as quickly
    workers = list(window.workers)
    names = {t.name for t in engine_threads()}
    assert {"classifier", f"source:{clips['long']}", f"display:{clips['long']}",
            f"detect:{clips['fake']}"} <= names
    started = time.monotonic()
    window.close()
    took = time.monotonic() - started
    assert took < 2.0, f"closing took {took:.2f} s"
    assert engine_threads() == [], [t.name for t in engine_threads()]
    assert [t.name for t in threading.enumerate()] == ["MainThread"]
    for worker in workers:
        assert worker.source is not None and worker.source.state is SourceState.ENDED
        assert worker.source._capture is None  # the file is released


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("deepfake-monitor")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "deepfake_monitor.realtime.cli"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl+C"])
def test_signal_closes_the_app_from_the_terminal(sig: signal.Signals, clips: dict[str, Path],
                                                 model: Path, tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [*_cli(), "app", str(clips["long"]), "--model", str(model), "-v",
         "--settings", str(tmp_path / "s.ini")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    err = ""
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        while "opened 640x360" not in err and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stderr], [], [], 0.5)
            if ready:
                err += proc.stderr.readline()
            assert proc.poll() is None, err
        assert "opened 640x360" in err, err
        time.sleep(1.0)  # analysing
        sent = time.monotonic()
        proc.send_signal(sig)
        _, rest = proc.communicate(timeout=15)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    err += rest
    assert proc.returncode == 0, err
    assert took < 4.0, f"took {took:.1f} s"  # 2 s promised, plus interpreter exit
    assert "Traceback" not in err
    assert str(clips["long"]) in (tmp_path / "s.ini").read_text()  # settings were saved


def test_scan_and_watch_never_import_qt() -> None:
    code = ("import sys; from deepfake_monitor.realtime.cli import build_parser, main; "
            "build_parser(); assert main(['scan', '/nonexistent']) == 2; "
            "assert not any(m.startswith('PyQt6') for m in sys.modules), 'Qt imported'")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_no_display_is_one_line_and_exit_2() -> None:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    proc = subprocess.run([*_cli()], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("deepfake-monitor: error: cannot open the "
                                                    "app window: no display"), proc.stderr


# -- the real window under Xvfb ---------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_screenshot_of_the_real_window_under_xvfb(tmp_path: Path) -> None:
    """The real window on X11: two clips, then a screen region picked with the picker."""
    if not shutil.which("Xvfb"):
        pytest.skip("Xvfb is absent (run .ci/install-system-packages)")
    if not shared_clips():
        pytest.skip("../shared/media/videos is absent")
    out = tmp_path / "app.png"
    proc = subprocess.run([sys.executable, str(REPO / "tests" / "app_screenshot.py"),
                           "--out", str(out), "--pick-region"],
                          capture_output=True, text=True, timeout=110)
    if proc.returncode == 3:
        pytest.skip(proc.stderr.strip().splitlines()[-1])
    assert proc.returncode == 0, proc.stderr
    image = cv2.imread(str(out))
    assert image is not None and image.shape[0] >= 700 and image.shape[1] >= 1200
    assert float(image.std()) > 20  # a real picture, not a blank screen


def test_meter_text_is_a_probability_and_the_word_of_its_colour(qtbot) -> None:
    from deepfake_monitor.realtime.app.face_panels import MeterBar

    meter = MeterBar()
    qtbot.addWidget(meter)
    meter.set_value(0.35, 0.5)
    assert meter.text == "P(fake) 35 %  REAL"
    meter.set_value(0.43, 0.5)  # within 0.10 of the threshold: its own word and colour
    assert meter.text == "P(fake) 43 %  UNCERTAIN" and meter.colour.name() == "#ffbe00"
    meter.set_value(0.6, 0.5)
    assert meter.text == "P(fake) 60 %  FAKE"
    meter.set_value(0.6, 0.7)  # the slider moved above it
    assert meter.text == "P(fake) 60 %  UNCERTAIN"
