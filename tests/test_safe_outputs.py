"""Outputs are never written through a symbolic link planted where they go, and a file they
replace keeps its mode (realtime/outputs/atomic.py): the CLI as a process, extract, the app's
snapshot, on real clips.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from conftest import astronaut_frames, write_clip
from tiny_models import build_redness_model

from deepfake_monitor.realtime.outputs.atomic import AtomicFile, atomic_write, open_append

pytestmark = pytest.mark.timeout(180)
VICTIM_TEXT = "precious: must never change\n"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("deepfake-monitor")
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=150)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim"
    path.write_text(VICTIM_TEXT)
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_redness_model(tmp_path_factory.mktemp("model") / "redness.onnx")


def test_annotate_replaces_a_planted_link_and_a_report_keeps_its_mode(
    tmp_path: Path, victim: Path, model: Path, astronaut_bgr: np.ndarray
) -> None:
    write_clip(tmp_path / "clip.mp4", astronaut_frames(astronaut_bgr, n=10))
    (tmp_path / "out").mkdir()
    link = tmp_path / "out" / "clip.annotated.mp4"
    link.symlink_to(victim)
    report = tmp_path / "r.json"
    report.write_text("{}")
    report.chmod(0o600)
    run = cli("scan", "--annotate", "out", "--json", "r.json", "clip.mp4", "--model",
              str(model), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert victim.read_text() == VICTIM_TEXT
    assert not link.is_symlink() and link.is_file()
    with av.open(str(link)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 2  # 10 at 25 fps, sampled at 5
    assert os.stat(report).st_mode & 0o777 == 0o600
    assert json.loads(report.read_text())["videos"][0]["status"] == "ok"
    assert not list((tmp_path / "out").glob(".*.tmp"))  # no temporary left behind


def test_watch_events_refuse_a_link_and_append_whole_lines(
    tmp_path: Path, victim: Path, model: Path, astronaut_bgr: np.ndarray
) -> None:
    write_clip(tmp_path / "call.mp4", astronaut_frames(astronaut_bgr, n=10))
    link = tmp_path / "ev.jsonl"
    link.symlink_to(victim)
    run = cli("watch", "--events", "ev.jsonl", "--live", "call.mp4", "--model", str(model),
              cwd=tmp_path)
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        "deepfake-monitor: error: --events ev.jsonl: is a symbolic link; name the file itself"]
    assert victim.read_text() == VICTIM_TEXT
    # even if the link appears after the check: O_NOFOLLOW
    with pytest.raises(OSError):
        open_append(link)
    assert victim.read_text() == VICTIM_TEXT

    link.unlink()
    link.write_text('{"type": "earlier"}\n')
    run = cli("watch", "--events", "ev.jsonl", "--live", "call.mp4", "--model", str(model),
              cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    lines = link.read_text().splitlines()
    assert lines[0] == '{"type": "earlier"}' and len(lines) > 2
    assert all(json.loads(line)["type"] for line in lines)


def test_extract_writes_no_fixed_temporary_names(
    tmp_path: Path, victim: Path, astronaut_bgr: np.ndarray
) -> None:
    """extract used `extract_config.json.tmp` and `manifest.csv.tmp`: a link planted there was
    written through."""
    from deepfake_monitor.realtime.cli import main

    (tmp_path / "ds" / "real").mkdir(parents=True)
    (tmp_path / "ds" / "fake").mkdir()
    frames = astronaut_frames(astronaut_bgr, n=8, size=(400, 352))
    write_clip(tmp_path / "ds/real/a.mp4", frames)
    write_clip(tmp_path / "ds/fake/b.mp4", frames)
    out = tmp_path / "out"
    out.mkdir()
    for name in ("extract_config.json.tmp", "manifest.csv.tmp", "videos.csv.tmp"):
        (out / name).symlink_to(victim)
    args = ["extract", str(tmp_path / "ds"), "--layout", "folders", "--out", str(out),
            "--frames-per-video", "2"]
    assert main(args) == 0
    (out / "manifest.csv").write_text((out / "manifest.csv").read_text() + "cut,short")
    assert main(args) == 0  # a cut manifest is rewritten whole (its _replace)
    assert victim.read_text() == VICTIM_TEXT
    assert json.loads((out / "extract_config.json").read_text())["layout"] == "folders"


def test_the_writers_replace_links_and_keep_modes(tmp_path: Path, victim: Path) -> None:
    target = tmp_path / "report.json"
    target.symlink_to(victim)
    atomic_write(target, lambda fh: fh.write("new"))
    assert victim.read_text() == VICTIM_TEXT and target.read_text() == "new"
    target.chmod(0o640)
    atomic_write(target, lambda fh: fh.write("newer"))
    assert os.stat(target).st_mode & 0o777 == 0o640
    out = AtomicFile(tmp_path / "never.bin")
    os.write(out.fd, b"half")
    out.discard()
    assert sorted(tmp_path.iterdir()) == sorted([victim, target])  # nothing left behind
