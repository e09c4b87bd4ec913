"""Training couples from real deepfakes: a fake beside the real frame it was made from.

Self-blends and synthetic swaps teach a model their own seams, not what a real face-swap tool
leaves (train/EXPERIMENTS.md: ten such recipes at chance on live swaps). A live swap's two
halves -- DeepFaceLive's original stream and its swapped output, cut from one side-by-side
clip -- are the same frames: put the same frame of both into one batch and the swap is the only
difference the model can learn from. `extract` keeps the frame number of every crop and, for a
fake, the real clip it was made from (`source_video`, from the labels layout's `pair` column),
so such couples are found from the manifest alone.

Fakes with no real twin (a tool's demo output only) are coupled with a real crop of another
video, so that "video footage" never becomes the cue. The rest of the batch can come from
another source (online self-blends of many real faces, against false alarms on unseen people).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import cv2
import numpy as np

from deepfake_monitor.realtime.errors import UserError

from .online_fakes import Degrade, degrade, read_crop

log = logging.getLogger(__name__)

REAL, FAKE = 0.0, 1.0


class CropSample(Protocol):
    path: str
    label: float
    video_id: str
    track: int
    frame: int
    source_video: str


@dataclass(frozen=True)
class Couples:
    """The dataset's real fakes, ready to draw: aligned (real, fake) crops of the same frame,
    fakes without a twin, and the real crops of videos (their partners)."""

    aligned: list[tuple[CropSample, CropSample]]
    unpaired: list[CropSample]
    footage: list[CropSample]
    photos: list[CropSample] = field(default_factory=list)

    def describe(self) -> str:
        videos = {f.video_id for _, f in self.aligned}
        return (f"{len(self.aligned)} aligned real/fake crop pairs from {len(videos)} fake "
                f"clips, {len(self.unpaired)} fake crops without a twin, "
                f"{len(self.footage)} real video crops as their partners, "
                f"{len(self.photos)} real photos")


def find_couples(samples: Sequence[CropSample]) -> Couples:
    """Aligned pairs: a fake crop and its source video's crop of the same frame number (the
    largest face of both: extract keeps one face per frame by default). A fake whose source
    clip has no crop at that frame, or no source clip, is unpaired. Partners of unpaired fakes
    are real crops of videos with more than one sampled frame (footage, not photos)."""
    reals = {(s.video_id, s.frame): s for s in samples if s.label == REAL and s.frame >= 0}
    aligned, unpaired = [], []
    for s in samples:
        if s.label != FAKE:
            continue
        twin = reals.get((s.source_video, s.frame)) if s.source_video else None
        if twin is not None:
            aligned.append((twin, s))
        else:
            unpaired.append(s)
    frames: dict[str, set[int]] = defaultdict(set)
    for s in samples:
        frames[s.video_id].add(s.frame)
    # Footage: real videos, not photos (a photo is a one-frame video).
    footage = [s for s in samples if s.label == REAL and len(frames[s.video_id]) > 1]
    photos = [s for s in samples if s.label == REAL and len(frames[s.video_id]) == 1]
    return Couples(aligned, unpaired, footage, photos)


class PairedSource:
    """Endless (crop, label) items, a real then a fake: with chance `share` a couple of the
    dataset's real fakes (an aligned pair with chance `aligned_share` where there are any,
    else an unpaired fake beside a real video crop), otherwise the next two items of `rest`.

    Couples are drawn by video first, then by frame, so a long clip does not outweigh a short
    one. Both crops of a couple are degraded independently (as two recordings would be).

    With chance `photo_share` a couple's real side is instead a photo of some other person
    (`Couples.photos`: thousands of people in `realfaces`), so that "a face the model never
    saw" is taught as real without adding a fake kind of its own (self-blends of those photos
    lowered the dev set: train/EXPERIMENTS.md, run B)."""

    def __init__(self, couples: Couples, size: int, share: float, *, aligned_share: float = 0.75,
                 rest: Callable[[], Iterator[tuple[Any, ...]]] | None = None,
                 degradations: Degrade | None = None, seed: int = 0,
                 mask_side: int | None = None, photo_share: float = 0.0) -> None:
        if photo_share > 0 and not couples.photos:
            raise UserError("--real-photos: the training split has no real photos (a real "
                            "source with one frame)")
        if not couples.aligned and not (couples.unpaired and couples.footage):
            raise UserError("--paired: the training split has no real fakes with a twin or a "
                            "real video to pair with (extract a labels layout with a pair "
                            "column, or fakes beside real videos)")
        if share < 1.0 and rest is None:
            raise UserError("--paired below 1 needs another source for the rest of the batch")
        self.couples, self.size, self.share = couples, size, share
        self.aligned_share = aligned_share if couples.aligned else 0.0
        if not (couples.unpaired and couples.footage):
            self.aligned_share = 1.0
        self.rest, self.degradations = rest, degradations
        self.mask_side = mask_side  # with a side: (crop, label, mask grid) triples
        self.photo_share = photo_share
        self.rng = np.random.default_rng(seed)
        self.by_fake_video: dict[str, list[int]] = defaultdict(list)
        for i, (_, fake) in enumerate(couples.aligned):
            self.by_fake_video[fake.video_id].append(i)
        self.unpaired_by_video: dict[str, list[int]] = defaultdict(list)
        for i, fake in enumerate(couples.unpaired):
            self.unpaired_by_video[fake.video_id].append(i)
        log.info("paired training: %s", couples.describe())

    def _read(self, path: str) -> np.ndarray:
        return cv2.cvtColor(read_crop(path, self.size), cv2.COLOR_BGR2RGB)

    def _degraded(self, rgb: np.ndarray) -> np.ndarray:
        if self.degradations is not None:
            rgb = degrade(rgb, self.rng, self.degradations)
        return rgb

    def _pick(self, groups: dict[str, list[int]]) -> int:
        keys = sorted(groups)
        members = groups[keys[int(self.rng.integers(len(keys)))]]
        return members[int(self.rng.integers(len(members)))]

    def draw(self) -> tuple[CropSample, CropSample]:
        """One (real, fake) couple of dataset samples."""
        if self.rng.random() < self.aligned_share:
            real, fake = self.couples.aligned[self._pick(self.by_fake_video)]
        else:
            fake = self.couples.unpaired[self._pick(self.unpaired_by_video)]
            real = self.couples.footage[int(self.rng.integers(len(self.couples.footage)))]
        if self.photo_share > 0 and self.rng.random() < self.photo_share:
            real = self.couples.photos[int(self.rng.integers(len(self.couples.photos)))]
        return real, fake

    def __call__(self) -> Iterator[tuple[Any, ...]]:
        """(crop, label) pairs, or with `mask_side` (crop, label, mask grid) triples: the
        fake's difference from its twin for an aligned couple (train/manipulation_mask.py),
        zeros for a real crop, unknown for a fake without a twin."""
        from .manipulation_mask import nothing_replaced, pair_targets, unknown

        rest = self.rest() if self.rest is not None else None
        side = self.mask_side
        while True:
            if rest is None or self.rng.random() < self.share:
                real, fake = self.draw()
                real_clean, fake_clean = self._read(real.path), self._read(fake.path)
                real_rgb = self._degraded(real_clean)
                fake_rgb = self._degraded(fake_clean)
                if side is None:
                    yield real_rgb, np.float32(REAL)
                    yield fake_rgb, np.float32(FAKE)
                    continue
                if fake.source_video and real.video_id == fake.source_video:
                    # from the clean crops: the mask is of the swap, not of the degradations
                    # drawn for either crop
                    real_mask, fake_mask = pair_targets(real_clean, fake_clean, side)
                else:
                    real_mask, fake_mask = nothing_replaced(side), unknown(side)
                yield real_rgb, np.float32(REAL), real_mask
                yield fake_rgb, np.float32(FAKE), fake_mask
            else:
                yield next(rest)
                yield next(rest)
