"""`watch --cluster`: one `WatchWorker` actor per source runs the usual analyzer; `ClusterWatch`
polls them for events, prints the status line and the alerts, writes the one --events file, and
starts a dead worker's source again on another node."""

from __future__ import annotations

import io
import logging
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..display_text import clean
from .workers import MAX_ATTEMPTS, POLL_S, EngineSpec, WorkerInfo, first_line, is_lost, load_worker

log = logging.getLogger(__name__)
# -- watch ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WatchSettings:
    sample_fps: float | None
    alert_after_s: float
    max_retries: int | None
    give_up_after_s: float | None
    play_finite_live: bool = False


@dataclass
class WatchUpdate:
    """What a source's worker has to say since the last poll."""

    records: list[dict[str, Any]]  # events, as the --events file has them
    lines: list[str]  # what a local watch prints for it (alerts, disconnects, errors)
    status: str  # its part of the status line
    state: str
    done: bool
    failed: str | None  # could not be opened
    error: str | None  # analysis stopped
    frames_read: int


class WatchWorker:
    """A Ray actor: one source, its analyzer and models, events kept for the driver."""

    def __init__(self, spec: Any, engine: EngineSpec, settings: WatchSettings) -> None:
        from ..analysis.pipeline import AnalysisConfig
        from ..analysis.tracking import SmoothingConfig
        from ..outputs.events import EventLog
        from ..watch import WatchSession

        loaded, self.info_ = load_worker(engine)
        self.session = None
        self._out = io.StringIO()
        self._sent_records = 0
        self._sent_chars = 0
        if loaded is None:
            return
        detector, self.service, threshold = loaded
        config = AnalysisConfig(threshold=threshold, pending_frames=2,
                                smoothing=SmoothingConfig(alert_after_s=settings.alert_after_s))
        self.events = EventLog(None)
        self.session = WatchSession([spec], detector, self.service, config, self.events,
                                    sample_fps=settings.sample_fps,
                                    max_retries=settings.max_retries,
                                    give_up_after_s=settings.give_up_after_s,
                                    play_finite_live=settings.play_finite_live, out=self._out)

    def start(self) -> WorkerInfo:
        if self.session is not None:
            self.session.open()
            for analyzer in self.session.analyzers:
                analyzer.start()
        return self.info_

    def poll(self) -> WatchUpdate:
        s = self.session
        if s is None:
            return WatchUpdate([], [], "", "failed", True, self.info_.problem, None, 0)
        records = s.events.records[self._sent_records:]
        self._sent_records += len(records)
        text = self._out.getvalue()
        lines = text[self._sent_chars:].splitlines()
        self._sent_chars = len(text)
        a = s.analyzers[0] if s.analyzers else None
        return WatchUpdate(
            list(records), lines, s.status_line(),
            "failed" if a is None else a.source.state.value,
            a is None or a.done, s.failed[0] if s.failed else None,
            None if a is None else a.error, 0 if a is None else a.source.frames_read)

    def stop(self) -> WatchUpdate:
        if self.session is not None:
            for analyzer in self.session.analyzers:
                analyzer.stop(timeout=2.0)
            self.service.stop()
        return self.poll()


@dataclass
class _SourceRun:
    spec: Any
    handle: Any = None
    poll_ref: Any = None
    update: WatchUpdate | None = None
    restarts: int = 0
    reconnecting: bool = False
    node: str = ""
    given_up: str | None = None
    frames_before: int = 0  # frames read by workers lost earlier


