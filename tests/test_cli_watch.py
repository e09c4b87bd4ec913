"""`deepfake-monitor watch` end to end: a file played live, a real RTSP server on 127.0.0.1 that
dies and comes back, alert events, clean shutdown on SIGTERM, and bad sources.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest
from conftest import astronaut_frames, wait_for, write_clip
from rtsp_support import (
    RtspServer,
    ffmpeg_unavailable_reason,
    free_port,
    rtsp_unavailable_reason,
    write_h264_clip,
)
from tiny_models import build_redness_model

from deepfake_monitor.realtime.cli import main

pytestmark = pytest.mark.timeout(240)
PASSWORD = "s3cr3t-pw"
ODD_PASSWORD = "p#ss/w?rd@x"  # reserved characters, unencoded


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_redness_model(tmp_path_factory.mktemp("model") / "redness.onnx")


@pytest.fixture(scope="module")
def face():
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


def read_events(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_file_played_live_raises_an_alert_once_the_face_turns_fake(
    tmp_path: Path, model: Path, face, capsys: pytest.CaptureFixture[str]
) -> None:
    """--alert-after is what delays the alert: 1 s of it puts the first alert 1 s (of video
    time) later than a run with almost none, beyond the smoothing delay both share."""
    clip = write_clip(tmp_path / "call.mp4", astronaut_frames(face, n=100, redden_from=40))
    first: dict[str, dict] = {}
    for after in ("0.01", "1.0"):
        events = tmp_path / f"events-{after}.jsonl"
        started = time.monotonic()
        code = main(["watch", str(clip), "--live", "--model", str(model), "--events",
                     str(events), "--alert-after", after])
        elapsed = time.monotonic() - started
        _, err = capsys.readouterr()
        assert code == 0, err
        assert elapsed > 3.0  # played at its own pace (4 s of video), not as fast as possible
        records = read_events(events)
        alerts = [r for r in records if r["type"] == "alert"]
        assert alerts, records
        first[after] = alerts[0]
        assert alerts[0]["source"] == str(clip) and alerts[0]["track"] >= 1
        assert alerts[0]["p"] >= 0.5 and alerts[0]["threshold"] == 0.5
        assert alerts[0]["t"] >= 40 / 25  # not before the manipulation starts
        assert "ALERT" in err
        states = [r["state"] for r in records if r["type"] == "status"]
        assert states[-1] == "ended"
    delay = first["1.0"]["t"] - first["0.01"]["t"]
    assert 1.0 - 0.1 <= delay <= 1.0 + 0.2, first  # a frame or two of jitter, played live


def test_file_without_live_flag_points_at_scan(tmp_path: Path, model: Path, face,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    clip = write_clip(tmp_path / "c.mp4", astronaut_frames(face, n=5))
    assert main(["watch", str(clip), "--model", str(model)]) == 2
    err = capsys.readouterr().err
    assert "add --live" in err and str(clip) in err


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("7", "webcam 7: no such camera"),
        ("screen:99", "screen"),
        ("ftp://example/x", "unsupported"),
        ("missing.mp4", "missing.mp4: no such file"),
    ],
)
def test_unusable_sources_fail_at_once_in_one_line(source: str, expected: str, model: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A wrong webcam index, a bad URL scheme or a missing file is no camera that is down."""
    started = time.monotonic()
    code = main(["watch", source, "--live", "--model", str(model), "--duration", "20"])
    err = capsys.readouterr().err
    assert code == 2
    assert time.monotonic() - started < 10
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("deepfake-monitor: error: "), err
    assert expected in lines[0]
    assert "Traceback" not in err


