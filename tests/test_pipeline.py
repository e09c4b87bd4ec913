"""The per-stream pipeline on real decoded frames: order, threshold changes, stopping cleanly,
and several streams sharing one classifier session."""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import astronaut_frames, write_clip
from tiny_models import build_redness_model

from deepfake_monitor.realtime.analysis.pipeline import (
    AlertEvent,
    AnalysisConfig,
    FrameResult,
    StreamAnalyzer,
)
from deepfake_monitor.realtime.analysis.tracking import SmoothingConfig
from deepfake_monitor.realtime.faces.detector import FaceDetector
from deepfake_monitor.realtime.model.classifier import DeepfakeClassifier, InferenceService
from deepfake_monitor.realtime.outputs.overlays import LabelAnnotator, annotate, risk_colour
from deepfake_monitor.realtime.sources.spec import parse_source
from deepfake_monitor.realtime.sources.video_source import VideoSource

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):
    model = build_redness_model(tmp_path_factory.mktemp("m") / "redness.onnx")
    service = InferenceService(DeepfakeClassifier(model)).start()
    yield FaceDetector(), service
    service.stop()


def _pipeline_threads() -> list[str]:
    return [t.name for t in threading.enumerate()
            if t.name.split(":")[0] in ("detect", "result", "source")]


def test_file_results_arrive_in_order_with_every_frame(engine, tmp_path: Path,
                                                       astronaut_bgr: np.ndarray) -> None:
    detector, service = engine
    clip = write_clip(tmp_path / "c.mp4", astronaut_frames(astronaut_bgr, n=40))
    results: list[FrameResult] = []
    analyzer = StreamAnalyzer(VideoSource(parse_source(str(clip))), detector, service,
                              AnalysisConfig(threshold=0.5), on_result=results.append)
    started = time.monotonic()
    analyzer.start()
    assert analyzer.wait(timeout=60)
    elapsed = time.monotonic() - started
    assert analyzer.error is None
    assert [r.index for r in results] == list(range(40))
    assert all(len(r.faces) == 1 for r in results)
    assert {r.faces[0].track for r in results} == {1}
    # capture to result: after the frame was read, within the run, in result order
    assert all(0 < r.latency_s < elapsed and r.provider == "CPU" for r in results)
    assert all(a.done_at <= b.done_at for a, b in itertools.pairwise(results))
    assert [r.t for r in results] == pytest.approx([i / 25 for i in range(40)], abs=1e-3)
    assert not _pipeline_threads()


def test_file_frames_detected_in_batches_keep_order_and_boxes(
        engine, tmp_path: Path, astronaut_bgr: np.ndarray) -> None:
    """detect_batch > 1: frames already waiting share one detector call, and every frame still
    gets its own faces, in order, the same as detected one at a time."""
    detector, service = engine
    clip = write_clip(tmp_path / "c.mp4", astronaut_frames(astronaut_bgr, n=40))
    sizes: list[int] = []
    real_detect_batch = detector.detect_batch

    def counting(frames):  # type: ignore[no-untyped-def]
        sizes.append(len(frames))
        return real_detect_batch(frames)

    boxes = {}
    for batch in (1, 4):
        sizes.clear()
        results: list[FrameResult] = []
        detector.detect_batch = counting
        try:
            source = VideoSource(parse_source(str(clip)))
            source.start()
            time.sleep(0.5)  # let frames queue up, as they do behind a busy detector
            analyzer = StreamAnalyzer(source, detector, service,
                                      AnalysisConfig(threshold=0.5, detect_batch=batch),
                                      on_result=results.append)
            analyzer.start()
            assert analyzer.wait(timeout=60)
        finally:
            del detector.detect_batch
        assert analyzer.error is None
        assert [r.index for r in results] == list(range(40))
        assert max(sizes) == batch and sum(sizes) == 40
        boxes[batch] = [r.faces[0].box for r in results]
    assert np.allclose(boxes[1], boxes[4], atol=0.5)


