"""Annotated frames in three states with a legend, and face labels that cover neither the
header nor each other (realtime/outputs/overlays.py), drawn on a frame of the bundled sample
clip."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from deepfake_monitor.realtime.analysis.pipeline import FaceResult, FrameResult
from deepfake_monitor.realtime.outputs.overlays import (
    AMBER,
    GREEN,
    RED,
    HeaderAnnotator,
    LabelAnnotator,
    annotate,
    face_label,
    legend_items,
    place_labels,
)

SAMPLE = Path(__file__).resolve().parents[1] / "assets" / "samples" / "astronaut_sbi.mp4"


@pytest.fixture(scope="module")
def sample_frame() -> np.ndarray:
    cap = cv2.VideoCapture(str(SAMPLE))
    ok, frame = cap.read()
    cap.release()
    assert ok, SAMPLE
    return frame


def crowd(frame: np.ndarray, top: float, n: int, threshold: float = 0.7008) -> FrameResult:
    """`n` small faces side by side, `top` px from the top edge (a crowd, a stand)."""
    faces = tuple(FaceResult(k + 1, (20.0 + 45 * k, top, 60.0 + 45 * k, top + 50), 0.9,
                             0.2 * (k % 5), 0.2 * (k % 5), 0.5, False, 0.0) for k in range(n))
    return FrameResult("/videos/a_stand_full_of_people_at_the_match.mp4", 0, 1.0, 0.0, 0.02,
                       frame, faces, threshold, 12.0, "CPUExecutionProvider")


def test_labels_keep_clear_of_every_header_line(sample_frame: np.ndarray) -> None:
    frame = cv2.resize(sample_frame, (480, 270))
    header = HeaderAnnotator(file=True, model="deepfake-monitor 1.0", note="5 of 25 fps")
    result = crowd(frame, top=40.0, n=2)  # labels above these boxes would sit on the header
    x1, y1, x2, y2 = header.rect(frame, result)
    assert y2 > 40  # the header (two text lines and the legend) reaches below the faces' tops
    alone = annotate(frame.copy(), result, (header,))
    both = annotate(frame.copy(), result, (header, LabelAnnotator(header)))
    assert np.array_equal(both[y1:y2, x1:x2], alone[y1:y2, x1:x2])
    # and the labels are drawn (below the header), not dropped
    assert (both[y2:] != alone[y2:]).any()


def test_neighbouring_labels_do_not_overlap(sample_frame: np.ndarray) -> None:
    frame = sample_frame.copy()
    result = crowd(frame, top=200.0, n=8)  # 8 faces 45 px apart, labels ~190 px wide
    header = HeaderAnnotator()
    label = LabelAnnotator(header)
    faces = sorted(result.faces, key=lambda f: (f.box[1], f.box[0]))
    sizes = [cv2.getTextSize(face_label(f, result.threshold), cv2.FONT_HERSHEY_SIMPLEX,
                             0.55, 2)[0] for f in faces]
    assert all(w > 45 for w, _ in sizes)  # wider than the gap between faces
    boxes = [tuple(int(v) for v in f.box) for f in faces]
    rects = place_labels(boxes, [(w + 4, h + 8) for w, h in sizes], frame.shape[1],
                         frame.shape[0], [header.rect(frame, result)])
    for i, a in enumerate(rects):
        assert a[0] >= 0 and a[2] <= frame.shape[1] and a[1] >= 0 and a[3] <= frame.shape[0]
        for b in rects[i + 1:]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)
    # drawn: each label's text is whole (its band as wide as placed, no other label over it)
    out = label.annotate(frame.copy(), result)
    assert (out != frame).any()


def test_the_header_shows_the_threshold_that_decides_and_a_colour_legend(
        sample_frame: np.ndarray) -> None:
    frame = sample_frame.copy()
    result = crowd(frame, top=300.0, n=1)
    header = HeaderAnnotator()
    assert "thr 0.7008" in header.items(result)  # not "thr 0.70": 0.7004 is below it
    assert legend_items(0.7008, 0.1) == [("real", "real < 0.6008"), ("uncertain", "uncertain"),
                                         ("fake", "fake >= 0.8008")]
    out = header.annotate(frame.copy(), result)
    _, _, x2, y2 = header.rect(frame, result)
    swatches = {c: bool((out[:y2, :x2] == c).all(axis=2).any()) for c in (GREEN, AMBER, RED)}
    assert swatches == {GREEN: True, AMBER: True, RED: True}
