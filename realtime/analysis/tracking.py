"""Face identities across frames, smoothed probabilities, and alerts with hysteresis.

Why our own tracker rather than a library's: `supervision` removed `ByteTrack` in 0.31 and moved
it to the `trackers` package, which hard-requires the GUI build `opencv-python` (its bundled Qt
plugins clash with PyQt6, so we ship `opencv-python-headless`; both cannot be installed at once)
and pulls scipy, supervision and requests. A frame holds a handful of faces, so greedy IoU
matching (with a centre-distance fallback for the large jumps that low sample rates cause) is
exact enough and costs microseconds. Track ages are measured in seconds, not frames, because the
analysed frame rate varies with the source and the model's speed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class TrackerConfig:
    min_iou: float = 0.2
    # A face whose centre moved less than this fraction of its box size still matches (at a
    # 5 fps scan a turning head easily moves one face width between samples).
    max_centre_shift: float = 1.0
    # A face unseen for this long loses its id.
    max_age_s: float = 1.5


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) boxes in x1, y1, x2, y2."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return (inter / np.maximum(union, 1e-9)).astype(np.float32)


@dataclass
class _Track:
    id: int
    box: np.ndarray
    last_t: float


class FaceTracker:
    """Assigns a stable id to each face box, frame after frame."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._tracks: list[_Track] = []
        self._next_id = 1

    def update(self, boxes: Sequence[Sequence[float]] | np.ndarray, t: float) -> list[int]:
        """Track ids for `boxes` (in order), seen at time `t` seconds."""
        cfg = self.config
        self._tracks = [tr for tr in self._tracks if t - tr.last_t <= cfg.max_age_s]
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        ids = [0] * len(boxes)
        if len(boxes) and self._tracks:
            old = np.stack([tr.box for tr in self._tracks])
            score = iou_matrix(boxes, old)
            # Boxes that barely overlap but whose centres are close (fast motion, sparse
            # sampling) still match, ranked below any real overlap.
            centre_new = (boxes[:, :2] + boxes[:, 2:]) / 2
            centre_old = (old[:, :2] + old[:, 2:]) / 2
            scale = np.maximum((old[:, 2] - old[:, 0]), (old[:, 3] - old[:, 1]))
            shift = np.linalg.norm(centre_new[:, None] - centre_old[None], axis=2) / scale[None]
            near = (score < cfg.min_iou) & (shift < cfg.max_centre_shift)
            score = np.where(near, cfg.min_iou * (1 - shift / cfg.max_centre_shift), score)
            score = np.where(near | (score >= cfg.min_iou), score, -1.0)
            used_new: set[int] = set()
            used_old: set[int] = set()
            for flat in np.argsort(-score, axis=None):
                i, j = divmod(int(flat), score.shape[1])
                if score[i, j] < 0:
                    break
                if i in used_new or j in used_old:
                    continue
                used_new.add(i)
                used_old.add(j)
                track = self._tracks[j]
                track.box = boxes[i]
                track.last_t = t
                ids[i] = track.id
        for i, box in enumerate(boxes):
            if ids[i] == 0:
                track = _Track(self._next_id, box, t)
                self._next_id += 1
                self._tracks.append(track)
                ids[i] = track.id
        return ids

    def clear(self) -> None:
        """Forget every track (the source reconnected: a face then is a new track)."""
        self._tracks = []


@dataclass(frozen=True)
class SmoothingConfig:
    # Time constant of the exponential moving average, in seconds.
    tau_s: float = 0.5
    # How long the smoothed probability must stay at or above the threshold before alerting.
    alert_after_s: float = 1.0
    # An alert clears only once the smoothed probability falls this far below the threshold.
    hysteresis: float = 0.05
    # State of faces unseen for this long is forgotten.
    forget_after_s: float = 5.0


