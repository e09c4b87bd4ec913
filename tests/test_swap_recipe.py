"""The paired-swap recipe's data side (train/corpora.py, train/swap_recipe.py) on the real
corpora beside the checkout: who is trained on, who is held out, and why."""

from __future__ import annotations

import csv
from dataclasses import asdict
from pathlib import Path

import pytest
from conftest import REPO

from deepfake_monitor.train.corpora import write_labels
from deepfake_monitor.train.swap_recipe import Recipe, corpus_rows, held_out_clips, train_argv

SHARED = REPO.parent / "shared"


@pytest.fixture(scope="module")
def shared() -> Path:
    if not all((SHARED / name).is_dir() for name in ("realfakes", "realfaces", "media")):
        pytest.skip(f"{SHARED}/realfakes, realfaces or media is absent")
    return SHARED


def test_splits_keep_people_apart(shared: Path, tmp_path: Path) -> None:
    rows = corpus_rows(shared, Recipe(paired=0.7))
    by_split: dict[str, set[str]] = {}
    for r in rows:
        by_split.setdefault(r.split, set()).add(r.person)
        assert r.path.is_file()
    # No person on two sides; the validation side is real live swaps of the recipe's people.
    assert not by_split["train"] & by_split["val"] and not by_split["train"] & by_split["test"]
    val = [r for r in rows if r.split == "val"]
    assert {r.person for r in val} == {f"realfakes:{p}" for p in Recipe().val_people}
    assert {r.label for r in val} == {0, 1} and all(r.group == "deepfacelive" for r in val)
    # Theresa May's media clip is held out, so her SyncTalk and GeneFace fakes are too.
    may = [r for r in rows if r.person in ("realfakes:theresa-may",
                                           "media:aniportrait-pose_ref_video")]
    assert len(may) == 3 and {r.split for r in may} == {"test"}
    # The dev set's GHOST footage never appears; realfaces only where self-blends are mixed.
    assert not any(r.path.stem.startswith("ghost-") for r in rows)
    assert any(r.group == "realfaces" for r in rows)
    assert not any(r.group == "realfaces" for r in corpus_rows(shared, Recipe(paired=1.0)))
    assert any(r.group == "realfaces"
               for r in corpus_rows(shared, Recipe(paired=1.0, real_photos=0.3)))
    labels = write_labels(rows, tmp_path / "labels.csv")
    listed = list(csv.DictReader(labels.open()))
    assert len(listed) == len(rows) and {r["split"] for r in listed} == {"train", "val", "test"}
    clips = held_out_clips(labels)
    assert clips and all(Path(c).suffix == ".mp4" for c in clips)
    assert len(clips) == sum(1 for r in rows if r.split != "train" and r.kind != "photo")


def test_train_command_mixes_self_blends_only_below_one() -> None:
    pure = train_argv(Recipe(paired=1.0), Path("faces"), Path("run"))
    mixed = train_argv(Recipe(paired=0.7), Path("faces"), Path("run"))
    assert "--online-sbi" not in pure and pure[pure.index("--paired") + 1] == "1.0"
    assert mixed[mixed.index("--online-sbi") + 1] == "1"
    assert "--degrade" in pure
    assert "--degrade" not in train_argv(Recipe(degrade=False), Path("faces"), Path("run"))
    photos = train_argv(Recipe(real_photos=0.5), Path("faces"), Path("run"))
    assert photos[photos.index("--real-photos") + 1] == "0.5" and "--online-sbi" not in photos


def test_command_line_options_reach_the_recipe() -> None:
    from deepfake_monitor.train.swap_recipe import parse_args

    recipe, args = parse_args(["--shared", "s", "--out", "o", "--size", "224", "--margin", "0.2",
                               "--aligned-share", "1"])
    assert (recipe.size, recipe.margin) == (224, 0.2) and args.out == Path("o")
    assert recipe.aligned_share == 1.0
    assert parse_args(["--shared", "s", "--out", "o"])[0] == Recipe()
    longer = parse_args(["--shared", "s", "--out", "o", "--epochs", "8"])[0]
    assert longer.fold_schedule() == (8, Recipe.steps_per_epoch)
    quick = parse_args(["--shared", "s", "--out", "o", "--folds", "--quick-folds"])[0]
    assert quick.fold_schedule() == (3, 30)
    argv = train_argv(recipe, Path("faces"), Path("run"))
    assert argv[argv.index("--input-size") + 1] == "224"


def test_dev_figures_at_the_bare_threshold_count_twins() -> None:
    from deepfake_monitor.train.swap_recipe import at_threshold

    videos = [("d/fake/a.mp4", "fake", 0.9), ("d/real/a.mp4", "real", 0.7),
              ("d/fake/b.mp4", "fake", 0.4), ("d/real/b.mp4", "real", 0.5),
              ("g/fake/c.mp4", "fake", 0.8), ("g/real/x.mp4", "real", None)]
    report = {"videos": [{"path": p, "label": lab, "score": s} for p, lab, s in videos]}
    got = at_threshold(report, 0.6)
    lift, spread = got.pop("pair_lift"), got.pop("real_sd")
    assert got == {"real_flagged": 0.5, "fake_caught": 2 / 3, "pairs_above": 1, "pairs": 2}
    assert lift == pytest.approx(0.05) and spread == pytest.approx(0.1)  # (0.2, -0.1); (0.7, 0.5)


def test_card_lists_realfaces_only_where_it_trained_the_model() -> None:
    from deepfake_monitor.realtime.model.contract import (
        CropSpec,
        InputSpec,
        ModelCard,
        ModelContract,
        OutputSpec,
    )
    from deepfake_monitor.train.swap_recipe import render_card

    contract = ModelContract(InputSpec(160), CropSpec(0.3), OutputSpec(), ModelCard("t"),
                             threshold=0.6)
    held = {"overall": {"auc": 0.7, "real_flagged": 0.0, "fake_caught": 0.4}}
    cards = {(p, q): render_card({"recipe": asdict(Recipe(paired=p, real_photos=q)),
                                  "heldout": held}, contract)
             for p, q in ((1.0, 0.0), (0.7, 0.0), (1.0, 0.5))}
    assert "realfaces" not in cards[1.0, 0.0] and "realfakes" in cards[1.0, 0.0]
    assert "2 217 photos" in cards[0.7, 0.0] and "2 217 photos" in cards[1.0, 0.5]
