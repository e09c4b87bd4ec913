"""The default model's recipe (train/default_model.py): who is held out, and how."""

from __future__ import annotations

from pathlib import Path

import pytest

from deepfake_monitor.train import default_model as recipe


def test_staging_holds_out_whole_identities(shared_media: Path, tmp_path: Path) -> None:
    staged = recipe.stage(shared_media, tmp_path / "real")
    sides: dict[str, set[str]] = {}
    for s in staged:
        sides.setdefault(s.identity, set()).add(s.split)
    assert all(len(v) == 1 for v in sides.values()), "an identity on two sides of the split"
    test_clips = sorted(s.path.stem for s in staged if s.split == "test" and s.kind == "clip")
    assert test_clips == sorted(recipe.TEST_CLIPS)
    assert {s.identity for s in staged if s.split == "test" and s.kind == "photo"} == \
        set(recipe.TEST_IDENTITIES)
    # paintings, renders and animals are not real faces: never staged
    assert not {s.path.stem for s in staged} & recipe.EXCLUDED_PHOTOS
    # the Hamilton cast photos follow the Hamilton clip
    hamilton = {s.split for s in staged if s.identity == "hamilton"}
    assert len(hamilton) == 1 and sum(s.identity == "hamilton" for s in staged) == 3
    # staged as synthesize's input: <split>/<identity>/<file>, links to the real files
    for s in staged:
        link = tmp_path / "real" / s.split / s.identity / s.path.name
        assert link.is_symlink() and link.resolve() == s.path.resolve()


def test_staging_refuses_a_folder_without_clips(tmp_path: Path) -> None:
    with pytest.raises(recipe.UserError, match="no clips"):
        recipe.stage_sources(tmp_path)


def test_clip_threshold_keeps_the_false_alarm_budget() -> None:
    scores = [0.1, 0.35, 0.52, 0.9, 0.2, 0.61, 0.33, 0.05, 0.44, 0.7]
    # 5 % of 10 clips is none: the threshold sits just above the highest real clip
    t = recipe.clip_threshold(scores, 0.05)
    assert t > 0.9 and sum(s >= t for s in scores) == 0 and t == pytest.approx(0.901)
    # 20 %: two of them may be flagged, not three
    t = recipe.clip_threshold(scores, 0.2)
    assert sum(s >= t for s in scores) == 2 and t <= 0.7
    assert recipe.clip_threshold(scores, 1.0) == 0.0
