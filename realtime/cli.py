"""The `deepfake-monitor` command line.

Exit codes: 0 success; 1 some inputs could not be analysed (the others were, and the report says
which failed and why); 2 the run could not start (bad model, no usable input, bad option);
130 interrupted (Ctrl+C); 143 terminated (SIGTERM: `timeout`, `docker stop`, systemd, batch
schedulers), which a scan treats like Ctrl+C: the files finished are reported.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .argtypes import (
    PROG,
    Parser,
    add_verbose,
    band,
    count,
    fraction,
    positive,
    positive_int,
    probability,
    ranged,
    sample_fps,
    state_ranges,
)
from .cluster.connection import CONNECT_TIMEOUT_S
from .errors import UserError
from .log_setup import setup_logging
from .outputs.stdout_output import STDOUT
from .sources.frame_limit import DEFAULT_MAX_PIXELS, set_max_pixels

EXIT_OK, EXIT_PARTIAL, EXIT_UNUSABLE, EXIT_INTERRUPTED = 0, 1, 2, 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # 143, as a shell reports a process SIGTERM ended


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread where Ctrl+C raises KeyboardInterrupt, so that a scan
    stops the same way (the files finished are reported) and then exits 143."""


_terminated = threading.Event()  # a SIGTERM arrived (the cluster's run swallows the exception)
_sigterm_scope = threading.Event()  # _sigterm_as_interrupt's handler is in place


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """While the block runs, the first SIGTERM raises Terminated; later ones are ignored, so the
    report of what finished is written whole."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _terminated.set()
        raise Terminated

    _terminated.clear()
    previous = signal.signal(signal.SIGTERM, handler)
    _sigterm_scope.set()
    try:
        yield
    finally:
        _sigterm_scope.clear()
        signal.signal(signal.SIGTERM, previous)


def _hold_sigterm() -> None:
    """The report is being written: a SIGTERM from now on must not cut it short (ignored, until
    _sigterm_as_interrupt puts the previous handler back)."""
    if _sigterm_scope.is_set() and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _stopped_how() -> tuple[str, int]:
    """What stopped a scan early, for its message and its exit code."""
    return ("terminated (SIGTERM)", EXIT_TERMINATED) if _terminated.is_set() else \
        ("interrupted", EXIT_INTERRUPTED)



# the schemes of sources.STREAM_SCHEMES (not imported here: starting the CLI stays cheap)
STREAM_URLS = "rtsp://, rtsps://, http(s)://, rtmp://, rtmps://, srt://, udp://, tcp://"


def _add_band(p: argparse.ArgumentParser) -> None:
    from .analysis.verdict import UNCERTAIN_BAND

    p.add_argument("--uncertain-band", type=band, default=UNCERTAIN_BAND, metavar="P",
                   help="a face or video whose P(fake) is within this of the threshold (either "
                        "side) is 'uncertain', neither real nor fake; 0: two states "
                        "(default: %(default)s)")


def _add_common(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model and execution")
    g.add_argument("--model", metavar="PATH.onnx",
                   help="classifier with deepfake-monitor metadata (default: the bundled model)")
    g.add_argument("--threshold", type=probability, metavar="P",
                   help="P(fake) at or above which a face or video counts as fake "
                        "(default: the model's own threshold)")
    g.add_argument("--providers", metavar="LIST",
                   help="execution providers in order of preference, e.g. 'cuda,cpu' or "
                        "'tensorrt,cuda,cpu' (default: auto, TensorRT → CUDA → CPU as available)")
    g.add_argument("--detector", default="full", metavar="short|full|PATH",
                   help="BlazeFace model: 'full' (full-range, faces up to ~5 m), 'short' "
                        "(short-range, faster, close faces) or an ONNX path (default: %(default)s)")
    # [0, 1), as extract's and synthesize's: 0 keeps every detection
    g.add_argument("--min-face-score", type=fraction, default=0.5, metavar="P",
                   help="face detector confidence needed to analyse a face (default: %(default)s)")
    g.add_argument("--max-pixels", type=positive_int, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help="refuse a video whose frames have more pixels than this, before "
                        "decoding it (default: %(default)s, 8192x4320)")
    add_verbose(p)


def build_parser(*, plugins: bool = True) -> argparse.ArgumentParser:
    """The whole command line; `plugins=False` leaves out the other subpackages' commands."""
    from .scan import DEFAULT_SCAN_FPS

    parser = Parser(
        prog=PROG,
        description="Real-time deepfake video analyzer: a fake-probability meter for every "
                    "face, and a verdict per video.",
        epilog="Run '%(prog)s COMMAND --help' for the options of each command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    scan = sub.add_parser(
        "scan", help="analyse video files and folders, write a report",
        description="Analyse video files (folders are searched recursively) as fast as the "
                    "machine allows. Every sampled frame is analysed; nothing is dropped. "
                    "Prints a summary table; --json/--csv/--annotate write the details.",
    )
    scan.add_argument("inputs", nargs="+", metavar="INPUT", help="video file or folder")
    scan.add_argument("--json", metavar="PATH", help="write the JSON report here ('-': stdout)")
    scan.add_argument("--csv", metavar="PATH",
                      help="write the per-face timeline as CSV here ('-': stdout)")
    scan.add_argument("--annotate", metavar="DIR",
                      help="write an MP4 per input with the overlays burnt in "
                           "(at the analysed frame rate); with --cluster the workers write "
                           "them, so DIR must be an absolute path on storage every node sees")
    scan.add_argument("--sample-fps", type=sample_fps, default=DEFAULT_SCAN_FPS, metavar="FPS",
                      help="frames analysed per second of video, or 'all' for every frame "
                           "(default: %(default)s)")
    scan.add_argument("--labels", metavar="PATH.csv",
                      help="CSV of known answers, columns 'path,label' (path relative to the "
                           "CSV's folder or absolute; label 1/0 or fake/real), optionally "
                           "'kind' and 'source': prints and reports the model's AUC, EER and "
                           "rates at the threshold on these videos, overall and per group")
    scan.add_argument("--resume", action="store_true",
                      help="complete the --json report of an earlier, interrupted run: videos "
                           "already in it with status ok or no-face are kept, not analysed "
                           "again; a report made with other settings is refused")
    _add_cluster(scan, "workers")
    _add_common(scan)
    _add_band(scan)

    watch = sub.add_parser(
        "watch", help="monitor live sources (webcam, RTSP/HTTP, screen, files played live)",
        description="Monitor live sources headless: a status line on stderr, alerts as they "
                    "happen, and all events as JSON lines with --events. Live sources always "
                    "analyse the newest frame (older ones are dropped); network sources and "
                    "webcams reconnect with backoff, and a network source that is down at the "
                    "start is tried again until it comes up. Stops on Ctrl+C, SIGTERM, "
                    "--duration, or when every source has ended.",
        epilog=f"SOURCE: a webcam index (0), a stream URL ({STREAM_URLS}), "
               "'screen' (monitor 1), 'screen:N' "
               "(monitor N), 'screen:X,Y,W,H' (a region, e.g. the other side of a video "
               "call), or a video file with --live. Exit codes: 0 watched until stopped or "
               "every source ended; 1 some source failed (could not be opened, or ran out of "
               "retries), the others were watched; 2 nothing could be watched (no usable "
               "source, every source failed before its first frame, bad model or option).",
    )
    watch.add_argument("sources", nargs="+", metavar="SOURCE",
                       help="a source, or a .txt file naming one source per line")
    watch.add_argument("--events", metavar="PATH", help="append events as JSON lines here")
    watch.add_argument("--live", action="store_true",
                       help="accept video files as sources, played at their own frame rate; "
                            "also plays a video file served over http(s) at its own frame "
                            "rate (without it, every frame of such a video is analysed, at "
                            "the analysis' pace)")
    watch.add_argument("--duration", type=positive, metavar="SECONDS",
                       help="stop after this many seconds")
    watch.add_argument("--sample-fps", type=sample_fps, default=None, metavar="FPS",
                       help="frames offered for analysis per second (default: every frame, "
                            "as far as the model keeps up)")
    watch.add_argument("--alert-after", type=positive, default=1.0, metavar="SECONDS",
                       help="how long a face must stay above the threshold before it alerts "
                            "(default: %(default)s)")
    watch.add_argument("--max-retries", type=count, default=None, metavar="N",
                       help="retry a network source or webcam at most N times in a row, at "
                            "the start (after its first attempt) or after a disconnect, then "
                            "give it up (default: retry forever; 0: fail at once)")
    watch.add_argument("--give-up-after", type=positive, default=None, metavar="SECONDS",
                       help="give a source up once it has been unreachable this long "
                            "(default: never)")
    _add_cluster(watch, "sources")
    _add_common(watch)
    _add_band(watch)

    app = sub.add_parser(
        "app", help="the desktop app: live tiles with meters, threshold slider and alerts "
                    "(the default without a command)",
        description="Open the monitoring window. Sources given here open at once (video "
                    "files play at their own speed, with pause and seek); more can be added "
                    "in the window: screen regions, monitors, RTSP/HTTP streams, webcams.",
        epilog=f"SOURCE: a webcam index (0), a stream URL ({STREAM_URLS}), 'screen' "
               "(monitor 1), 'screen:N' (monitor N), 'screen:X,Y,W,H' (a region), or a video "
               "file.",
    )
    app.add_argument("sources", nargs="*", metavar="SOURCE")
    app.add_argument("--settings", metavar="PATH.ini",
                     help="keep the app's settings in this file instead of the user's own")
    _add_common(app)
    _add_band(app)
    _add_bench(sub)
    if plugins:
        _add_plugin_commands(sub)
    state_ranges(parser)
    return parser


