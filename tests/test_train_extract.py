"""`deepfake-monitor extract` on real faces: crops, manifest, resume, failures, bad input."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import astronaut_frames, shared_clips, write_clip
from tiny_models import build_redness_model

from deepfake_monitor.realtime.cli import main
from deepfake_monitor.train.extract import ReadReport, even_indices, read_frames

FRAMES = 6


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["extract", *args])
    return code, capsys.readouterr().err


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("deepfake-monitor: error:")]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory, astronaut_bgr: np.ndarray) -> Path:
    """A folders dataset: a real clip, a photo, a fake clip of the same person, a clip with no
    face, a file that is not a video and a truncated MP4."""
    root = tmp_path_factory.mktemp("dataset")
    for sub in ("real/astronaut", "fake/astronaut", "real", "fake"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    write_clip(root / "real/astronaut/pan.mp4", astronaut_frames(astronaut_bgr, n=30))
    write_clip(root / "fake/astronaut/reddened.mp4",
               astronaut_frames(astronaut_bgr, n=30, redden_from=0))
    cv2.imwrite(str(root / "real/astronaut/photo.png"), astronaut_bgr)
    write_clip(root / "real/empty_room.mp4", [np.full((180, 320, 3), 90, np.uint8)] * 10)
    (root / "fake/not_a_video.mp4").write_bytes(b"this is not a video" * 10)
    clip = (root / "real/astronaut/pan.mp4").read_bytes()
    (root / "fake/truncated.mp4").write_bytes(clip[: len(clip) // 2])
    return root


@pytest.fixture(scope="module")
def extracted(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str]:
    out = tmp_path_factory.mktemp("out")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["extract", str(dataset), "--layout", "folders", "--out", str(out),
                     "--frames-per-video", str(FRAMES), "--size", "128", "--val", "0.3",
                     "--test", "0"])
    return out, code, err.getvalue()


def test_unreadable_files_are_listed_and_skipped(extracted: tuple[Path, int, str],
                                                 dataset: Path) -> None:
    _, code, err = extracted
    assert code == 1  # two unreadable files, the rest extracted
    lines = error_lines(err)
    assert lines[0] == (f"deepfake-monitor: error: {dataset}/fake/not_a_video.mp4: not a video "
                        "file (FFmpeg cannot read a video stream from it)")
    assert lines[1].startswith(f"deepfake-monitor: error: {dataset}/fake/truncated.mp4: "
                               "truncated MP4: the file ends inside its")
    assert len(lines) == 2
    assert "extracted" in err and "2 unreadable" in err and "1 without a face" in err


def test_crops_match_the_manifest(extracted: tuple[Path, int, str]) -> None:
    out, _, _ = extracted
    rows = read_csv(out / "manifest.csv")
    assert list(rows[0]) == ["video_id", "identity", "source_video", "method", "label", "split",
                             "frame", "track", "t", "crop_path", "det_score"]
    on_disk = sorted(p.relative_to(out).as_posix() for p in (out / "crops").rglob("*.jpg"))
    assert sorted(r["crop_path"] for r in rows) == on_disk
    for r in rows:
        crop = cv2.imread(str(out / r["crop_path"]))
        assert crop.shape == (128, 128, 3)
        assert r["crop_path"] == f"crops/{r['video_id']}/{int(r['frame']):06d}_{r['track']}.jpg"
        assert float(r["det_score"]) >= 0.5
    by_video: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_video.setdefault(r["video_id"], []).append(r)
    pan = by_video["real/astronaut/pan"]
    assert [int(r["frame"]) for r in pan] == even_indices(30, FRAMES) == [2, 7, 12, 17, 22, 27]
    assert {r["track"] for r in pan} == {"1"}  # one face, one track
    assert float(pan[1]["t"]) == pytest.approx(7 / 25, abs=1e-3)
    assert {r["label"] for r in by_video["fake/astronaut/reddened"]} == {"fake"}
    photo = by_video["real/astronaut/photo"]
    assert [(r["frame"], r["t"]) for r in photo] == [("0", "0.000")]
    assert pan[0]["identity"] == photo[0]["identity"] == "folder:astronaut"
    # the same person real and fake: one side
    assert len({r["split"] for r in rows if r["identity"] == "folder:astronaut"}) == 1


def test_video_log_splits_and_config(extracted: tuple[Path, int, str]) -> None:
    out, _, _ = extracted
    videos = {r["video_id"]: r for r in read_csv(out / "videos.csv")}
    assert {v: r["status"] for v, r in videos.items()} == {
        "fake/astronaut/reddened": "ok", "real/astronaut/pan": "ok",
        "real/astronaut/photo": "ok", "real/empty_room": "no_faces",
        "fake/not_a_video": "failed", "fake/truncated": "failed"}
    assert videos["real/astronaut/pan"]["frames"] == str(FRAMES)
    assert "not a video file" in videos["fake/not_a_video"]["error"]
    assert "truncated MP4" in videos["fake/truncated"]["error"]
    splits = read_csv(out / "splits.csv")
    assert {r["video_id"] for r in splits} == set(videos)
    assert {r["split"] for r in splits} <= {"train", "val"}
    config = json.loads((out / "extract_config.json").read_text())
    assert (config["size"], config["margin"], config["align"]) == (128, 0.25, False)
    assert (config["frames_per_video"], config["detector"], config["layout"]) == \
        (FRAMES, "full", "folders")


def small_dataset(root: Path, astronaut_bgr: np.ndarray, n: int = 3) -> Path:
    for i in range(n):
        (root / "real").mkdir(parents=True, exist_ok=True)
        frames = astronaut_frames(astronaut_bgr, n=12 + i, size=(400, 352))
        write_clip(root / f"real/clip{i}.mp4", frames)
    (root / "fake").mkdir(exist_ok=True)
    write_clip(root / "fake/swap.mp4", astronaut_frames(astronaut_bgr, n=12, size=(400, 352),
                                                        redden_from=0))
    return root


def test_resume_skips_done_videos(tmp_path: Path, astronaut_bgr: np.ndarray,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    root = small_dataset(tmp_path / "ds", astronaut_bgr)
    out = tmp_path / "out"
    args = (str(root), "--layout", "folders", "--out", str(out), "--frames-per-video", "4")
    code, err = run_cli(capsys, *args)
    assert code == 0, err
    first = read_csv(out / "manifest.csv")
    assert len(first) == 16
    stamps = {p: p.stat().st_mtime_ns for p in (out / "crops").rglob("*.jpg")}

    code, err = run_cli(capsys, *args)
    assert code == 0, err
    assert "0 crops from 0 videos" in err and "4 already done" in err
    assert read_csv(out / "manifest.csv") == first
    assert {p: p.stat().st_mtime_ns for p in (out / "crops").rglob("*.jpg")} == stamps
    assert len(read_csv(out / "videos.csv")) == 4

    # An interrupted run: the last video's crops and manifest rows were written (the last one
    # cut short), but not its videos.csv row. It is done again, and only it.
    videos = (out / "videos.csv").read_text().splitlines(keepends=True)
    (out / "videos.csv").write_text("".join(videos[:-1]))
    with (out / "manifest.csv").open("a") as fh:
        fh.write("real/clip2,folder:real/clip2,,,real,train,3,1,0.1")
    code, err = run_cli(capsys, *args)
    assert code == 0, err
    assert "16 crops" not in err and "from 1 videos" in err and "3 already done" in err
    assert read_csv(out / "manifest.csv") == first
    assert len(read_csv(out / "videos.csv")) == 4

    # Other split settings re-split without re-extracting; the manifest follows.
    code, err = run_cli(capsys, *args, "--val", "0.5", "--test", "0", "--seed", "3")
    assert code == 0 and "4 already done" in err, err
    splits = {r["video_id"]: r["split"] for r in read_csv(out / "splits.csv")}
    assert set(splits.values()) == {"train", "val"}
    rows = read_csv(out / "manifest.csv")
    assert [{**r, "split": ""} for r in rows] == [{**r, "split": ""} for r in first]
    assert all(r["split"] == splits[r["video_id"]] for r in rows)
    assert any(r["split"] != f["split"] for r, f in zip(rows, first))
    assert all(r["split"] == splits[r["video_id"]] for r in read_csv(out / "videos.csv"))


def test_other_settings_are_refused(tmp_path: Path, astronaut_bgr: np.ndarray,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    root = small_dataset(tmp_path / "ds", astronaut_bgr, n=1)
    out = tmp_path / "out"
    args = (str(root), "--layout", "folders", "--out", str(out), "--frames-per-video", "2")
    assert run_cli(capsys, *args)[0] == 0
    code, err = run_cli(capsys, *args[:-1], "3")
    assert code == 2
    assert err.strip().splitlines() == [
        f"deepfake-monitor: error: {out}: holds crops made with other settings "
        "(frames_per_video 2 -> 3); use another --out folder, or the same settings to resume"]


def test_model_config_sets_the_crop(tmp_path: Path, astronaut_bgr: np.ndarray,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    root = small_dataset(tmp_path / "ds", astronaut_bgr, n=1)
    model = build_redness_model(tmp_path / "redness.onnx", size=64, margin=0.1)
    code, err = run_cli(capsys, str(root), "--layout", "folders", "--out", str(tmp_path / "a"),
                        "--frames-per-video", "2", "--model-config", str(model))
    assert code == 0, err
    config = json.loads((tmp_path / "a" / "extract_config.json").read_text())
    assert (config["size"], config["margin"]) == (64, 0.1)
    crop = next((tmp_path / "a" / "crops").rglob("*.jpg"))
    assert cv2.imread(str(crop)).shape == (64, 64, 3)

    spec = tmp_path / "model.json"
    spec.write_text(json.dumps({"input": {"size": 96}, "crop": {"margin": 0.4, "align": True}}))
    code, err = run_cli(capsys, str(root), "--layout", "folders", "--out", str(tmp_path / "b"),
                        "--frames-per-video", "2", "--model-config", str(spec), "--size", "80",
                        "--format", "png")
    assert code == 0, err
    config = json.loads((tmp_path / "b" / "extract_config.json").read_text())
    assert (config["size"], config["margin"], config["align"]) == (80, 0.4, True)
    crop = next((tmp_path / "b" / "crops").rglob("*.png"))
    assert cv2.imread(str(crop)).shape == (80, 80, 3)


def test_max_faces_per_frame(tmp_path: Path, astronaut_bgr: np.ndarray,
                             capsys: pytest.CaptureFixture[str]) -> None:
    head = astronaut_bgr[0:300, 100:350]
    frame = np.full((400, 800, 3), 90, np.uint8)
    frame[40:340, 20:270] = head
    small = cv2.resize(head, (150, 180))
    frame[100:280, 500:650] = small
    (tmp_path / "ds" / "real").mkdir(parents=True)
    (tmp_path / "ds" / "fake").mkdir()
    cv2.imwrite(str(tmp_path / "ds/real/two.jpg"), frame)
    base = (str(tmp_path / "ds"), "--layout", "folders")
    assert run_cli(capsys, *base, "--out", str(tmp_path / "one"))[0] == 0
    rows = read_csv(tmp_path / "one" / "manifest.csv")
    assert len(rows) == 1
    crop = cv2.imread(str(tmp_path / "one" / rows[0]["crop_path"]))
    assert crop.shape == (224, 224, 3)
    assert run_cli(capsys, *base, "--out", str(tmp_path / "all"),
                   "--max-faces-per-frame", "0")[0] == 0
    rows = read_csv(tmp_path / "all" / "manifest.csv")
    assert len(rows) == 2 and len({r["track"] for r in rows}) == 2


def test_ffpp_layout_at_a_rate(tmp_path: Path, astronaut_bgr: np.ndarray,
                               capsys: pytest.CaptureFixture[str]) -> None:
    """Dataset columns (identities, source video, method, official split) reach the manifest."""
    clip = write_clip(tmp_path / "clip.mp4", astronaut_frames(astronaut_bgr, n=20,
                                                              size=(400, 352)))
    root = tmp_path / "ff"
    videos = ["original_sequences/youtube/c23/videos/000.mp4",
              "original_sequences/youtube/c23/videos/003.mp4",
              "manipulated_sequences/Deepfakes/c23/videos/000_003.mp4",
              "manipulated_sequences/FaceSwap/c23/videos/003_000.mp4"]
    for rel in videos:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).symlink_to(clip)
    (root / "splits").mkdir()
    for split, pairs in (("train", "[]"), ("val", '[["000", "003"]]'), ("test", "[]")):
        (root / "splits" / f"{split}.json").write_text(pairs)
    code, err = run_cli(capsys, str(root), "--layout", "ffpp", "--out", str(tmp_path / "out"),
                        "--fps", "10")
    assert code == 0, err
    rows = read_csv(tmp_path / "out" / "manifest.csv")
    assert len(rows) == 4 * 8  # 20 frames at 25 fps, sampled at 10 fps
    fake = [r for r in rows if r["video_id"] == "Deepfakes/000_003"]
    assert [r["frame"] for r in fake] == ["0", "3", "5", "8", "10", "13", "15", "18"]
    assert (fake[0]["identity"], fake[0]["source_video"], fake[0]["method"], fake[0]["label"]) \
        == ("ff:000|ff:003", "youtube/000", "Deepfakes", "fake")
    assert {r["split"] for r in rows} == {"val"}


@pytest.mark.parametrize("layout, make, expected", [
    ("folders", None, "no such folder"),
    ("dfdc", "folders", "not a DFDC folder: expected dfdc_train_part_N/"),
    ("ffpp", "folders", "not a FaceForensics++ folder"),
    ("celebdf", "folders", "not a Celeb-DF folder"),
    ("folders", "empty", "real/ and fake/ hold no videos or images"),
    ("folders", "flat", "not a folders dataset: expected real/ and fake/"),
])
def test_bad_roots_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        layout: str, make: str | None, expected: str) -> None:
    root = tmp_path / "root"
    if make == "folders":
        (root / "real").mkdir(parents=True)
        (root / "real" / "a.mp4").write_bytes(b"x")
    elif make == "empty":
        (root / "real").mkdir(parents=True)
        (root / "fake").mkdir()
    elif make == "flat":
        root.mkdir()
        (root / "a.mp4").write_bytes(b"x")
    code, err = run_cli(capsys, str(root), "--layout", layout, "--out", str(tmp_path / "out"))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("deepfake-monitor: error: ")
    assert expected in lines[0]
    assert not (tmp_path / "out").exists()


def test_option_for_another_layout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run_cli(capsys, str(tmp_path), "--layout", "folders", "--out", str(tmp_path),
                        "--compression", "c23")
    assert (code, error_lines(err)) == (
        2, ["deepfake-monitor: error: --compression does not apply to the folders layout"])


def test_even_indices() -> None:
    assert even_indices(300, 4) == [37, 112, 187, 262]
    assert even_indices(3, 5) == [0, 1, 2]
    assert even_indices(0, 5) == []


def test_read_frames_evenly_and_at_a_rate(tmp_path: Path, astronaut_bgr: np.ndarray) -> None:
    frames = astronaut_frames(astronaut_bgr, n=50, size=(400, 352))
    clip = write_clip(tmp_path / "c.mp4", frames, fps=25.0)
    report = ReadReport()
    got = list(read_frames(clip, report, frames_per_video=5))
    assert [f.index for f in got] == [5, 15, 25, 35, 45]
    assert report.decoded == 46 and report.note == ""  # stops after the last sample
    # the retrieved frame is the frame at that index (the head moves a few pixels a frame)
    diff = [np.abs(got[1].image.astype(int) - f.astype(int)).mean() for f in frames]
    assert int(np.argmin(diff)) == 15
    at_rate = list(read_frames(clip, ReadReport(), fps=5.0))
    assert [f.index for f in at_rate] == [0, 5, 10, 15, 20, 25, 30, 35, 40, 45]
    assert at_rate[2].t == pytest.approx(0.4)


@pytest.mark.slow
def test_extract_real_footage(shared_media: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    clips = shared_clips()[:3]
    if len(clips) < 2:
        pytest.skip("needs two clips in shared/media/videos")
    for sub in ("real", "fake"):
        (tmp_path / "ds" / sub).mkdir(parents=True)
    (tmp_path / "ds/real" / clips[0].name).symlink_to(clips[0])
    for clip in clips[1:]:
        (tmp_path / "ds/fake" / clip.name).symlink_to(clip)
    code, err = run_cli(capsys, str(tmp_path / "ds"), "--layout", "folders", "--out",
                        str(tmp_path / "out"), "--frames-per-video", "8", "--align")
    assert code == 0, err
    videos = read_csv(tmp_path / "out" / "videos.csv")
    assert [r["status"] for r in videos] == ["ok"] * len(clips)
    rows = read_csv(tmp_path / "out" / "manifest.csv")
    assert len(rows) >= 0.8 * 8 * len(clips)  # a face in most sampled frames
    assert all(cv2.imread(str(tmp_path / "out" / r["crop_path"])).shape == (224, 224, 3)
               for r in rows)
