"""`scan --resume` without a cluster: an existing report is completed, its finished videos kept
exactly as written and not analysed again; real clips of ../shared/media, the bundled model.
(With --cluster, after a real Ctrl+C: tests/test_cluster.py.)"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from pathlib import Path

import pytest

from deepfake_monitor.realtime.cli import main

pytestmark = pytest.mark.timeout(300)

CLIPS = ("video-retalking-face5.mp4", "aniportrait-pose_ref_video.mp4", "tpsmm-driving.mp4")


@pytest.fixture(scope="module")
def clips(shared_media: Path) -> list[str]:
    paths = [shared_media / "videos" / name for name in CLIPS]
    for p in paths:
        if not p.is_file():
            pytest.skip(f"{p} is absent")
    return [str(p) for p in paths]


def scan(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["scan", *args])
    return code, capsys.readouterr().err


def csv_rows(path: Path, video: str) -> list[list[str]]:
    with path.open(newline="") as fh:
        return [row for row in csv.reader(fh) if row[0] == video]


def test_resume_keeps_finished_videos_and_analyses_the_rest(
    clips: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b, c = clips
    report, table = tmp_path / "r.json", tmp_path / "r.csv"
    code, _ = scan(capsys, a, b, "--json", str(report), "--csv", str(table))
    assert code == 0
    first = json.loads(report.read_text())
    rows_a = csv_rows(table, a)
    assert rows_a
    # The earlier run as the new one must find it: a's score marked (kept as written, it
    # cannot come back from an analysis), b failed (analysed again).
    edited = json.loads(report.read_text())
    va, vb = edited["videos"]
    va["score"] = 0.123456
    va["verdict"] = "fake" if va["score"] >= va["threshold"] else "real"  # as a report must
    vb.update(status="error", error=f"{b}: the machine went down", score=None, verdict=None)
    report.write_text(json.dumps(edited))

    code, err = scan(capsys, a, b, c, "--json", str(report), "--csv", str(table), "--resume")
    assert code == 0, err
    assert "--resume: 1 of 3 file(s) already in" in err
    videos = json.loads(report.read_text())["videos"]
    assert [v["path"] for v in videos] == [a, b, c]
    assert videos[0] == va
    assert videos[1] == first["videos"][1]  # analysed again, to the same result
    assert videos[2]["status"] == "ok" and videos[2]["frames_analyzed"] > 0
    assert csv_rows(table, a) == rows_a  # the kept video's timeline in the CSV as before
    assert csv_rows(table, c)


def test_resume_refuses_a_report_of_another_threshold(
    clips: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "r.json"
    assert scan(capsys, clips[0], "--json", str(report))[0] == 0
    before = report.read_text()
    threshold = json.loads(before)["videos"][0]["threshold"]
    other = "0.5" if threshold != 0.5 else "0.6"
    code, err = scan(capsys, *clips, "--json", str(report), "--resume", "--threshold", other)
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        f"deepfake-monitor: error: --resume: {report} used threshold "
        f"{threshold:g}, this run {float(other):g}; resume with the same --threshold, or "
        "write a new report")
    assert report.read_text() == before


@pytest.mark.parametrize("extra", [[], ["--json", "-"]])
def test_resume_needs_a_report_file(extra: list[str], clips: list[str],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, err = scan(capsys, clips[0], "--resume", *extra)
    assert code == 2
    assert err.strip() == ("deepfake-monitor: error: --resume needs --json PATH: the report of "
                           "the earlier run, which it completes")


def test_resume_of_a_report_not_written_yet_analyses_everything(
    clips: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "new.json"
    code, err = scan(capsys, clips[0], "--json", str(report), "--resume")
    assert code == 0
    assert f"--resume: {report} does not exist yet; analysing every file" in err
    (video,) = json.loads(report.read_text())["videos"]
    assert video["path"] == clips[0] and video["status"] == "ok"


def test_resume_refuses_what_is_not_a_report(
    clips: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "r.json"
    report.write_text('{"videos": 3}')
    code, err = scan(capsys, clips[0], "--json", str(report), "--resume")
    assert code == 2
    assert err.strip() == (f"deepfake-monitor: error: {report}: not a scan report (no 'model' "
                           "and 'videos')")


def test_report_records_the_settings_its_results_depend_on(
    clips: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from deepfake_monitor.realtime.model.classifier import default_model_path

    report = tmp_path / "r.json"
    assert scan(capsys, clips[0], "--json", str(report), "--sample-fps", "all")[0] == 0
    data = json.loads(report.read_text())
    settings = data["settings"]
    digest = hashlib.sha256(default_model_path().read_bytes()).hexdigest()
    assert settings == {"sample_fps": "all", "detector": "full", "min_face_score": 0.5,
                        "video_rule": settings["video_rule"], "model_sha256": digest,
                        "threshold": data["videos"][0]["threshold"], "uncertain_band": 0.1}
    assert "1 s windows" in settings["video_rule"]
    assert data["cwd"] == os.getcwd()


def test_resume_refuses_other_analysis_settings_before_analysing_anything(
    clips: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 5 fps / full-detector report resumed with other sampling, detector and face score:
    refused in one line naming all three, before the line that says what will be analysed."""
    report = tmp_path / "r.json"
    assert scan(capsys, clips[0], "--json", str(report))[0] == 0
    before = report.read_text()
    code, err = scan(capsys, *clips, "--json", str(report), "--resume", "--sample-fps", "1",
                     "--detector", "short", "--min-face-score", "0.9")
    assert code == 2, err
    assert err.strip().splitlines()[-1] == (
        f"deepfake-monitor: error: --resume: {report} was analysed with other settings than "
        "this run: sample_fps 5 (this run 1); detector full (this run short); min_face_score "
        "0.5 (this run 0.9). Resume with the same options, or write a new report")
    assert "analysing the other" not in err
    assert report.read_text() == before