def _add_cluster(p: argparse.ArgumentParser, what: str) -> None:
    g = p.add_argument_group(
        "Ray cluster (pip install 'deepfake-monitor[cluster]')",
        ("Inputs, --model and --annotate" if what == "workers" else
         "Files played live and --model") + " must be on storage every node sees, under the "
        "same path; every node needs the same deepfake-monitor install.")
    g.add_argument("--cluster", metavar="ADDRESS",
                   help="run on a Ray cluster: 'auto' (the cluster this machine belongs to), "
                        "HOST:PORT of its head, or ray://HOST:PORT (Ray Client)"
                        + (", one worker per source" if what == "sources" else "")
                        + f"; an address where nothing answers within {CONNECT_TIMEOUT_S:g} s "
                          "is refused")
    if what == "workers":
        g.add_argument("--workers", type=positive_int, metavar="N",
                       help="cluster workers, each with its own models (default: one per node, "
                            "or one per --gpus-per-worker share of each node's GPUs)")
    g.add_argument("--gpus-per-worker", type=ranged(float, 0.0), default=0.0, metavar="G",
                   help="GPUs each cluster worker reserves and runs its models on; fractions "
                        "share a GPU (default: %(default)s, CPU only)")


BENCH_HELP = """\
Measures, on this machine, in one run:
  1 classifier  faces/s of the ONNX classifier alone at batch 1, 8 and 32: the ceiling.
  2 detector    frames/s of the face detector alone on 480p, 720p and 1080p frames
                (batch 1 and 4).
  3 decode      frames/s decoding VIDEO: read() of every frame, and grab() only.
  4 scan        the real 'scan' command as a subprocess on VIDEO, start-up included:
                frames/s, faces/s, and the whole-process efficiency = (decode every
                frame + detector on every analysed frame + classifier on every face,
                each timed alone at its best batch) / scan's wall time; and a strict
                one that counts only the frames scan really decodes.
  5 naive       the original notebooks' loop (one thread; read a frame, detect at
                batch 1, classify each face at batch 1) as a subprocess on the same
                frames; speedup = naive wall / scan wall, both with start-up (also
                with the detector session set up as scan's, for overlap alone).
  6 live        VIDEO replayed live at its own frame rate through the real analyzer:
                capture-to-result latency p50/p95 against 2 x (one batch-1 inference
                + one frame interval), analysed and displayed fps, backlog growth
                (mean latency of the first vs the last 10 s).
  7 streams     --streams such live sources at once sharing one detector and one
                classifier session: faces/s, fps and latency per stream.
  8 cluster     only with --only cluster (it starts a local Ray cluster on 127.0.0.1,
                needs the cluster extra): files/s of 'scan --cluster' with 1 and 2
                worker processes against a local scan of the same files (models
                loaded in both), start-up apart, and the driver's CPU per file.
Without VIDEO a 1280x720, 30 fps, H.264 clip of the bundled sample is made in a
temporary folder. Use an idle machine: other load shows up in every figure."""


