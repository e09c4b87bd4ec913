"""Variable-frame-rate video (as phones and calls record it) is sampled by presentation time:
`--sample-fps 5` analyses five frames per second of video in the dense part and in the sparse
part alike, on the sampled H.264 path (PyAV) and on the OpenCV path, and the report's duration
is where the last frame ends. Real frames of the bundled sample clip: 2 s at 25 fps, then 3 s
at 5 fps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from av_clips import sample_frames, write_h264

from deepfake_monitor.realtime.cli import main
from deepfake_monitor.realtime.sources.files import FileCapture
from deepfake_monitor.realtime.sources.h264 import SampledH264Capture
from deepfake_monitor.realtime.sources.spec import parse_source
from deepfake_monitor.realtime.sources.video_source import VideoSource

pytestmark = pytest.mark.timeout(300)

TIMES = [i / 25 for i in range(50)] + [2 + i / 5 for i in range(15)]
FIVE_A_SECOND = [k / 5 for k in range(25)]  # 0, 0.2, ... 4.8: one frame per 1/5 s of video


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return sample_frames(len(TIMES))


@pytest.fixture(scope="module", params=["libx264", "mpeg4"])
def vfr_clip(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
             frames: list[np.ndarray]) -> tuple[str, Path]:
    """The clip in H.264 with B-frames (read by PyAV, unsampled frames left undecoded) and in
    MPEG-4 part 2 (read by OpenCV)."""
    codec = request.param
    path = tmp_path_factory.mktemp("vfr") / f"vfr-{codec}.mp4"
    return codec, write_h264(path, frames, TIMES, codec=codec)


def test_vfr_clip_is_sampled_five_frames_per_second_of_video(
        vfr_clip: tuple[str, Path]) -> None:
    codec, clip = vfr_clip
    source = VideoSource(parse_source(str(clip)), sample_fps=5.0)
    source.open()
    expected_capture = SampledH264Capture if codec == "libx264" else \
        FileCapture
    assert isinstance(source._capture, expected_capture)
    source.start()
    read = []
    while not source.ended:
        frame = source.read(timeout=5.0)
        if frame is not None:
            read.append(frame)
    source.stop()
    assert [f.t for f in read] == pytest.approx(FIVE_A_SECOND, abs=1e-3)
    assert [f.index for f in read] == list(range(0, 50, 5)) + list(range(50, 65))
    assert source.duration_s == pytest.approx(5.0, abs=1e-3)  # the last frame lasts 0.2 s


def test_scan_report_of_a_vfr_clip(vfr_clip: tuple[str, Path], tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """The verdict's 1 s windows hold five samples everywhere, and no sample lies beyond the
    reported duration."""
    _, clip = vfr_clip
    report = tmp_path / "r.json"
    assert main(["scan", str(clip), "--json", str(report)]) == 0, capsys.readouterr().err
    (video,) = json.loads(report.read_text())["videos"]
    assert video["status"] == "ok"
    assert video["frames_analyzed"] == 25
    assert video["duration_s"] == pytest.approx(5.0, abs=1e-3)
    times = sorted({e["t"] for e in video["timeline"]})
    assert times[-1] < video["duration_s"]
    per_second = [sum(1 for t in times if s <= t < s + 1) for s in range(5)]
    assert per_second == [5] * 5
