"""`deepfake-monitor watch` end to end: a file played live, a real RTSP server on 127.0.0.1 that
dies and comes back, alert events, clean shutdown on SIGTERM, and bad sources.
"""

from __future__ import annotations

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
    clip = write_clip(tmp_path / "call.mp4", astronaut_frames(face, n=100, redden_from=40))
    events = tmp_path / "events.jsonl"
    started = time.monotonic()
    code = main(["watch", str(clip), "--live", "--model", str(model), "--events", str(events),
                 "--alert-after", "0.3"])
    elapsed = time.monotonic() - started
    _, err = capsys.readouterr()
    assert code == 0, err
    assert elapsed > 3.0  # played at its own pace (4 s of video), not as fast as possible
    records = read_events(events)
    alerts = [r for r in records if r["type"] == "alert"]
    assert alerts, records
    first = alerts[0]
    assert first["source"] == str(clip) and first["track"] >= 1
    assert first["p"] >= 0.5 and first["threshold"] == 0.5
    assert first["t"] >= 40 / 25 + 0.3 - 0.2  # after the manipulation starts, plus alert-after
    assert "ALERT" in err
    states = [r["state"] for r in records if r["type"] == "status"]
    assert states[-1] == "ended"


def test_file_without_live_flag_points_at_scan(tmp_path: Path, model: Path, face,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    clip = write_clip(tmp_path / "c.mp4", astronaut_frames(face, n=5))
    assert main(["watch", str(clip), "--model", str(model)]) == 2
    err = capsys.readouterr().err
    assert "add --live" in err and str(clip) in err


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (f"rtsp://admin:{PASSWORD}@127.0.0.1:{{port}}/cam", "rtsp://***@127.0.0.1"),
        ("7", "7"),
        ("screen:99", "screen"),
        ("ftp://example/x", "unsupported"),
    ],
)
def test_unusable_sources_fail_in_one_line(source: str, expected: str, model: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    source = source.format(port=free_port())
    code = main(["watch", source, "--model", str(model), "--duration", "5"])
    err = capsys.readouterr().err
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("deepfake-monitor: error: "), err
    assert expected in lines[0]
    assert PASSWORD not in err and "Traceback" not in err


def _cli() -> list[str]:
    exe = Path(sys.executable).with_name("deepfake-monitor")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "deepfake_monitor.realtime.cli"]


@pytest.mark.slow
def test_watch_survives_an_rtsp_server_restart_and_stops_on_sigterm(
    tmp_path: Path, model: Path, face
) -> None:
    for reason in (rtsp_unavailable_reason(), ffmpeg_unavailable_reason()):
        if reason:
            pytest.skip(reason)
    clip = write_h264_clip(tmp_path / "cam.mp4",
                           astronaut_frames(face, n=100, size=(480, 360)))
    events = tmp_path / "events.jsonl"
    with RtspServer(clip, user="viewer", password=PASSWORD) as server:
        proc = subprocess.Popen(
            [*_cli(), "watch", server.url, "--model", str(model), "--events", str(events),
             "--duration", "120"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
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
    assert "disconnected" in states and "reconnecting" in states
    assert states.index("disconnected") < len(states) - 1 - states[::-1].index("live")
    for text in (err, out, events.read_text()):
        assert PASSWORD not in text
    assert "rtsp://***@127.0.0.1" in err
    assert "Traceback" not in err
    # The status line reported faces from the stream.
    assert "faces 1" in err