def _add_bench(sub: Any) -> None:
    from .bench.results import PARTS

    bench = sub.add_parser(
        "bench", help="measure this machine's speed: models, decode, scan, live, streams",
        description=BENCH_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument("video", nargs="?", metavar="VIDEO",
                       help="clip to measure on (default: a 720p30 clip made from the sample)")
    bench.add_argument("--json", metavar="PATH",
                       help="write every figure as JSON here ('-': stdout, table on stderr)")
    bench.add_argument("--only", metavar="PARTS",
                       help=f"comma-separated parts to run (default: all of {','.join(PARTS)}; "
                            "'cluster' only when named)")
    bench.add_argument("--sample-fps", type=sample_fps, default=5.0, metavar="FPS",
                       help="frames analysed per second of video by scan and the naive loop "
                            "(default: %(default)s, as scan)")
    bench.add_argument("--quick", action="store_true",
                       help="seconds instead of minutes: short clip, live and stream runs "
                            "(figures are rougher; for checking that the bench runs)")
    bench.add_argument("--measure-seconds", type=positive, metavar="S",
                       help="time per classifier/detector figure (default: 2, quick: 0.2)")
    bench.add_argument("--clip-seconds", type=positive, metavar="S",
                       help="length of the generated clip (default: 30, quick: 3)")
    bench.add_argument("--live-seconds", type=positive, metavar="S",
                       help="length of the live replay (default: 60, quick: 3)")
    bench.add_argument("--repeat", type=positive_int, metavar="N",
                       help="runs of the scan and naive processes, interleaved; the median "
                            "run counts (default: 3, quick: 1)")
    bench.add_argument("--streams", type=positive_int, default=4, metavar="N",
                       help="simultaneous live sources in part 7 (default: %(default)s)")
    bench.add_argument("--stream-seconds", type=positive, metavar="S",
                       help="length of the multi-stream run (default: 30, quick: 3)")
    _add_common(bench)


PLUGIN_GROUP = "deepfake_monitor.commands"


def _add_plugin_commands(sub: Any) -> None:
    """Commands of the other subpackages (extract, train, evaluate, export, ...).

    They are found through entry points rather than imported, because dependencies point one
    way, train → export → realtime: the runtime must not import them. Each entry point is a
    `register(subparsers)` that adds its parser and sets `handler` (args -> exit code) on it.
    """
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group=PLUGIN_GROUP), key=lambda e: e.name):
        try:
            register = ep.load()
        except Exception as exc:  # a broken plugin must not take the runtime's commands down
            logging.getLogger(__name__).warning("command %r unavailable: %s", ep.name, exc)
            continue
        register(sub)


