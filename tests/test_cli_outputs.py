"""Output paths: refused in one line before any work (not with a traceback after a whole scan),
written atomically, with the permissions the user's umask gives."""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import astronaut_frames, write_clip
from tiny_models import build_redness_model

from deepfake_monitor.realtime.cli import main
from deepfake_monitor.realtime.outputs.atomic import atomic_write
from deepfake_monitor.realtime.outputs.events import EventLog, write_event_file
from deepfake_monitor.realtime.outputs.report import (
    TimelineEntry,
    VideoReport,
    write_csv,
    write_json,
)

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import cv2
    from skimage import data

    face = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
    root = tmp_path_factory.mktemp("outputs")
    clip = write_clip(root / "clip.mp4", astronaut_frames(face, n=20))
    return {"clip": clip, "model": build_redness_model(root / "redness.onnx", 64)}


@pytest.fixture
def umask() -> Iterator[None]:
    """A umask that neither tempfile's 0600 nor the usual 0644 happens to match."""
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    started = time.monotonic()
    code = main(argv)
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert out == ""  # no summary table: no scan ran
    assert elapsed < 5, elapsed  # refused at once, no model loaded, no video decoded
    return lines[0]


@pytest.mark.parametrize(
    ("option", "target", "expected"),
    [
        ("--json", "folder", "is a folder"),
        ("--json", "folder/", "is a folder"),
        ("--json", "newfolder/", "ends in a slash"),
        ("--json", "README.md/r.json", "README.md is not a folder"),
        ("--json", "README.md/deeper/r.json", "README.md is not a folder"),
        ("--csv", "folder", "is a folder"),
        ("--csv", "README.md/t.csv", "README.md is not a folder"),
        ("--annotate", "README.md", "is a file, not a folder"),
        ("--annotate", "README.md/out", "README.md is not a folder"),
    ],
)
def test_scan_refuses_unusable_output_paths_before_any_work(
    media: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch, option: str, target: str, expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "README.md").write_text("# a file\n")
    other = ("--csv", "good.csv") if option == "--json" else ("--json", "good.json")
    line = _one_line_error(capsys, ["scan", str(media["clip"]), "--model", str(media["model"]),
                                    option, target, *other])
    assert line.startswith(f"deepfake-monitor: error: {option} {target}: ")
    assert expected in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md", "folder"]
    assert list((tmp_path / "folder").iterdir()) == []


