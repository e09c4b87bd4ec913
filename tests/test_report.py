"""Video-level verdicts and the report format that other tools read."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from deepfake_monitor.realtime.analysis.verdict import (
    sustained_score,
    track_scores,
    verdict,
    video_score,
)
from deepfake_monitor.realtime.outputs.report import (
    TimelineEntry,
    VideoReport,
    write_csv,
    write_json,
)


def test_video_score_is_the_most_fake_steady_face() -> None:
    samples = [(1, t / 10, 0.2) for t in range(10)] + [(2, t / 10, 0.8) for t in range(10)]
    samples += [(3, 0.0, 0.99)]  # a one-frame blip: ignored while steadier faces exist
    tracks = track_scores(samples)
    assert [t.track for t in tracks] == [1, 2, 3]
    assert tracks[1].samples == 10 and tracks[1].first_s == 0.0 and tracks[1].last_s == 0.9
    assert video_score(tracks) == pytest.approx(0.8)
    assert verdict(video_score(tracks), 0.5) == "fake"
    assert verdict(video_score(tracks), 0.9) == "real"
    # Only blips: they are all there is.
    assert video_score(track_scores([(5, 0.0, 0.3)])) == pytest.approx(0.3)


def test_a_sustained_manipulated_stretch_counts_but_a_single_spike_does_not() -> None:
    t = np.arange(50) / 5  # 10 s at 5 fps
    partly_fake = np.where(t >= 8, 0.9, 0.2)
    assert sustained_score(t, partly_fake) == pytest.approx(0.9)
    assert partly_fake.mean() < 0.4
    spike = np.full(50, 0.1)
    spike[20] = 1.0
    assert sustained_score(t, spike) == pytest.approx((1.0 + 4 * 0.1) / 5)
    # Shorter than a window: the whole track's mean.
    assert sustained_score(t[:4], np.array([0.1, 0.2, 0.3, 0.4])) == pytest.approx(0.25)
    # Order of samples does not matter.
    shuffled = np.random.default_rng(0).permutation(50)
    assert sustained_score(t[shuffled], partly_fake[shuffled]) == pytest.approx(0.9)


def test_no_face_means_no_score() -> None:
    assert video_score([]) is None
    assert verdict(None, 0.5) is None
    report = VideoReport(path="x.mp4", threshold=0.5, frames_analyzed=12).finish()
    d = report.to_dict()
    assert d["status"] == "no-face" and d["score"] is None and d["verdict"] is None


def test_errors_win_and_carry_no_score() -> None:
    report = VideoReport(path="x.mp4", threshold=0.5)
    report.timeline.append(TimelineEntry(0.0, 1, 0.9, (0, 0, 1, 1)))
    d = report.finish(error="x.mp4: decoding stopped").to_dict()
    assert d["status"] == "error" and d["error"] == "x.mp4: decoding stopped"
    assert d["score"] is None and d["verdict"] is None


def _sample_report() -> VideoReport:
    r = VideoReport(path="clip.mp4", threshold=0.5, duration_s=2.0, frames_analyzed=3)
    for i in range(3):
        r.timeline.append(TimelineEntry(i * 0.2, 1, 0.6 + 0.1 * i, (10.0, 20.0, 110.0, 140.0)))
    return r.finish()


def test_json_report_field_names(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "report.json"
    write_json(path, {"card": {"name": "m"}}, [_sample_report()])
    data = json.loads(path.read_text())
    assert set(data) == {"model", "videos"}
    video = data["videos"][0]
    assert set(video) == {"path", "status", "error", "score", "verdict", "threshold",
                          "duration_s", "frames_analyzed", "faces", "timeline"}
    assert video["status"] == "ok" and video["verdict"] == "fake"
    assert video["score"] == pytest.approx(0.7)
    assert set(video["faces"][0]) == {"track", "score", "first_s", "last_s", "samples"}
    assert set(video["timeline"][0]) == {"t", "track", "p", "box"}
    assert video["timeline"][2]["box"] == [10.0, 20.0, 110.0, 140.0]
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]  # no temp files left


def test_csv_timeline(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    write_csv(path, [_sample_report()])
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 3
    assert rows[1]["path"] == "clip.mp4" and float(rows[1]["p"]) == pytest.approx(0.7)
    assert float(rows[1]["x2"]) == 110.0