def _load_engine(args: argparse.Namespace) -> tuple[Any, Any, float]:
    from .faces.detector import PIPELINE_INTRA_OP_THREADS, FaceDetector
    from .model.backend import parse_providers
    from .model.classifier import DeepfakeClassifier, InferenceService

    providers = parse_providers(args.providers)
    classifier = DeepfakeClassifier(args.model, providers=providers)
    detector = FaceDetector(args.detector, providers=providers, min_score=args.min_face_score,
                            intra_op_threads=PIPELINE_INTRA_OP_THREADS)
    threshold = args.threshold if args.threshold is not None else classifier.contract.threshold
    return detector, InferenceService(classifier).start(), threshold


def _progress_hook(console: Any) -> tuple[Any, Callable[[str, int | None], Callable[[int], None]]]:
    from .display_text import escape
    from .outputs.summary_table import shorten_path
    from .progress import counting_progress

    progress = counting_progress(console, "frames")

    def hook(label: str, total: int | None) -> Callable[[int], None]:
        task = progress.add_task(escape(shorten_path(label, 40)), total=total)
        return lambda n: progress.advance(task, n)

    return progress, hook


def _check_scan_outputs(args: argparse.Namespace) -> None:
    """Every output of a scan refused in one line before any work, not after it."""
    from .outputs.atomic import check_output_dir, check_output_file

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
        from .display_text import clean

        shown = ", ".join(paths[:limit]) + (f", … ({len(paths) - limit} more)"
                                            if len(paths) > limit else "")
        print(f"{PROG}: warning: {len(paths)} {what}: {clean(shown)}", file=sys.stderr)


