"""`bench --only cluster`: what spreading a scan over Ray workers costs and gives, measured on a
real Ray cluster started on this machine (realtime/cluster/local_ray.py, 127.0.0.1 only).

The same files (copies of one short clip) are scanned locally, the models loaded once as
`scan_files` has them, and through `ClusterScanner` with 1 and 2 worker processes on a local
node, whose models are loaded before the clock starts: a long scan pays start-up once, so
per-file figures leave it out and it is reported apart. Runs interleave (local, 1 worker,
2 workers, again) so drifting load hits all alike; the median run counts.

Figures: files/s of each; the cluster's per-file cost at one worker over the local one (the
goal is at most 1.10); the driver's CPU time per file (this process's `process_time` over the
dispatch, Ray's own driver threads included), and so how many files/s one driver core can hand
out before the driver, not the workers, is the limit.
"""

from __future__ import annotations

import os
import shutil
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLUSTER_WORKERS: tuple[int, ...] = (1, 2)
CLIP_S = 4.0  # short files: the per-file costs of the cluster path show, not decoding
COST_GOAL = 1.10
FILES, QUICK_FILES = 12, 4  # per run


@dataclass
class ClusterRun:
    workers: int
    files: int
    start_s: float  # connect to the cluster's workers, their models loaded (median run's)
    wall_s: float  # the files alone, workers warm (median run)
    files_per_s: float
    driver_cpu_s: float
    driver_ms_per_file: float
    lost_workers: int
    walls: list[float] = field(default_factory=list)


@dataclass
class ClusterResult:
    files: int
    clip: dict[str, Any]
    bytes_per_file: int
    local_wall_s: float  # the files alone, models loaded (median run)
    local_files_per_s: float
    local_walls: list[float]
    runs: list[ClusterRun]
    cost_at_one_worker: float  # (1-worker wall / files) / (local wall / files)
    driver_limit_files_per_s: float  # 1 / the driver's CPU per file (most workers' run)


def _inputs(clip: Path, folder: Path, n: int) -> list[Path]:
    """`n` files of their own (a scan takes each path once)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(n):
        files.append(folder / f"{i:03d}-{clip.name}")
        shutil.copyfile(clip, files[-1])
    return files


def _local_run(files: list[Path], engine: Any, sample_fps: float | None) -> float:
    from ..analysis.pipeline import AnalysisConfig
    from ..scan import scan_files

    detector, service, threshold = engine.load()
    try:
        start = time.perf_counter()
        reports = scan_files(files, detector, service, AnalysisConfig(threshold),
                             sample_fps=sample_fps)
        wall = time.perf_counter() - start
    finally:
        service.stop()
    bad = [r for r in reports if r.status == "error"]
    if bad:
        from ..errors import UserError

        raise UserError(f"bench cluster: local scan failed: {bad[0].error}")
    return wall


def _cluster_run(ray: Any, files: list[Path], engine: Any, sample_fps: float | None,
                 workers: int) -> ClusterRun:
    from ..cluster.scan import ClusterScanner, file_jobs
    from ..errors import UserError

    scanner = ClusterScanner(ray, engine, sample_fps, workers=workers)
    try:
        start = time.perf_counter()
        scanner.start()
        scanner.wait_ready()
        start_s = time.perf_counter() - start
        run = scanner.run(file_jobs(files, None))
    finally:
        scanner.close()
    if run.failed or len(run.done) != len(files):
        raise UserError(f"bench cluster: {len(run.failed)} file(s) failed on the cluster")
    n = len(files)
    return ClusterRun(workers, n, start_s, run.wall_s, n / run.wall_s, run.driver_cpu_s,
                      1000 * run.driver_cpu_s / n, run.lost_workers)


def run_cluster(config: Any, workdir: Path, step: Callable[[str], None],
                address: str | None = None) -> ClusterResult:
    """The cluster part: `config` is bench's BenchConfig; `address`: a running cluster to
    measure on instead of a local node started here (tests share theirs)."""
    from ..cluster.connection import connect, disconnect
    from ..cluster.local_ray import DRIVER_ENV, LocalRayCluster
    from ..cluster.workers import EngineSpec
    from .clips import make_clip, probe_video

    clip = config.video
    if clip is None:
        step(f"making a {CLIP_S:g} s clip for the cluster part")
        clip = make_clip(workdir / "cluster-clip.mp4", CLIP_S)
    files = _inputs(clip, workdir / "cluster-inputs", QUICK_FILES if config.quick else FILES)
    engine = EngineSpec(config.model, config.detector,
                        None if config.providers is None else tuple(config.providers),
                        config.min_face_score, config.threshold)
    saved = {k: os.environ.get(k) for k in DRIVER_ENV}
    os.environ.update(DRIVER_ENV)
    cluster = None
    if address is None:
        step(f"starting a local Ray node for {max(CLUSTER_WORKERS)} worker processes")
        cluster = LocalRayCluster.start((max(CLUSTER_WORKERS),))
        address = cluster.address
    local_walls: list[float] = []
    runs: dict[int, list[ClusterRun]] = {w: [] for w in CLUSTER_WORKERS}
    ray = None
    try:
        ray = connect(address)
        for i in range(config.repeats):
            step(f"cluster part, run {i + 1} of {config.repeats}: {len(files)} files locally, "
                 f"then on {', '.join(map(str, CLUSTER_WORKERS))} worker(s)")
            local_walls.append(_local_run(files, engine, config.sample_fps))
            for w in CLUSTER_WORKERS:
                runs[w].append(_cluster_run(ray, files, engine, config.sample_fps, w))
    finally:
        if ray is not None:
            disconnect(ray)
        if cluster is not None:
            cluster.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    chosen = []
    for w in CLUSTER_WORKERS:
        run = sorted(runs[w], key=lambda r: r.wall_s)[(len(runs[w]) - 1) // 2]
        run.walls = [r.wall_s for r in runs[w]]
        chosen.append(run)
    local = statistics.median_low(local_walls)
    n = len(files)
    return ClusterResult(
        n, probe_video(clip), clip.stat().st_size, local, n / local, local_walls, chosen,
        cost_at_one_worker=chosen[0].wall_s / local,
        driver_limit_files_per_s=1000 / max(1e-9, chosen[-1].driver_ms_per_file))


def cluster_rows(r: ClusterResult) -> list[tuple[str, str]]:
    """(measure, value) rows of bench's table."""
    v = r.clip
    what = f"{r.files} files of {v['seconds'] or 0:.0f} s ({v['width']}x{v['height']})"
    rows = [(f"local scan, {what}, models loaded (median of {len(r.local_walls)})",
             f"{r.local_files_per_s:.2f} files/s ({r.local_wall_s:.2f} s)")]
    for run in r.runs:
        rows.append((f"--cluster, {run.workers} worker process(es), warm",
                     f"{run.files_per_s:.2f} files/s ({run.wall_s:.2f} s)"))
        rows.append((f"--cluster, {run.workers} worker(s): start-up (connect, models loaded)",
                     f"{run.start_s:.1f} s"))
        rows.append((f"--cluster, {run.workers} worker(s): driver CPU per file",
                     f"{run.driver_ms_per_file:.1f} ms"))
    rows.append(("per-file cost at 1 worker / local", f"{r.cost_at_one_worker:.2f}"))
    rows.append(("files/s one driver core can hand out (1 / driver CPU per file)",
                 f"{r.driver_limit_files_per_s:,.0f}"))
    rows.append(("bytes read per file", f"{r.bytes_per_file / 1e6:.2f} MB"))
    return rows
