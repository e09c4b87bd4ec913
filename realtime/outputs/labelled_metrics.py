"""`scan --labels`: how well a model separates labelled fake and real videos.

Each video's score is the report's (the runtime's video-level rule,
realtime/analysis/verdict.py), so the figures are those of the verdicts a user sees, not of
single frames. Fake is the positive class.
Videos without a score (no face, errors) never vanish from the figures: they are counted and
listed beside the rates, which are over the videos with a score. numpy only: the runtime does
not depend on scikit-learn (the tests compare against it).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..analysis.verdict import threshold_text, verdict
from ..errors import UserError

LABEL_VALUES = {"1": True, "fake": True, "0": False, "real": False}
BLANK_GROUP = "(blank)"

BASIS_ALL = "all videos"
BASIS_GROUP = "this group's fakes and reals"
BASIS_GROUP_FAKES = "this group's fakes against all reals"
BASIS_GROUP_REALS = "all fakes against this group's reals"


@dataclass(frozen=True)
class Label:
    path: Path  # resolved, for matching scanned files
    fake: bool
    kind: str | None
    source: str | None
    line: int
    # as the CSV gives it, joined to the CSV's folder but not resolved: what messages and the
    # report show, as scan's own paths are shown as given (a resolved link surprised users)
    given: str = ""


@dataclass(frozen=True)
class LabelSet:
    file: Path
    labels: dict[Path, Label]
    has_kind: bool
    has_source: bool

    def lookup(self, video: str | Path) -> Label | None:
        return self.labels.get(Path(video).resolve())

    def not_among(self, videos: Sequence[str | Path]) -> list[str]:
        """The labelled videos that are none of `videos`, as the CSV names them."""
        done = {Path(v).resolve() for v in videos}
        return [label.given or str(path) for path, label in self.labels.items()
                if path not in done]


def read_labels(file: str | Path) -> LabelSet:
    """A labels CSV (`path,label[,kind][,source]`, paths relative to the CSV's folder or
    absolute, label 1/0 or fake/real); a UserError in one line for anything it cannot use."""
    file = Path(file)
    name = str(file)
    if not file.is_file():
        raise UserError(f"--labels {name}: " + ("is a folder, not a CSV file" if file.is_dir()
                                                 else "no such file"))
    try:
        text = file.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise UserError(f"--labels {name}: not a UTF-8 text file") from None
    except OSError as exc:
        raise UserError(f"--labels {name}: cannot read: {exc.strerror or exc}") from None
    try:
        rows = list(csv.reader(text.splitlines()))
    except csv.Error as exc:
        raise UserError(f"--labels {name}: not a CSV file: {exc}") from None
    rows = [(n, row) for n, row in enumerate(rows, start=1) if any(c.strip() for c in row)]
    if not rows:
        raise UserError(f"--labels {name}: is empty (need a header line 'path,label')")
    header_line, header = rows[0]
    columns = [c.strip().lower() for c in header]
    missing = [c for c in ("path", "label") if c not in columns]
    if missing:
        raise UserError(f"--labels {name}: line {header_line}: no "
                        f"{' or '.join(repr(c) for c in missing)} column (the header needs "
                        f"'path,label', optionally 'kind' and 'source'; found {header!r})")
    where = {c: columns.index(c) for c in ("path", "label", "kind", "source") if c in columns}
    labels: dict[Path, Label] = {}
    for n, row in rows[1:]:
        def cell(column: str, row: list[str] = row) -> str | None:
            i = where.get(column)
            return None if i is None else (row[i].strip() if i < len(row) else "")

        path_text, label_text = cell("path") or "", (cell("label") or "").lower()
        if not path_text:
            raise UserError(f"--labels {name}: line {n}: no path")
        if label_text not in LABEL_VALUES:
            raise UserError(f"--labels {name}: line {n}: label {label_text!r} is not "
                            "1/0 or fake/real")
        path = Path(path_text)
        resolved = (path if path.is_absolute() else file.parent / path).resolve()
        given = str(path if path.is_absolute() else file.parent / path)
        label = Label(resolved, LABEL_VALUES[label_text], cell("kind"), cell("source"), n,
                      given)
        earlier = labels.get(resolved)
        if earlier is not None and earlier.fake != label.fake:
            raise UserError(f"--labels {name}: line {n}: {path_text} is labelled "
                            f"{'fake' if earlier.fake else 'real'} on line {earlier.line} "
                            f"and {'fake' if label.fake else 'real'} here")
        labels.setdefault(resolved, label)
    if not labels:
        raise UserError(f"--labels {name}: has a header but no labelled video")
    return LabelSet(file, labels, "kind" in where, "source" in where)


# -- ROC --------------------------------------------------------------------------------------


def roc_auc(labels: Sequence[bool] | np.ndarray, scores: Sequence[float] | np.ndarray
            ) -> float | None:
    """Area under the ROC curve: the chance that a random fake scores above a random real, a
    tie counting half (midranks, the Mann-Whitney U); None without both classes."""
    y = np.asarray(labels, bool)
    s = np.asarray(scores, np.float64)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    _, first, counts = np.unique(s[order], return_index=True, return_counts=True)
    ranks = np.empty(len(s), np.float64)
    ranks[order] = np.repeat(first + (counts + 1) / 2, counts)  # 1-based mean rank of a tie
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def roc_curve(labels: Sequence[bool] | np.ndarray, scores: Sequence[float] | np.ndarray
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(false-fake rate, fake-caught rate, threshold) at every distinct score, from the highest
    (`inf` first: nothing called fake); tied scores move both rates in one step."""
    y = np.asarray(labels, bool)
    s = np.asarray(scores, np.float64)
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    ends = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s) - 1]  # last index of each value
    tps = np.cumsum(y_sorted)[ends]
    fps = ends + 1 - tps
    n_pos, n_neg = max(int(y.sum()), 1), max(len(y) - int(y.sum()), 1)
    return (np.r_[0, fps] / n_neg, np.r_[0, tps] / n_pos, np.r_[np.inf, s_sorted[ends]])


