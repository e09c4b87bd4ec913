"""`scan --resume`: complete the report of an earlier, interrupted run instead of starting over.

Videos of the existing `--json` report whose status is `ok` or `no-face` are kept as they were
written and not analysed again; everything else (errors, videos never reached) is analysed, and
the report is written whole, in input order. Inputs and report entries are matched by resolved
path (symlinks followed): a relative path in a report starts from the folder that run started in
(its `cwd`; for older reports without one, the current folder or the report's), so a resume
from another folder, or naming the same files as `./x`, `../x` or `/abs/x`, finds them. A kept
video is written under the path this run gave; finished videos of the report that are not
inputs of this run are never dropped: they stay, after the inputs, as they were. A report made
with other analysis settings (run_settings.py), another model or threshold is refused, naming
what differs, since its videos and the new ones would not be comparable.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import UserError
from .outputs.report import ExistingReport, VideoReport, read_json
from .run_settings import differences

KEPT_STATUSES = frozenset({"ok", "no-face"})


def _key(path: str | Path) -> str:
    return os.path.realpath(path)


@dataclass
class Resume:
    """What an existing report already holds for this run's inputs."""

    report_path: Path
    existing: ExistingReport | None = None
    kept: dict[str, VideoReport] = field(default_factory=dict)  # by resolved input path
    # finished videos of the report that are not inputs now: written after the inputs, as
    # they were (their relative paths made absolute where this run starts elsewhere)
    others: list[VideoReport] = field(default_factory=list)

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
        resume._match(files)
        return resume

    def _match(self, files: Sequence[Path]) -> None:
        assert self.existing is not None
        bases = _bases(self.existing.cwd, self.report_path)
        wanted = {_key(f) for f in files}
        for video in self.existing.videos:
            if video.status not in KEPT_STATUSES:
                continue
            found = next((k for base in bases
                          if (k := _key(os.path.join(base, video.path))) in wanted), None)
            if found is not None and found not in self.kept:
                self.kept[found] = video
            else:
                self.others.append(_from(video, bases[0]))

    @property
    def finished(self) -> list[VideoReport]:
        return [*self.kept.values(), *self.others]

    def previous(self, path: Path) -> VideoReport | None:
        """The kept report of input `path`, under the path as this run gives it."""
        video = self.kept.get(_key(path))
        return None if video is None else _renamed(video, str(path))

    def pending(self, files: Sequence[Path]) -> list[Path]:
        """The files still to analyse, in input order."""
        return [f for f in files if _key(f) not in self.kept]

    def check(self, model: dict[str, Any], threshold: float) -> None:
        """Refuse to mix videos scored by another model or threshold into one report."""
        if not self.finished or self.existing is None:
            return
        now = json.loads(json.dumps(model))  # tuples as lists, as the report has them
        if self.existing.model != now:
            raise UserError(f"--resume: {self.report_path} was made with another model "
                            f"({self.existing.model.get('card', {}).get('name', '?')}); "
                            "resume with the same --model, or write a new report")
        thresholds = sorted({v.threshold for v in self.finished})
        if thresholds != [threshold]:
            shown = ", ".join(f"{t:g}" for t in thresholds)
            raise UserError(f"--resume: {self.report_path} used threshold {shown}, this run "
                            f"{threshold:g}; resume with the same --threshold, or write a new "
                            "report")

    def check_settings(self, settings: dict[str, Any]) -> None:
        """Refuse a report whose videos were analysed with other settings (sampling, detector,
        face score, video rule, model file, threshold), naming each; a report from before
        settings were recorded is said to be checked for model and threshold only."""
        if not self.finished or self.existing is None:
            return
        recorded = self.existing.settings
        if recorded is None:
            print(f"deepfake-monitor: warning: --resume: {self.report_path} does not record "
                  "its analysis settings (an older report); only its model and threshold "
                  "are checked", file=sys.stderr)
            return
        if not isinstance(recorded, dict):
            raise UserError(f"--resume: {self.report_path}: 'settings' is not a JSON object; "
                            "write a new report")
        changed = differences(recorded, settings)
        if changed:
            raise UserError(f"--resume: {self.report_path} was analysed with other settings "
                            f"than this run: {'; '.join(changed)}. Resume with the same "
                            "options, or write a new report")

    def note(self, total: int) -> None:
        """One line on stderr: what is kept and what is left (after the checks)."""
        if self.existing is None:
            print(f"deepfake-monitor: --resume: {self.report_path} does not exist yet; "
                  "analysing every file", file=sys.stderr)
            return
        print(f"deepfake-monitor: --resume: {len(self.kept)} of {total} file(s) already in "
              f"{self.report_path}; analysing the other {total - len(self.kept)}",
              file=sys.stderr)
        if self.others:
            print(f"deepfake-monitor: --resume: {len(self.others)} finished video(s) of "
                  f"{self.report_path} are not among the inputs; they stay in it as they "
                  "were, after the inputs", file=sys.stderr)


def _bases(cwd: Any, report: Path) -> list[str]:
    """Where the report's relative paths may start: the folder its run started in, where it
    says so; else (an older report) the current folder, then the report's own."""
    if isinstance(cwd, str) and os.path.isabs(cwd):
        return [cwd]
    return [os.getcwd(), str(report.resolve().parent)]


def _from(video: VideoReport, base: str) -> VideoReport:
    """A finished video kept beside this run's inputs: its relative path made absolute where
    it starts from another folder than this run."""
    if os.path.isabs(video.path) or os.path.realpath(base) == os.path.realpath(os.getcwd()):
        return video
    return _renamed(video, os.path.normpath(os.path.join(base, video.path)))


def _renamed(video: VideoReport, path: str) -> VideoReport:
    if video.path == path:
        return video
    written = None if video.written is None else {**video.written, "path": path}
    return dataclasses.replace(video, path=path, written=written)