def test_threshold_change_reaches_alerts_and_colours(engine, tmp_path: Path,
                                                     astronaut_bgr: np.ndarray) -> None:
    """Lowered mid-stream below the face's score, the threshold raises an alert once the face
    has stayed above it for alert-after (in video time), with the new threshold in it."""
    detector, service = engine
    clip = write_clip(tmp_path / "c.mp4", astronaut_frames(astronaut_bgr, n=100))
    alerts: list[AlertEvent] = []
    results: list[FrameResult] = []
    config = AnalysisConfig(threshold=0.9, smoothing=SmoothingConfig(alert_after_s=0.4))
    analyzer = StreamAnalyzer(VideoSource(parse_source(str(clip), live_files=True)), detector,
                              service, config, on_result=results.append, on_alert=alerts.append)
    analyzer.start()
    try:
        deadline = time.monotonic() + 20
        while not (results and results[-1].t > 1.0) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert alerts == []  # an untouched face scores ~0.13: no alert at 0.9
        p = results[-1].faces[0].p_smooth
        assert p < 0.3
        assert risk_colour(p, 0.9) != risk_colour(p, p / 2)
        analyzer.set_threshold(p / 2)
        changed_at = analyzer.last_result.t  # type: ignore[union-attr]
        assert analyzer.threshold == pytest.approx(p / 2)
        assert analyzer.wait(timeout=30)
    finally:
        analyzer.stop()
    assert [(a.track, a.active) for a in alerts] == [(1, True)]
    alert = alerts[0]
    assert alert.threshold == pytest.approx(p / 2) and alert.p_smooth >= p / 2
    # not before alert-after has passed, and at the first frame after it (1/25 s apart)
    assert 0.4 <= alert.t - changed_at <= 0.4 + 0.2
    later = [r for r in results if r.t >= alert.t]
    assert later and all(r.threshold == pytest.approx(p / 2) and r.faces[0].alert
                         for r in later)


def test_alert_comes_exactly_alert_after_seconds_after_the_score_crosses(
        engine, tmp_path: Path, astronaut_bgr: np.ndarray) -> None:
    """Every frame analysed (a file): the alert is raised on the first frame at least
    alert-after seconds (video time) after the smoothed score first reached the threshold."""
    detector, service = engine
    clip = write_clip(tmp_path / "c.mp4", astronaut_frames(astronaut_bgr, n=100, redden_from=30))
    firsts = {}
    for after in (0.3, 1.0):
        alerts: list[AlertEvent] = []
        results: list[FrameResult] = []
        config = AnalysisConfig(threshold=0.5, smoothing=SmoothingConfig(alert_after_s=after))
        analyzer = StreamAnalyzer(VideoSource(parse_source(str(clip))), detector, service,
                                  config, on_result=results.append, on_alert=alerts.append)
        analyzer.start()
        assert analyzer.wait(timeout=60)
        crossed = next(r.t for r in results if r.faces and r.faces[0].p_smooth >= 0.5)
        assert all(r.faces[0].p_smooth >= 0.5 for r in results if r.t >= crossed)
        expected = next(r.t for r in results if r.t - crossed >= after - 1e-9)
        assert [(a.active, a.t) for a in alerts] == [(True, pytest.approx(expected))]
        assert all(not r.faces[0].alert for r in results if r.t < expected)
        firsts[after] = alerts[0].t
    assert firsts[1.0] - firsts[0.3] == pytest.approx(0.7, abs=0.041)


def test_default_hysteresis_band_keeps_an_alert_until_005_below(
        engine, tmp_path: Path, astronaut_bgr: np.ndarray) -> None:
    """SmoothingConfig's default band: a threshold moved up to 0.05 above an alerting face's
    score keeps its alert; beyond that, the alert clears at once."""
    assert SmoothingConfig().hysteresis == 0.05
    detector, service = engine
    clip = write_clip(tmp_path / "c.mp4", astronaut_frames(astronaut_bgr, n=40, redden_from=0))
    alerts: list[AlertEvent] = []
    analyzer = StreamAnalyzer(VideoSource(parse_source(str(clip))), detector, service,
                              AnalysisConfig(threshold=0.5,
                                             smoothing=SmoothingConfig(alert_after_s=0.2)),
                              on_alert=alerts.append)
    analyzer.start()
    assert analyzer.wait(timeout=60)  # the file ended: the face's state stays as it was
    assert [a.active for a in alerts] == [True]
    state = analyzer.smoother.faces[1]
    p = state.p_smooth
    assert p > 0.55 and state.alert
    analyzer.set_threshold(p + 0.049)  # inside the band: the alert holds
    assert state.alert and len(alerts) == 1
    analyzer.set_threshold(p + 0.051)  # past it: cleared at once
    assert not state.alert
    assert [(a.active, a.threshold) for a in alerts[1:]] == [(False, pytest.approx(p + 0.051))]
    analyzer.set_threshold(p)  # back at the score: above again, but alert-after starts anew
    assert not state.alert and len(alerts) == 2


def test_stop_mid_stream_ends_every_thread_within_two_seconds(
    engine, tmp_path: Path, astronaut_bgr: np.ndarray
) -> None:
    detector, service = engine
    clip = write_clip(tmp_path / "long.mp4", astronaut_frames(astronaut_bgr, n=250))
    seen = threading.Event()
    analyzer = StreamAnalyzer(VideoSource(parse_source(str(clip), live_files=True)), detector,
                              service, AnalysisConfig(threshold=0.5),
                              on_result=lambda r: seen.set())
    analyzer.start()
    assert seen.wait(10)
    started = time.monotonic()
    analyzer.stop(timeout=2.0)
    assert time.monotonic() - started < 2.5
    assert analyzer.done
    assert not _pipeline_threads()


