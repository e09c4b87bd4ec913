"""Frame sampling by presentation time: "five frames per second of video", also for VFR clips.

Phone and call recordings have a variable frame rate: 30 fps while the scene moves, a few
frames a second while it is still. Sampling by frame number with the file's nominal rate then
analyses too many frames in one part and too few in another, and the verdict's 1 s windows hold
other numbers of samples than the rate promises. So a frame is kept when the second-fraction
it starts in, floor(t * sample_fps), is later than the previous frame's (in presentation
order): at most `sample_fps` frames per second of video, the first frame at or after each
1/sample_fps instant, and every frame where the video has fewer. On a constant-rate clip this
is the same choice as the frame-number rule floor(i * sample_fps / fps).
"""

from __future__ import annotations

import bisect
import math

# Presentation times come from integer timestamps times a time base: a frame exactly on an
# instant k / sample_fps may land a hair below it in floating point.
_EPS = 1e-6


def slot(t: float, sample_fps: float) -> int:
    """The 1/sample_fps slot of video time `t` (seconds)."""
    return math.floor(t * sample_fps + _EPS)


def keeps_time(t: float, previous_t: float | None, sample_fps: float | None) -> bool:
    """Whether the frame at `t` is analysed, given the time of the frame before it."""
    if sample_fps is None or previous_t is None:
        return True
    return slot(t, sample_fps) > slot(previous_t, sample_fps)


class Timestamps:
    """The presentation timestamps of a stream's frames as its packets are read (in decode
    order, which B-frames make differ from presentation order): each frame's number and the
    time of the frame before it, so that frames can be sampled before they are decoded."""

    def __init__(self) -> None:
        self._pts: list[int] = []
        self.end: int | None = None  # the largest pts + duration seen: where the video ends

    def __len__(self) -> int:
        return len(self._pts)

    def add(self, pts: int, duration: int | None) -> None:
        index = bisect.bisect_left(self._pts, pts)
        if index == len(self._pts) or self._pts[index] != pts:
            self._pts.insert(index, pts)
        end = pts + (duration or 0)
        self.end = end if self.end is None else max(self.end, end)

    def number(self, pts: int) -> int:
        """Frames before `pts` in presentation order (among those read so far)."""
        return bisect.bisect_left(self._pts, pts)

    def previous(self, pts: int) -> int | None:
        """The pts of the frame shown before `pts` (among those read so far)."""
        index = bisect.bisect_left(self._pts, pts)
        return self._pts[index - 1] if index > 0 else None
