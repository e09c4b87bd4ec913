"""One score per video from per-face scores over time (also used by `train evaluate`).

The rule: a video is as fake as its most fake face, and a face is as fake as its most fake
sustained second. A track's score is the highest mean P(fake) over any window of `window_s`
seconds (at least `min_window` samples; the whole track when it is shorter); the video's score
is the largest track score, counting only tracks with at least `min_samples` samples (a face
seen in one or two frames is more often a false detection than a person) unless no track has
that many.

Why: a face swap usually replaces one person in a scene, so averaging over every face would
dilute it; manipulations often cover only part of a clip, so a mean over the whole track would
dilute those too; and averaging within a window still removes single-frame noise, which a plain
maximum would not. A video with no analysed face gets no score at all (`no-face`), never a
made-up one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

MIN_TRACK_SAMPLES = 3
WINDOW_S = 1.0
MIN_WINDOW_SAMPLES = 5
# Scores this close to the threshold (in probability, either side) are "uncertain": a verdict
# there says the model cannot tell, rather than flipping on a hundredth (README "Verdicts").
UNCERTAIN_BAND = 0.10
VERDICTS = ("real", "uncertain", "fake")


@dataclass(frozen=True)
class TrackScore:
    track: int
    score: float
    mean: float
    samples: int
    first_s: float
    last_s: float


def sustained_score(t: np.ndarray, p: np.ndarray, window_s: float = WINDOW_S,
                    min_window: int = MIN_WINDOW_SAMPLES) -> float:
    """Highest mean of p over windows of `window_s` seconds (and >= `min_window` samples)."""
    order = np.argsort(t, kind="stable")
    t, p = t[order], p[order]
    n = len(p)
    if n <= min_window or t[-1] - t[0] < window_s:
        return float(p.mean())
    cum = np.concatenate([[0.0], np.cumsum(p)])
    starts = np.arange(n)
    ends = np.maximum(np.searchsorted(t, t + window_s, side="left"), starts + min_window)
    full = ends <= n  # only windows that fit inside the track
    starts, ends = starts[full], ends[full]
    return float(((cum[ends] - cum[starts]) / (ends - starts)).max())


def track_scores(samples: Iterable[tuple[int, float, float]], window_s: float = WINDOW_S,
                 min_window: int = MIN_WINDOW_SAMPLES) -> list[TrackScore]:
    """Per-track scores from (track, t, p) samples, ordered by track id."""
    by_track: dict[int, list[tuple[float, float]]] = {}
    for track, t, p in samples:
        by_track.setdefault(track, []).append((t, p))
    out = []
    for track in sorted(by_track):
        ts = np.array([s[0] for s in by_track[track]], np.float64)
        ps = np.array([s[1] for s in by_track[track]], np.float64)
        out.append(TrackScore(track, sustained_score(ts, ps, window_s, min_window),
                              float(ps.mean()), len(ps), float(ts.min()), float(ts.max())))
    return out


def video_score(tracks: Sequence[TrackScore], min_samples: int = MIN_TRACK_SAMPLES) -> float | None:
    """The video's P(fake), or None when no face was analysed."""
    if not tracks:
        return None
    steady = [tr for tr in tracks if tr.samples >= min_samples] or list(tracks)
    return max(tr.score for tr in steady)


def band_edges(threshold: float, band: float = UNCERTAIN_BAND) -> tuple[float, float]:
    """(lowest uncertain score, lowest fake score): the band around `threshold`, cut at 0 and
    1 so that a threshold near either end still leaves a fake (or real) side."""
    return max(threshold - band, 0.0), min(threshold + band, 1.0)


def verdict(score: float | None, threshold: float, band: float = 0.0) -> str | None:
    """"real", "uncertain" or "fake" (None without a score). With `band` 0, the two-state
    rule: fake at or above the threshold."""
    if score is None:
        return None
    low, high = band_edges(threshold, band)
    if score >= high:
        return "fake"
    return "uncertain" if score >= low and band > 0 else "real"


def threshold_text(threshold: float) -> str:
    """The threshold with every decimal that decides (0.70, 0.7008), so a 70 % beside "0.70"
    never hides a threshold of 0.7008."""
    for decimals in range(2, 7):
        if abs(round(threshold, decimals) - threshold) < 1e-9:
            return f"{threshold:.{decimals}f}"
    return f"{threshold:.6f}"


def video_scores_from_frames(frame_scores: Mapping[str, Iterable[tuple[int, float, float]]],
                             min_samples: int = MIN_TRACK_SAMPLES) -> dict[str, float | None]:
    """Video-level scores for many videos at once (the evaluation code's entry point)."""
    return {video: video_score(track_scores(s), min_samples) for video, s in frame_scores.items()}