def test_resume_from_another_folder_matches_by_resolved_path(
    clips: list[str], shared_media: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first run named its inputs relative to ../shared/media; the resume names them
    absolutely from another folder. The finished videos are found and kept (written under the
    paths this run gave), only the new one is analysed."""
    a, b, c = clips
    report = tmp_path / "r.json"
    monkeypatch.chdir(shared_media)
    relative = [os.path.relpath(p, shared_media) for p in (a, b)]
    assert scan(capsys, *relative, "--json", str(report))[0] == 0
    first = json.loads(report.read_text())["videos"]
    assert [v["path"] for v in first] == relative

    monkeypatch.chdir(tmp_path)
    code, err = scan(capsys, a, b, c, "--json", str(report), "--resume")
    assert code == 0, err
    assert "--resume: 2 of 3 file(s) already in" in err
    assert "not among the inputs" not in err
    data = json.loads(report.read_text())
    assert [v["path"] for v in data["videos"]] == [a, b, c]
    for kept, was in zip(data["videos"], first):
        assert kept == {**was, "path": kept["path"]}  # as written, under this run's path
    assert data["videos"][2]["status"] == "ok"
    assert data["cwd"] == str(tmp_path)


def test_resume_never_drops_finished_videos_that_are_not_inputs(
    clips: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b, c = clips
    report = tmp_path / "r.json"
    assert scan(capsys, a, b, "--json", str(report))[0] == 0
    first = json.loads(report.read_text())["videos"]
    code, err = scan(capsys, c, "--json", str(report), "--resume")
    assert code == 0, err
    assert (f"--resume: 2 finished video(s) of {report} are not among the inputs; they stay "
            "in it as they were, after the inputs") in err
    videos = json.loads(report.read_text())["videos"]
    assert [v["path"] for v in videos] == [c, a, b]
    assert videos[1:] == first