def test_scan_refuses_a_place_nobody_can_write(
    media: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """/proc refuses new files even to root, for whom permission bits mean nothing."""
    if not Path("/proc/self").is_dir():
        pytest.skip("no /proc here")
    line = _one_line_error(capsys, ["scan", str(media["clip"]), "--model", str(media["model"]),
                                    "--json", "/proc/r.json"])
    assert "--json /proc/r.json: cannot write in /proc" in line
    line = _one_line_error(capsys, ["scan", str(media["clip"]), "--model", str(media["model"]),
                                    "--annotate", "/proc/ann"])
    # /proc is there: "No such file or directory" would send the user looking for it
    assert line.endswith("--annotate /proc/ann: cannot write in /proc: it takes no new files")


def test_json_and_csv_cannot_be_one_file(media: dict[str, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    same = str(tmp_path / "out.txt")
    line = _one_line_error(capsys, ["scan", str(media["clip"]), "--model", str(media["model"]),
                                    "--json", same, "--csv", same])
    assert "--json and --csv name the same file" in line


def test_watch_and_bench_refuse_unusable_output_paths(
    media: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file.txt").write_text("x")
    line = _one_line_error(capsys, ["watch", str(media["clip"]), "--live", "--model",
                                    str(media["model"]), "--events", str(tmp_path)])
    assert f"--events {tmp_path}: is a folder" in line
    line = _one_line_error(capsys, ["watch", str(media["clip"]), "--live", "--model",
                                    str(media["model"]), "--events",
                                    str(tmp_path / "file.txt" / "e.jsonl")])
    assert "file.txt is not a folder" in line
    line = _one_line_error(capsys, ["bench", str(media["clip"]), "--quick", "--json",
                                    str(tmp_path)])
    assert f"--json {tmp_path}: is a folder" in line


def test_scan_outputs_have_the_umask_s_permissions_and_new_folders(
    media: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], umask: None
) -> None:
    report = tmp_path / "new" / "deeper" / "r.json"
    timeline = tmp_path / "t.csv"
    code = main(["scan", str(media["clip"]), "--model", str(media["model"]), "--json",
                 str(report), "--csv", str(timeline)])
    _, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(report.read_text())["videos"][0]["status"] == "ok"
    for path in (report, timeline):
        assert stat.S_IMODE(path.stat().st_mode) == 0o640, path  # 0666 & ~027
    assert sorted(p.name for p in report.parent.iterdir()) == ["r.json"]  # no temp left


def test_event_files_have_the_umask_s_permissions(tmp_path: Path, umask: None) -> None:
    log = EventLog(tmp_path / "live.jsonl")
    log.write({"type": "status", "state": "live"})
    log.close()
    assert write_event_file(tmp_path / "export.jsonl", [{"type": "alert"}] * 3) == 3
    for name in ("live.jsonl", "export.jsonl"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o640, name
    assert len((tmp_path / "export.jsonl").read_text().splitlines()) == 3


def _report_with(n: int) -> VideoReport:
    r = VideoReport(path="clip.mp4", threshold=0.5)
    for i in range(n):
        r.timeline.append(TimelineEntry(i / 25, 1, 0.5, (0.0, 0.0, 10.0, 10.0)))
    return r.finish()


def test_a_report_that_fails_half_way_leaves_the_old_one_whole(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    write_json(path, {"card": {"name": "m"}}, [_report_with(5)])
    before = path.read_bytes()
    # json.dump writes as it goes: thousands of timeline entries reach the file before the
    # label it cannot serialise, as a crash or Ctrl+C would stop a real write half way
    with pytest.raises(TypeError):
        write_json(path, {"card": {"name": "m"}}, [_report_with(20000)],
                   labels={"clip.mp4": object()})  # type: ignore[dict-item]
    assert path.read_bytes() == before
    with pytest.raises(KeyboardInterrupt):
        def interrupted(fh: object) -> None:
            fh.write("{\"half\": ")  # type: ignore[attr-defined]
            raise KeyboardInterrupt

        atomic_write(path, interrupted)
    assert path.read_bytes() == before
    write_csv(tmp_path / "t.csv", [_report_with(3)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json", "t.csv"]


def test_csv_dash_is_stdout_as_for_json(tmp_path: Path) -> None:
    """`--csv -` writes the timeline to stdout (it wrote a file named '-'), byte for byte what
    `--csv FILE` writes, with the summary table on stderr; both on stdout is refused."""
    import subprocess
    import sys

    from conftest import REPO

    sample = REPO / "assets" / "samples" / "astronaut_sbi.mp4"
    cli = [sys.executable, "-m", "deepfake_monitor.realtime.cli", "scan", str(sample)]
    piped = subprocess.run([*cli, "--csv", "-"], cwd=tmp_path, capture_output=True,
                           timeout=120, check=False)
    assert piped.returncode == 0, piped.stderr
    assert not (tmp_path / "-").exists()
    assert b"status" in piped.stderr  # the summary table
    to_file = subprocess.run([*cli, "--csv", "t.csv"], cwd=tmp_path, capture_output=True,
                             timeout=120, check=False)
    assert to_file.returncode == 0, to_file.stderr
    assert piped.stdout == (tmp_path / "t.csv").read_bytes()
    lines = piped.stdout.decode().splitlines()
    assert lines[0] == "path,t,track,p,x1,y1,x2,y2" and len(lines) > 10
    both = subprocess.run([*cli, "--csv", "-", "--json", "-"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert both.returncode == 2 and both.stdout == ""
    assert both.stderr.strip() == ("deepfake-monitor: error: --json - and --csv - would both "
                                   "write to stdout; give one of them a file")
