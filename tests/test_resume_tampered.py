"""`scan --resume` on a report someone edited: every field is checked (realtime/report_schema.py)
and a report that is not one scan wrote is refused in one line, never a traceback, and never
taken over into the new report. The report is a real scan's of a real clip, then edited.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import astronaut_frames, write_clip
from tiny_models import build_redness_model

from deepfake_monitor.realtime.cli import main

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory, astronaut_bgr: np.ndarray
            ) -> tuple[Path, Path, str]:
    """(model, clip, the report text of a scan of the clip)."""
    folder = tmp_path_factory.mktemp("scanned")
    model = build_redness_model(folder / "redness.onnx")
    clip = write_clip(folder / "clip.mp4", astronaut_frames(astronaut_bgr, n=10))
    report = folder / "r.json"
    assert main(["scan", str(clip), "--model", str(model), "--json", str(report)]) == 0
    return model, clip, report.read_text()


def deep(text: str) -> str:
    """The report with 100 000 nested arrays where its first video's faces were."""
    data = json.loads(text)
    data["videos"][0]["faces"] = "@@"
    return json.dumps(data).replace('"@@"', "[" * 100_000 + "]" * 100_000)


def edit(change: Callable[[dict[str, Any]], None]) -> Callable[[str], str]:
    def apply(text: str) -> str:
        data = json.loads(text)
        change(data)
        return json.dumps(data)
    return apply


def contradict(data: dict[str, Any]) -> None:
    video = data["videos"][0]
    video["verdict"] = "real" if video["verdict"] == "fake" else "fake"


CASES = {
    "nesting": (deep, "not a JSON report (nested too deeply to be a report)"),
    "score": (edit(lambda d: d["videos"][0].update(score="high")),
              'video #1 (\'{clip}\') score: "high" is not a finite number'),
    "card": (edit(lambda d: d["model"].update(card="notadict")),
             'model card: "notadict" is not a JSON object'),
    "markup": (edit(lambda d: d["videos"][0].update(verdict="[/]x")),
               "video #1 ('{clip}') verdict: '[/]x' is not one of fake, real, null"),
    "contradiction": (edit(contradict), "video #1 ('{clip}') verdict: '{verdict}' contradicts "
                                        "score {score:g} at threshold {threshold:g}"),
    "probability": (edit(lambda d: d["videos"][0]["timeline"][0].update(p=7)),
                    "video #1 ('{clip}') timeline #1 p: 7.0 is not within [0, 1]"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_tampered_report_is_refused_in_one_line(
    case: str, scanned: tuple[Path, Path, str], tmp_path: Path,
    capsys: pytest.CaptureFixture[str]
) -> None:
    model, clip, text = scanned
    tamper, problem = CASES[case]
    report = tmp_path / "r.json"
    report.write_text(tampered := tamper(text))
    video = json.loads(text)["videos"][0]
    code = main(["scan", str(clip), "--model", str(model), "--json", str(report), "--resume"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    shown = problem.format(clip=str(clip), score=video["score"], threshold=video["threshold"],
                           verdict="real" if video["verdict"] == "fake" else "fake")
    if case == "nesting":
        assert lines[0] == f"deepfake-monitor: error: {report}: {shown}"
    else:
        assert lines[0] == (f"deepfake-monitor: error: --resume: {report}: not a report scan "
                            f"wrote ({shown}); fix it, or write a new report")
    assert report.read_text() == tampered  # left as it was


def test_an_untouched_report_is_resumed(scanned: tuple[Path, Path, str], tmp_path: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    model, clip, text = scanned
    report = tmp_path / "r.json"
    report.write_text(text)
    code = main(["scan", str(clip), "--model", str(model), "--json", str(report), "--resume"])
    assert code == 0, capsys.readouterr().err
    assert json.loads(report.read_text())["videos"] == json.loads(text)["videos"]
