"""What scan shows of the paths it is given: --labels' paths as the CSV names them (not
resolved through links), file names whole in the summary table, and the report in input
order (issue 17, items 14 to 16). Real frames (skimage's astronaut) and a tiny ONNX model."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
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


def run_cli(*args: str, cwd: Path, columns: int) -> subprocess.CompletedProcess[str]:
    """The program as a process whose stdout and stderr are pipes (a log), `columns` wide."""
    env = dict(os.environ, COLUMNS=str(columns))
    return subprocess.run([sys.executable, "-m", "deepfake_monitor.realtime.cli", *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          check=False)


def test_a_log_gets_whole_file_names_and_whole_times(media: dict[str, Path],
                                                     tmp_path: Path) -> None:
    """In a log 60 columns wide the table folded 'astronaut_sbi_sample_clip_name.mp4' inside
    the name and the progress line cut its times to '0:…'."""
    name = "astronaut_sbi_sample_clip_name.mp4"
    shutil.copy(media["clip"], tmp_path / name)
    done = run_cli("scan", name, "--model", str(media["model"]), cwd=tmp_path, columns=60)
    assert done.returncode == 0, done.stderr
    rows = [ln for ln in done.stdout.splitlines() if name in ln]
    assert len(rows) == 1 and rows[0].startswith(f"│ {name} │ ok "), done.stdout
    progress = [ln for ln in done.stderr.splitlines() if "frames" in ln]
    assert len(progress) == 1, done.stderr
    assert re.search(r" \d+/\d+ frames \d+:\d\d:\d\d \d+:\d\d:\d\d$", progress[0]), done.stderr
    assert "…" not in done.stderr, done.stderr


def test_names_fit_beside_cells_wider_than_their_headers() -> None:
    """On an 80-column terminal a path is shortened to the room the other columns leave:
    'no-face' and 'uncertain' are wider than their headers, and a fixed guess of that room
    folded the last characters of a name onto a line of their own."""
    from rich.console import Console

    from deepfake_monitor.realtime.outputs.report import VideoReport
    from deepfake_monitor.realtime.outputs.summary_table import summary_table

    path = "/archive/2024/interviews/session-0007/astronaut_sbi.mp4"
    reports = [VideoReport(path=path, threshold=0.5).finish(),  # no face: status 'no-face'
               VideoReport(path="b.mp4", threshold=0.5).finish(error="b.mp4: unreadable")]
    out = io.StringIO()
    console = Console(file=out, width=80, force_terminal=True, color_system=None)
    console.print(summary_table(reports, "scan", console.width))
    lines = out.getvalue().splitlines()
    assert max(len(ln) for ln in lines) <= 80
    named = [ln for ln in lines if "astronaut_sbi.mp4" in ln]
    assert len(named) == 1 and "no-face" in named[0], out.getvalue()
    assert "…/" in named[0]  # folders gave way, the name did not


def test_report_is_in_input_order(media: dict[str, Path], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    """`scan a.mp4 nope.mp4 empty/ b.mp4`: the missing file and the empty folder used to head
    the report and the table."""
    for name in ("a.mp4", "b.mp4"):
        shutil.copy(media["clip"], tmp_path / name)
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    inputs = ["a.mp4", "nope.mp4", "empty", "b.mp4"]
    code = main(["scan", *inputs, "--json", "r.json", "--model", str(media["model"])])
    out = capsys.readouterr().out
    assert code == 1  # the two inputs that name no video
    videos = json.loads((tmp_path / "r.json").read_text())["videos"]
    assert [v["path"] for v in videos] == inputs
    assert [v["status"] for v in videos] == ["ok", "error", "error", "ok"]
    rows = [ln.split("│")[1].strip() for ln in out.splitlines() if ln.startswith("│")]
    assert rows == inputs, out
