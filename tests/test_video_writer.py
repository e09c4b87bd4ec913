"""Annotated videos that browsers play: H.264 in MP4, yuv420p, index first, at the right rate;
and the overlay header that fits the frame (scan --annotate, the app's Record)."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from conftest import astronaut_frames, write_clip
from tiny_models import build_redness_model

from deepfake_monitor.realtime.analysis.pipeline import FaceResult, FrameResult
from deepfake_monitor.realtime.cli import main
from deepfake_monitor.realtime.outputs.overlays import (
    FONT,
    HeaderAnnotator,
    annotate,
    wrap_items,
)
from deepfake_monitor.realtime.outputs.video_writer import H264Writer


def probe(path: Path) -> dict:
    """What a player sees: container, codec, pixel format, rate, and every frame with its
    time."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [(f.time, f.to_ndarray(format="bgr24")) for f in container.decode(stream)]
        info = {"format": container.format.name, "codec": stream.codec_context.name,
                "pix_fmt": stream.codec_context.pix_fmt, "rate": float(stream.average_rate),
                "size": (stream.codec_context.width, stream.codec_context.height)}
    data = path.read_bytes()
    info["moov_first"] = 0 <= data.find(b"moov") < data.find(b"mdat")
    info["times"] = [t for t, _ in frames]
    info["frames"] = [f for _, f in frames]
    return info


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255**2 / max(mse, 1e-9))


def test_h264_mp4_with_the_index_first_and_faithful_pixels(tmp_path: Path,
                                                           astronaut_bgr: np.ndarray) -> None:
    frames = astronaut_frames(astronaut_bgr, n=30)
    path = tmp_path / "out.mp4"
    with H264Writer(path, 25.0) as writer:
        for frame in frames:
            writer.write(frame)
    info = probe(path)
    assert "mp4" in info["format"] and info["codec"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert info["moov_first"]  # +faststart: playable while it downloads
    assert info["rate"] == pytest.approx(25.0)
    assert len(info["frames"]) == 30
    assert info["times"] == pytest.approx([i / 25 for i in range(30)], abs=1e-3)
    assert min(psnr(a, b) for a, b in zip(info["frames"], frames)) > 32


def test_frames_keep_their_own_times_and_odd_sizes_are_padded(
        tmp_path: Path, astronaut_bgr: np.ndarray) -> None:
    """Sampled frames at their video times (relative to the first), and a 101x75 frame, which
    yuv420p cannot hold, padded to 102x76 with its pixels in place."""
    small = cv2.resize(astronaut_bgr, (101, 75))
    times = [3.0, 3.2, 3.4, 3.9, 4.0]
    path = tmp_path / "odd.mp4"
    with H264Writer(path, 5.0) as writer:
        for t in times:
            writer.write(small, t)
        writer.write(cv2.resize(astronaut_bgr, (202, 150)), 4.2)  # the camera changed size
    info = probe(path)
    assert info["size"] == (102, 76)
    assert info["times"] == pytest.approx([t - 3.0 for t in [*times, 4.2]], abs=1e-3)
    assert psnr(info["frames"][0][:75, :101], small) > 30
    assert psnr(info["frames"][-1][:75, :101], small) > 25


def test_no_frame_no_file(tmp_path: Path) -> None:
    H264Writer(tmp_path / "none.mp4", 25.0).close()
    assert not (tmp_path / "none.mp4").exists()


@pytest.fixture(scope="module")
def clip_and_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from skimage import data

    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    folder = tmp_path_factory.mktemp("annotate")
    clip = write_clip(folder / "a_rather_long_name_for_a_512_px_clip.mp4",
                      astronaut_frames(face, n=50, size=(512, 360)))
    return clip, build_redness_model(folder / "redness.onnx")


@pytest.mark.parametrize(("sample", "count", "rate"), [("all", 50, 25.0), ("5", 10, 5.0)])
def test_scan_annotate_writes_h264_at_the_right_rate(
    clip_and_model: tuple[Path, Path], tmp_path: Path, sample: str, count: int, rate: float,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every frame at the source's rate with --sample-fps all; else the analysed frames at
    their video times, at the analysed rate."""
    clip, model = clip_and_model
    out = tmp_path / "annotated"
    assert main(["scan", str(clip), "--model", str(model), "--sample-fps", sample,
                 "--annotate", str(out)]) == 0, capsys.readouterr().err
    info = probe(out / f"{clip.stem}.annotated.mp4")
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p" and info["moov_first"]
    assert len(info["frames"]) == count
    assert info["times"] == pytest.approx([i / rate for i in range(count)], abs=2e-3)
    assert info["size"] == (512, 360)
    # the header's dark band spans most of the 512 px width (the name, wrapped), not cut off
    source = cv2.VideoCapture(str(clip))
    raw = source.read()[1]
    source.release()
    dark = (info["frames"][0][:12].astype(int) + 30 < raw[:12].astype(int)).all(axis=2)
    assert dark[:, :400].mean() > 0.8


def face_result(source: str, t: float = 12.34) -> FrameResult:
    image = np.full((288, 512, 3), 120, np.uint8)
    face = FaceResult(1, (200.0, 100.0, 300.0, 220.0), 0.9, 0.43, 0.43, 0.5, False, 0.0)
    return FrameResult(source, 3, t, 0.0, 0.02, image, (face,), 0.7, 12.3,
                       "CPUExecutionProvider")


def test_header_fits_a_512_px_frame_and_keeps_the_threshold() -> None:
    result = face_result("/videos/interviews/2024/a_rather_long_name_for_a_512_px_clip.mp4")
    live, file = HeaderAnnotator(), HeaderAnnotator(file=True, model="redness-test 1",
                                                    note="5 of 25 fps analysed")
    assert live.items(result)[1:] == ["thr 0.70", "12.3 fps", "latency 20 ms",
                                      "CPUExecutionProvider"]
    # a file: its video time and the model, not processing speed
    assert file.items(result)[1:] == ["thr 0.70", "0:12.3", "redness-test 1",
                                      "5 of 25 fps analysed"]
    size, thick = 0.55 * 0.8, 1
    for header in (live, file):
        lines = wrap_items(header.items(result), size, thick, 512 - 2 * 4)
        assert len(lines) >= 2
        assert all(cv2.getTextSize(line, FONT, size, thick)[0][0] <= 504 for line in lines)
        joined = "  ".join(lines)
        assert all(item in joined for item in header.items(result)[1:])  # none cut off
        # drawn: white text stays inside the frame, on two lines or more
        frame = annotate(result.image.copy(), result, (header,))
        text_rows = np.nonzero((frame[:60] > 230).all(axis=2).any(axis=1))[0]
        assert text_rows.size and np.ptp(text_rows) > 15
    # a name too long for any line is shortened in the middle, keeping its end
    name = "x" * 300 + "_end.mp4"
    lines = wrap_items([name, "thr 0.70"], size, thick, 300)
    assert lines[0].endswith("_end.mp4") and "..." in lines[0] and "thr 0.70" in lines[-1]
