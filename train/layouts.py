"""Dataset layouts: which videos a dataset holds, their labels, and who is in them.

One parser per layout returns `VideoEntry`s. Identities are what the splits keep apart (a
person, or an original video standing in for one where the dataset names no people); a fake
lists every identity it was made from, so it lands on the side of each original it shares
someone with. Identity strings carry a dataset prefix so that datasets can be mixed.

- DFDC: every folder under the root holding a `metadata.json` (the training parts
  `dfdc_train_part_N/`, Kaggle's `train_sample_videos/`): `{"x.mp4": {"label": "FAKE",
  "split": "train", "original": "y.mp4"}}`. A folder with a `labels.csv` (`filename,label`,
  1 = fake: the released test set) is the official test set. DFDC names no actors, so a video's
  identity is its original clip: the same actor in two original clips is not linked.
- FaceForensics++: `original_sequences/youtube/<c>/videos/000.mp4` and
  `manipulated_sequences/<Method>/<c>/videos/000_003.mp4` (target 000, source 003: both
  identities); DeepFakeDetection in `original_sequences/actors/<c>/videos/01__scene.mp4` and
  `manipulated_sequences/DeepFakeDetection/<c>/videos/01_02__scene__CODE.mp4`. One
  compression level (`raw`, `c23`, `c40`) is read. Official splits: `splits/{train,val,test}.json`
  (lists of id pairs) under the root or in `splits_dir`.
- Celeb-DF (v1 and v2): `Celeb-real/id0_0000.mp4`, `Celeb-synthesis/id0_id16_0000.mp4` (target
  id0's clip 0000 with id16's face), `YouTube-real/00000.mp4`; `List_of_testing_videos.txt`
  lines `1 YouTube-real/00170.mp4` (1 = real, 0 = fake) are the official test set.
- folders: `real/` and `fake/` holding videos or images, optionally inside `train/`, `val/`,
  `test/` (an official split). A first sub-folder (`real/<name>/...`, `fake/<name>/...`) names
  the identity of everything in it, in both label folders; files directly in `real/` or `fake/`
  are each their own identity.
- labels: a CSV (`ROOT/labels.csv` or ROOT itself) of `path,label` with optional `person`,
  `pair`, `generator`, `kind` and `split` columns: real fakes beside the real clips they were
  made from (`../shared/realfakes`), or any mix of folders.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from deepfake_monitor.realtime.errors import UserError
from deepfake_monitor.realtime.scan import VIDEO_EXTENSIONS

Label = Literal["real", "fake"]
SPLITS = ("train", "val", "test")

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


@dataclass(frozen=True)
class VideoEntry:
    """One video (or one image, a single-frame video) of a dataset.

    `video_id` is unique within the dataset and safe as a relative path (it names the crop
    folder); `source_video` is the `video_id` of the real video a fake was made from, where the
    dataset says; `official_split` is the dataset's own train/val/test assignment, if any.
    """

    path: Path
    video_id: str
    label: Label
    identities: tuple[str, ...]
    source_video: str | None = None
    method: str | None = None
    official_split: str | None = None

    @property
    def is_image(self) -> bool:
        return self.path.suffix.lower() in IMAGE_EXTENSIONS


def _require_dir(root: Path, layout: str) -> Path:
    root = Path(root).expanduser()
    if not root.exists():
        raise UserError(f"{root}: no such folder")
    if not root.is_dir():
        raise UserError(f"{root}: not a folder (the {layout} layout is a dataset folder)")
    return root


def _check_unique(entries: list[VideoEntry], root: Path) -> list[VideoEntry]:
    seen: dict[str, Path] = {}
    for e in entries:
        if e.video_id in seen:
            raise UserError(f"{root}: two videos share the id {e.video_id!r}: {seen[e.video_id]} "
                            f"and {e.path}")
        seen[e.video_id] = e.path
    return sorted(entries, key=lambda e: e.video_id)


def _videos_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)


# -- DFDC ------------------------------------------------------------------------------------


def _dfdc_label(value: object, where: str) -> Label:
    if isinstance(value, str) and value.upper() in ("REAL", "FAKE"):
        return "real" if value.upper() == "REAL" else "fake"
    if value in (0, 1, "0", "1") and not isinstance(value, bool):
        return "fake" if str(value) == "1" else "real"
    raise UserError(f"{where}: label {value!r} is neither REAL/FAKE nor 0/1")


def _dfdc_metadata(folder: Path) -> list[VideoEntry]:
    meta_path = folder / "metadata.json"
    try:
        data = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{meta_path}: not a readable JSON file ({exc})") from exc
    if not isinstance(data, dict):
        raise UserError(f"{meta_path}: expected a JSON object of video file names, "
                        'e.g. {"abc.mp4": {"label": "FAKE", "original": "xyz.mp4"}}')
    entries = []
    for name, info in data.items():
        where = f"{meta_path}: {name}"
        if not isinstance(info, dict):
            raise UserError(f"{where}: expected an object with 'label'")
        label = _dfdc_label(info.get("label", info.get("is_fake")), where)
        stem = Path(name).stem
        original = info.get("original") if label == "fake" else None
        source = Path(original).stem if isinstance(original, str) and original else None
        split = info.get("split")
        official = "test" if split == "test" else ("val" if split in ("val", "validation")
                                                   else None)
        entries.append(VideoEntry(
            path=folder / name, video_id=stem, label=label,
            identities=(f"dfdc:{source or stem}",), source_video=source,
            method=None, official_split=official,
        ))
    return entries


def _dfdc_labels_csv(folder: Path) -> list[VideoEntry]:
    csv_path = folder / "labels.csv"
    entries = []
    with csv_path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"filename", "label"} <= set(reader.fieldnames):
            raise UserError(f"{csv_path}: expected the columns filename,label (1 = fake)")
        for row in reader:
            name = row["filename"]
            label = _dfdc_label(row["label"], f"{csv_path}: {name}")
            stem = Path(name).stem
            entries.append(VideoEntry(folder / name, stem, label, (f"dfdc:{stem}",),
                                      official_split="test"))
    return entries


def parse_dfdc(root: Path) -> list[VideoEntry]:
    """Every `metadata.json` (and test-set `labels.csv`) folder at or below the root."""
    root = _require_dir(root, "dfdc")
    folders = sorted({p.parent for pattern in ("metadata.json", "labels.csv")
                      for p in root.rglob(pattern)})
    if not folders:
        raise UserError(f"{root}: not a DFDC folder: expected dfdc_train_part_N/ folders "
                        "holding a metadata.json (or a test folder with labels.csv)")
    listed: list[VideoEntry] = []
    for folder in folders:
        if (folder / "metadata.json").is_file():
            listed.extend(_dfdc_metadata(folder))
        else:
            listed.extend(_dfdc_labels_csv(folder))
    entries = [e for e in listed if e.path.is_file()]
    if len(entries) < len(listed):
        missing = [e.path for e in listed if not e.path.is_file()]
        log.warning("%s: %d video(s) listed in the metadata are not on disk (e.g. %s); "
                    "skipping them", root, len(missing), missing[0])
    if not entries:
        raise UserError(f"{root}: the DFDC metadata lists {len(listed)} videos, none on disk")
    return _check_unique(entries, root)


# -- FaceForensics++ -------------------------------------------------------------------------

FFPP_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter",
                "DeepFakeDetection")
FFPP_COMPRESSIONS = ("raw", "c23", "c40")
_FF_PAIR = re.compile(r"^(\d{3})_(\d{3})$")
_FF_ORIGINAL = re.compile(r"^\d{3}$")
_DFD_ORIGINAL = re.compile(r"^(\d{2})__(.+)$")
_DFD_FAKE = re.compile(r"^(\d{2})_(\d{2})__(.+)__[A-Za-z0-9]+$")


def _ffpp_compression(root: Path, compression: str | None) -> str:
    found = sorted({p.parent.name for p in root.glob("*_sequences/*/*/videos")
                    if p.parent.name in FFPP_COMPRESSIONS})
    if compression is not None:
        if compression not in found:
            have = ", ".join(found) or "none"
            raise UserError(f"{root}: no FaceForensics++ videos at compression {compression!r} "
                            f"(found: {have})")
        return compression
    if not found:
        raise UserError(f"{root}: not a FaceForensics++ folder: expected "
                        "original_sequences/youtube/<raw|c23|c40>/videos/000.mp4 and "
                        "manipulated_sequences/<Method>/<raw|c23|c40>/videos/000_003.mp4")
    return "c23" if "c23" in found else found[0]


def read_ffpp_splits(splits_dir: Path) -> dict[tuple[str, str], str]:
    """{(id, id): split} from FaceForensics++'s train/val/test.json lists of id pairs."""
    pairs: dict[tuple[str, str], str] = {}
    for split in SPLITS:
        path = splits_dir / f"{split}.json"
        if not path.is_file():
            raise UserError(f"{splits_dir}: expected train.json, val.json and test.json "
                            f"(FaceForensics++ splits); {path.name} is missing")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UserError(f"{path}: not a readable JSON file ({exc})") from exc
        if not isinstance(data, list):
            raise UserError(f'{path}: expected a list of id pairs, e.g. [["953", "974"], ...]')
        for pair in data:
            if not (isinstance(pair, list) and len(pair) == 2
                    and all(isinstance(x, str) for x in pair)):
                raise UserError(f'{path}: expected id pairs like ["953", "974"], got {pair!r}')
            pairs[(pair[0], pair[1])] = split
            pairs[(pair[1], pair[0])] = split
    return pairs


