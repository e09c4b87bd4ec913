"""Face ids across frames, smoothing and alert hysteresis (time-based)."""

from __future__ import annotations

from deepfake_monitor.realtime.analysis.tracking import (
    FaceSmoother,
    FaceTracker,
    SmoothingConfig,
    TrackerConfig,
    iou_matrix,
)


def test_iou_matrix() -> None:
    import numpy as np

    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    b = np.array([[5, 0, 15, 10]], np.float32)
    got = iou_matrix(a, b)
    assert got.shape == (2, 1)
    assert abs(got[0, 0] - 50 / 150) < 1e-6
    assert got[1, 0] == 0


def test_two_moving_faces_keep_their_ids_even_when_listed_in_another_order() -> None:
    tracker = FaceTracker()
    left, right = [10, 10, 60, 70], [200, 10, 250, 70]
    first = tracker.update([left, right], t=0.0)
    assert first == [1, 2]
    for step in range(1, 10):
        dx = 4 * step
        moved_left = [left[0] + dx, 10, left[2] + dx, 70]
        moved_right = [right[0] - dx, 10, right[2] - dx, 70]
        assert tracker.update([moved_right, moved_left], t=step * 0.04) == [2, 1]


def test_a_large_jump_between_sparse_samples_still_matches_by_centre() -> None:
    tracker = FaceTracker(TrackerConfig(min_iou=0.2, max_centre_shift=1.0))
    assert tracker.update([[100, 100, 200, 200]], t=0.0) == [1]
    # Moved 80 px of a 100 px face: IoU 0.11, below min_iou, but the centre is close.
    assert tracker.update([[180, 100, 280, 200]], t=0.2) == [1]
    # Far away: a different person.
    assert tracker.update([[600, 100, 700, 200]], t=0.4) == [2]


def test_a_face_gone_too_long_gets_a_new_id() -> None:
    tracker = FaceTracker(TrackerConfig(max_age_s=1.0))
    box = [10, 10, 60, 60]
    assert tracker.update([box], t=0.0) == [1]
    assert tracker.update([], t=0.5) == []
    assert tracker.update([box], t=0.9) == [1]
    assert tracker.update([box], t=2.5) == [2]


def test_smoothing_damps_a_single_spike() -> None:
    s = FaceSmoother(threshold=0.5, config=SmoothingConfig(tau_s=0.5))
    for i in range(10):
        s.update(1, 0.1, i * 0.04)
    state, _ = s.update(1, 0.95, 0.40)
    assert state.p == 0.95
    assert state.p_smooth < 0.3


def test_alert_needs_time_above_threshold_and_clears_with_hysteresis() -> None:
    cfg = SmoothingConfig(tau_s=0.0, alert_after_s=1.0, hysteresis=0.1)
    s = FaceSmoother(threshold=0.5, config=cfg)
    changes = []
    t = 0.0
    for _ in range(20):  # 0.0 .. 0.95 s above: not yet
        _, c = s.update(7, 0.7, t)
        changes.append(c)
        t += 0.05
    assert not any(changes)
    _, c = s.update(7, 0.7, 1.0)
    assert c is not None and c.active and c.track == 7
    # Dipping just below the threshold (within the hysteresis band) keeps the alert.
    state, c = s.update(7, 0.45, 1.1)
    assert c is None and state.alert
    state, c = s.update(7, 0.35, 1.2)
    assert c is not None and not c.active and not state.alert


def test_lowering_the_threshold_re_evaluates_faces_at_once() -> None:
    s = FaceSmoother(threshold=0.8, config=SmoothingConfig(tau_s=0.0, alert_after_s=0.5))
    for i in range(20):
        s.update(3, 0.6, i * 0.1)
    assert not s.faces[3].alert
    changes = s.set_threshold(0.5, now=1.9)
    # Above the new threshold since the last sample: not yet long enough...
    assert changes == []
    _, c = s.update(3, 0.6, 2.5)
    assert c is not None and c.active


def test_stale_faces_are_forgotten_and_their_alert_cleared() -> None:
    s = FaceSmoother(threshold=0.5, config=SmoothingConfig(tau_s=0.0, alert_after_s=0.0,
                                                           forget_after_s=2.0))
    _, c = s.update(1, 0.9, 0.0)
    assert c is not None and c.active
    changes = s.forget_stale(now=3.0)
    assert [(ch.track, ch.active) for ch in changes] == [(1, False)]
    assert 1 not in s.faces
