"""One labels file over the corpora beside the checkout, for `extract --layout labels`.

`../shared/realfakes` (real deepfakes of 16 generators, 22 of them beside the real clip they
were made from), `../shared/realfaces` (2 217 photos of 2 215 people: the many unseen faces that
stop "a face I never saw" meaning "fake") and the clips and photos of `../shared/media` become
one CSV with absolute paths, a person per row (prefixed by corpus, so that corpora never share
an identity by accident), the pair ids of aligned fakes and a split per row.

Splits are chosen here, not at random: validation is a set of DeepFaceLive people (real live
swaps, what checkpoints are chosen by), test is the media's held-out people (what the
threshold is set on), and a leave-one-generator-out fold (train/folds.py) moves one generator
group into test.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from deepfake_monitor.realtime.errors import UserError

COLUMNS = ("path", "label", "person", "pair", "generator", "kind", "group", "split")

# Media clips from the same repository folder as the dev set's GHOST clips: never trained on.
DEVSET_OVERLAP = frozenset({"ghost-nggyup", "ghost-dirtydancing"})
# The same person in two corpora (media identity -> realfakes person): AniPortrait's pose
# reference clip shows Theresa May, whom SyncTalk's and GeneFace's fakes show too. Where her
# clip is held out, those fakes are held out with it: a model trained on her fakes learns "her
# face = fake" and scores her real clip 1.0.
SAME_PERSON = {"aniportrait-pose_ref_video": "theresa-may"}


@dataclass(frozen=True)
class Row:
    path: Path
    label: int  # 1 fake, 0 real
    person: str
    pair: str = ""
    generator: str = ""
    kind: str = ""
    group: str = ""  # the corpus folder (realfakes' repository short name, "realfaces", ...)
    split: str = "train"


def realfakes_rows(root: Path) -> list[Row]:
    """Every clip of `../shared/realfakes/labels.csv`."""
    path = Path(root) / "labels.csv"
    if not path.is_file():
        raise UserError(f"{root}: no labels.csv; is this ../shared/realfakes?")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [Row((Path(root) / r["path"]).resolve(), int(r["label"]),
                f"realfakes:{r['person'] or r['path']}", r.get("pair", ""),
                r.get("generator", ""), r.get("kind", ""), r["path"].split("/")[0])
            for r in rows]


def realfaces_rows(root: Path, limit: int | None = None) -> list[Row]:
    """The photos of `../shared/realfaces/labels.csv` (all real), the first `limit` of them
    in the file's order where given."""
    path = Path(root) / "labels.csv"
    if not path.is_file():
        raise UserError(f"{root}: no labels.csv; is this ../shared/realfaces?")
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:limit]
    return [Row((Path(root) / r["path"]).resolve(), 0, f"realfaces:{r['person']}",
                kind="photo", group="realfaces") for r in rows]


def media_rows(staged: Iterable[tuple[Path, str, str, str]]) -> list[Row]:
    """`(path, kind, identity, split)` of the recipe's staged media (default_model's
    `stage_sources`), without the clips that overlap the dev set."""
    return [Row(Path(p).resolve(), 0, f"media:{identity}", kind=kind, group="media",
                split=split)
            for p, kind, identity, split in staged if Path(p).stem not in DEVSET_OVERLAP]


def with_splits(rows: Sequence[Row], *, val_people: Iterable[str] = (),
                test_groups: Iterable[str] = (), test_people: Iterable[str] = ()) -> list[Row]:
    """Rows moved to `val` (realfakes people in `val_people`) or `test` (groups or people of
    a held-out fold, and the realfakes rows of a person held out in the media, `SAME_PERSON`);
    a pair's two clips share their person, so they move together."""
    val, groups, people = set(val_people), set(test_groups), set(test_people)
    people |= {SAME_PERSON[r.person.removeprefix("media:")] for r in rows
               if r.split == "test" and r.person.removeprefix("media:") in SAME_PERSON}
    out = []
    for r in rows:
        name = r.person.removeprefix("realfakes:")
        split = r.split
        if r.group in groups or (r.person.startswith("realfakes:") and name in people):
            split = "test"
        elif r.person.startswith("realfakes:") and name in val:
            split = "val"
        out.append(Row(r.path, r.label, r.person, r.pair, r.generator, r.kind, r.group, split))
    return out


def write_labels(rows: Sequence[Row], out: Path) -> Path:
    """The labels CSV for `extract --layout labels` (absolute paths)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for r in rows:
            writer.writerow([str(r.path), r.label, r.person, r.pair, r.generator, r.kind,
                             r.group, r.split])
    tmp.replace(out)
    return out
