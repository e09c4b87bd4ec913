"""Phone video (stored sideways with a display-rotation tag) is analysed and shown upright on
every path: sampled H.264 (PyAV), every frame and played live (OpenCV), served over HTTP
(PyAV), `extract`, `synthesize`, and `scan`'s report and annotated output. Real frames of the
bundled sample clip, stored sideways and tagged with 90, 180 and 270 degrees as phones do."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from av_clips import http_folder, sample_frames, stored_sideways, write_h264

from deepfake_monitor.realtime.cli import main
from deepfake_monitor.realtime.sources.files import FileCapture
from deepfake_monitor.realtime.sources.h264 import SampledH264Capture
from deepfake_monitor.realtime.sources.spec import Frame, parse_source
from deepfake_monitor.realtime.sources.video_source import VideoSource
from deepfake_monitor.train.extract import ReadReport, read_frames
from deepfake_monitor.train.synthesize import RealMedia, read_media

pytestmark = pytest.mark.timeout(300)

DEGREES = (90, 180, 270)


@pytest.fixture(scope="module")
def upright() -> list[np.ndarray]:
    """1.2 s of the sample clip at 320x180, as it should be seen."""
    return sample_frames(30)


@pytest.fixture(scope="module")
def phone_clips(tmp_path_factory: pytest.TempPathFactory,
                upright: list[np.ndarray]) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("phone")
    return {deg: write_h264(folder / f"phone{deg}.mp4", stored_sideways(upright, deg // 90),
                            rotation=deg) for deg in DEGREES}


def difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def assert_upright(images: list[np.ndarray], expected: list[np.ndarray], what: str) -> None:
    """Each image is its upright frame up to coding noise, and far from it turned over."""
    assert images, what
    for image, want in zip(images, expected):
        assert image.shape == want.shape, what
        assert difference(image, want) < 6, what
        assert difference(image, np.rot90(want, 2)) > 3 * difference(image, want), what


def read_all(source: VideoSource) -> list[Frame]:
    source.start()
    frames = []
    try:
        while not source.ended:
            frame = source.read(timeout=5.0)
            if frame is not None:
                frames.append(frame)
    finally:
        source.stop()
    return frames


@pytest.mark.parametrize("degrees", DEGREES)
def test_every_reading_path_turns_phone_video_upright(
        degrees: int, phone_clips: dict[int, Path], upright: list[np.ndarray]) -> None:
    clip = phone_clips[degrees]
    h, w = upright[0].shape[:2]

    sampled = VideoSource(parse_source(str(clip)), sample_fps=5.0)
    sampled.open()
    assert isinstance(sampled._capture, SampledH264Capture)  # PyAV, frames skipped
    assert (sampled.width, sampled.height) == (w, h)
    frames = read_all(sampled)
    assert [f.index for f in frames] == [0, 5, 10, 15, 20, 25]
    assert_upright([f.image for f in frames], [upright[f.index] for f in frames], "sampled")

    every = VideoSource(parse_source(str(clip)))
    every.open()
    assert isinstance(every._capture, FileCapture)  # OpenCV
    assert (every.width, every.height) == (w, h)
    all_frames = read_all(every)
    assert len(all_frames) == 30
    assert_upright([f.image for f in all_frames], upright, "every frame")
    for f in frames:  # the two paths agree pixel for pixel
        assert np.array_equal(f.image, all_frames[f.index].image)

    live = read_all(VideoSource(parse_source(str(clip), live_files=True)))
    assert_upright([f.image for f in live], [upright[f.index] for f in live], "played live")

    with http_folder(clip.parent) as base:
        served = VideoSource(parse_source(f"{base}/{clip.name}"), open_timeout_s=10)
        served.open()
        assert (served.width, served.height) == (w, h)
        over_http = read_all(served)
    assert_upright([f.image for f in over_http], upright, "over HTTP")

    extracted = list(read_frames(clip, ReadReport(), fps=5.0))
    assert_upright([f.image for f in extracted], [upright[f.index] for f in extracted],
                   "extract")
    media, _ = read_media(RealMedia(clip, "someone", clip.stem))
    assert_upright(media, upright, "synthesize")


def test_scan_of_a_phone_clip_sees_the_face_upright(
        phone_clips: dict[int, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The bundled model on the default (sampled) path scores the frames the every-frame
    path scores, and the annotated video has the upright size."""
    clip = phone_clips[90]
    timelines = {}
    for fps in ("5", "all"):
        report, out = tmp_path / f"r{fps}.json", tmp_path / f"out{fps}"
        code = main(["scan", str(clip), "--sample-fps", fps, "--json", str(report),
                     "--annotate", str(out)])
        assert code == 0, capsys.readouterr().err
        (video,) = json.loads(report.read_text())["videos"]
        assert video["status"] == "ok"
        timelines[fps] = {e["t"]: e["p"] for e in video["timeline"]}
        cap = cv2.VideoCapture(str(out / "phone90.annotated.mp4"), cv2.CAP_FFMPEG)
        ok, image = cap.read()
        cap.release()
        assert ok and image.shape[:2] == (180, 320)
    assert len(timelines["5"]) == 6
    assert timelines["5"] == {t: timelines["all"][t] for t in timelines["5"]}