def parse_ffpp(root: Path, *, compression: str | None = None,
               splits_dir: Path | None = None) -> list[VideoEntry]:
    """FaceForensics++ originals and fakes at one compression level (default c23, or the
    only one present), with the official splits where a `splits/` folder is found."""
    root = _require_dir(root, "ffpp")
    comp = _ffpp_compression(root, compression)
    if splits_dir is None and (root / "splits").is_dir():
        splits_dir = root / "splits"
    pairs = read_ffpp_splits(Path(splits_dir)) if splits_dir is not None else {}
    single = {a: split for (a, _), split in pairs.items()}

    entries: list[VideoEntry] = []
    youtube = root / "original_sequences" / "youtube" / comp / "videos"
    if youtube.is_dir():
        for p in _videos_in(youtube):
            if _FF_ORIGINAL.match(p.stem):
                entries.append(VideoEntry(p, f"youtube/{p.stem}", "real", (f"ff:{p.stem}",),
                                          official_split=single.get(p.stem)))
    actors = root / "original_sequences" / "actors" / comp / "videos"
    if actors.is_dir():
        for p in _videos_in(actors):
            m = _DFD_ORIGINAL.match(p.stem)
            if m:
                entries.append(VideoEntry(p, f"actors/{p.stem}", "real", (f"dfd:{m[1]}",)))
    manipulated = root / "manipulated_sequences"
    methods = sorted(d.name for d in manipulated.iterdir() if d.is_dir()) \
        if manipulated.is_dir() else []
    for method in methods:
        folder = manipulated / method / comp / "videos"
        if not folder.is_dir():
            continue
        for p in _videos_in(folder):
            pair, dfd = _FF_PAIR.match(p.stem), _DFD_FAKE.match(p.stem)
            if pair:
                target, source = pair[1], pair[2]
                entries.append(VideoEntry(
                    p, f"{method}/{p.stem}", "fake", (f"ff:{target}", f"ff:{source}"),
                    source_video=f"youtube/{target}", method=method,
                    official_split=pairs.get((target, source)),
                ))
            elif dfd:
                target, source, scene = dfd[1], dfd[2], dfd[3]
                entries.append(VideoEntry(
                    p, f"{method}/{p.stem}", "fake", (f"dfd:{target}", f"dfd:{source}"),
                    source_video=f"actors/{target}__{scene}", method=method,
                ))
    if not entries:
        raise UserError(f"{root}: no FaceForensics++ videos at {comp}: expected "
                        f"original_sequences/youtube/{comp}/videos/000.mp4 or "
                        f"manipulated_sequences/<Method>/{comp}/videos/000_003.mp4")
    return _check_unique(entries, root)


