"""`scan --cluster`: one `ScanWorker` actor per worker analyses file after file with the same
`scan_file` a local scan runs; `ClusterScanner` hands files out and takes lost workers' files
back; `scan_command` writes the reports in input order, as a local scan does."""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..display_text import clean
from ..errors import UserError
from .connection import connect, disconnect
from .workers import MAX_ATTEMPTS, POLL_S, EngineSpec, WorkerInfo, first_line, is_lost, load_worker

log = logging.getLogger(__name__)
IN_FLIGHT_PER_WORKER = 2  # one analysing, one waiting: no worker idles for a round trip
WORKER_START_TIMEOUT_S = 600.0  # no worker up for this long: the rest is reported unanalysed


@dataclass(frozen=True)
class FileJob:
    """One input: `index` in the input order, `path` as given (what the report says), `target`
    the absolute path a worker opens, `annotate_to` the absolute path of its annotated MP4."""

    index: int
    path: str
    target: str
    annotate_to: str | None = None


@dataclass
class FileDone:
    index: int
    report: Any  # VideoReport
    node: str
    seconds: float  # on the worker, from the file's opening to its report

    @property
    def faces(self) -> int:
        return len(self.report.timeline)


class ScanWorker:
    """A Ray actor: the detector and classifier loaded once, then file after file."""

    def __init__(self, engine: EngineSpec, sample_fps: float | None) -> None:
        self.engine, self.info_ = load_worker(engine)
        self.sample_fps = sample_fps

    def info(self) -> WorkerInfo:
        return self.info_

    def scan(self, job: FileJob) -> FileDone:
        from ..analysis.pipeline import AnalysisConfig
        from ..scan import scan_file

        if self.engine is None:
            raise RuntimeError(self.info_.problem)
        detector, service, threshold = self.engine
        started = time.perf_counter()
        annotate = Path(job.annotate_to) if job.annotate_to else None
        if annotate is not None:
            annotate.parent.mkdir(parents=True, exist_ok=True)
        report = scan_file(Path(job.target), detector, service, AnalysisConfig(threshold),
                           sample_fps=self.sample_fps, annotate_to=annotate)
        # The report names the input as it was given, as a local scan's does.
        report.path = job.path
        if report.error and job.target != job.path:
            report.error = report.error.replace(job.target, job.path)
        return FileDone(job.index, report, self.info_.node, time.perf_counter() - started)


@dataclass
class _Worker:
    handle: Any
    node_id: str  # where it was asked to run
    info_ref: Any = None
    info: WorkerInfo | None = None
    running: int = 0

    @property
    def ready(self) -> bool:
        return self.info_ref is None and self.info is not None


@dataclass
class ScanRun:
    """What `ClusterScanner.run` got back; `driver_cpu_s`: this process's CPU time over it."""

    done: dict[int, FileDone] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)  # index -> why no report came back
    interrupted: bool = False
    wall_s: float = 0.0
    driver_cpu_s: float = 0.0
    lost_workers: int = 0


