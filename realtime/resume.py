"""`scan --resume`: complete the report of an earlier, interrupted run instead of starting over.

Videos of the existing `--json` report whose status is `ok` or `no-face` are kept as they were
written and not analysed again; everything else (errors, videos never reached) is analysed, and
the report is written whole, in input order. Paths in a report are the inputs as they were
given, so they are matched as absolute paths from the current folder: resume from the folder
the first run was started in. A report made with another model or threshold is refused, since
its videos and the new ones would not be comparable.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UserError
from .report import ExistingReport, VideoReport, read_json

KEPT_STATUSES = frozenset({"ok", "no-face"})


def _key(path: str | Path) -> str:
    return os.path.abspath(path)


@dataclass
class Resume:
    """What an existing report already holds for this run's inputs."""

    report_path: Path
    existing: ExistingReport | None = None
    kept: dict[str, VideoReport] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)  # finished videos that are not inputs now

    @classmethod
    def load(cls, json_option: str | None, files: Sequence[Path]) -> Resume:
        """From `--json`'s report; one that does not exist yet keeps nothing (a first run)."""
        if not json_option or json_option == "-":
            raise UserError("--resume needs --json PATH: the report of the earlier run, which "
                            "it completes")
        path = Path(json_option)
        resume = cls(path)
        if not path.exists():
            return resume
        resume.existing = read_json(path)
        wanted = {_key(f) for f in files}
        for video in resume.existing.videos:
            if video.status not in KEPT_STATUSES:
                continue
            key = _key(video.path)
            if key in wanted:
                resume.kept[key] = video
            else:
                resume.dropped.append(video.path)
        return resume

    def previous(self, path: Path) -> VideoReport | None:
        return self.kept.get(_key(path))

    def pending(self, files: Sequence[Path]) -> list[Path]:
        """The files still to analyse, in input order."""
        return [f for f in files if _key(f) not in self.kept]

    def check(self, model: dict[str, Any], threshold: float) -> None:
        """Refuse to mix videos scored by another model or threshold into one report."""
        if not self.kept or self.existing is None:
            return
        now = json.loads(json.dumps(model))  # tuples as lists, as the report has them
        if self.existing.model != now:
            raise UserError(f"--resume: {self.report_path} was made with another model "
                            f"({self.existing.model.get('card', {}).get('name', '?')}); "
                            "resume with the same --model, or write a new report")
        thresholds = sorted({v.threshold for v in self.kept.values()})
        if thresholds != [threshold]:
            shown = ", ".join(f"{t:g}" for t in thresholds)
            raise UserError(f"--resume: {self.report_path} used threshold {shown}, this run "
                            f"{threshold:g}; resume with the same --threshold, or write a new "
                            "report")

    def note(self, total: int) -> None:
        """One line on stderr: what is kept and what is left."""
        if self.existing is None:
            print(f"deepfake-monitor: --resume: {self.report_path} does not exist yet; "
                  "analysing every file", file=sys.stderr)
            return
        print(f"deepfake-monitor: --resume: {len(self.kept)} of {total} file(s) already in "
              f"{self.report_path}; analysing the other {total - len(self.kept)}",
              file=sys.stderr)
        if self.dropped:
            print(f"deepfake-monitor: warning: --resume: {len(self.dropped)} finished video(s) "
                  f"of {self.report_path} are not among the inputs and are left out of it",
                  file=sys.stderr)
