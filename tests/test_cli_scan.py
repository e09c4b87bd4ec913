"""`deepfake-monitor scan` end to end: real decoded frames of a real face, a real ONNX classifier
whose score follows the face's redness, reports, annotated videos, and every kind of bad input.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import astronaut_frames, write_clip
from tiny_models import build_redness_model

from deepfake_monitor.realtime.cli import main

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from skimage import data

    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    root = tmp_path_factory.mktemp("scan")
    clips = root / "clips"
    (clips / "nested").mkdir(parents=True)
    real = write_clip(clips / "real.mp4", astronaut_frames(face))
    half = write_clip(clips / "nested" / "reddened.mp4", astronaut_frames(face, redden_from=25))
    (clips / "notes.txt").write_text("not a video")
    empty = write_clip(root / "empty.mp4", [np.full((360, 640, 3), 90, np.uint8)] * 20)
    model = build_redness_model(root / "redness.onnx", 64)
    return {"root": root, "clips": clips, "real": real, "half": half, "empty": empty,
            "model": model}


def run_scan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["scan", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_scan_reports_scores_that_follow_the_face(media: dict[str, Path], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    report_path = tmp_path / "report.json"
    csv_path = tmp_path / "timeline.csv"
    code, out, err = run_scan(
        capsys, str(media["real"]), str(media["half"]), "--model", str(media["model"]),
        "--sample-fps", "all", "--json", str(report_path), "--csv", str(csv_path),
        "--annotate", str(tmp_path / "annotated"),
    )
    assert code == 0, err
    report = json.loads(report_path.read_text())
    assert report["model"]["card"]["name"] == "redness-test"
    real, half = report["videos"]
    assert real["path"] == str(media["real"]) and half["path"] == str(media["half"])
    for video in (real, half):
        assert video["status"] == "ok" and video["error"] is None
        assert video["frames_analyzed"] == 50  # every frame, none dropped
        assert video["duration_s"] == pytest.approx(2.0, abs=0.05)
        # BlazeFace finds the face in (nearly) every frame, and it stays one track.
        assert len(video["timeline"]) >= 45
        assert len(video["faces"]) == 1 and video["faces"][0]["samples"] >= 45
    assert real["verdict"] == "real" and half["verdict"] == "fake"
    assert half["score"] > real["score"] + 0.2
    # Within the half-manipulated clip, the timeline rises where the manipulation starts.
    before = [e["p"] for e in half["timeline"] if e["t"] < 0.95]
    after = [e["p"] for e in half["timeline"] if e["t"] > 1.05]
    assert np.mean(after) > np.mean(before) + 0.3
    # Boxes follow the face as it pans right.
    xs = [e["box"][0] for e in real["timeline"]]
    assert xs[-1] > xs[0] + 200
    rows = csv_path.read_text().splitlines()
    assert rows[0] == "path,t,track,p,x1,y1,x2,y2"
    assert len(rows) == 1 + len(real["timeline"]) + len(half["timeline"])
    # Annotated videos decode, one frame per analysed frame, with overlays drawn on them.
    annotated = tmp_path / "annotated" / "reddened.annotated.mp4"
    cap = cv2.VideoCapture(str(annotated))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    assert len(frames) == 50
    original = cv2.VideoCapture(str(media["half"]))
    for _ in range(40):
        ok, raw = original.read()
    diff = np.abs(frames[39].astype(int) - raw.astype(int)).sum(axis=2)
    assert (diff > 60).mean() > 0.005  # boxes, meters and labels changed pixels
    assert "real.mp4" in out and "reddened.mp4" in out  # the summary table


def test_default_sampling_analyses_five_frames_a_second(
    media: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_scan(capsys, str(media["real"]), "--model", str(media["model"]),
                              "--json", "-")
    assert code == 0, err
    report = json.loads(out[: out.rindex("}") + 1])
    video = report["videos"][0]
    assert video["frames_analyzed"] == 10  # 2 s at 5 fps
    assert [round(e["t"] * 25) for e in video["timeline"]][:3] == [0, 5, 10]


def test_folders_are_searched_recursively_for_videos_only(
    media: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.json"
    code, _, err = run_scan(capsys, str(media["clips"]), "--model", str(media["model"]),
                            "--json", str(path))
    assert code == 0, err
    paths = sorted(Path(v["path"]).name for v in json.loads(path.read_text())["videos"])
    assert paths == ["real.mp4", "reddened.mp4"]


def test_video_without_faces_has_no_score(media: dict[str, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.json"
    code, _, err = run_scan(capsys, str(media["empty"]), "--model", str(media["model"]),
                            "--json", str(path))
    assert code == 0, err
    video = json.loads(path.read_text())["videos"][0]
    assert video["status"] == "no-face"
    assert video["score"] is None and video["verdict"] is None
    assert video["frames_analyzed"] == 4


def _bad_files(root: Path, real: Path) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    zero = root / "zero.mp4"
    zero.write_bytes(b"")
    text = root / "text.mp4"
    text.write_text("this is not a video\n" * 50)
    truncated = root / "truncated.mp4"
    data = real.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    return {"zero": zero, "text": text, "truncated": truncated}


def test_bad_files_are_reported_and_the_rest_still_analysed(
    media: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = _bad_files(tmp_path / "bad", media["real"])
    path = tmp_path / "r.json"
    code, _, err = run_scan(capsys, str(bad["zero"]), str(bad["text"]), str(bad["truncated"]),
                            str(media["real"]), "--model", str(media["model"]),
                            "--json", str(path))
    assert code == 1
    videos = {Path(v["path"]).name: v for v in json.loads(path.read_text())["videos"]}
    assert videos["real.mp4"]["status"] == "ok"
    for name in ("zero.mp4", "text.mp4", "truncated.mp4"):
        assert videos[name]["status"] == "error", videos[name]
        assert videos[name]["error"]
        assert videos[name]["score"] is None
        lines = [ln for ln in err.splitlines() if name in ln and "error" in ln]
        assert len(lines) == 1, err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda root: [str(root / "missing.mp4")], "missing.mp4: no such file or folder"),
        (lambda root: [str(root)], "holds no video files"),
    ],
)
def test_inputs_that_name_no_video(tmp_path: Path, media: dict[str, Path], make: object,
                                   expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    empty_dir = tmp_path / "nothing"
    empty_dir.mkdir()
    (empty_dir / "readme.txt").write_text("no videos here")
    code, _, err = run_scan(capsys, *make(empty_dir), "--model", str(media["model"]))  # type: ignore[operator]
    assert code == 2
    assert expected in err
    assert "Traceback" not in err


def test_bad_models_are_refused_in_one_line(media: dict[str, Path], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    import onnx
    from tiny_models import redness_graph

    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00\x01 not onnx")
    bare = tmp_path / "bare.onnx"
    onnx.save(redness_graph(), str(bare))
    for model, expected in ((junk, "not a loadable ONNX model"),
                            (bare, "no 'deepfake_monitor' entry"),
                            (tmp_path / "absent.onnx", "model file not found")):
        code, _, err = run_scan(capsys, str(media["real"]), "--model", str(model))
        assert code == 2
        lines = err.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0] and str(model) in lines[0], err


def test_cli_as_a_process_prints_no_traceback(media: dict[str, Path], tmp_path: Path) -> None:
    """The installed entry point, as a user runs it."""
    exe = Path(sys.executable).with_name("deepfake-monitor")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "deepfake_monitor.realtime.cli"]
    zero = tmp_path / "zero.mp4"
    zero.write_bytes(b"")
    proc = subprocess.run([*cmd, "scan", str(zero), "--model", str(media["model"])],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "zero.mp4" in proc.stderr and "Traceback" not in proc.stderr
    help_text = subprocess.run([*cmd, "scan", "--help"], capture_output=True, text=True,
                               timeout=60).stdout
    for option in ("--json", "--csv", "--annotate", "--sample-fps", "--model", "--threshold",
                   "--providers"):
        assert option in help_text


def test_missing_inputs_are_in_the_report_as_errors(
    media: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "r.json"
    missing = tmp_path / "nonexistent.mp4"
    code, out, err = run_scan(capsys, str(missing), str(media["real"]),
                              "--model", str(media["model"]), "--json", str(path))
    assert code == 1
    videos = {v["path"]: v for v in json.loads(path.read_text())["videos"]}
    assert set(videos) == {str(missing), str(media["real"])}
    gone = videos[str(missing)]
    assert gone["status"] == "error" and "no such file or folder" in gone["error"]
    assert gone["score"] is None and gone["verdict"] is None and gone["frames_analyzed"] == 0
    assert videos[str(media["real"])]["status"] == "ok"
    assert "nonexistent.mp4" in out  # in the summary table too
    assert len([ln for ln in err.splitlines() if "nonexistent.mp4" in ln]) == 1, err


def test_summary_table_keeps_file_names_whole(
    media: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deep = tmp_path / "a_rather_long_folder_name" / "another_long_folder_name" / "devset_videos"
    deep.mkdir(parents=True)
    clip = deep / "liveportrait-driving-d3.mp4"
    clip.write_bytes(media["real"].read_bytes())
    code, out, err = run_scan(capsys, str(clip), "--model", str(media["model"]))
    assert code == 0, err
    row = next(line for line in out.splitlines() if "liveportrait-driving-d3.mp4" in line)
    assert "…/" in row and "/liveportrait-driving-d3.mp4" in row  # folders shortened


def _labels_csv(path: Path, rows: list[tuple[str, ...]], header: str) -> Path:
    path.write_text(header + "\n" + "".join(",".join(r) + "\n" for r in rows))
    return path


def test_labels_give_auc_eer_and_rates_of_the_scanned_videos(
    media: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sklearn.metrics import roc_auc_score

    root = media["root"]
    bad = _bad_files(tmp_path / "bad", media["real"])
    extra = tmp_path / "unlabelled.mp4"
    extra.write_bytes(media["real"].read_bytes())
    # paths relative to the CSV's folder (not the working directory), or absolute
    labels = _labels_csv(root / "labels.csv", [
        ("clips/real.mp4", "0", "original"),
        ("clips/nested/reddened.mp4", "fake", "reddened"),
        ("empty.mp4", "1", "reddened"),
        (str(bad["zero"]), "real", "original"),
        ("clips/missing.mp4", "1", "reddened"),
    ], "path,label,kind")
    monkeypatch.chdir(tmp_path)
    report_path = tmp_path / "r.json"
    code, out, err = run_scan(
        capsys, str(media["clips"]), str(media["empty"]), str(bad["zero"]), str(extra),
        "--model", str(media["model"]), "--labels", str(labels), "--json", str(report_path))
    assert code == 1  # the zero-byte file
    warnings = [ln for ln in err.splitlines() if "warning" in ln]
    assert any("1 labelled video(s) are not among the inputs" in w and "missing.mp4" in w
               for w in warnings), err
    assert any("1 video(s) to scan have no label" in w and "unlabelled.mp4" in w
               for w in warnings), err
    report = json.loads(report_path.read_text())
    videos = {Path(v["path"]).name: v for v in report["videos"]}
    assert videos["real.mp4"]["label"] == "real" and videos["reddened.mp4"]["label"] == "fake"
    assert videos["unlabelled.mp4"]["label"] is None
    m = report["metrics"]
    assert m["labels"] == str(labels) and m["threshold"] == videos["real.mp4"]["threshold"]
    overall = m["overall"]
    assert (overall["videos"], overall["fakes"], overall["reals"]) == (4, 2, 2)
    assert (overall["scored"], overall["no_face"], overall["errors"]) == (2, 1, 1)
    assert [Path(p).name for p in m["no_face"]] == ["empty.mp4"]
    assert [Path(p).name for p in m["errors"]] == ["zero.mp4"]
    assert [Path(p).name for p in m["unlabelled"]] == ["unlabelled.mp4"]
    assert [Path(p).name for p in m["labelled_not_scanned"]] == ["missing.mp4"]
    scored = [videos["real.mp4"], videos["reddened.mp4"]]
    expected_auc = roc_auc_score([v["label"] == "fake" for v in scored],
                                 [v["score"] for v in scored])
    assert overall["auc"] == pytest.approx(expected_auc, abs=1e-4)
    assert overall["accuracy"] == np.mean([v["verdict"] == v["label"] for v in scored])
    assert overall["real_flagged"] == float(videos["real.mp4"]["verdict"] == "fake")
    assert overall["fake_caught"] == float(videos["reddened.mp4"]["verdict"] == "fake")
    assert set(m["by_kind"]) == {"original", "reddened"} and "by_source" not in m
    reddened = m["by_kind"]["reddened"]
    assert reddened["auc_basis"] == "this group's fakes against all reals"
    assert (reddened["videos"], reddened["no_face"], reddened["auc_reals"]) == (2, 1, 1)
    assert "labelled videos" in out and "by kind" in out and "AUC" in out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such file"),
        ("path,label\n", "no labelled video"),
        ("path,label\nclips/real.mp4,perhaps\n", "is not 1/0 or fake/real"),
        ("path,label\nelsewhere/real.mp4,1\n", "none of the 1 video(s) to scan is in it"),
    ],
)
def test_unusable_labels_stop_the_scan_before_it_starts(
    media: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    content: str | None, expected: str,
) -> None:
    labels = tmp_path / "labels.csv"
    if content is not None:
        labels.write_text(content)
    report = tmp_path / "r.json"
    code, out, err = run_scan(capsys, str(media["real"]), "--model", str(media["model"]),
                              "--labels", str(labels), "--json", str(report))
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "labels.csv" in lines[0], err
    assert not report.exists() and out == ""  # no scan ran


def _labelled_scan(capsys: pytest.CaptureFixture[str], tmp_path: Path, rows: list[dict[str, str]],
                   header: str, *extra: str) -> tuple[dict, str]:
    columns = header.split(",")
    labels = _labels_csv(tmp_path / "labels.csv",
                         [tuple(r[c] for c in columns) for r in rows], header)
    report_path = tmp_path / "r.json"
    code, out, err = run_scan(capsys, *(r["path"] for r in rows), "--labels", str(labels),
                              "--json", str(report_path), *extra)
    assert code == 0, err
    assert "warning" not in err, err
    return json.loads(report_path.read_text()), out


def _check_against_sklearn(report: dict) -> None:
    from sklearn.metrics import roc_auc_score

    videos = [v for v in report["videos"] if v["score"] is not None]
    y = [v["label"] == "fake" for v in videos]
    s = [v["score"] for v in videos]
    overall = report["metrics"]["overall"]
    assert overall["auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-4)
    reals = [v for v in videos if v["label"] == "real"]
    fakes = [v for v in videos if v["label"] == "fake"]
    assert overall["real_flagged"] == pytest.approx(
        np.mean([v["verdict"] == "fake" for v in reals]), abs=1e-4)
    assert overall["fake_caught"] == pytest.approx(
        np.mean([v["verdict"] == "fake" for v in fakes]), abs=1e-4)
    assert 0.0 <= overall["eer"] <= 1.0


def test_labels_on_real_clips_with_the_bundled_model(
    shared_media: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from deepfake_monitor.assets import ASSETS_DIR

    videos = shared_media / "videos"
    real = [videos / n for n in ("liveportrait-driving-d0.mp4", "video-retalking-face1.mp4",
                                 "tpsmm-driving.mp4")]
    for clip in real:
        if not clip.is_file():
            pytest.skip(f"{clip} is absent")
    rows = [{"path": str(c), "label": "0", "kind": "real footage"} for c in real]
    rows.append({"path": str(ASSETS_DIR / "samples" / "astronaut_sbi.mp4"), "label": "1",
                 "kind": "self-blend"})
    report, out = _labelled_scan(capsys, tmp_path, rows, "path,label,kind")
    assert all(v["status"] == "ok" for v in report["videos"])
    _check_against_sklearn(report)
    blend = report["metrics"]["by_kind"]["self-blend"]
    assert blend["auc_basis"] == "this group's fakes against all reals"
    assert (blend["auc_fakes"], blend["auc_reals"]) == (1, 3)
    assert "self-blend" in out and "real footage" in out


DEVSET = Path(__file__).resolve().parents[2] / "shared" / "devset"


def test_labels_on_a_few_devset_clips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A few real deepfakes and their sources, with the dev set's own labels (evaluation data:
    read in place, never copied)."""
    import csv

    if not (DEVSET / "labels.csv").is_file():
        pytest.skip(f"{DEVSET} is absent")
    with (DEVSET / "labels.csv").open() as fh:
        all_rows = list(csv.DictReader(fh))
    picked = [r for r in all_rows if r["path"].startswith("ghost/")
              or Path(r["path"]).name == "Albica_Johns_0.mp4"]
    assert len(picked) == 7
    rows = [{**r, "path": str(DEVSET / r["path"])} for r in picked]
    report, out = _labelled_scan(capsys, tmp_path, rows, "path,label,source,kind")
    _check_against_sklearn(report)
    m = report["metrics"]
    assert set(m["by_source"]) == {"ai-forever/ghost", "iperov/DeepFaceLive"}
    ghost = m["by_source"]["ai-forever/ghost"]
    assert (ghost["fakes"], ghost["reals"]) == (3, 2)
    assert ghost["auc_basis"] == "this group's fakes and reals"
    swaps = m["by_kind"]["face-swap (GHOST)"]
    assert swaps["auc_basis"] == "this group's fakes against all reals"
    assert (swaps["auc_fakes"], swaps["auc_reals"]) == (3, 3)
    original = m["by_kind"]["original"]
    assert original["auc_basis"] == "all fakes against this group's reals"
    assert "by source" in out and "ai-forever/ghost" in out