def equal_error_rate(labels: Sequence[bool] | np.ndarray, scores: Sequence[float] | np.ndarray
                     ) -> tuple[float | None, float | None]:
    """(EER, threshold there): where the ROC curve, taken as straight between its points,
    crosses false-fake rate = missed-fake rate; the threshold is that of the first ROC point
    at or past the crossing. (None, None) without both classes."""
    y = np.asarray(labels, bool)
    if y.all() or not y.any():
        return None, None
    fpr, tpr, thresholds = roc_curve(y, scores)
    # fpr - fnr rises strictly from -1 to 1 along the curve: every step adds a fake or a real
    gap = fpr - (1 - tpr)
    eer = float(np.interp(0.0, gap, fpr))
    k = int(np.argmax(gap >= 0))
    return eer, float(thresholds[k])


# -- metrics ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelledVideo:
    """One scanned video with its label; `score` None for no-face and error videos."""

    path: str
    fake: bool
    score: float | None
    status: str
    kind: str | None = None
    source: str | None = None


def _rate(num: int, den: int) -> float | None:
    return None if den == 0 else round(num / den, 4)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def group_metrics(videos: Sequence[LabelledVideo], threshold: float,
                  everyone: Sequence[LabelledVideo] | None = None,
                  basis: str = BASIS_GROUP, band: float = 0.0) -> dict[str, Any]:
    """Counts, AUC/EER and the rates at `threshold` for `videos`. A group with only fakes (or
    only reals) takes the other class from `everyone` for its AUC and EER, and says so in
    `auc_basis`. AUC and EER use the scores; the rates count a video as flagged only where its
    verdict is "fake" (an "uncertain" one, within `band` of the threshold, is neither caught
    nor flagged, and its share is given apart as `uncertain`)."""
    scored = [v for v in videos if v.score is not None]
    fakes = [v for v in scored if v.fake]
    reals = [v for v in scored if not v.fake]
    pool = everyone if everyone is not None else videos
    if fakes and not reals and everyone is not None:
        reals_for_auc = [v for v in pool if v.score is not None and not v.fake]
        auc_set, basis = fakes + reals_for_auc, BASIS_GROUP_FAKES
    elif reals and not fakes and everyone is not None:
        fakes_for_auc = [v for v in pool if v.score is not None and v.fake]
        auc_set, basis = fakes_for_auc + reals, BASIS_GROUP_REALS
    else:
        auc_set = scored
    y = np.array([v.fake for v in auc_set], bool)
    s = np.array([v.score for v in auc_set], np.float64)
    auc = roc_auc(y, s)
    eer, eer_threshold = equal_error_rate(y, s)
    said = {id(v): verdict(v.score, threshold, band) for v in scored}
    caught = sum(1 for v in fakes if said[id(v)] == "fake")
    flagged = sum(1 for v in reals if said[id(v)] == "fake")
    unsure_fakes = sum(1 for v in fakes if said[id(v)] == "uncertain")
    unsure_reals = sum(1 for v in reals if said[id(v)] == "uncertain")
    return {
        "videos": len(videos),
        "fakes": sum(1 for v in videos if v.fake),
        "reals": sum(1 for v in videos if not v.fake),
        "scored": len(scored),
        "no_face": sum(1 for v in videos if v.score is None and v.status != "error"),
        "errors": sum(1 for v in videos if v.status == "error"),
        "auc": _round(auc),
        "auc_basis": basis if auc is not None else None,
        "auc_fakes": int(y.sum()) if auc is not None else None,
        "auc_reals": int((~y).sum()) if auc is not None else None,
        "eer": _round(eer),
        "eer_threshold": _round(eer_threshold),
        "accuracy": _rate(caught + len(reals) - flagged - unsure_reals, len(scored)),
        "real_flagged": _rate(flagged, len(reals)),
        "fake_caught": _rate(caught, len(fakes)),
        "uncertain": _rate(unsure_fakes + unsure_reals, len(scored)),
        "confusion": {"true_fake": caught, "false_fake": flagged,
                      "true_real": len(reals) - flagged - unsure_reals,
                      "false_real": len(fakes) - caught - unsure_fakes,
                      "uncertain_fake": unsure_fakes, "uncertain_real": unsure_reals},
    }