# -- Celeb-DF --------------------------------------------------------------------------------

CELEBDF_FOLDERS = ("Celeb-real", "Celeb-synthesis", "YouTube-real")
CELEBDF_TEST_LIST = "List_of_testing_videos.txt"
_CELEB_REAL = re.compile(r"^(id\d+)_(\d+)$")
_CELEB_FAKE = re.compile(r"^(id\d+)_(id\d+)_(\d+)$")


def read_celebdf_test_list(path: Path) -> dict[str, Label]:
    """{"YouTube-real/00170": "real", ...} from a `List_of_testing_videos.txt`."""
    tests: dict[str, Label] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0] not in ("0", "1"):
            raise UserError(f"{path}:{number}: expected '<1|0> <folder>/<video>.mp4' "
                            f"(1 = real, 0 = fake), got {line.strip()!r}")
        video_id = parts[1].rsplit(".", 1)[0]
        tests[video_id] = "real" if parts[0] == "1" else "fake"
    return tests


def parse_celebdf(root: Path, *, test_list: Path | None = None) -> list[VideoEntry]:
    """Celeb-DF v1 or v2; the official test list is `List_of_testing_videos.txt` in the root."""
    root = _require_dir(root, "celebdf")
    present = [name for name in CELEBDF_FOLDERS if (root / name).is_dir()]
    if not present:
        raise UserError(f"{root}: not a Celeb-DF folder: expected Celeb-real/, "
                        "Celeb-synthesis/ and YouTube-real/ (id0_0000.mp4, id0_id16_0000.mp4, "
                        "00000.mp4)")
    if test_list is None and (root / CELEBDF_TEST_LIST).is_file():
        test_list = root / CELEBDF_TEST_LIST
    tests = read_celebdf_test_list(Path(test_list)) if test_list is not None else {}

    entries: list[VideoEntry] = []
    for folder in present:
        for p in _videos_in(root / folder):
            video_id = f"{folder}/{p.stem}"
            split = "test" if video_id in tests else None
            if folder == "Celeb-real":
                m = _CELEB_REAL.match(p.stem)
                if not m:
                    continue
                entry = VideoEntry(p, video_id, "real", (f"celebdf:{m[1]}",),
                                   official_split=split)
            elif folder == "Celeb-synthesis":
                m = _CELEB_FAKE.match(p.stem)
                if not m:
                    continue
                entry = VideoEntry(p, video_id, "fake", (f"celebdf:{m[1]}", f"celebdf:{m[2]}"),
                                   source_video=f"Celeb-real/{m[1]}_{m[3]}",
                                   method="Celeb-synthesis", official_split=split)
            else:
                entry = VideoEntry(p, video_id, "real", (f"celebdf:yt-{p.stem}",),
                                   official_split=split)
            if split and tests[video_id] != entry.label:
                raise UserError(f"{test_list}: lists {video_id} as {tests[video_id]}, but its "
                                f"folder makes it {entry.label}")
            entries.append(entry)
    if not entries:
        raise UserError(f"{root}: no Celeb-DF videos in {', '.join(present)} (expected names "
                        "like id0_0000.mp4, id0_id16_0000.mp4, 00000.mp4)")
    return _check_unique(entries, root)


