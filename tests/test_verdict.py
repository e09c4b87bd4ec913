"""The video-level rule at its edges (realtime/analysis/verdict.py, README "Video-level rule"):
a score exactly at the threshold, tracks of 3 to 5 samples, many samples in under a second, and
windows next to gaps in detection. Expected values are worked out by hand in the comments."""

from __future__ import annotations

import numpy as np
import pytest

from deepfake_monitor.realtime.analysis.verdict import (
    sustained_score,
    track_scores,
    verdict,
    video_score,
)


def samples(track: int, ts: list[float], ps: list[float]) -> list[tuple[int, float, float]]:
    return [(track, t, p) for t, p in zip(ts, ps)]


def test_a_score_exactly_at_the_threshold_is_fake() -> None:
    tracks = track_scores(samples(1, [i * 0.2 for i in range(10)], [0.5] * 10))
    assert video_score(tracks) == 0.5
    assert verdict(0.5, 0.5) == "fake"
    assert verdict(np.nextafter(0.5, 0.0), 0.5) == "real"
    assert verdict(video_score(tracks), 0.5) == "fake"


def test_a_track_of_three_samples_counts_and_one_of_two_does_not() -> None:
    # a 2-sample flash at 0.95 (a false detection, most likely) and a 3-sample face at 0.4
    tracks = track_scores(samples(1, [0.0, 0.2], [0.95, 0.95])
                          + samples(2, [0.0, 0.2, 0.4], [0.3, 0.4, 0.5]))
    assert [t.samples for t in tracks] == [2, 3]
    assert video_score(tracks) == pytest.approx(0.4)  # the mean of track 2's three samples
    # with no track of 3, every track counts
    assert video_score(track_scores(samples(1, [0.0, 0.2], [0.95, 0.95]))) == \
        pytest.approx(0.95)


def test_tracks_of_up_to_five_samples_score_their_mean_however_long() -> None:
    # 5 samples over 2 s: no window is needed, the whole track's mean (0.1 * 4 + 0.9) / 5
    ts, ps = [0.0, 0.5, 1.0, 1.5, 2.0], [0.1, 0.1, 0.1, 0.1, 0.9]
    assert sustained_score(np.array(ts), np.array(ps)) == pytest.approx(0.26)
    # 4 samples: the same
    assert sustained_score(np.array(ts[1:]), np.array(ps[1:])) == pytest.approx(0.3)


def test_six_samples_over_a_second_take_the_best_five_sample_window() -> None:
    # t = 0, 0.25 .. 1.25. Windows of >= 1 s and >= 5 samples that fit: samples 0-4 (0.1) and
    # 1-5 ((0.1 * 4 + 0.9) / 5 = 0.26); a window from sample 2 would need 5 samples: none left.
    ts = np.arange(6) * 0.25
    ps = np.array([0.1] * 5 + [0.9])
    assert sustained_score(ts, ps) == pytest.approx(0.26)


def test_many_samples_in_under_a_second_score_the_whole_track() -> None:
    # 8 samples in 0.7 s, rising: no full second exists, so the mean (0.45), not the best
    # five (0.6)
    ts = np.arange(8) * 0.1
    ps = np.round(np.arange(1, 9) * 0.1, 2)
    assert sustained_score(ts, ps) == pytest.approx(0.45)


def test_windows_next_to_a_detection_gap() -> None:
    # five low samples, a 1.6 s gap without a face, five high ones: the high second counts
    # on its own (windows at sample 0 .. 5 average 0.2, 0.34, 0.48, 0.62, 0.76, 0.9)
    low_t, high_t = [0.0, 0.1, 0.2, 0.3, 0.4], [2.0, 2.1, 2.2, 2.3, 2.4]
    ts = np.array(low_t + high_t)
    ps = np.array([0.2] * 5 + [0.9] * 5)
    assert sustained_score(ts, ps) == pytest.approx(0.9)
    # only three high samples after the gap: a window needs five, so the best one reaches
    # back across the gap to two low ones: (0.2 * 2 + 0.9 * 3) / 5 = 0.62
    ts3, ps3 = np.array(low_t + high_t[:3]), np.array([0.2] * 5 + [0.9] * 3)
    assert sustained_score(ts3, ps3) == pytest.approx(0.62)


def test_samples_out_of_order_score_as_in_order() -> None:
    ts = np.arange(12) * 0.2
    ps = np.array([0.1] * 6 + [0.8] * 6)
    order = np.random.default_rng(3).permutation(12)
    assert sustained_score(ts[order], ps[order]) == pytest.approx(sustained_score(ts, ps))
    # best window: the last six samples at 0.8 (t 1.2 .. 2.2 spans 1 s with 6 samples)
    assert sustained_score(ts, ps) == pytest.approx(0.8)


def test_three_states_around_the_threshold_and_their_edges() -> None:
    from deepfake_monitor.realtime.analysis.verdict import band_edges, threshold_text

    # 0.5 +- 0.1: below 0.4 real, [0.4, 0.6) uncertain, from 0.6 fake
    assert [verdict(p, 0.5, 0.1) for p in (0.39, 0.4, 0.5, 0.5999, 0.6, 1.0)] == \
        ["real", "uncertain", "uncertain", "uncertain", "fake", "fake"]
    # band 0: the plain threshold
    assert [verdict(p, 0.5, 0.0) for p in (0.4999, 0.5)] == ["real", "fake"]
    # near the ends the band is cut, so a score of 1 is still fake at a threshold of 0.95
    assert band_edges(0.95, 0.1) == (pytest.approx(0.85), 1.0)
    assert verdict(1.0, 0.95, 0.1) == "fake" and verdict(0.97, 0.95, 0.1) == "uncertain"
    assert verdict(None, 0.5, 0.1) is None
    # the threshold as shown: every decimal that decides, at least two
    assert [threshold_text(t) for t in (0.7, 0.7008, 0.5, 0.123456)] == \
        ["0.70", "0.7008", "0.50", "0.123456"]
