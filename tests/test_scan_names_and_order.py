"""What scan shows of the paths it is given: --labels' paths as the CSV names them (not
resolved through links), file names whole in the summary table, and the report in input
order (issue 17, items 14 to 16). Real frames (skimage's astronaut) and a tiny ONNX model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import pytest
from conftest import astronaut_frames, write_clip
from tiny_models import build_redness_model

from deepfake_monitor.realtime.cli import main

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from skimage import data

    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    root = tmp_path_factory.mktemp("names")
    return {"clip": write_clip(root / "clip.mp4", astronaut_frames(face, n=15)),
            "model": build_redness_model(root / "redness.onnx", 64)}


def test_labels_paths_are_shown_as_the_csv_names_them(
    media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """data/ is a link to store/: the warning and labelled_not_scanned said store/..., while
    videos[].path said data/...; and the warning listed all 60 on one line."""
    store = tmp_path / "store"
    store.mkdir()
    shutil.copy(media["clip"], store / "a.mp4")
    (tmp_path / "data").symlink_to(store)
    (store / "labels.csv").write_text(
        "path,label\na.mp4,real\n" + "".join(f"gone{i}.mp4,fake\n" for i in range(60)))
    monkeypatch.chdir(tmp_path)
    code = main(["scan", "data/a.mp4", "--labels", "data/labels.csv", "--json", "r.json",
                 "--model", str(media["model"])])
    err = capsys.readouterr().err
    assert code == 0, err
    warnings = [ln for ln in err.splitlines() if "not among the inputs" in ln]
    assert len(warnings) == 1, err
    assert warnings[0].startswith("deepfake-monitor: warning: 60 labelled video(s) are not "
                                  "among the inputs: data/gone0.mp4, data/gone1.mp4, "), err
    assert "store" not in warnings[0] and warnings[0].count(".mp4") == 5, warnings[0]
    assert warnings[0].endswith("(55 more)"), warnings[0]
    report = json.loads((tmp_path / "r.json").read_text())
    assert [v["path"] for v in report["videos"]] == ["data/a.mp4"]
    assert report["metrics"]["labelled_not_scanned"] == [f"data/gone{i}.mp4" for i in range(60)]
