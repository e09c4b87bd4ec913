"""`scan --resume` on a report someone edited: every field is checked
(realtime/outputs/report_schema.py) and a report that is not one scan wrote is refused in one
line, never a traceback, and never taken over into the new report. The report is a real scan's
of a real clip, then edited.
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
               "video #1 ('{clip}') verdict: '[/]x' is not one of real, uncertain, fake, "
               "null"),
    "contradiction": (edit(contradict), "video #1 ('{clip}') verdict: '{verdict}' contradicts "
                                        "score {score:g} at threshold {threshold:g}, "
                                        "uncertain band 0.1"),
    # a score far from the threshold is no "uncertain" verdict
    "uncertain": (edit(lambda d: d["videos"][0].update(verdict="uncertain")),
                  "video #1 ('{clip}') verdict: 'uncertain' contradicts score {score:g} at "
                  "threshold {threshold:g}, uncertain band 0.1"),
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


def test_a_score_within_the_band_is_uncertain_and_resumed_only_with_the_same_band(
        scanned: tuple[Path, Path, str], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    model, clip, text = scanned
    score = json.loads(text)["videos"][0]["score"]
    assert score < 0.85
    report = tmp_path / "r.json"
    # the same clip at a threshold 0.05 above its score: inside the default band of 0.10
    threshold = str(round(score + 0.05, 4))
    args = ["scan", str(clip), "--model", str(model), "--threshold", threshold]
    assert main([*args, "--json", str(report)]) == 0
    out = capsys.readouterr().out
    data = json.loads(report.read_text())
    assert data["settings"]["uncertain_band"] == 0.1
    assert data["videos"][0]["verdict"] == "uncertain"
    assert "uncertain" in out and f"threshold {threshold}" in out  # the table says so too
    # a resume keeps it (the check knows the band) ...
    assert main([*args, "--json", str(report), "--resume"]) == 0, capsys.readouterr().err
    # ... but not with another band, whose verdicts would differ
    assert main([*args, "--json", str(report), "--resume", "--uncertain-band", "0"]) == 2
    err = capsys.readouterr().err
    assert "uncertain_band 0.1 (this run 0)" in err, err
    # two states with a band of 0: below the threshold is real
    assert main([*args, "--json", str(tmp_path / "two.json"), "--uncertain-band", "0"]) == 0
    assert json.loads((tmp_path / "two.json").read_text())["videos"][0]["verdict"] == "real"