# -- plain folders ---------------------------------------------------------------------------

_LABEL_DIRS: dict[str, Label] = {"real": "real", "fake": "fake"}


def _label_dirs(folder: Path) -> dict[Label, Path]:
    found: dict[Label, Path] = {}
    for child in folder.iterdir():
        label = _LABEL_DIRS.get(child.name.lower())
        if label and child.is_dir():
            found[label] = child
    return found


def _folder_entries(label_dir: Path, label: Label, prefix: str,
                    split: str | None) -> Iterable[VideoEntry]:
    media = VIDEO_EXTENSIONS | IMAGE_EXTENSIONS
    for p in sorted(label_dir.rglob("*")):
        if not p.is_file() or p.suffix.lower() not in media or p.name.startswith("."):
            continue
        rel = p.relative_to(label_dir)
        video_id = f"{prefix}{label_dir.name}/{rel.with_suffix('').as_posix()}"
        identity = rel.parts[0] if len(rel.parts) > 1 else video_id
        yield VideoEntry(p, video_id, label, (f"folder:{identity}",), official_split=split)


def parse_folders(root: Path) -> list[VideoEntry]:
    """`real/` and `fake/` (videos or images, searched recursively), or the same inside
    `train/`, `val/` and `test/`."""
    root = _require_dir(root, "folders")
    groups: list[tuple[str, str | None, dict[Label, Path]]] = []
    top = _label_dirs(root)
    if top:
        groups.append(("", None, top))
    else:
        for split in SPLITS:
            if (root / split).is_dir() and _label_dirs(root / split):
                groups.append((f"{split}/", split, _label_dirs(root / split)))
    if not groups:
        raise UserError(f"{root}: not a folders dataset: expected real/ and fake/ sub-folders "
                        "(or train/, val/, test/ each holding real/ and fake/)")
    entries = [e for prefix, split, dirs in groups for label, d in sorted(dirs.items())
               for e in _folder_entries(d, label, prefix, split)]
    if not entries:
        exts = ", ".join(sorted(VIDEO_EXTENSIONS | IMAGE_EXTENSIONS))
        raise UserError(f"{root}: real/ and fake/ hold no videos or images ({exts})")
    return _check_unique(entries, root)


