"""`watch http://host/clip.mp4`: a video file served over HTTP is a file, not a live stream.
Every frame is analysed at the analysis' own pace (or, with --live, played at its own frame
rate), so its fake second half raises an alert, and the end says how many frames were analysed
and dropped. A real HTTP server on 127.0.0.1, started and stopped by the test."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from av_clips import http_folder, write_h264
from conftest import astronaut_frames
from tiny_models import build_redness_model

from deepfake_monitor.realtime.cli import main

pytestmark = pytest.mark.timeout(180)

FRAMES, FAKE_FROM, FPS = 100, 50, 25  # 4 s; the face turns "fake" (red) at 2 s


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The clip (H.264, index first, as web servers serve video) and the redness model."""
    from skimage import data

    folder = tmp_path_factory.mktemp("www")
    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    frames: list[np.ndarray] = astronaut_frames(face, n=FRAMES, redden_from=FAKE_FROM)
    clip = write_h264(folder / "call.mp4", frames)
    return clip, build_redness_model(folder.parent / "redness.onnx")


@pytest.mark.parametrize("live", [False, True])
def test_watch_analyses_a_video_served_over_http_as_a_file(
        live: bool, served: tuple[Path, Path], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    clip, model = served
    events = tmp_path / "events.jsonl"
    with http_folder(clip.parent) as base:
        url = f"{base}/{clip.name}"
        started = time.monotonic()
        code = main(["watch", url, "--model", str(model), "--events", str(events),
                     *(["--live"] if live else [])])
        elapsed = time.monotonic() - started
    err = capsys.readouterr().err
    assert code == 0, err
    records = [json.loads(line) for line in events.read_text().splitlines()]
    alerts = [r for r in records if r["type"] == "alert"]
    assert alerts, records  # the fake half was analysed
    assert alerts[0]["t"] >= FAKE_FROM / FPS  # video time, not wall-clock time
    assert [r["state"] for r in records if r["type"] == "status"][-1] == "ended"
    if live:
        assert elapsed > 3.0  # played at its own frame rate: 4 s of video
        assert f"{url}: " in err and " frame(s) analysed, " in err
    else:
        assert f"{url}: {FRAMES} frame(s) analysed, 0 dropped" in err
