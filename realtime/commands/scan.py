"""`deepfake-monitor scan`: files and folders analysed as fast as the machine allows (locally or
with --cluster), then one report, CSV, table and metrics; --resume skips what an earlier report
holds."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..argtypes import (
    PROG,
)
from ..errors import UserError
from ..outputs.stdout_output import STDOUT
from .engine import load_engine
from .signals import EXIT_OK, EXIT_PARTIAL, EXIT_UNUSABLE, hold_sigterm, stopped_how


def _progress_hook(console: Any) -> tuple[Any, Callable[[str, int | None], Callable[[int], None]]]:
    from ..display_text import escape
    from ..outputs.summary_table import shorten_path
    from ..progress import counting_progress

    progress = counting_progress(console, "frames")

    def hook(label: str, total: int | None) -> Callable[[int], None]:
        task = progress.add_task(escape(shorten_path(label, 40)), total=total)
        return lambda n: progress.advance(task, n)

    return progress, hook


def _check_scan_outputs(args: argparse.Namespace) -> None:
    """Every output of a scan refused in one line before any work, not after it."""
    from ..outputs.atomic import check_output_dir, check_output_file

    paths = [check_output_file(text, f"--{option}").resolve()
             for option, text in (("json", args.json), ("csv", args.csv)) if text and text != "-"]
    if len(paths) == 2 and paths[0] == paths[1]:
        raise UserError(f"--json and --csv name the same file: {args.json}")
    if args.json == args.csv == STDOUT:
        raise UserError("--json - and --csv - would both write to stdout; give one of them a "
                        "file")
    if args.annotate:
        check_output_dir(args.annotate, "--annotate")


def _warn_paths(what: str, paths: Sequence[str], limit: int = 5) -> None:
    if paths:
        from ..display_text import clean

        shown = ", ".join(paths[:limit]) + (f", … ({len(paths) - limit} more)"
                                            if len(paths) > limit else "")
        print(f"{PROG}: warning: {len(paths)} {what}: {clean(shown)}", file=sys.stderr)


def cmd_scan(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..analysis.pipeline import AnalysisConfig
    from ..display_text import clean
    from ..outputs.labelled_metrics import read_labels
    from ..outputs.report import VideoReport
    from ..outputs.report_order import in_input_order
    from ..resume import Resume
    from ..scan import expand_inputs, scan_files, start_source

    _check_scan_outputs(args)
    labels = read_labels(args.labels) if args.labels else None
    err = Console(stderr=True)
    files, problems = expand_inputs(args.inputs)
    for problem in problems:
        print(f"{PROG}: error: {clean(problem.path)}: {clean(problem.reason)}", file=sys.stderr)
    if not files:
        print(f"{PROG}: error: no video to analyse", file=sys.stderr)
        return EXIT_UNUSABLE
    if labels is not None:
        if not any(labels.lookup(f) for f in files):
            raise UserError(f"--labels {args.labels}: none of the {len(files)} video(s) to scan "
                            "is in it (its paths are relative to the CSV's own folder)")
        _warn_paths("labelled video(s) are not among the inputs", labels.not_among(files))
        _warn_paths("video(s) to scan have no label and are left out of the metrics",
                    [str(f) for f in files if labels.lookup(f) is None])
    resume = Resume.load(args.json, files) if args.resume else None
    if args.cluster:
        return _scan_on_cluster(args, files, problems, labels, resume, err)
    to_scan = resume.pending(files) if resume is not None else files
    # Decoding of the first file starts before the models load: start-up runs on one core,
    # and the other one can fill the source's buffer meanwhile.
    first = start_source(to_scan[0], args.sample_fps) if to_scan else None
    try:
        detector, service, threshold = load_engine(args)
    except BaseException:
        if first is not None:
            first.stop()
        raise
    settings = _scan_settings(args, service.classifier.path, threshold)
    if resume is not None:
        try:
            resume.check(service.classifier.contract.summary(), threshold)
            resume.check_settings(settings)
        except UserError:
            service.stop()
            if first is not None:
                first.stop()
            raise
        resume.note(len(files))  # after the checks: a refusal comes first
    config = AnalysisConfig(threshold=threshold, uncertain_band=args.uncertain_band)
    progress, hook = _progress_hook(err)
    # Inputs that name no video are in the report too, as errors: nothing given goes missing.
    reports: list[VideoReport] = [
        VideoReport(path=p.path, threshold=threshold, band=args.uncertain_band).finish(
            error=f"{p.path}: {p.reason}") for p in problems
    ]
    scanned_reports: list[VideoReport] = []

    def on_report(report: VideoReport) -> None:
        reports.append(report)
        scanned_reports.append(report)
        if report.status == "error":
            message = report.error or "unknown error"
            if not message.startswith(report.path):
                message = f"{report.path}: {message}"
            progress.console.print(f"{PROG}: error: {clean(message)}", markup=False,
                                   highlight=False, soft_wrap=True)

    interrupted = False
    try:
        with progress:
            scan_files(files, detector, service, config, sample_fps=args.sample_fps,
                       annotate_dir=Path(args.annotate) if args.annotate else None,
                       progress=hook, on_report=on_report, first_source=first,
                       previous=None if resume is None else resume.previous)
    except KeyboardInterrupt:
        interrupted = True
        print(f"{PROG}: {stopped_how()[0]}; reporting the {len(scanned_reports)} finished "
              "file(s)", file=sys.stderr)
    finally:
        service.stop()
    if resume is not None:
        reports += resume.others
    reports = in_input_order(files, problems, reports)
    return _finish_scan(args, err, labels, problems, reports, scanned_reports,
                        service.classifier.contract.summary(), service.classifier.name,
                        threshold, interrupted, settings)


def _scan_settings(args: argparse.Namespace, model_path: Any, threshold: float) -> dict[str, Any]:
    """What this scan's results depend on, for its report and --resume's check."""
    from ..run_settings import scan_settings

    return scan_settings(sample_fps=args.sample_fps, detector=args.detector,
                         min_face_score=args.min_face_score, model_path=model_path,
                         threshold=threshold, uncertain_band=args.uncertain_band)


def _scan_on_cluster(args: argparse.Namespace, files: Sequence[Path], problems: Sequence[Any],
                     labels: Any, resume: Any, err: Any) -> int:
    """`scan --cluster`: the files analysed by the cluster's workers, the same report."""
    from ..cluster.scan import scan_command
    from ..display_text import clean
    from ..outputs.report import VideoReport
    from ..outputs.report_order import in_input_order

    def on_report(report: VideoReport) -> None:
        if report.status == "error":
            message = report.error or "unknown error"
            if not message.startswith(report.path):
                message = f"{report.path}: {message}"
            err.print(f"{PROG}: error: {clean(message)}", markup=False, highlight=False,
                      soft_wrap=True)

    from ..model.classifier import resolve_model_path

    model_path = resolve_model_path(args.model)

    def check(model: dict[str, Any], threshold: float) -> None:
        """As soon as the first worker has loaded its model, before any file is sent."""
        if resume is not None:
            resume.check(model, threshold)
            resume.check_settings(_scan_settings(args, model_path, threshold))
            resume.note(len(files))

    outcome = scan_command(args, files, err,
                           keep=None if resume is None else resume.previous,
                           check_model=check, on_report=on_report)
    reports = [VideoReport(path=p.path, threshold=outcome.threshold).finish(
        error=f"{p.path}: {p.reason}") for p in problems]
    reports += outcome.reports
    if resume is not None:
        reports += resume.others
    reports = in_input_order(files, problems, reports)
    if outcome.interrupted:
        print(f"{PROG}: {stopped_how()[0]}; reporting the {len(outcome.reports)} finished "
              "file(s)", file=sys.stderr)
    return _finish_scan(args, err, labels, problems, reports, outcome.reports, outcome.model,
                        outcome.model_name, outcome.threshold, outcome.interrupted,
                        _scan_settings(args, model_path, outcome.threshold))