# -- a labels file ---------------------------------------------------------------------------

LABEL_VALUES: dict[str, Label] = {"1": "fake", "0": "real", "fake": "fake", "real": "real"}


def labels_file(root: Path) -> Path:
    """ROOT itself when it is a CSV file, else ROOT/labels.csv."""
    root = Path(root).expanduser()
    path = root if root.suffix.lower() == ".csv" else root / "labels.csv"
    if not path.is_file():
        raise UserError(f"{path}: no such labels file (the labels layout reads a CSV with "
                        "path and label columns)")
    return path


def parse_labels(root: Path) -> list[VideoEntry]:
    """A CSV of `path,label` (1/fake, 0/real) with optional `person`, `pair`, `generator`,
    `kind` and `split` columns, as `../shared/realfakes/labels.csv` and `scan --labels` use.

    Paths are relative to the CSV's folder (or absolute). `person` is the identity (else each
    file is its own); a fake and the real clip sharing its `pair` id are one aligned pair: the
    fake's `source_video` is that clip, so the splits keep them together and `train --paired`
    can put the same frame of both into one batch. `generator` (else `kind`) is a fake's
    method; `split` (train/val/test) an official split.
    """
    path = labels_file(root)
    base = path.parent
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not {"path", "label"} <= set(rows[0]):
        raise UserError(f"{path}: expected a header with path and label columns")
    entries: list[VideoEntry] = []
    twins: dict[str, str] = {}
    for n, row in enumerate(rows, start=2):
        label = LABEL_VALUES.get((row.get("label") or "").strip().lower())
        if label is None:
            raise UserError(f"{path}:{n}: label must be 1/fake or 0/real, got {row['label']!r}")
        file = Path(row["path"])
        full = file if file.is_absolute() else base / file
        if not full.is_file():
            raise UserError(f"{path}:{n}: {full}: no such file")
        video_id = (file.with_suffix("").as_posix() if not file.is_absolute()
                    else f"abs/{full.with_suffix('').as_posix().lstrip('/')}")
        person = (row.get("person") or "").strip()
        split = (row.get("split") or "").strip() or None
        if split is not None and split not in SPLITS:
            raise UserError(f"{path}:{n}: split must be one of {', '.join(SPLITS)}, "
                            f"got {split!r}")
        pair = (row.get("pair") or "").strip()
        if pair and label == "real":
            if pair in twins:
                raise UserError(f"{path}:{n}: pair {pair!r} has two real clips")
            twins[pair] = video_id
        method = (row.get("generator") or row.get("kind") or "").strip() or None
        entries.append(VideoEntry(full, video_id, label,
                                  (f"labels:{person or video_id}",),
                                  method=method if label == "fake" else None,
                                  official_split=split))
    pairs = {e.video_id: (r.get("pair") or "").strip() for e, r in zip(entries, rows)}
    entries = [VideoEntry(e.path, e.video_id, e.label, e.identities,
                          twins.get(pairs[e.video_id]) if e.label == "fake" else None,
                          e.method, e.official_split) for e in entries]
    return _check_unique(entries, path)


PARSERS: dict[str, Callable[..., list[VideoEntry]]] = {
    "dfdc": parse_dfdc,
    "ffpp": parse_ffpp,
    "celebdf": parse_celebdf,
    "folders": parse_folders,
    "labels": parse_labels,
}


def parse_layout(layout: str, root: Path, **options: object) -> list[VideoEntry]:
    """The entries of a dataset; `options` go to the layout's parser (None values dropped)."""
    parser = PARSERS.get(layout)
    if parser is None:
        raise UserError(f"unknown layout {layout!r} (choose from {', '.join(PARSERS)})")
    return parser(Path(root), **{k: v for k, v in options.items() if v is not None})