class ClusterWatch:
    """One worker per source on a connected cluster, and the driver's side of their events."""

    def __init__(self, ray: Any, specs: Sequence[Any], engine: EngineSpec,
                 settings: WatchSettings, events: Any, *, gpus_per_worker: float = 0.0,
                 status_every_s: float = 1.0, out: Any = None) -> None:
        self.ray = ray
        self.engine = engine
        self.settings = settings
        self.events = events
        self.gpus_per_worker = gpus_per_worker
        self.status_every_s = status_every_s
        self.out = out if out is not None else sys.stderr
        self.sources = [_SourceRun(spec) for spec in specs]
        self._stop = threading.Event()
        self._last_line: str | None = None

    def stop(self) -> None:
        self._stop.set()

    def _launch(self, run: _SourceRun) -> None:
        remote = self.ray.remote(WatchWorker).options(
            num_cpus=1, num_gpus=self.gpus_per_worker, max_restarts=0, max_task_retries=0,
            scheduling_strategy="SPREAD")
        run.handle = remote.remote(run.spec, self.engine, self.settings)
        run.poll_ref = run.handle.start.remote()

    def _status_event(self, run: _SourceRun, state: str, message: str) -> None:
        from ..outputs.events import status_record
        from ..sources.spec import SourceState, StatusEvent

        self.events.write(status_record(StatusEvent(run.spec.name, SourceState(state), message,
                                                    time.time())))
        print(clean(f"{run.spec.name}: {state}: {message}"), file=self.out, flush=True)

    def _lost(self, run: _SourceRun, exc: BaseException) -> None:
        if run.update is not None:
            run.frames_before += run.update.frames_read
        with_node = f" on node {run.node}" if run.node else ""
        run.restarts += 1
        if run.restarts > MAX_ATTEMPTS:
            run.given_up = (f"its cluster worker{with_node} was lost {run.restarts} times "
                            f"({first_line(exc)}); giving up")
            self._status_event(run, "failed", run.given_up)
            run.handle = run.poll_ref = None
            return
        self._status_event(run, "disconnected",
                           f"cluster worker{with_node} lost ({first_line(exc)}); "
                           "restarting the source on another node")
        try:
            self.ray.kill(run.handle)
        except Exception:
            log.debug("worker already gone", exc_info=True)
        run.reconnecting = True
        run.update = None
        self._launch(run)

    def _handle(self, run: _SourceRun, result: Any) -> None:
        if isinstance(result, WorkerInfo):
            if result.problem:
                run.given_up = result.problem
                print(f"deepfake-monitor: error: {clean(result.problem)} (on cluster node "
                      f"{clean(result.node)})", file=self.out, flush=True)
                self._status_event(run, "failed", result.problem)
            run.node = result.node
            log.info("%s: on cluster node %s (%s)", run.spec.name, result.node, result.provider)
            return
        update: WatchUpdate = result
        run.update = update
        for record in update.records:
            self.events.write(record)
        for line in update.lines:
            print(line, file=self.out, flush=True)
        if run.reconnecting and update.state == "live":
            run.reconnecting = False
            self._status_event(run, "live",
                               f"reconnected: restarted on cluster node {run.node} after "
                               f"its worker was lost (restart {run.restarts})")

    def _finished(self, run: _SourceRun) -> bool:
        return run.given_up is not None or (run.update is not None and run.update.done)

    def status_line(self) -> str:
        parts = []
        for run in self.sources:
            if run.update is not None and run.update.status:
                parts.append(run.update.status)
            else:
                state = "failed" if run.given_up else \
                    ("reconnecting" if run.reconnecting else "connecting")
                parts.append(f"{clean(run.spec.name)}: {state}")
        return " | ".join(parts)

    def _print_status(self, final: bool = False) -> None:
        line = self.status_line()
        tty = self.out.isatty()
        if final and line == self._last_line and not tty:
            return
        self._last_line = line
        if tty and not final:
            print("\r\x1b[2K" + line, end="", file=self.out, flush=True)
        else:
            print(("\r\x1b[2K" if tty else "") + line, file=self.out, flush=True)

    def run(self, duration_s: float | None = None) -> None:
        ray = self.ray
        for run in self.sources:
            self._launch(run)
        deadline = None if duration_s is None else time.monotonic() + duration_s
        next_status = time.monotonic() + self.status_every_s
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                if all(self._finished(r) for r in self.sources):
                    break
                for run in self.sources:
                    if run.poll_ref is None and run.handle is not None and \
                            not self._finished(run):
                        run.poll_ref = run.handle.poll.remote()
                refs = [r.poll_ref for r in self.sources if r.poll_ref is not None]
                if refs:
                    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=POLL_S * 2)
                else:
                    ready = []
                    self._stop.wait(POLL_S)
                for run in self.sources:
                    if run.poll_ref is None or run.poll_ref not in ready:
                        continue
                    ref, run.poll_ref = run.poll_ref, None
                    try:
                        self._handle(run, ray.get(ref))
                    except Exception as exc:
                        if not is_lost(ray, exc):
                            raise
                        self._lost(run, exc)
                if time.monotonic() >= next_status:
                    next_status = time.monotonic() + self.status_every_s
                    self._print_status()
                if not ready:
                    self._stop.wait(POLL_S)
        finally:
            self._finish()
            self._print_status(final=True)

    def _finish(self) -> None:
        """Stop every worker, collect its last events, then end it."""
        ray = self.ray
        stops = {}
        for run in self.sources:
            if run.handle is not None:
                if run.poll_ref is not None:
                    ray.wait([run.poll_ref], timeout=2.0)
                    try:
                        self._handle(run, ray.get(run.poll_ref, timeout=0))
                    except Exception:
                        log.debug("last poll lost", exc_info=True)
                    run.poll_ref = None
                stops[run.handle.stop.remote()] = run
        if stops:
            ready, _ = ray.wait(list(stops), num_returns=len(stops), timeout=10.0)
            for ref in ready:
                try:
                    self._handle(stops[ref], ray.get(ref))
                except Exception:
                    log.debug("last events lost", exc_info=True)
        for run in self.sources:
            if run.handle is not None:
                try:
                    ray.kill(run.handle)
                except Exception:
                    log.debug("worker already gone", exc_info=True)

    # The command's exit code needs these, as the local WatchSession has them.
    @property
    def failed(self) -> list[str]:
        return [r.given_up or (r.update.failed if r.update else "") for r in self.sources
                if r.given_up or (r.update is not None and r.update.failed)]

    @property
    def errors(self) -> list[tuple[str, str]]:
        return [(r.spec.name, r.update.error) for r in self.sources
                if r.update is not None and r.update.error and not r.given_up]

    @property
    def any_frames(self) -> bool:
        return any(r.frames_before or (r.update is not None and r.update.frames_read)
                   for r in self.sources)
