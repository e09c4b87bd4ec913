"""Splits by video and identity: no identity on two sides, fakes beside their originals,
labels stratified, seeded and deterministic, official lists respected."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from deepfake_monitor.train.layouts import VideoEntry
from deepfake_monitor.train.splits import (
    EXCLUDED,
    group_videos,
    split_counts,
    split_problems,
    split_videos,
)


def entry(video_id: str, label: str, *identities: str, source: str | None = None,
          official: str | None = None) -> VideoEntry:
    return VideoEntry(Path(f"/data/{video_id}.mp4"), video_id, label,  # type: ignore[arg-type]
                      tuple(identities), source_video=source, official_split=official)


def ffpp_like(n: int = 200, seed: int = 1, official: bool = False) -> list[VideoEntry]:
    """FaceForensics++-shaped: n originals paired up, fakes a_b and b_a per method."""
    ids = [f"{i:03d}" for i in range(n)]
    random.Random(seed).shuffle(ids)
    sides = ["train"] * (n * 7 // 10) + ["val"] * (n * 3 // 20)
    sides += ["test"] * (n - len(sides))
    out = []
    for k in range(0, n, 2):
        a, b = ids[k], ids[k + 1]
        side = sides[k] if official else None
        out += [entry(f"youtube/{a}", "real", f"ff:{a}", official=side),
                entry(f"youtube/{b}", "real", f"ff:{b}", official=side)]
        for method in ("Deepfakes", "FaceSwap"):
            for t, s in ((a, b), (b, a)):
                out.append(entry(f"{method}/{t}_{s}", "fake", f"ff:{t}", f"ff:{s}",
                                 source=f"youtube/{t}", official=side))
    return out


def dfdc_like(n_originals: int = 300, seed: int = 2) -> list[VideoEntry]:
    """DFDC-shaped: originals with 0-6 fakes each; identity is the original clip."""
    rng = random.Random(seed)
    out = []
    for i in range(n_originals):
        original = f"orig{i:04d}"
        out.append(entry(original, "real", f"dfdc:{original}"))
        for j in range(rng.randint(0, 6)):
            out.append(entry(f"fake{i:04d}_{j}", "fake", f"dfdc:{original}", source=original))
    return out


@pytest.mark.parametrize("entries", [ffpp_like(), dfdc_like()], ids=["ffpp", "dfdc"])
def test_no_identity_on_two_sides(entries: list[VideoEntry]) -> None:
    assignment = split_videos(entries, seed=3)
    assert split_problems(entries, assignment) == []
    sides_of: dict[str, set[str]] = {}
    for e in entries:
        for identity in e.identities:
            sides_of.setdefault(identity, set()).add(assignment[e.video_id])
    assert all(len(s) == 1 for s in sides_of.values())
    assert set(assignment.values()) == {"train", "val", "test"}


@pytest.mark.parametrize("entries", [ffpp_like(), dfdc_like()], ids=["ffpp", "dfdc"])
def test_fakes_go_with_their_originals(entries: list[VideoEntry]) -> None:
    assignment = split_videos(entries, seed=5)
    for e in entries:
        if e.source_video:
            assert assignment[e.video_id] == assignment[e.source_video], e.video_id


def test_fake_linked_through_both_identities() -> None:
    # 000_003 shares 000 with one original and 003 with another: all three on one side,
    # and so is everything sharing 003.
    entries = [entry("youtube/000", "real", "ff:000"), entry("youtube/003", "real", "ff:003"),
               entry("Deepfakes/000_003", "fake", "ff:000", "ff:003", source="youtube/000"),
               entry("Deepfakes/003_777", "fake", "ff:003", "ff:777", source="youtube/003"),
               entry("youtube/500", "real", "ff:500")]
    groups = [[e.video_id for e in g] for g in group_videos(entries)]
    assert sorted(map(len, groups)) == [1, 4]
    for seed in range(10):
        a = split_videos(entries, val=0.3, test=0.3, seed=seed)
        assert len({a[v] for v in ("youtube/000", "youtube/003", "Deepfakes/000_003",
                                   "Deepfakes/003_777")}) == 1


def test_split_problems_finds_leaks() -> None:
    entries = [entry("a", "real", "p1"), entry("b", "fake", "p1", source="a"),
               entry("c", "real", "p2"), entry("d", "fake", "p3", source="c")]
    problems = split_problems(entries, {"a": "train", "b": "test", "c": "val", "d": "train"})
    assert "identity p1 on test and train" in problems
    assert "d: in train, its source c in val" in problems
    assert split_problems(entries, {"a": "train", "b": "train", "c": "val"}) == \
        ["d: not assigned"]
    # an excluded video is on no side
    assert split_problems(entries, {"a": "train", "b": EXCLUDED, "c": "val", "d": "val"}) == []


@pytest.mark.parametrize("entries", [ffpp_like(400), dfdc_like(600)], ids=["ffpp", "dfdc"])
def test_sizes_and_labels_are_stratified(entries: list[VideoEntry]) -> None:
    assignment = split_videos(entries, val=0.15, test=0.15, seed=0)
    counts = split_counts(entries, assignment)
    totals = Counter(e.label for e in entries)
    for side, share in (("train", 0.70), ("val", 0.15), ("test", 0.15)):
        for label in ("real", "fake"):
            got = counts[side][label] / totals[label]
            assert abs(got - share) < 0.03, (side, label, got)


def test_deterministic_seeded_and_order_free() -> None:
    entries = dfdc_like()
    first = split_videos(entries, seed=7)
    shuffled = entries[:]
    random.Random(0).shuffle(shuffled)
    assert split_videos(shuffled, seed=7) == first
    assert split_videos(entries, seed=8) != first


def test_official_splits_are_kept() -> None:
    entries = ffpp_like(200, official=True)
    # DeepFakeDetection-like videos without an official split ride along
    entries += [entry(f"actors/{i:02d}__scene", "real", f"dfd:{i:02d}") for i in range(20)]
    entries += [entry(f"DeepFakeDetection/{i:02d}_{i + 1:02d}__scene__X", "fake", f"dfd:{i:02d}",
                      f"dfd:{i + 1:02d}", source=f"actors/{i:02d}__scene") for i in range(0, 20, 2)]
    assignment = split_videos(entries, seed=0)
    for e in entries:
        if e.official_split:
            assert assignment[e.video_id] == e.official_split
    assert split_problems(entries, assignment) == []
    # an official test set exists: the rest goes to train and val only
    rest = {assignment[e.video_id] for e in entries if not e.official_split}
    assert rest == {"train", "val"}
    ignored = split_videos(entries, seed=0, use_official=False)
    assert any(ignored[e.video_id] != e.official_split for e in entries if e.official_split)
    assert split_problems(entries, ignored) == []


def test_official_test_list_sharing_identities_excludes_the_rest() -> None:
    # Celeb-DF: the test list holds id1's clip 0000 and a fake of id1 x id0; the other clips
    # of id0 and id1 may go neither to train (identity leak) nor to test (it must stay as
    # published), so they are excluded.
    entries = [
        entry("Celeb-real/id0_0000", "real", "celebdf:id0"),
        entry("Celeb-real/id1_0000", "real", "celebdf:id1", official="test"),
        entry("Celeb-real/id1_0001", "real", "celebdf:id1"),
        entry("Celeb-synthesis/id1_id0_0000", "fake", "celebdf:id1", "celebdf:id0",
              source="Celeb-real/id1_0000", official="test"),
        entry("Celeb-real/id2_0000", "real", "celebdf:id2"),
        entry("Celeb-synthesis/id2_id3_0000", "fake", "celebdf:id2", "celebdf:id3",
              source="Celeb-real/id2_0000"),
        entry("Celeb-real/id3_0000", "real", "celebdf:id3"),
        entry("YouTube-real/00170", "real", "celebdf:yt-00170", official="test"),
        entry("YouTube-real/00001", "real", "celebdf:yt-00001"),
    ]
    a = split_videos(entries, val=0.3, seed=0)
    assert a["Celeb-real/id1_0000"] == a["Celeb-synthesis/id1_id0_0000"] == "test"
    assert a["YouTube-real/00170"] == "test"
    assert a["Celeb-real/id0_0000"] == a["Celeb-real/id1_0001"] == EXCLUDED
    assert {a[v] for v in ("Celeb-real/id2_0000", "Celeb-synthesis/id2_id3_0000",
                           "Celeb-real/id3_0000", "YouTube-real/00001")} <= {"train", "val"}
    assert split_problems(entries, a) == []


def test_conflicting_official_sides_exclude_the_weaker() -> None:
    # the same person in train/ and test/ folders: test wins, the train copy is excluded
    entries = [entry("train/real/alice/a", "real", "folder:alice", official="train"),
               entry("test/fake/alice/b", "fake", "folder:alice", official="test"),
               entry("train/real/bob/c", "real", "folder:bob", official="train")]
    a = split_videos(entries)
    assert a == {"train/real/alice/a": EXCLUDED, "test/fake/alice/b": "test",
                 "train/real/bob/c": "train"}


def test_bad_fractions() -> None:
    with pytest.raises(ValueError, match="fractions"):
        split_videos([], val=0.6, test=0.5)
    assert split_videos([]) == {}
