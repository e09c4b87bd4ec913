"""`deepfake-monitor watch`: live sources analysed at their own pace (locally or with --cluster),
a status line and alert lines on the terminal, events in a file."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..argtypes import (
    PROG,
)
from ..errors import UserError
from .engine import load_engine
from .signals import EXIT_OK, EXIT_PARTIAL, EXIT_UNUSABLE, install_stop_signals, restore_signals


def cmd_watch(args: argparse.Namespace) -> int:
    from ..analysis.pipeline import AnalysisConfig
    from ..analysis.tracking import SmoothingConfig
    from ..display_text import clean
    from ..outputs.atomic import check_output_file
    from ..outputs.events import EventLog
    from ..sources.spec import SourceKind, parse_source
    from ..watch import WatchSession

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
    detector, service, threshold = load_engine(args)
    config = AnalysisConfig(threshold=threshold, pending_frames=2,
                            smoothing=SmoothingConfig(alert_after_s=args.alert_after),
                            uncertain_band=args.uncertain_band)
    events = EventLog(Path(args.events) if args.events else None)
    session = WatchSession(specs, detector, service, config, events, sample_fps=args.sample_fps,
                           max_retries=args.max_retries, give_up_after_s=args.give_up_after,
                           play_finite_live=args.live,
                           status_every_s=1.0 if sys.stderr.isatty() else 5.0)
    stop_signals = install_stop_signals(session.stop)
    try:
        session.open()
        if not session.analyzers:
            return EXIT_UNUSABLE
        session.run(duration_s=args.duration)
    finally:
        restore_signals(stop_signals)
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

    from ..cluster.connection import connect, disconnect
    from ..cluster.watch import ClusterWatch, WatchSettings
    from ..cluster.workers import EngineSpec
    from ..display_text import clean
    from ..outputs.events import EventLog
    from ..sources.spec import SourceKind

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
    stop_signals = install_stop_signals(session.stop)
    try:
        session.run(duration_s=args.duration)
    finally:
        restore_signals(stop_signals)
        events.close()
        disconnect(ray)
    failures += len(session.failed)
    for name, error in session.errors:
        print(f"{PROG}: error: {clean(name)}: {clean(error)}", file=sys.stderr)
    failures += len(session.errors)
    if len(session.failed) + len(session.errors) == len(specs) and not session.any_frames:
        return EXIT_UNUSABLE  # every source failed before its first frame
    return EXIT_PARTIAL if failures else EXIT_OK
