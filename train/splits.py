"""Train/val/test splits by video and by identity, never by frame.

Frames of one video are near-duplicates, and a fake shows the faces of the real videos it was
made from: a split by frame (or by video alone) scores a classifier on what it has seen. Here
videos are grouped by union-find over shared identities (and a fake with its source video),
and whole groups go to one side.

Groups are placed greedily, largest first (equal sizes in a seeded random order), each on the
side least filled towards its targets (`val`/`test` fractions of each label) in the labels
the group brings. Filling every side at the same relative pace hands each side its share of
large and small groups alike, so labels stay stratified as far as group sizes allow. Same
entries and seed, same split, whatever the input order.

Official splits win: a group with officially assigned videos goes to the strongest side among
them (test > val > train). Its videos that the lists put elsewhere, and its unlisted videos when
that side is test, are "excluded": on neither side, because an identity may not cross and an
official test set must stay as published (Celeb-DF's test list shares identities with videos
outside it). Where a dataset has an official test set, the remaining groups are split into
train and val only (`val` of them to val).
"""

from __future__ import annotations

import logging
import random
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

from .layouts import SPLITS, VideoEntry

log = logging.getLogger(__name__)

EXCLUDED = "excluded"
_STRENGTH = {"train": 0, "val": 1, "test": 2}
LABELS = ("real", "fake")


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:  # path compression
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)  # deterministic representative


def group_videos(entries: Sequence[VideoEntry]) -> list[list[VideoEntry]]:
    """Videos linked by a shared identity or by fake -> source video, as sorted groups."""
    uf = _UnionFind()
    ids = {e.video_id for e in entries}
    for e in entries:
        node = f"v:{e.video_id}"
        uf.find(node)
        for identity in e.identities:
            uf.union(node, f"i:{identity}")
        if e.source_video and e.source_video in ids:
            uf.union(node, f"v:{e.source_video}")
    groups: dict[str, list[VideoEntry]] = defaultdict(list)
    for e in entries:
        groups[uf.find(f"v:{e.video_id}")].append(e)
    out = [sorted(g, key=lambda e: e.video_id) for g in groups.values()]
    return sorted(out, key=lambda g: g[0].video_id)


def _official_side(group: list[VideoEntry]) -> tuple[str | None, dict[str, str]]:
    """The side an officially assigned group goes to, and where each of its videos lands."""
    official = {e.official_split for e in group if e.official_split}
    if not official:
        return None, {}
    unknown = official - set(SPLITS)
    if unknown:
        raise ValueError(f"official split {sorted(unknown)[0]!r} is not one of {SPLITS}")
    side = max(official, key=_STRENGTH.__getitem__)
    placed = {}
    for e in group:
        if e.official_split == side or (e.official_split is None and side != "test"):
            placed[e.video_id] = side
        else:
            placed[e.video_id] = EXCLUDED
    return side, placed


def _place_groups(groups: list[list[VideoEntry]], fractions: Mapping[str, float],
                  seed: int) -> dict[str, str]:
    """Greedy stratified placement of whole groups (see the module docstring)."""
    totals = Counter(e.label for g in groups for e in g)
    targets = {s: {lab: f * totals[lab] for lab in LABELS} for s, f in fractions.items()}
    counts = {s: dict.fromkeys(LABELS, 0) for s in fractions}
    order = list(range(len(groups)))
    random.Random(seed).shuffle(order)
    order.sort(key=lambda i: -len(groups[i]))  # stable: random among equal sizes
    sides = [s for s in SPLITS if fractions.get(s, 0) > 0]
    placed: dict[str, str] = {}
    for i in order:
        group = groups[i]
        size = Counter(e.label for e in group)

        def need(side: str, size: Counter = size) -> float:
            # how far below its targets the side is, in the labels this group brings
            return sum(size[lab] * (1.0 - counts[side][lab] / targets[side][lab])
                       for lab in LABELS if size[lab] and targets[side][lab] > 0)

        side = max(sides, key=need)  # ties: the first of train, val, test
        for lab in LABELS:
            counts[side][lab] += size[lab]
        for e in group:
            placed[e.video_id] = side
    return placed


def split_videos(entries: Sequence[VideoEntry], val: float = 0.15, test: float = 0.15,
                 seed: int = 0, use_official: bool = True) -> dict[str, str]:
    """{video_id: "train" | "val" | "test" | "excluded"}; identities never cross sides."""
    if not (0 <= val < 1 and 0 <= test < 1 and val + test < 1):
        raise ValueError(f"val ({val}) and test ({test}) must be fractions summing below 1")
    groups = group_videos(entries)
    assignment: dict[str, str] = {}
    free: list[list[VideoEntry]] = []
    official_test = False
    for group in groups:
        side, placed = _official_side(group) if use_official else (None, {})
        if side is None:
            free.append(group)
        else:
            assignment.update(placed)
            official_test |= side == "test"
    fractions = {"val": val, "test": 0.0 if official_test else test}
    fractions["train"] = 1.0 - fractions["val"] - fractions["test"]
    assignment.update(_place_groups(free, fractions, seed))
    excluded = sum(1 for s in assignment.values() if s == EXCLUDED)
    if excluded:
        log.warning("%d video(s) share identities with an official split they are not in; "
                    "they are excluded from every side (no identity may cross sides)", excluded)
    return assignment


def split_problems(entries: Sequence[VideoEntry], assignment: Mapping[str, str]) -> list[str]:
    """Why a split leaks, one line per problem; empty when it is sound.

    Checked directly, not through the grouping: every video assigned, no identity on two
    sides, no fake on another side than its source video. Excluded videos are on no side.
    """
    problems = []
    sides: dict[str, set[str]] = defaultdict(set)
    by_id = {e.video_id: e for e in entries}
    for e in entries:
        side = assignment.get(e.video_id)
        if side is None:
            problems.append(f"{e.video_id}: not assigned")
            continue
        if side not in (*SPLITS, EXCLUDED):
            problems.append(f"{e.video_id}: unknown side {side!r}")
        if side == EXCLUDED:
            continue
        for identity in e.identities:
            sides[identity].add(side)
        if e.source_video in by_id:
            other = assignment.get(e.source_video)
            if other not in (None, EXCLUDED, side):
                problems.append(f"{e.video_id}: in {side}, its source {e.source_video} in {other}")
    for identity, where in sorted(sides.items()):
        if len(where) > 1:
            problems.append(f"identity {identity} on {' and '.join(sorted(where))}")
    return problems


def split_counts(entries: Sequence[VideoEntry],
                 assignment: Mapping[str, str]) -> dict[str, dict[str, int]]:
    """{side: {"real": n, "fake": n}} for a summary line."""
    out: dict[str, dict[str, int]] = {}
    for e in entries:
        side = assignment[e.video_id]
        out.setdefault(side, dict.fromkeys(LABELS, 0))[e.label] += 1
    return out