def _finish_scan(args: argparse.Namespace, err: Any, labels: Any, problems: Sequence[Any],
                 reports: list[Any], scanned_reports: list[Any], model: dict[str, Any],
                 model_name: str, threshold: float, interrupted: bool,
                 settings: dict[str, Any] | None = None) -> int:
    """Metrics, report files, summary table and exit code: a local and a cluster scan's;
    `settings` (run_settings.py) go into the JSON report with the folder paths start from."""
    from rich.console import Console

    from ..analysis.verdict import threshold_text
    from ..display_text import escape
    from ..outputs.labelled_metrics import LabelledVideo, labelled_metrics, metrics_table
    from ..outputs.report import report_dict, write_csv, write_json
    from ..outputs.stdout_output import to_stdout
    from ..outputs.summary_table import print_whole, summary_table
    from ..run_settings import report_header

    for r in reports:  # a cluster worker's too: verdicts take this run's band
        r.band = args.uncertain_band
    label_of: dict[str, str | None] | None = None
    metrics = None
    if labels is not None:
        label_of, labelled = {}, []
        for r in reports:
            found = labels.lookup(r.path)
            label_of[r.path] = None if found is None else ("fake" if found.fake else "real")
            if found is not None:
                labelled.append(LabelledVideo(r.path, found.fake, r.score, r.status,
                                              found.kind, found.source))
        metrics = labelled_metrics(
            labelled, threshold, labels,
            unlabelled=[r.path for r in scanned_reports if label_of[r.path] is None],
            not_scanned=labels.not_among([r.path for r in reports]), band=args.uncertain_band)

    hold_sigterm()
    header = report_header(settings) if settings is not None else None
    if args.json == "-":
        json.dump(report_dict(model, reports, label_of, metrics, header), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.json:
        write_json(Path(args.json), model, reports, label_of, metrics, header)
    if args.csv == STDOUT:
        to_stdout(lambda path: write_csv(path, reports))
    elif args.csv:
        write_csv(Path(args.csv), reports)

    console = err if STDOUT in (args.json, args.csv) else Console()
    table = summary_table(reports, f"deepfake-monitor scan — {escape(model_name)} "
                                   f"(threshold {threshold_text(threshold)}, uncertain within "
                                   f"{args.uncertain_band:g})", console.width)
    print_whole(console, table)
    if metrics is not None:
        console.print(metrics_table(metrics))

    if interrupted:
        return stopped_how()[1]
    if problems or any(r.status == "error" for r in reports):
        return EXIT_PARTIAL
    return EXIT_OK
