"""Dataset layout parsers on small trees that copy the real datasets' names and metadata files.

The video files are a few dummy bytes: parsing reads names and metadata, never the videos.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from deepfake_monitor.realtime.errors import UserError
from deepfake_monitor.train.layouts import (
    VideoEntry,
    parse_celebdf,
    parse_dfdc,
    parse_ffpp,
    parse_folders,
    parse_layout,
)


def touch(root: Path, *relpaths: str) -> None:
    for rel in relpaths:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x00\x00\x00\x18ftypmp42")


def by_id(entries: list[VideoEntry]) -> dict[str, VideoEntry]:
    return {e.video_id: e for e in entries}


# -- DFDC ------------------------------------------------------------------------------------


def dfdc_tree(root: Path) -> Path:
    part0 = {
        "aagfhgtpmv.mp4": {"label": "FAKE", "split": "train", "original": "vudstovrck.mp4"},
        "aapnvogymq.mp4": {"label": "FAKE", "split": "train", "original": "vudstovrck.mp4"},
        "vudstovrck.mp4": {"label": "REAL", "split": "train", "original": None},
        "abarnvbtwb.mp4": {"label": "REAL", "split": "train", "original": None},
    }
    part1 = {
        "bqdjzqhcft.mp4": {"label": "FAKE", "split": "train", "original": "bbhtdfuqxq.mp4"},
        "bbhtdfuqxq.mp4": {"label": "REAL", "split": "train"},
    }
    for name, meta in (("dfdc_train_part_0", part0), ("dfdc_train_part_1", part1)):
        (root / name).mkdir(parents=True)
        (root / name / "metadata.json").write_text(json.dumps(meta))
        touch(root / name, *meta)
    (root / "test").mkdir()
    (root / "test" / "labels.csv").write_text("filename,label\naahncigwte.mp4,1\n"
                                              "aalscayrfi.mp4,0\n")
    touch(root / "test", "aahncigwte.mp4", "aalscayrfi.mp4")
    return root


def test_dfdc_labels_originals_and_identities(tmp_path: Path) -> None:
    entries = by_id(parse_dfdc(dfdc_tree(tmp_path)))
    assert len(entries) == 8
    fake = entries["aagfhgtpmv"]
    assert fake.label == "fake"
    assert fake.source_video == "vudstovrck"
    assert fake.identities == ("dfdc:vudstovrck",)
    assert fake.path == tmp_path / "dfdc_train_part_0" / "aagfhgtpmv.mp4"
    real = entries["vudstovrck"]
    assert (real.label, real.source_video, real.identities) == ("real", None, ("dfdc:vudstovrck",))
    # every training part says split "train": that is no official assignment to keep
    assert all(entries[v].official_split is None for v in ("aagfhgtpmv", "bbhtdfuqxq"))


def test_dfdc_test_folder_labels_csv_is_the_official_test_set(tmp_path: Path) -> None:
    entries = by_id(parse_dfdc(dfdc_tree(tmp_path)))
    assert entries["aahncigwte"].label == "fake"
    assert entries["aalscayrfi"].label == "real"
    assert entries["aahncigwte"].official_split == "test"


def test_dfdc_single_part_root_and_missing_videos(tmp_path: Path,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    part = dfdc_tree(tmp_path) / "dfdc_train_part_0"
    (part / "abarnvbtwb.mp4").unlink()
    with caplog.at_level(logging.WARNING):
        entries = by_id(parse_dfdc(part))
    assert set(entries) == {"aagfhgtpmv", "aapnvogymq", "vudstovrck"}
    assert "not on disk" in caplog.text


def test_dfdc_rejects_other_trees_and_bad_metadata(tmp_path: Path) -> None:
    touch(tmp_path / "videos", "a.mp4")
    with pytest.raises(UserError, match=r"not a DFDC folder: expected dfdc_train_part_N/"):
        parse_dfdc(tmp_path)
    (tmp_path / "videos" / "metadata.json").write_text('{"a.mp4": {"label": "MAYBE"}}')
    with pytest.raises(UserError, match="neither REAL/FAKE"):
        parse_dfdc(tmp_path)
    (tmp_path / "videos" / "metadata.json").write_text("[1, 2")
    with pytest.raises(UserError, match="not a readable JSON"):
        parse_dfdc(tmp_path)
    with pytest.raises(UserError, match="no such folder"):
        parse_dfdc(tmp_path / "missing")


# -- FaceForensics++ -------------------------------------------------------------------------

FF_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter")


def ffpp_tree(root: Path, *, splits: bool = True) -> Path:
    for comp in ("c23", "c40"):
        touch(root, *(f"original_sequences/youtube/{comp}/videos/{i}.mp4"
                      for i in ("000", "003", "953", "974")))
        for method in FF_METHODS:
            touch(root, *(f"manipulated_sequences/{method}/{comp}/videos/{p}.mp4"
                          for p in ("000_003", "003_000", "953_974", "974_953")))
    touch(root, "manipulated_sequences/Deepfakes/masks/videos/000_003.mp4",
          "original_sequences/actors/c23/videos/01__exit_phone_room.mp4",
          "original_sequences/actors/c23/videos/02__walking_outside_cafe_disgusted.mp4",
          "manipulated_sequences/DeepFakeDetection/c23/videos/"
          "01_02__exit_phone_room__YVGY8LOK.mp4")
    if splits:
        (root / "splits").mkdir()
        (root / "splits" / "train.json").write_text('[["000", "003"]]')
        (root / "splits" / "val.json").write_text("[]")
        (root / "splits" / "test.json").write_text('[["953", "974"]]')
    return root


def test_ffpp_originals_fakes_and_identities(tmp_path: Path) -> None:
    entries = by_id(parse_ffpp(ffpp_tree(tmp_path)))
    # 4 originals + 5 methods x 4 fakes + 2 actor originals + 1 DFD fake, at c23 only
    assert len(entries) == 4 + 20 + 2 + 1
    original = entries["youtube/000"]
    assert (original.label, original.identities, original.method) == ("real", ("ff:000",), None)
    fake = entries["Face2Face/000_003"]
    assert fake.label == "fake"
    assert fake.identities == ("ff:000", "ff:003")
    assert fake.source_video == "youtube/000"
    assert fake.method == "Face2Face"
    assert fake.path.parts[-3:] == ("c23", "videos", "000_003.mp4")
    assert {e.method for e in entries.values() if e.label == "fake"} == \
        {*FF_METHODS, "DeepFakeDetection"}


def test_ffpp_deepfakedetection_naming(tmp_path: Path) -> None:
    entries = by_id(parse_ffpp(ffpp_tree(tmp_path)))
    actor = entries["actors/01__exit_phone_room"]
    assert (actor.label, actor.identities) == ("real", ("dfd:01",))
    fake = entries["DeepFakeDetection/01_02__exit_phone_room__YVGY8LOK"]
    assert fake.identities == ("dfd:01", "dfd:02")
    assert fake.source_video == "actors/01__exit_phone_room"
    assert fake.official_split is None  # the official lists cover the YouTube ids only


def test_ffpp_official_splits_from_pairs(tmp_path: Path) -> None:
    entries = by_id(parse_ffpp(ffpp_tree(tmp_path)))
    for vid in ("youtube/000", "youtube/003", "Deepfakes/000_003", "FaceShifter/003_000"):
        assert entries[vid].official_split == "train"
    for vid in ("youtube/953", "youtube/974", "NeuralTextures/974_953"):
        assert entries[vid].official_split == "test"


def test_ffpp_splits_dir_option_and_missing_list(tmp_path: Path) -> None:
    root = ffpp_tree(tmp_path / "ff", splits=False)
    assert all(e.official_split is None for e in parse_ffpp(root))
    other = tmp_path / "lists"
    other.mkdir()
    (other / "train.json").write_text('[["953", "974"]]')
    (other / "val.json").write_text('[["000", "003"]]')
    with pytest.raises(UserError, match=r"test\.json is missing"):
        parse_ffpp(root, splits_dir=other)
    (other / "test.json").write_text("[]")
    entries = by_id(parse_ffpp(root, splits_dir=other))
    assert entries["youtube/953"].official_split == "train"
    assert entries["Deepfakes/003_000"].official_split == "val"


def test_ffpp_compression_choice(tmp_path: Path) -> None:
    root = ffpp_tree(tmp_path)
    c40 = parse_ffpp(root, compression="c40")
    assert len(c40) == 24  # no actors / DFD at c40 in this tree
    assert all(e.path.parts[-3] == "c40" for e in c40)
    with pytest.raises(UserError, match=r"compression 'raw' \(found: c23, c40\)"):
        parse_ffpp(root, compression="raw")


def test_ffpp_rejects_other_trees(tmp_path: Path) -> None:
    touch(tmp_path, "Celeb-real/id0_0000.mp4")
    with pytest.raises(UserError, match=r"not a FaceForensics\+\+ folder: expected "
                                         r"original_sequences/youtube"):
        parse_ffpp(tmp_path)


# -- Celeb-DF --------------------------------------------------------------------------------


def celebdf_tree(root: Path) -> Path:
    touch(root, "Celeb-real/id0_0000.mp4", "Celeb-real/id0_0001.mp4", "Celeb-real/id1_0000.mp4",
          "Celeb-real/id16_0003.mp4",
          "Celeb-synthesis/id0_id16_0000.mp4", "Celeb-synthesis/id1_id0_0000.mp4",
          "Celeb-synthesis/id16_id1_0003.mp4",
          "YouTube-real/00000.mp4", "YouTube-real/00170.mp4")
    (root / "List_of_testing_videos.txt").write_text(
        "1 YouTube-real/00170.mp4\n1 Celeb-real/id1_0000.mp4\n0 Celeb-synthesis/id1_id0_0000.mp4\n"
    )
    return root


def test_celebdf_names_labels_and_identities(tmp_path: Path) -> None:
    entries = by_id(parse_celebdf(celebdf_tree(tmp_path)))
    assert len(entries) == 9
    real = entries["Celeb-real/id0_0001"]
    assert (real.label, real.identities) == ("real", ("celebdf:id0",))
    fake = entries["Celeb-synthesis/id0_id16_0000"]
    assert fake.label == "fake"
    assert fake.identities == ("celebdf:id0", "celebdf:id16")
    assert fake.source_video == "Celeb-real/id0_0000"
    youtube = entries["YouTube-real/00000"]
    assert (youtube.label, youtube.identities) == ("real", ("celebdf:yt-00000",))


def test_celebdf_official_test_list(tmp_path: Path) -> None:
    entries = by_id(parse_celebdf(celebdf_tree(tmp_path)))
    tests = {v for v, e in entries.items() if e.official_split == "test"}
    assert tests == {"YouTube-real/00170", "Celeb-real/id1_0000", "Celeb-synthesis/id1_id0_0000"}
    assert all(e.official_split in (None, "test") for e in entries.values())


def test_celebdf_test_list_errors(tmp_path: Path) -> None:
    root = celebdf_tree(tmp_path)
    (root / "List_of_testing_videos.txt").write_text("0 YouTube-real/00170.mp4\n")
    with pytest.raises(UserError, match="lists YouTube-real/00170 as fake"):
        parse_celebdf(root)
    (root / "List_of_testing_videos.txt").write_text("YouTube-real/00170.mp4\n")
    with pytest.raises(UserError, match=r":1: expected '<1\|0> <folder>/<video>.mp4'"):
        parse_celebdf(root)
    other = tmp_path / "v1_list.txt"
    other.write_text("1 YouTube-real/00000.mp4\n")
    entries = by_id(parse_celebdf(root, test_list=other))
    assert [v for v, e in entries.items() if e.official_split] == ["YouTube-real/00000"]


def test_celebdf_rejects_other_trees(tmp_path: Path) -> None:
    touch(tmp_path, "real/a.mp4")
    with pytest.raises(UserError, match=r"not a Celeb-DF folder: expected Celeb-real/"):
        parse_celebdf(tmp_path)


# -- folders ---------------------------------------------------------------------------------


def test_folders_videos_images_and_identity_subfolders(tmp_path: Path) -> None:
    touch(tmp_path, "real/interview.mp4", "real/alice/portrait.JPG", "real/alice/talk.mov",
          "fake/alice/swap.mp4", "fake/b.png", "fake/notes.txt", "fake/.hidden.mp4")
    entries = by_id(parse_folders(tmp_path))
    assert set(entries) == {"real/interview", "real/alice/portrait", "real/alice/talk",
                            "fake/alice/swap", "fake/b"}
    assert entries["real/alice/portrait"].is_image
    assert not entries["real/alice/talk"].is_image
    assert entries["fake/alice/swap"].identities == entries["real/alice/talk"].identities
    assert entries["real/interview"].identities != entries["fake/b"].identities
    assert entries["fake/b"].label == "fake"
    assert all(e.official_split is None for e in entries.values())


def test_folders_with_split_folders(tmp_path: Path) -> None:
    touch(tmp_path, "train/real/a.mp4", "train/fake/b.mp4", "test/real/c.mp4", "val/fake/d.jpg")
    entries = by_id(parse_layout("folders", tmp_path))
    assert {v: e.official_split for v, e in entries.items()} == {
        "train/real/a": "train", "train/fake/b": "train", "test/real/c": "test",
        "val/fake/d": "val"}


def test_folders_rejects_other_trees(tmp_path: Path) -> None:
    touch(tmp_path, "videos/a.mp4")
    with pytest.raises(UserError, match=r"expected real/ and fake/ sub-folders"):
        parse_folders(tmp_path)
    (tmp_path / "real").mkdir()
    with pytest.raises(UserError, match="hold no videos or images"):
        parse_folders(tmp_path)
    (tmp_path / "file.mp4").write_bytes(b"x")
    with pytest.raises(UserError, match="not a folder"):
        parse_folders(tmp_path / "file.mp4")


def test_parse_layout_unknown() -> None:
    with pytest.raises(UserError, match="unknown layout 'kinetics'"):
        parse_layout("kinetics", Path("."))