def test_several_live_streams_share_one_session(engine, tmp_path: Path,
                                                astronaut_bgr: np.ndarray) -> None:
    detector, service = engine
    before = service.crops_done
    analyzers = []
    counts = [0, 0, 0]
    for k in range(3):
        clip = write_clip(tmp_path / f"s{k}.mp4",
                          astronaut_frames(astronaut_bgr, n=50, redden_from=0 if k == 2 else None))

        def count(result: FrameResult, k: int = k) -> None:
            counts[k] += 1

        analyzers.append(StreamAnalyzer(VideoSource(parse_source(str(clip), live_files=True)),
                                        detector, service, AnalysisConfig(threshold=0.5),
                                        on_result=count))
    for a in analyzers:
        a.start()
    for a in analyzers:
        assert a.wait(timeout=30)
    assert all(c > 10 for c in counts), counts
    assert service.crops_done - before == sum(a.faces_analyzed for a in analyzers)
    scores = [a.last_result.faces[0].p_smooth for a in analyzers]
    assert scores[2] > max(scores[:2]) + 0.3  # the reddened stream, and only it


def test_annotate_draws_meters_and_labels(engine, astronaut_bgr: np.ndarray) -> None:
    from deepfake_monitor.realtime.analysis.pipeline import FaceResult

    frame = np.full((360, 640, 3), 90, np.uint8)
    face = FaceResult(track=3, box=(100.0, 80.0, 220.0, 230.0), detection_score=0.9, p=0.8,
                      p_smooth=0.8, peak=0.8, alert=True, above_s=2.0)
    result = FrameResult(source="cam", index=0, t=0.0, captured_at=0.0, done_at=0.05,
                         image=frame, faces=(face,), threshold=0.5, analysed_fps=12.0,
                         provider="CPU")
    out = annotate(frame.copy(), result)
    red = (out[..., 2] > 200) & (out[..., 1] < 80)
    assert red[80:231, 98:103].any()  # the box's left edge, in the alert colour
    assert red[80:231, 222:240].any()  # the meter beside the box
    assert (out[:30, :200] != 90).any()  # the header


@pytest.mark.parametrize(("p", "alert", "text", "colour"), [
    (0.39, False, "#3 P(fake) 39% REAL", (80, 200, 60)),  # below the band: green
    (0.43, False, "#3 P(fake) 43% UNCERTAIN", (0, 190, 255)),  # within 0.10 of 0.5: amber
    (0.5999, False, "#3 P(fake) 60% UNCERTAIN", (0, 190, 255)),  # rounds to 60, still inside
    (0.6, False, "#3 P(fake) 60% FAKE", (40, 40, 230)),  # the band's top edge counts as fake
    (0.8, True, "#3 P(fake) 80% FAKE ALERT", (40, 40, 230)),
    # an alert holds a little below the threshold: its colour and word still agree (amber)
    (0.47, True, "#3 P(fake) 47% UNCERTAIN ALERT", (0, 190, 255)),
])
def test_labels_say_p_fake_and_the_word_of_their_colour(p: float, alert: bool, text: str,
                                                        colour: tuple[int, int, int]) -> None:
    from deepfake_monitor.realtime.analysis.pipeline import FaceResult
    from deepfake_monitor.realtime.outputs.overlays import FONT, face_label

    face = FaceResult(track=3, box=(100.0, 120.0, 220.0, 270.0), detection_score=0.9, p=p,
                      p_smooth=p, peak=p, alert=alert, above_s=2.0 if alert else 0.0)
    assert face_label(face, 0.5) == text
    frame = np.full((360, 640, 3), 90, np.uint8)
    result = FrameResult(source="cam", index=0, t=0.0, captured_at=0.0, done_at=0.05,
                         image=frame, faces=(face,), threshold=0.5, analysed_fps=12.0,
                         provider="CPU")
    out = annotate(frame.copy(), result, (LabelAnnotator(),))
    # the label's coloured band is as wide as its text: the words are drawn, none cut
    band = (np.abs(out[80:117].astype(int) - 90).sum(axis=2) > 60).any(axis=0)
    cols = np.nonzero(band)[0]
    scale = 0.8  # overlays' text scale at 360 px: max(0.8, height / 720)
    width = cv2.getTextSize(text, FONT, 0.55 * scale, max(1, round(1.5 * scale)))[0][0]
    assert cols.min() == 100 and cols.max() - cols.min() == pytest.approx(width + 4, abs=1)
    assert tuple(int(v) for v in out[100, 101]) == colour  # the band, left of the text
