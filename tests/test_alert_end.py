"""An alert whose track ends (the face is lost, the source disconnects) ends with a reason a
consumer can tell from a real clear: `alert_ended` with `track_lost` or `disconnected`, the
face's P(fake) still above the threshold; `alert_cleared` (`below_threshold`) only when it fell
below. The real pipeline (detector, redness classifier) on real frames of a real face."""

from __future__ import annotations

import io
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import astronaut_frames, write_clip
from tiny_models import build_redness_model

from deepfake_monitor.realtime.analysis.pipeline import AlertEvent, AnalysisConfig, StreamAnalyzer
from deepfake_monitor.realtime.analysis.tracking import SmoothingConfig
from deepfake_monitor.realtime.faces.detector import FaceDetector
from deepfake_monitor.realtime.model.classifier import DeepfakeClassifier, InferenceService
from deepfake_monitor.realtime.outputs.events import EventLog, alert_record
from deepfake_monitor.realtime.sources.spec import parse_source
from deepfake_monitor.realtime.sources.video_source import VideoSource
from deepfake_monitor.realtime.watch import WatchSession

pytestmark = pytest.mark.timeout(120)

QUICK = SmoothingConfig(tau_s=0.05, alert_after_s=0.2, forget_after_s=1.0)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    model = build_redness_model(tmp_path_factory.mktemp("model") / "redness.onnx")
    service = InferenceService(DeepfakeClassifier(model)).start()
    yield service
    service.stop()


def run_to_end(analyzer: StreamAnalyzer) -> None:
    analyzer.start()
    try:
        assert analyzer.wait(timeout=60), "the analysis did not end"
    finally:
        analyzer.stop()


def test_a_fake_face_that_leaves_ends_its_alert_as_track_lost(
        tmp_path: Path, astronaut_bgr: np.ndarray, service: InferenceService) -> None:
    """1.2 s of a fake (red) face, then 1.6 s of an empty scene: the face was fake when last
    seen, so its alert ends as track_lost, not as cleared."""
    fake = astronaut_frames(astronaut_bgr, n=30, redden_from=0)
    empty = [np.full_like(fake[0], 90) for _ in range(40)]
    clip = write_clip(tmp_path / "leaves.mp4", fake + empty)
    alerts: list[AlertEvent] = []
    analyzer = StreamAnalyzer(VideoSource(parse_source(str(clip))), FaceDetector(), service,
                              AnalysisConfig(threshold=0.5, smoothing=QUICK),
                              on_alert=alerts.append)
    run_to_end(analyzer)
    assert [(a.active, a.reason) for a in alerts] == [(True, None), (False, "track_lost")]
    start, end = alerts
    assert end.track == start.track and end.p_smooth >= 0.5  # still fake when it left
    assert end.t >= 29 / 25 + QUICK.forget_after_s - 1e-6  # last seen in frame 29
    record = alert_record(end)
    assert (record["type"], record["reason"]) == ("alert_ended", "track_lost")


def test_a_fake_face_that_turns_real_is_cleared(
        tmp_path: Path, astronaut_bgr: np.ndarray, service: InferenceService) -> None:
    frames = astronaut_frames(astronaut_bgr, n=60, redden_from=0)
    frames[30:] = astronaut_frames(astronaut_bgr, n=60)[30:]  # the same face, untouched
    clip = write_clip(tmp_path / "turns.mp4", frames)
    alerts: list[AlertEvent] = []
    analyzer = StreamAnalyzer(VideoSource(parse_source(str(clip))), FaceDetector(), service,
                              AnalysisConfig(threshold=0.5, smoothing=QUICK),
                              on_alert=alerts.append)
    run_to_end(analyzer)
    assert [(a.active, a.reason) for a in alerts] == [(True, None), (False, "below_threshold")]
    assert alerts[1].p_smooth < 0.5
    record = alert_record(alerts[1])
    assert (record["type"], record["reason"]) == ("alert_cleared", "below_threshold")


def test_a_disconnect_ends_the_alert_as_disconnected(
        tmp_path: Path, astronaut_bgr: np.ndarray, service: InferenceService,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """No camera here: cv2.VideoCapture(index) is a real capture of a real clip of a fake face
    that stops delivering after 40 frames the first time (unplugged, plugged back in). The
    alert ends with the connection, as `disconnected`, and the face after it is a new track."""
    clip = write_clip(tmp_path / "cam.mp4", astronaut_frames(astronaut_bgr, n=200,
                                                             redden_from=0))
    real_capture = cv2.VideoCapture
    opened: list[int] = []

    class Camera:
        def __init__(self, index: int) -> None:
            opened.append(index)
            self._cap = real_capture(str(clip))
            self._left = 40 if len(opened) == 1 else 10**6

        def grab(self) -> bool:
            self._left -= 1
            time.sleep(1 / 25)  # a camera delivers 25 frames a second
            return self._left >= 0 and self._cap.grab()

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(self._cap, name)

    monkeypatch.setattr(cv2, "VideoCapture", Camera)
    events = EventLog(None)
    out = io.StringIO()
    session = WatchSession([parse_source("5")], FaceDetector(), service,
                           AnalysisConfig(threshold=0.5, pending_frames=2, smoothing=QUICK),
                           events, status_every_s=0.2, out=out)
    session.open()
    session.run(duration_s=3.5)  # 1.6 s of frames, 0.5 s to reconnect, more frames
    assert opened == [5, 5]
    alerts = [r for r in events.records if r["type"] != "status"]
    first = [r for r in alerts if r["track"] == alerts[0]["track"]]
    assert [r["type"] for r in first][:2] == ["alert", "alert_ended"], alerts
    assert first[1]["reason"] == "disconnected" and first[1]["p"] >= 0.5
    assert not any(r["type"] == "alert_cleared" for r in alerts), alerts
    assert "alert ended (disconnected, not cleared)" in out.getvalue()
