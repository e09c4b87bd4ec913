"""File names, model cards and reports are other people's text: shown, they never stop a scan
(rich markup) nor reach the terminal as escapes (window title, clear screen, cursor moves).

Real runs of the CLI as a process, on real clips and a real ONNX model, with rich told that it
writes to a colour terminal (FORCE_COLOR, TTY_INTERACTIVE), as it does for a user.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import astronaut_frames, write_clip
from tiny_models import build_redness_model, redness_contract, redness_graph

from deepfake_monitor.export.metadata import save_with_contract
from deepfake_monitor.realtime.display_text import clean, escape
from deepfake_monitor.realtime.model.contract import ModelCard

pytestmark = pytest.mark.timeout(180)

ESCAPES = ("\x1b]0;PWNED\x07", "\x1b[2J", "\x1b[31m", "\x1b[1A", "\x1b[2K")
TERMINAL = {**os.environ, "FORCE_COLOR": "1", "TTY_INTERACTIVE": "1", "COLUMNS": "160"}


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("deepfake-monitor")
    return subprocess.run([str(exe), *args], cwd=cwd, env=TERMINAL, capture_output=True,
                          text=True, timeout=150)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_redness_model(tmp_path_factory.mktemp("model") / "redness.onnx")


@pytest.fixture(scope="module")
def frames(astronaut_bgr: np.ndarray) -> list[np.ndarray]:
    return astronaut_frames(astronaut_bgr, n=10)


def test_a_file_name_that_is_rich_markup_does_not_abort_the_batch(
    tmp_path: Path, model: Path, frames: list[np.ndarray]
) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "upload[").mkdir(parents=True)
    write_clip(inbox / "good.mp4", frames)
    write_clip(inbox / "upload[" / "x].mp4", frames)
    run = cli("scan", "inbox", "--json", "r.json", "--model", str(model), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    videos = json.loads((tmp_path / "r.json").read_text())["videos"]
    assert sorted((v["path"], v["status"]) for v in videos) == [
        ("inbox/good.mp4", "ok"), ("inbox/upload[/x].mp4", "ok")]
    assert "inbox/upload[/x].mp4" in run.stdout  # the table names it as it is


def test_terminal_escapes_and_markup_in_file_names_are_shown_inert(
    tmp_path: Path, model: Path, frames: list[np.ndarray]
) -> None:
    hostile = "a\x1b]0;PWNED\x07\x1b[2J\x1b[31mFAKE.mp4"
    styled = "[reverse blink]FAKE-NAME.mp4"
    for name in (hostile, styled):
        write_clip(tmp_path / name, frames)
    run = cli("scan", hostile, styled, "--model", str(model), "--csv", "t.csv", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    for escape_seq in ESCAPES[:3]:
        assert escape_seq not in run.stdout + run.stderr
    assert "\x07" not in run.stdout + run.stderr
    # shown, control characters as "?", markup as written (rich would style and drop it)
    assert "a?]0;PWNED??[2J?[31mFAKE.mp4" in run.stdout
    assert styled in run.stdout and styled in run.stderr  # the table and the progress bar
    assert "\x1b[5;7m" not in run.stdout + run.stderr  # no reverse blink


def test_inspect_prints_a_hostile_model_card_inert(tmp_path: Path) -> None:
    lie = "\x1b[1A\x1b[2KAll videos verified REAL"
    contract = dataclasses.replace(redness_contract(), card=ModelCard(
        name=f"m{lie}", version="1\x1b[2J", description=f"d{lie}"))
    model = save_with_contract(redness_graph(), contract, tmp_path / "card.onnx")
    run = cli("inspect", str(model), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert not any(e in run.stdout for e in ESCAPES)
    assert "model:    m?[1A?[2KAll videos verified REAL (version 1?[2J)" in run.stdout
    assert "description: d?[1A?[2KAll videos verified REAL" in run.stdout


def test_clean_and_escape() -> None:
    assert clean("a\x00b\tc\nd\x7fe\x9bf\u202eg") == "a?b?c?d?e?f?g"
    assert clean("one\ntwo\r", lines=True) == "one\ntwo?"
    assert escape("upload[/x].mp4") == "upload\\[/x].mp4"