def plan_workers(nodes: Sequence[dict[str, Any]], workers: int | None,
                 gpus_per_worker: float) -> list[str]:
    """The node id of each worker to start: one per node (per GPU share with
    `gpus_per_worker`), or `workers` of them spread round-robin; nodes other than the head,
    which also runs the driver, come first."""
    slots: list[tuple[str, int]] = []
    for node in sorted(nodes, key=lambda n: "node:__internal_head__" in n["Resources"]):
        if not node.get("Alive"):
            continue
        res = node["Resources"]
        if gpus_per_worker > 0:
            n = int(res.get("GPU", 0) // gpus_per_worker + 1e-9)
        else:
            n = 1 if res.get("CPU", 0) >= 1 else 0
        if n:
            slots.append((node["NodeID"], n))
    if not slots:
        return []
    if workers is None:
        return [node_id for node_id, n in slots for _ in range(n)]
    order = [node_id for round_ in range(max(n for _, n in slots))
             for node_id, n in slots if round_ < n]
    return [order[i % len(order)] for i in range(workers)]


class ClusterScanner:
    """Workers on a connected cluster, and the dispatch of files to them."""

    def __init__(self, ray: Any, engine: EngineSpec, sample_fps: float | None, *,
                 workers: int | None = None, gpus_per_worker: float = 0.0) -> None:
        self.ray = ray
        self.engine = engine
        self.sample_fps = sample_fps
        self.gpus_per_worker = gpus_per_worker
        self.requested = workers
        self.workers: list[_Worker] = []
        self.infos: list[WorkerInfo] = []

    def start(self, limit: int | None = None) -> None:
        """Ask the cluster for the workers (they load their models meanwhile); `limit`: no
        more than this many (no more workers than files)."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        ray = self.ray
        nodes = ray.nodes()
        plan = plan_workers(nodes, self.requested, self.gpus_per_worker)
        if not plan:
            need = f"{self.gpus_per_worker:g} GPU(s)" if self.gpus_per_worker else "1 CPU"
            raise UserError(f"--cluster: no node of the cluster offers {need} for a worker "
                            f"({len([n for n in nodes if n.get('Alive')])} node(s) alive)")
        if limit is not None:
            plan = plan[:max(1, limit)]
        remote = ray.remote(ScanWorker)
        for node_id in plan:
            # Soft affinity: where its node dies, Ray restarts the worker on another one.
            handle = remote.options(
                num_cpus=1, num_gpus=self.gpus_per_worker, max_restarts=-1, max_task_retries=0,
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=True),
            ).remote(self.engine, self.sample_fps)
            self.workers.append(_Worker(handle, node_id, handle.info.remote()))

    def wait_ready(self, timeout: float = WORKER_START_TIMEOUT_S) -> list[WorkerInfo]:
        """Block until every worker has loaded its models (measurements start warm)."""
        pending = [w for w in self.workers if w.info_ref is not None]
        infos = self.ray.get([w.info_ref for w in pending], timeout=timeout)
        for worker, info in zip(pending, infos):
            if info.problem:
                raise UserError(f"{info.problem} (on cluster node {info.node})")
            worker.info_ref, worker.info = None, info
            self.infos.append(info)
        return self.infos

    def run(self, jobs: Sequence[FileJob], *,
            on_ready: Callable[[WorkerInfo], None] | None = None,
            on_done: Callable[[FileDone], None] | None = None,
            on_note: Callable[[str], None] | None = None) -> ScanRun:
        """Analyse `jobs` on the workers until done, or Ctrl+C (then `interrupted`, with the
        files finished so far); it also waits for one worker to be up when there is no job, as
        the report names the model the workers loaded. `on_ready(info)` for each worker once
        its models are loaded (a UserError from it stops the run); `on_done` for each file as
        it comes back."""
        ray = self.ray
        queue = deque(jobs)
        attempts: Counter[int] = Counter()
        running: dict[Any, tuple[_Worker, FileJob]] = {}
        out = ScanRun()
        started = time.monotonic()
        cpu0 = time.process_time()
        last_alive = started
        noted = False

        def lost(worker: _Worker) -> None:
            """The worker died: wait for Ray to restart it before giving it files again."""
            if worker.info_ref is None:
                out.lost_workers += 1
                worker.info_ref = worker.handle.info.remote()

        try:
            while queue or running or not self.infos:
                for w in self.workers:
                    while w.ready and queue and w.running < IN_FLIGHT_PER_WORKER:
                        job = queue.popleft()
                        running[w.handle.scan.remote(job)] = (w, job)
                        w.running += 1
                        if w.info is not None:
                            log.debug("%s: sent to node %s", job.path, w.info.node)
                waiting = [w.info_ref for w in self.workers if w.info_ref is not None]
                refs = list(running) + waiting
                if not refs:
                    break  # every worker failed to start: nothing can finish the queue
                ready, _ = ray.wait(refs, num_returns=1, timeout=POLL_S)
                if ready:
                    ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
                for ref in ready:
                    if ref in running:
                        worker, job = running.pop(ref)
                        worker.running -= 1
                        try:
                            done = ray.get(ref)
                        except Exception as exc:
                            if not is_lost(ray, exc):  # raised by the analysis itself
                                out.failed[job.index] = f"{job.path}: {first_line(exc)}"
                                continue
                            lost(worker)
                            attempts[job.index] += 1
                            if attempts[job.index] >= MAX_ATTEMPTS:
                                out.failed[job.index] = (
                                    f"{job.path}: the cluster workers analysing it died "
                                    f"{attempts[job.index]} times ({first_line(exc)})")
                            else:
                                queue.appendleft(job)
                            continue
                        out.done[job.index] = done
                        if on_done:
                            on_done(done)
                        continue
                    worker = next(w for w in self.workers if w.info_ref == ref)
                    worker.info_ref = None
                    try:
                        info = ray.get(ref)
                    except Exception as exc:
                        if is_lost(ray, exc) and not getattr(exc, "actor_init_failed", False):
                            lost(worker)
                            continue
                        self.workers.remove(worker)
                        if not self.workers:
                            raise UserError(f"--cluster: the worker could not start: "
                                            f"{first_line(exc)}") from None
                        continue
                    if info.problem:
                        raise UserError(f"{info.problem} (on cluster node {info.node})")
                    if self.infos and (info.model, info.threshold) != \
                            (self.infos[0].model, self.infos[0].threshold):
                        raise UserError(
                            f"--cluster: node {info.node} loaded another model than node "
                            f"{self.infos[0].node} ({info.model_name} vs "
                            f"{self.infos[0].model_name}): install the same deepfake-monitor "
                            "and models on every node")
                    if worker.info is None:
                        self.infos.append(info)
                        if on_ready:
                            on_ready(info)
                    worker.info = info
                now = time.monotonic()
                if any(w.ready for w in self.workers):
                    last_alive = now
                elif not running:
                    if not noted and now - last_alive > 30 and on_note:
                        noted = True
                        on_note(f"waiting for cluster workers: {len(self.workers)} asked "
                                "for, none is up yet (are the resources free?)")
                    if now - last_alive > WORKER_START_TIMEOUT_S:
                        break
        except KeyboardInterrupt:
            out.interrupted = True
        for job in queue:
            if job.index not in out.failed and not out.interrupted:
                out.failed[job.index] = (f"{job.path}: not analysed: no cluster worker was up "
                                         f"for {WORKER_START_TIMEOUT_S:.0f} s")
        out.wall_s = time.monotonic() - started
        out.driver_cpu_s = time.process_time() - cpu0
        return out

    def close(self) -> None:
        """End every worker at once (also the ones still analysing)."""
        for w in self.workers:
            try:
                self.ray.kill(w.handle)
            except Exception:  # already gone with its node
                log.debug("worker already gone", exc_info=True)
        self.workers.clear()


# -- scan's command-line side ---------------------------------------------------------------


def file_jobs(files: Sequence[Path], annotate_dir: Path | None,
              keep: Callable[[Path], bool] | None = None) -> list[FileJob]:
    """The jobs of the files to analyse, numbered in input order; annotated files are named
    as a local scan names them, over every input (kept or not)."""
    from ..scan import annotated_path

    used: set[Path] = set()
    jobs = []
    for index, path in enumerate(files):
        target = annotated_path(annotate_dir, path, used) if annotate_dir else None
        if keep is not None and not keep(path):
            continue
        jobs.append(FileJob(index, str(path), os.path.abspath(path),
                            None if target is None else str(target)))
    return jobs


@dataclass
class ScanOutcome:
    """What the CLI needs to write the report: the reports of the files, in input order."""

    reports: list[Any]
    model: dict[str, Any]
    model_name: str
    threshold: float
    interrupted: bool
    run: ScanRun


class _ScanProgress:
    """One bar over files (and faces/s) on the driver, and with -v a line per node."""

    def __init__(self, console: Any, total: int, verbose: int) -> None:
        from ..progress import counting_progress

        self.progress = counting_progress(console, "files")
        self.verbose = verbose
        self.started = time.monotonic()
        self.faces = 0
        self.task = self.progress.add_task("cluster scan", total=total)
        self.nodes: dict[str, tuple[Any, int, int]] = {}  # node -> (task, files, faces)

    def _rate(self) -> str:
        elapsed = max(1e-6, time.monotonic() - self.started)
        return f"{self.faces / elapsed:.0f} faces/s"

    def ready(self, info: WorkerInfo) -> None:
        if self.verbose and info.node not in self.nodes:
            task = self.progress.add_task(f"  node {info.node} ({info.provider})", total=None)
            self.nodes[info.node] = (task, 0, 0)

    def done(self, done: FileDone) -> None:
        self.faces += done.faces
        self.progress.update(self.task, advance=1,
                             description=f"cluster scan, {self._rate()}")
        if self.verbose:
            task, files, faces = self.nodes.get(done.node, (None, 0, 0))
            if task is None:
                task = self.progress.add_task(f"  node {done.node}", total=None)
            files, faces = files + 1, faces + done.faces
            self.nodes[done.node] = (task, files, faces)
            self.progress.update(task, completed=files,
                                 description=f"  node {done.node}: {faces} faces")

    def print(self, text: str) -> None:
        self.progress.console.print(clean(text), markup=False, highlight=False, soft_wrap=True)


def scan_command(args: Any, files: Sequence[Path], console: Any,
                 keep: Callable[[Path], Any | None] | None = None,
                 check_model: Callable[[dict[str, Any], float], None] | None = None,
                 on_report: Callable[[Any], None] | None = None) -> ScanOutcome:
    """`scan --cluster`: `keep(path)`: the report an earlier run already holds (--resume);
    `check_model(model, threshold)` as soon as the first worker has loaded its models;
    `on_report` for each new report as it comes back (in any order)."""
    from ..outputs.report import VideoReport

    annotate_dir = Path(args.annotate) if args.annotate else None
    if annotate_dir is not None and not annotate_dir.is_absolute():
        raise UserError(f"--annotate {args.annotate}: with --cluster, name an absolute folder "
                        "on storage every node sees (workers write the files)")
    jobs = file_jobs(files, annotate_dir,
                     None if keep is None else (lambda p: keep(p) is None))
    engine = EngineSpec.from_args(args)
    ray = connect(args.cluster, args.verbose)
    scanner = ClusterScanner(ray, engine, args.sample_fps, workers=args.workers,
                             gpus_per_worker=args.gpus_per_worker)
    display = _ScanProgress(console, len(jobs), args.verbose)
    first: list[WorkerInfo] = []

    def ready(info: WorkerInfo) -> None:
        if not first:
            first.append(info)
            if check_model:
                check_model(info.model, info.threshold)
        display.ready(info)

    def done(item: FileDone) -> None:
        display.done(item)
        if args.verbose:
            log.info("%s: %s on node %s in %.1f s", item.report.path, item.report.status,
                     item.node, item.seconds)
        if on_report:
            on_report(item.report)

    try:
        scanner.start(limit=len(jobs))
        with display.progress:
            run = scanner.run(jobs, on_ready=ready, on_done=done, on_note=display.print)
    finally:
        scanner.close()
        disconnect(ray)
    if not first:
        if run.interrupted:
            raise KeyboardInterrupt
        raise UserError("--cluster: no worker of the cluster started in "
                        f"{WORKER_START_TIMEOUT_S:.0f} s")
    info = first[0]
    by_index: dict[int, Any] = {i: d.report for i, d in run.done.items()}
    for index, reason in run.failed.items():
        report = VideoReport(path=str(files[index]), threshold=info.threshold).finish(
            error=reason)
        by_index[index] = report
        if on_report:
            on_report(report)
    reports = []
    for index, path in enumerate(files):
        kept = keep(path) if keep is not None else None
        if kept is not None:
            reports.append(kept)
        elif index in by_index:
            reports.append(by_index[index])
    if args.verbose:
        n = len(run.done)
        per_file = f"{1000 * run.driver_cpu_s / n:.1f} ms" if n else "-"
        print(f"deepfake-monitor: cluster: {n} file(s) in {run.wall_s:.1f} s on "
              f"{len(scanner.infos)} worker(s); driver CPU {per_file} per file; "
              f"{run.lost_workers} worker(s) lost", file=sys.stderr)
    return ScanOutcome(reports, info.model, info.model_name, info.threshold, run.interrupted,
                       run)