def _groups(videos: Iterable[LabelledVideo], attr: str) -> dict[str, list[LabelledVideo]]:
    out: dict[str, list[LabelledVideo]] = {}
    for v in videos:
        out.setdefault(getattr(v, attr) or BLANK_GROUP, []).append(v)
    return dict(sorted(out.items()))


def labelled_metrics(videos: Sequence[LabelledVideo], threshold: float, labels: LabelSet, *,
                     unlabelled: Sequence[str] = (), not_scanned: Sequence[str] = (),
                     band: float = 0.0) -> dict[str, Any]:
    """The report's `metrics`: overall, by kind and by source where the labels have them, and
    the videos the figures could not use."""
    out: dict[str, Any] = {
        "labels": str(labels.file),
        "threshold": threshold,
        "uncertain_band": band,
        "positive": "fake",
        "score": "the report's video score (realtime/analysis/verdict.py)",
        "rates_over": "videos with a score (no-face and error videos are counted apart); "
                      "flagged and caught: verdict fake; uncertain: verdict uncertain",
        "overall": group_metrics(videos, threshold, basis=BASIS_ALL, band=band),
    }
    if labels.has_kind:
        out["by_kind"] = {k: group_metrics(g, threshold, videos, band=band)
                          for k, g in _groups(videos, "kind").items()}
    if labels.has_source:
        out["by_source"] = {k: group_metrics(g, threshold, videos, band=band)
                            for k, g in _groups(videos, "source").items()}
    out["no_face"] = [v.path for v in videos if v.score is None and v.status != "error"]
    out["errors"] = [v.path for v in videos if v.status == "error"]
    out["unlabelled"] = list(unlabelled)
    out["labelled_not_scanned"] = list(not_scanned)
    return out


# -- the table --------------------------------------------------------------------------------

_MARKS = {BASIS_GROUP_FAKES: "*", BASIS_GROUP_REALS: "†"}
_HEADERS = {"uncertain": "uncer-\ntain", "accuracy": "accu-\nracy"}  # 80 columns with all


def metrics_table(metrics: dict[str, Any]) -> Any:
    """The metrics as a rich Table, printed after scan's summary (fits 80 columns)."""
    from rich import box
    from rich.table import Table

    from ..display_text import escape, plain

    groups = [metrics["overall"], *metrics.get("by_kind", {}).values(),
              *metrics.get("by_source", {}).values()]
    table = Table(title=f"labelled videos — {escape(Path(metrics['labels']).name)} "
                        f"(threshold {threshold_text(metrics['threshold'])}, fake is positive)",
                  box=box.SIMPLE_HEAD, show_edge=False, collapse_padding=True)
    table.add_column("group", overflow="fold", min_width=8)
    columns = ["fake", "real"]
    # unscored videos get their columns wherever there are any, so none goes unseen
    columns += [c for c, key in (("no face", "no_face"), ("error", "errors"))
                if any(g[key] for g in groups)]
    columns += ["AUC", "EER", "accuracy", "reals flagged", "fakes caught"]
    columns += ["uncertain"] if any(g.get("uncertain") for g in groups) else []
    for col in columns:  # two-word headers on two lines, and only the group names wrap:
        table.add_column(_HEADERS.get(col, col.replace(" ", "\n")), justify="right",
                         no_wrap=True)  # 80 columns

    def num(value: float | None, mark: str = "") -> str:
        return "-" if value is None else f"{value:.3f}{mark}"

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.0f}%"

    def row(name: str, m: dict[str, Any]) -> None:
        mark = _MARKS.get(m["auc_basis"] or "", "")
        cells = {"fake": str(m["fakes"]), "real": str(m["reals"]), "no face": str(m["no_face"]),
                 "error": str(m["errors"]), "AUC": num(m["auc"], mark),
                 "EER": num(m["eer"], mark), "accuracy": pct(m["accuracy"]),
                 "reals flagged": pct(m["real_flagged"]), "fakes caught": pct(m["fake_caught"]),
                 "uncertain": pct(m.get("uncertain"))}
        table.add_row(plain(name), *(cells[c] for c in columns))

    row("all", metrics["overall"])
    used: set[str] = set()
    for key, title in (("by_kind", "kind"), ("by_source", "source")):
        if key not in metrics:
            continue
        table.add_section()
        table.add_row(f"[bold]by {title}[/]")
        for name, m in metrics[key].items():
            row(f" {name}", m)
            used.add(m["auc_basis"] or "")
    notes = [f"{mark} AUC and EER of {basis}" for basis, mark in _MARKS.items() if basis in used]
    notes.append("rates over the videos with a score")
    if "uncertain" in columns:
        notes.append(f"uncertain: within {metrics.get('uncertain_band', 0):g} of the threshold, "
                     "neither caught nor flagged")
    table.caption = "\n".join(notes)
    return table
