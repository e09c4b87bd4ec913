"""`scan --labels` figures: ROC AUC, ROC curve and EER in numpy against scikit-learn (ties
included), the per-group rules, and every way a labels file can be unusable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve

from deepfake_monitor.realtime.errors import UserError
from deepfake_monitor.realtime.outputs.labelled_metrics import (
    BASIS_ALL,
    BASIS_GROUP,
    BASIS_GROUP_FAKES,
    BASIS_GROUP_REALS,
    LabelledVideo,
    LabelSet,
    equal_error_rate,
    group_metrics,
    labelled_metrics,
    metrics_table,
    read_labels,
    roc_auc,
    roc_curve,
)


def _random_case(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores with many ties (rounded to one or two decimals), both classes present."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 60))
    y = rng.random(n) < rng.uniform(0.2, 0.8)
    y[0], y[1], y[2] = True, False, True
    s = np.clip(rng.normal(0.5 + 0.2 * y, 0.2), 0, 1).round(int(rng.integers(1, 3)))
    s[2] = s[1]  # at least one fake tied with a real
    return y, s


@pytest.mark.parametrize("seed", range(40))
def test_auc_and_roc_curve_match_scikit_learn_with_ties(seed: int) -> None:
    y, s = _random_case(seed)
    assert len(np.unique(s)) < len(s)  # the case really has ties
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    fpr, tpr, thr = roc_curve(y, s)
    sk_fpr, sk_tpr, sk_thr = sk_roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    np.testing.assert_allclose(thr[1:], sk_thr[1:])
    # the EER lies on scikit-learn's curve where false-fake rate = missed-fake rate
    eer, at = equal_error_rate(y, s)
    gap = sk_fpr - (1 - sk_tpr)
    assert eer == pytest.approx(float(np.interp(0.0, gap, sk_fpr)), abs=1e-12)
    assert at in set(s.tolist())
    # at the EER's threshold the two error rates straddle the EER
    flagged = s >= at
    fake_missed = float((~flagged[y]).mean())
    real_flagged = float(flagged[~y].mean())
    assert min(fake_missed, real_flagged) <= eer + 1e-12 <= max(fake_missed, real_flagged) + 2e-12


def test_auc_ties_count_half_and_extremes() -> None:
    # every score tied: chance level, where a strict '>' count would say 0
    assert roc_auc([1, 0, 1, 0], [0.5] * 4) == 0.5
    assert equal_error_rate([1, 0, 1, 0], [0.5] * 4)[0] == pytest.approx(0.5)
    assert roc_auc([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]) == 1.0
    assert equal_error_rate([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]) == (0.0, 0.8)
    assert roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]) == 0.0
    assert equal_error_rate([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9])[0] == pytest.approx(1.0)
    # one class only: no AUC, no EER, never a made-up number
    assert roc_auc([1, 1], [0.3, 0.4]) is None
    assert equal_error_rate([0, 0], [0.3, 0.4]) == (None, None)


def _videos() -> list[LabelledVideo]:
    return [
        LabelledVideo("f1.mp4", True, 0.9, "ok", "swap", "a"),
        LabelledVideo("f2.mp4", True, 0.4, "ok", "swap", "a"),
        LabelledVideo("f3.mp4", True, 0.8, "ok", "reenact", "b"),
        LabelledVideo("f4.mp4", True, None, "no-face", "reenact", "b"),
        LabelledVideo("r1.mp4", False, 0.3, "ok", "original", "a"),
        LabelledVideo("r2.mp4", False, 0.85, "ok", "original", "b"),
        LabelledVideo("r3.mp4", False, None, "error", "original", "b"),
    ]


def test_group_metrics_counts_rates_and_unscored_videos() -> None:
    m = group_metrics(_videos(), 0.5, basis=BASIS_ALL)
    assert (m["videos"], m["fakes"], m["reals"], m["scored"]) == (7, 4, 3, 5)
    assert (m["no_face"], m["errors"]) == (1, 1)
    scored = [v for v in _videos() if v.score is not None]
    y = [v.fake for v in scored]
    s = [v.score for v in scored]
    assert m["auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-4)
    assert m["auc_basis"] == BASIS_ALL and (m["auc_fakes"], m["auc_reals"]) == (3, 2)
    # at 0.5: f1, f3 caught, f2 missed; r2 flagged, r1 not
    assert m["fake_caught"] == pytest.approx(2 / 3, abs=1e-4)
    assert m["real_flagged"] == 0.5
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["confusion"] == {"true_fake": 2, "false_fake": 1, "true_real": 1, "false_real": 1,
                              "uncertain_fake": 0, "uncertain_real": 0}
    assert m["uncertain"] == 0.0  # no band: two states


def test_uncertain_verdicts_are_neither_caught_nor_flagged_and_counted_apart() -> None:
    two, three = group_metrics(_videos(), 0.5), group_metrics(_videos(), 0.5, band=0.1)
    # AUC and EER come from the scores, whatever the verdicts
    assert (three["auc"], three["eer"]) == (two["auc"], two["eer"])
    # within 0.10 of 0.5: f2 (0.4) is uncertain, no longer a missed fake; the rest as before
    assert three["fake_caught"] == pytest.approx(2 / 3, abs=1e-4)
    assert three["real_flagged"] == 0.5
    assert three["uncertain"] == pytest.approx(1 / 5)
    assert three["confusion"] == {"true_fake": 2, "false_fake": 1, "true_real": 1,
                                  "false_real": 0, "uncertain_fake": 1, "uncertain_real": 0}
    m = labelled_metrics(_videos(), 0.5, LabelSet(Path("l.csv"), {}, False, False), band=0.1)
    assert m["uncertain_band"] == 0.1
    from rich.console import Console

    console = Console(width=80, record=True)
    console.print(metrics_table(m))
    text = console.export_text()
    assert "uncer-" in text.splitlines()[1] and text.splitlines()[4].rstrip().endswith("20%")
    assert "uncertain: within 0.1 of the threshold, neither caught nor flagged" in text
    assert max(len(line.rstrip()) for line in text.splitlines()) <= 80


def test_one_class_groups_are_measured_against_the_other_class_of_all() -> None:
    videos = _videos()
    m = labelled_metrics(videos, 0.5, LabelSet(Path("l.csv"), {}, True, True),
                         unlabelled=["u.mp4"], not_scanned=["gone.mp4"])
    swap = m["by_kind"]["swap"]  # fakes only: against every scored real
    assert swap["auc_basis"] == BASIS_GROUP_FAKES
    assert (swap["auc_fakes"], swap["auc_reals"]) == (2, 2)
    assert swap["auc"] == pytest.approx(roc_auc_score([1, 1, 0, 0], [0.9, 0.4, 0.3, 0.85]))
    assert swap["real_flagged"] is None and swap["fake_caught"] == 0.5
    original = m["by_kind"]["original"]  # reals only: every scored fake against them
    assert original["auc_basis"] == BASIS_GROUP_REALS
    assert (original["auc_fakes"], original["auc_reals"]) == (3, 2)
    assert original["fake_caught"] is None and original["errors"] == 1
    b = m["by_source"]["b"]  # both classes: within the group
    assert b["auc_basis"] == BASIS_GROUP and (b["auc_fakes"], b["auc_reals"]) == (1, 1)
    assert b["auc"] == 0.0  # f3 0.8 below r2 0.85
    assert m["no_face"] == ["f4.mp4"] and m["errors"] == ["r3.mp4"]
    assert m["unlabelled"] == ["u.mp4"] and m["labelled_not_scanned"] == ["gone.mp4"]
    # no fakes anywhere: a reals-only group has nothing to be measured against
    reals = [v for v in videos if not v.fake]
    only = labelled_metrics(reals, 0.5, LabelSet(Path("l.csv"), {}, True, False))
    assert only["by_kind"]["original"]["auc"] is None
    assert only["overall"]["auc"] is None and only["overall"]["eer"] is None
    assert "by_source" not in only


def test_table_shows_every_figure_and_fits_80_columns() -> None:
    from rich.console import Console

    m = labelled_metrics(_videos(), 0.5, LabelSet(Path("l.csv"), {}, True, True))
    console = Console(width=80, record=True)
    console.print(metrics_table(m))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    for needle in ("all", "by kind", "swap", "by source", "no", "face", "error", "AUC", "EER",
                   f"{m['overall']['auc']:.3f}", "67%", "50%", "* AUC and EER of this group's"):
        assert needle in text, needle


# -- the labels file --------------------------------------------------------------------------


def test_labels_paths_are_relative_to_the_csv_or_absolute(tmp_path: Path) -> None:
    (tmp_path / "set" / "fake").mkdir(parents=True)
    elsewhere = tmp_path / "other.mp4"
    csv_path = tmp_path / "set" / "labels.csv"
    csv_path.write_text("\ufeffPath , Label,kind,source\n"  # BOM and loose header, as Excel
                        "fake/a.mp4,fake,swap,x\n"
                        "\n"
                        f"{elsewhere},0,original,y\n"
                        "fake/a.mp4,1,swap,x\n")  # a repeat with the same label is fine
    labels = read_labels(csv_path)
    assert labels.has_kind and labels.has_source
    a = labels.lookup(tmp_path / "set" / "fake" / "a.mp4")
    assert a is not None and a.fake and a.kind == "swap" and a.source == "x"
    other = labels.lookup(elsewhere)
    assert other is not None and not other.fake and other.line == 4
    assert labels.lookup(tmp_path / "fake" / "a.mp4") is None


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such file"),
        (b"", "is empty"),
        (b"path,label\n", "no labelled video"),
        (b"file,label\na.mp4,1\n", "no 'path' column"),
        (b"path\na.mp4\n", "no 'label' column"),
        (b"path,label\na.mp4,maybe\n", "line 2: label 'maybe' is not 1/0 or fake/real"),
        (b"path,label\n,1\n", "line 2: no path"),
        (b"path,label\na.mp4,1\na.mp4,real\n", "line 3: a.mp4 is labelled fake on line 2"),
        (b"\x89PNG\r\n\x1a\n\x00\xff\xfe", "not a UTF-8 text file"),
    ],
)
def test_unusable_labels_files_are_one_line_errors(tmp_path: Path, content: bytes | None,
                                                   expected: str) -> None:
    path = tmp_path / "labels.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError) as info:
        read_labels(path)
    message = str(info.value)
    assert expected in message and str(path) in message and "\n" not in message


def test_a_folder_is_not_a_labels_file(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="is a folder"):
        read_labels(tmp_path)