def test_unreachable_stream_is_retried_until_the_retries_are_spent(
    tmp_path: Path, model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"rtsp://admin:{ODD_PASSWORD}@127.0.0.1:{free_port()}/cam"
    events = tmp_path / "events.jsonl"
    started = time.monotonic()
    code = main(["watch", url, "--model", str(model), "--max-retries", "2",
                 "--events", str(events)])
    took = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 2, err  # nothing was watched
    assert 1.5 <= took < 15  # 0.5 + 1 s of backoff between three attempts
    states = [r["state"] for r in read_events(events)]
    assert states == ["connecting", "disconnected", "connecting", "connecting", "failed"]
    errors = [ln for ln in err.splitlines() if ln.startswith("deepfake-monitor: error: ")]
    assert len(errors) == 1, err
    assert "rtsp://***@127.0.0.1" in errors[0]
    assert "gave up after 3 attempts (2 retries)" in errors[0]
    assert "Connection refused" in errors[0]
    for text in (err, events.read_text()):
        assert not [p for p in ("p#ss", "w?rd", "ss/w") if p in text], text


def test_max_retries_counts_retries_as_its_help_says(
    model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--max-retries 1: the first attempt and one retry, and both the help and the error say
    so (the error used to count 2 attempts under a help that promised 1)."""
    with pytest.raises(SystemExit):
        main(["watch", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "retry a network source or webcam at most N times in a row" in help_text
    url = f"rtsp://127.0.0.1:{free_port()}/cam"
    code = main(["watch", url, "--model", str(model), "--max-retries", "1"])
    err = capsys.readouterr().err
    assert code == 2, err
    errors = [ln for ln in err.splitlines() if ln.startswith("deepfake-monitor: error: ")]
    assert len(errors) == 1, err
    assert "gave up after 2 attempts (1 retry) in " in errors[0], errors[0]


def test_give_up_after_and_a_partial_failure_exit_1(
    tmp_path: Path, model: Path, face, capsys: pytest.CaptureFixture[str]
) -> None:
    """One source watched to its end, one stream given up after 1.5 s: exit code 1."""
    clip = write_clip(tmp_path / "c.mp4", astronaut_frames(face, n=75))
    url = f"rtsp://127.0.0.1:{free_port()}/cam?password={PASSWORD}"
    code = main(["watch", str(clip), url, "--live", "--model", str(model),
                 "--give-up-after", "1.5"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "rtsp://127.0.0.1" in err and "password=***" in err and PASSWORD not in err
    assert "gave up after" in err


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("deepfake-monitor")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "deepfake_monitor.realtime.cli"]


@pytest.mark.slow
def test_watch_waits_for_a_camera_that_is_down_survives_its_restart_and_stops_on_sigterm(
    tmp_path: Path, model: Path, face
) -> None:
    """The camera is down when watch starts and comes up 3 s later; later it dies and comes
    back. The password holds "#", "/", "?" and "@" unencoded; it shows nowhere."""
    for reason in (rtsp_unavailable_reason(), ffmpeg_unavailable_reason()):
        if reason:
            pytest.skip(reason)
    clip = write_h264_clip(tmp_path / "cam.mp4",
                           astronaut_frames(face, n=100, size=(480, 360)))
    events = tmp_path / "events.jsonl"
    server = RtspServer(clip, user="viewer", password=ODD_PASSWORD)
    with server:
        server.stop()  # the camera is rebooting
        proc = subprocess.Popen(
            [*_cli(), "watch", server.url, "--model", str(model), "--events", str(events),
             "--duration", "120"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            wait_for(lambda: len([r for r in read_events(events)
                                  if r.get("state") == "connecting"]) >= 3, 30, "retries")
            assert proc.poll() is None  # still trying, not given up
            server.restart()  # the camera is up
            # Frames flow: the first status event says live.
            wait_for(lambda: any(r.get("state") == "live" for r in read_events(events)), 30,
                      "live")
            time.sleep(2.0)
            server.stop()
            wait_for(lambda: any(r.get("state") == "disconnected"
                                  for r in read_events(events)), 20, "disconnected")
            server.restart()
            wait_for(lambda: any("reconnected" in r.get("message", "")
                                  for r in read_events(events)), 30, "reconnected")
            time.sleep(1.0)
            assert proc.poll() is None  # still watching
            sent = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=10)
            stop_s = time.monotonic() - sent
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, err
    assert stop_s < 4.0, f"took {stop_s:.1f} s to stop"  # 2 s promised, plus process exit
    records = read_events(events)
    states = [r["state"] for r in records if r["type"] == "status"]
    assert states[:3] == ["connecting", "disconnected", "connecting"]
    first_live = states.index("live")
    assert set(states[1:first_live]) == {"disconnected", "connecting"}
    assert "attempts" in records[first_live]["message"]
    assert "reconnecting" in states[first_live:]
    assert states.index("disconnected", first_live) < len(states) - 1 - states[::-1].index("live")
    for text in (err, out, events.read_text()):
        assert not [p for p in ("p#ss", "w?rd", "ss/w") if p in text], text
    assert "rtsp://***@127.0.0.1" in err
    assert "Traceback" not in err
    # The status line reported faces from the stream.
    assert "faces 1" in err


def test_status_lines_are_printed_once_each(tmp_path: Path, model: Path, face) -> None:
    """Every few seconds while watching (in a log, only lines that say something new), and
    once at the end: the last line never twice."""
    import io

    from deepfake_monitor.realtime.analysis.pipeline import AnalysisConfig
    from deepfake_monitor.realtime.faces.detector import FaceDetector
    from deepfake_monitor.realtime.model.classifier import DeepfakeClassifier, InferenceService
    from deepfake_monitor.realtime.outputs.events import EventLog
    from deepfake_monitor.realtime.sources.spec import parse_source
    from deepfake_monitor.realtime.watch import WatchSession

    clip = write_clip(tmp_path / "c.mp4", astronaut_frames(face, n=50))
    service = InferenceService(DeepfakeClassifier(model)).start()
    out = io.StringIO()
    try:
        session = WatchSession([parse_source(str(clip), live_files=True)], FaceDetector(),
                               service, AnalysisConfig(threshold=0.5), EventLog(None),
                               status_every_s=0.5, out=out)
        session.open()
        session.run()
    finally:
        service.stop()
    lines = [ln for ln in out.getvalue().splitlines() if " max p " in ln]
    assert len(lines) >= 3, out.getvalue()  # 2 s of video, a line every 0.5 s, and the last
    assert all(a != b for a, b in itertools.pairwise(lines)), lines
    assert lines[-1].startswith(f"{clip}: ended ")


def test_status_line_shows_no_stale_numbers_while_reconnecting(tmp_path: Path, model: Path,
                                                               face) -> None:
    """After real frames with a face, a source that drops (the event its VideoSource sends
    when a camera goes away) shows no fps, latency or faces of the frames before."""
    import io

    from deepfake_monitor.realtime.analysis.pipeline import AnalysisConfig
    from deepfake_monitor.realtime.faces.detector import FaceDetector
    from deepfake_monitor.realtime.model.classifier import DeepfakeClassifier, InferenceService
    from deepfake_monitor.realtime.outputs.events import EventLog
    from deepfake_monitor.realtime.sources.spec import SourceState, StatusEvent, parse_source
    from deepfake_monitor.realtime.watch import WatchSession

    clip = write_clip(tmp_path / "c.mp4", astronaut_frames(face, n=25))
    service = InferenceService(DeepfakeClassifier(model)).start()
    try:
        session = WatchSession([parse_source(str(clip), live_files=True)], FaceDetector(),
                               service, AnalysisConfig(threshold=0.5), EventLog(None),
                               status_every_s=60, out=io.StringIO())
        session.open()
        session.run()
    finally:
        service.stop()
    name = session.analyzers[0].source.name
    assert " faces 1 " in session.status_line()  # the frames' numbers while they came
    for state in (SourceState.DISCONNECTED, SourceState.RECONNECTING):
        session.analyzers[0].source.on_status(  # type: ignore[misc]
            StatusEvent(name, state, "reconnect attempt 1 in 0.5 s", time.time()))
        assert session.status_line() == \
            f"{clip}: {state.value} - fps - ms faces - max p - alerts 0"


def test_app_help_lists_the_sources_watch_takes(capsys: pytest.CaptureFixture[str]) -> None:
    from deepfake_monitor.realtime.sources.spec import STREAM_SCHEMES

    texts = {}
    for command in ("app", "watch"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        texts[command] = text[text.index("SOURCE: "):]
    for scheme in STREAM_SCHEMES:
        assert f"{scheme}://" in texts["app"] or \
            (scheme in ("http", "https") and "http(s)://" in texts["app"]), scheme
    # the same list of sources, up to what only watch needs (--live for a file)
    assert texts["watch"].startswith(texts["app"].split("'screen'")[0])


def test_watch_help_lists_every_stream_scheme_and_the_exit_codes(
        capsys: pytest.CaptureFixture[str]) -> None:
    from deepfake_monitor.realtime.sources.spec import STREAM_SCHEMES

    with pytest.raises(SystemExit):
        main(["watch", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for scheme in STREAM_SCHEMES:
        assert f"{scheme}://" in text or (scheme in ("http", "https") and "http(s)://" in text)
    for code in ("Exit codes: 0", "; 1 ", "; 2 "):
        assert code in text
    assert "--max-retries" in text and "--give-up-after" in text
