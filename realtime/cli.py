"""The `deepfake-monitor` command line.

Exit codes: 0 success; 1 some inputs could not be analysed (the others were, and the report says
which failed and why); 2 the run could not start (bad model, no usable input, bad option);
130 interrupted (Ctrl+C); 143 terminated (SIGTERM: `timeout`, `docker stop`, systemd, batch
schedulers), which a scan treats like Ctrl+C: the files finished are reported.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Callable, Sequence
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
from .commands.bench import cmd_bench
from .commands.scan import cmd_scan
from .commands.signals import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_UNUSABLE,
    Terminated,
    sigterm_as_interrupt,
)
from .commands.watch import cmd_watch
from .errors import UserError
from .log_setup import setup_logging
from .sources.frame_limit import DEFAULT_MAX_PIXELS, set_max_pixels

# the schemes of sources/spec.py STREAM_SCHEMES (not imported here: starting the CLI stays cheap)
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


def cmd_app(args: argparse.Namespace) -> int:
    from .app.main import run_app  # lazily: scan and watch never import Qt

    return run_app(args)




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
        with sigterm_as_interrupt():
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
