"""One score per video from per-face scores over time (also used by `train evaluate`).

The rule: a video is as fake as its most fake face. Each track's score is the mean P(fake)
over its samples; the video's score is the largest track score, counting only tracks with at
least `min_samples` samples (a face seen in one or two frames is more often a false detection
than a person) unless no track has that many. Why per-track means and a max over tracks: a
face swap usually replaces one person in a scene, so averaging over every face would dilute it,
while averaging over time within a face removes single-frame noise. A video with no analysed
face gets no score at all (`no-face`), never a made-up one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

MIN_TRACK_SAMPLES = 3


@dataclass(frozen=True)
class TrackScore:
    track: int
    score: float
    samples: int
    first_s: float
    last_s: float


def track_scores(samples: Iterable[tuple[int, float, float]]) -> list[TrackScore]:
    """Per-track mean P(fake) from (track, t, p) samples, ordered by track id."""
    by_track: dict[int, list[tuple[float, float]]] = {}
    for track, t, p in samples:
        by_track.setdefault(track, []).append((t, p))
    out = []
    for track in sorted(by_track):
        ts, ps = zip(*by_track[track])
        out.append(TrackScore(track, float(np.mean(ps)), len(ps), float(min(ts)), float(max(ts))))
    return out


def video_score(tracks: Sequence[TrackScore], min_samples: int = MIN_TRACK_SAMPLES) -> float | None:
    """The video's P(fake), or None when no face was analysed."""
    if not tracks:
        return None
    steady = [tr for tr in tracks if tr.samples >= min_samples] or list(tracks)
    return max(tr.score for tr in steady)


def verdict(score: float | None, threshold: float) -> str | None:
    if score is None:
        return None
    return "fake" if score >= threshold else "real"


def video_scores_from_frames(frame_scores: Mapping[str, Iterable[tuple[int, float, float]]],
                             min_samples: int = MIN_TRACK_SAMPLES) -> dict[str, float | None]:
    """Video-level scores for many videos at once (the evaluation code's entry point)."""
    return {video: video_score(track_scores(s), min_samples) for video, s in frame_scores.items()}