@dataclass
class FaceState:
    """What the meters show for one tracked face."""

    track: int
    p: float = 0.0
    p_smooth: float = 0.0
    peak: float = 0.0
    samples: int = 0
    first_t: float = 0.0
    last_t: float = 0.0
    above_since: float | None = None
    alert: bool = False
    alert_since: float | None = None

    def above_s(self, now: float) -> float:
        return 0.0 if self.above_since is None else max(0.0, now - self.above_since)


# Why an alert ended: the face fell below the threshold (a real clear), or its track ended
# while it may still be fake: the face was not seen for a while, or the source disconnected.
BELOW_THRESHOLD, TRACK_LOST, DISCONNECTED = "below_threshold", "track_lost", "disconnected"


@dataclass(frozen=True)
class AlertChange:
    """An alert that started (`active`) or ended for one face, and why it ended (`reason`,
    None for a start)."""

    track: int
    active: bool
    t: float
    p_smooth: float
    peak: float
    reason: str | None = None


@dataclass
class FaceSmoother:
    """Per-track EMA of P(fake) and the alert state machine (time-based, not frame-based)."""

    threshold: float
    config: SmoothingConfig = field(default_factory=SmoothingConfig)
    faces: dict[int, FaceState] = field(default_factory=dict)

    def update(self, track: int, p: float, t: float) -> tuple[FaceState, AlertChange | None]:
        state = self.faces.get(track)
        if state is None:
            state = FaceState(track=track, p=p, p_smooth=p, first_t=t, last_t=t)
            self.faces[track] = state
        else:
            dt = max(t - state.last_t, 0.0)
            alpha = 1.0 - math.exp(-dt / self.config.tau_s) if self.config.tau_s > 0 else 1.0
            state.p_smooth += alpha * (p - state.p_smooth)
            state.p = p
            state.last_t = t
        state.samples += 1
        state.peak = max(state.peak, state.p_smooth)
        return state, self._evaluate(state, t)

    def set_threshold(self, threshold: float, now: float) -> list[AlertChange]:
        """Apply a new threshold at once: alerts start or clear as if it had always held."""
        self.threshold = threshold
        changes = []
        for state in self.faces.values():
            state.above_since = None if state.p_smooth < threshold else state.last_t
            change = self._evaluate(state, now)
            if change:
                changes.append(change)
        return changes

    def forget_stale(self, now: float) -> list[AlertChange]:
        """Drop faces not seen for a while; an alert on one of them ends as `track_lost` (the
        face was last seen above the threshold: that is no clear)."""
        changes = []
        for track, state in list(self.faces.items()):
            if now - state.last_t > self.config.forget_after_s:
                if state.alert:
                    changes.append(AlertChange(track, False, now, state.p_smooth, state.peak,
                                               TRACK_LOST))
                del self.faces[track]
        return changes

    def end_all(self, now: float, reason: str) -> list[AlertChange]:
        """Every face's track ended at once (the source disconnected): their alerts end with
        `reason`, and the faces are forgotten."""
        changes = [AlertChange(s.track, False, now, s.p_smooth, s.peak, reason)
                   for s in self.faces.values() if s.alert]
        self.faces.clear()
        return changes

    def _evaluate(self, state: FaceState, t: float) -> AlertChange | None:
        cfg = self.config
        if state.p_smooth >= self.threshold:
            if state.above_since is None:
                state.above_since = t
        elif state.p_smooth < self.threshold - cfg.hysteresis or not state.alert:
            state.above_since = None
        if not state.alert and state.above_since is not None \
                and t - state.above_since >= cfg.alert_after_s:
            state.alert = True
            state.alert_since = t
            return AlertChange(state.track, True, t, state.p_smooth, state.peak)
        if state.alert and state.p_smooth < self.threshold - cfg.hysteresis:
            state.alert = False
            state.alert_since = None
            return AlertChange(state.track, False, t, state.p_smooth, state.peak,
                               BELOW_THRESHOLD)
        return None