def cmd_scan(args: argparse.Namespace) -> int:
    from rich.console import Console

    from .analysis.pipeline import AnalysisConfig
    from .display_text import clean
    from .outputs.labelled_metrics import read_labels
    from .outputs.report import VideoReport
    from .outputs.report_order import in_input_order
    from .resume import Resume
    from .scan import expand_inputs, scan_files, start_source

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
        detector, service, threshold = _load_engine(args)
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
        print(f"{PROG}: {_stopped_how()[0]}; reporting the {len(scanned_reports)} finished "
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
    from .run_settings import scan_settings

    return scan_settings(sample_fps=args.sample_fps, detector=args.detector,
                         min_face_score=args.min_face_score, model_path=model_path,
                         threshold=threshold, uncertain_band=args.uncertain_band)


def _scan_on_cluster(args: argparse.Namespace, files: Sequence[Path], problems: Sequence[Any],
                     labels: Any, resume: Any, err: Any) -> int:
    """`scan --cluster`: the files analysed by the cluster's workers, the same report."""
    from .cluster.scan import scan_command
    from .display_text import clean
    from .outputs.report import VideoReport
    from .outputs.report_order import in_input_order

    def on_report(report: VideoReport) -> None:
        if report.status == "error":
            message = report.error or "unknown error"
            if not message.startswith(report.path):
                message = f"{report.path}: {message}"
            err.print(f"{PROG}: error: {clean(message)}", markup=False, highlight=False,
                      soft_wrap=True)

    from .model.classifier import resolve_model_path

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
        print(f"{PROG}: {_stopped_how()[0]}; reporting the {len(outcome.reports)} finished "
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

    from .analysis.verdict import threshold_text
    from .display_text import escape
    from .outputs.labelled_metrics import LabelledVideo, labelled_metrics, metrics_table
    from .outputs.report import report_dict, write_csv, write_json
    from .outputs.stdout_output import to_stdout
    from .outputs.summary_table import print_whole, summary_table
    from .run_settings import report_header

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

    _hold_sigterm()
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
        return _stopped_how()[1]
    if problems or any(r.status == "error" for r in reports):
        return EXIT_PARTIAL
    return EXIT_OK


def cmd_watch(args: argparse.Namespace) -> int:
    from .analysis.pipeline import AnalysisConfig
    from .analysis.tracking import SmoothingConfig
    from .display_text import clean
    from .outputs.atomic import check_output_file
    from .outputs.events import EventLog
    from .sources.spec import SourceKind, parse_source
    from .watch import WatchSession

    if args.events:
        check_output_file(args.events, "--events", append=True)
    specs = []
    failures = 0
    for text in _source_list(args.sources):
        try:
            spec = parse_source(text, live_files=True)
        except UserError as exc:
            print(f"{PROG}: error: {clean(exc)}", file=sys.stderr)
            failures += 1
            continue
        if spec.kind is SourceKind.FILE and not args.live:
            print(f"{PROG}: error: {clean(spec.name)}: is a video file; add --live to play it as a "
                  "live source, or analyse it with 'scan'", file=sys.stderr)
            failures += 1
            continue
        if args.cluster and spec.kind in (SourceKind.WEBCAM, SourceKind.SCREEN):
            print(f"{PROG}: error: {clean(spec.name)}: a webcam or screen belongs to one machine; "
                  "watch it without --cluster", file=sys.stderr)
            failures += 1
            continue
        specs.append(spec)
    if not specs:
        return EXIT_UNUSABLE
    if args.cluster:
        return _watch_on_cluster(args, specs, failures)
    detector, service, threshold = _load_engine(args)
    config = AnalysisConfig(threshold=threshold, pending_frames=2,
                            smoothing=SmoothingConfig(alert_after_s=args.alert_after),
                            uncertain_band=args.uncertain_band)
    events = EventLog(Path(args.events) if args.events else None)
    session = WatchSession(specs, detector, service, config, events, sample_fps=args.sample_fps,
                           max_retries=args.max_retries, give_up_after_s=args.give_up_after,
                           play_finite_live=args.live,
                           status_every_s=1.0 if sys.stderr.isatty() else 5.0)
    stop_signals = _install_stop_signals(session.stop)
    try:
        session.open()
        if not session.analyzers:
            return EXIT_UNUSABLE
        session.run(duration_s=args.duration)
    finally:
        _restore_signals(stop_signals)
        service.stop()
        events.close()
    failures += len(session.failed)
    failed = [a for a in session.analyzers if a.error]
    failures += len(failed)
    for a in failed:
        print(f"{PROG}: error: {clean(a.name)}: {clean(a.error)}", file=sys.stderr)
    if len(failed) == len(session.analyzers) and \
            not any(a.source.frames_read for a in session.analyzers):
        return EXIT_UNUSABLE  # every source failed before its first frame
    return EXIT_PARTIAL if failures else EXIT_OK


def _source_list(texts: Sequence[str]) -> list[str]:
    """The sources given, a .txt file among them standing for the sources it names, one per
    line (blank lines and '#' comments skipped)."""
    sources = []
    for text in texts:
        path = Path(text)
        if path.suffix.lower() != ".txt" or not path.is_file():
            sources.append(text)
            continue
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise UserError(f"{text}: cannot read the list of sources ({exc})") from None
        named = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
        if not named:
            raise UserError(f"{text}: names no source (one per line)")
        sources += named
    return sources


def _watch_on_cluster(args: argparse.Namespace, specs: list[Any], failures: int) -> int:
    """`watch --cluster`: one cluster worker per source, events and status on this driver."""
    import dataclasses

    from .cluster.connection import connect, disconnect
    from .cluster.watch import ClusterWatch, WatchSettings
    from .cluster.workers import EngineSpec
    from .display_text import clean
    from .outputs.events import EventLog
    from .sources.spec import SourceKind

    # Workers open files by absolute path; names (what events say) stay as given.
    specs = [dataclasses.replace(s, target=os.path.abspath(str(s.target)))
             if s.kind is SourceKind.FILE else s for s in specs]
    engine = EngineSpec.from_args(args)
    settings = WatchSettings(args.sample_fps, args.alert_after, args.max_retries,
                             args.give_up_after, play_finite_live=args.live)
    ray = connect(args.cluster, args.verbose)
    events = EventLog(Path(args.events) if args.events else None)
    session = ClusterWatch(ray, specs, engine, settings, events,
                           gpus_per_worker=args.gpus_per_worker,
                           status_every_s=1.0 if sys.stderr.isatty() else 5.0)
    stop_signals = _install_stop_signals(session.stop)
    try:
        session.run(duration_s=args.duration)
    finally:
        _restore_signals(stop_signals)
        events.close()
        disconnect(ray)
    failures += len(session.failed)
    for name, error in session.errors:
        print(f"{PROG}: error: {clean(name)}: {clean(error)}", file=sys.stderr)
    failures += len(session.errors)
    if len(session.failed) + len(session.errors) == len(specs) and not session.any_frames:
        return EXIT_UNUSABLE  # every source failed before its first frame
    return EXIT_PARTIAL if failures else EXIT_OK


def cmd_bench(args: argparse.Namespace) -> int:
    from rich.console import Console

    from .bench.render import render
    from .bench.results import PARTS, BenchConfig
    from .bench.run import run_bench
    from .model.backend import parse_providers
    from .outputs.atomic import atomic_write, check_output_file

    if args.json and args.json != "-":
        check_output_file(args.json, "--json")

    def pick(value: float | None, normal: float, quick: float) -> float:
        return value if value is not None else (quick if args.quick else normal)

    parts = tuple(p.strip() for p in args.only.split(",") if p.strip()) if args.only else PARTS
    if "cluster" in parts:  # the install hint before the clip is made, not an ImportError after
        from .cluster.connection import require_ray

        require_ray("bench --only cluster")
    video = Path(args.video) if args.video else None
    if video is not None and not video.is_file():
        raise UserError(f"{video}: no such video file")
    config = BenchConfig(
        video=video, model=args.model, detector=args.detector,
        providers=parse_providers(args.providers), min_face_score=args.min_face_score,
        threshold=args.threshold, sample_fps=args.sample_fps, parts=parts,
        measure_s=pick(args.measure_seconds, 2.0, 0.2),
        clip_s=pick(args.clip_seconds, 30.0, 3.0),
        live_s=pick(args.live_seconds, 60.0, 3.0), streams=args.streams,
        streams_s=pick(args.stream_seconds, 30.0, 3.0),
        repeats=int(pick(args.repeat, 3, 1)), quick=args.quick,
    )
    err = Console(stderr=True)
    result = run_bench(config, on_part=lambda name: err.print(f"[dim]{PROG} bench: {name}…[/]"))
    if args.json == "-":
        json.dump(result.to_dict(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif args.json:
        atomic_write(Path(args.json),
                     lambda fh: fh.write(json.dumps(result.to_dict(), indent=2) + "\n"))
    render(result, err if args.json == "-" else Console())
    return EXIT_OK


def cmd_app(args: argparse.Namespace) -> int:
    from .app.main import run_app  # lazily: scan and watch never import Qt

    return run_app(args)


def _install_stop_signals(stop: Callable[[], None]) -> dict[int, Any]:
    """Ctrl+C and SIGTERM end a watch cleanly (sources released, events flushed)."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, lambda *_: stop())
    return previous


def _restore_signals(previous: dict[int, Any]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "scan": cmd_scan, "watch": cmd_watch, "app": cmd_app, "bench": cmd_bench,
}


def main(argv: Sequence[str] | None = None) -> int:
    if argv is None:  # the program itself: the process ends when this returns
        try:
            return _main(sys.argv[1:])
        except BrokenPipeError:
            # `deepfake-monitor inspect m.onnx | head`: the reader has gone, which is not an
            # error; point stdout at /dev/null so the interpreter's own flush stays quiet.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_OK
        finally:
            # The interpreter's last collections would walk every object numpy, OpenCV and
            # onnxruntime made (~30 ms, a few % of a short scan); nothing needs them any more.
            gc.freeze()
    return _main(argv)


def _main(argv: Sequence[str]) -> int:
    args_list = list(argv)
    # Finding the plugin commands reads every installed distribution's metadata (~60 ms, a
    # noticeable part of a short scan); the runtime's own commands do not need them.
    parser = build_parser(plugins=not (args_list and args_list[0] in COMMANDS))
    argv = args_list
    args = parser.parse_args(argv)
    if args.command is None:  # no command: the desktop app
        args = parser.parse_args(["app"])
    setup_logging(args.verbose)
    if getattr(args, "max_pixels", None):
        set_max_pixels(args.max_pixels)
    try:
        handler = getattr(args, "handler", None) or COMMANDS[args.command]
        if args.command != "scan":
            return handler(args)
        with _sigterm_as_interrupt():
            return handler(args)
    except Terminated:
        print(f"{PROG}: terminated (SIGTERM)", file=sys.stderr)
        return EXIT_TERMINATED
    except UserError as exc:
        from .display_text import clean
        from .sources.credentials import mask_credentials

        print(f"{PROG}: error: {clean(mask_credentials(str(exc)))}", file=sys.stderr)
        return EXIT_UNUSABLE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
