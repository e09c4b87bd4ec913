"""scan/watch --cluster on a real Ray cluster of two nodes on 127.0.0.1
(realtime/cluster/local_ray.py), with real clips of ../shared/media: the same report as a local
scan, a node killed mid-scan, --resume after Ctrl+C, four live sources watched from the cluster.

The cluster is started once for the module (about 10 s); every command runs as a process, as a
user runs it. A few short clips keep the whole module near a minute and a half.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest

pytest.importorskip("ray", reason="the cluster extra (ray) is not installed")

from deepfake_monitor.realtime.cluster.local_ray import LocalRayCluster, driver_env

CLIPS = ("video-retalking-face5.mp4", "aniportrait-pose_ref_video.mp4",
         "liveportrait-driving-d20.mp4", "tpsmm-driving.mp4")
CLI = [sys.executable, "-m", "deepfake_monitor.realtime.cli"]
TOLERANCE = 1e-6

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def clips(shared_media: Path) -> list[str]:
    """The clips as inputs relative to ../shared/media (commands run there), so the report's
    paths are the inputs as given, not the absolute paths the workers open."""
    for name in CLIPS:
        if not (shared_media / "videos" / name).is_file():
            pytest.skip(f"{shared_media / 'videos' / name} is absent")
    return [f"videos/{name}" for name in CLIPS]


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalRayCluster]:
    """A head and a second node, 2 logical CPUs each (watch's four sources take one each)."""
    with LocalRayCluster.start((2, 2)) as c:
        yield c
    assert not any(n.alive for n in c.nodes)


def run_cli(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], cwd=cwd, env=driver_env(), capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def local_report(clips: list[str], shared_media: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The reference: a local scan of the clips, with a missing and an empty input; the
    report in input order (the missing one used to come first)."""
    out = tmp_path_factory.mktemp("local")
    empty = out / "empty.mp4"
    empty.write_bytes(b"")
    inputs = [clips[0], "missing.mp4", *clips[1:], str(empty)]
    proc = run_cli("scan", *inputs, "--json", str(out / "r.json"),
                   "--csv", str(out / "r.csv"), "--annotate", str(out / "annotated"),
                   cwd=shared_media)
    assert proc.returncode == 1, proc.stderr  # the two bad inputs
    report = json.loads((out / "r.json").read_text())
    assert [v["path"] for v in report["videos"]] == inputs
    report["inputs"] = inputs
    report["csv"] = (out / "r.csv").read_text()
    report["annotated"] = out / "annotated"
    report["empty"] = str(empty)
    return report


def assert_same_video(got: dict, want: dict) -> None:
    """Status, frame counts, faces and every score as the local scan has them."""
    assert got["path"] == want["path"]
    for key in ("status", "error", "verdict", "threshold", "duration_s", "frames_analyzed"):
        assert got[key] == want[key], (got["path"], key)
    for key in ("score",):
        assert (got[key] is None) == (want[key] is None)
        if want[key] is not None:
            assert abs(got[key] - want[key]) <= TOLERANCE, got["path"]
    assert len(got["faces"]) == len(want["faces"])
    assert len(got["timeline"]) == len(want["timeline"])
    for a, b in zip(got["timeline"], want["timeline"]):
        assert a["t"] == b["t"] and a["track"] == b["track"] and a["box"] == b["box"]
        assert abs(a["p"] - b["p"]) <= TOLERANCE


def frame_count(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.grab():
        n += 1
    cap.release()
    return n


def test_cluster_scan_writes_the_local_report(cluster: LocalRayCluster, clips: list[str],
                                              shared_media: Path, local_report: dict,
                                              tmp_path: Path) -> None:
    annotated = tmp_path / "annotated"
    proc = run_cli("scan", *local_report["inputs"], "--cluster", cluster.address, "--json",
                   str(tmp_path / "r.json"), "--csv", str(tmp_path / "r.csv"), "--annotate",
                   str(annotated), "-v", cwd=shared_media)
    assert proc.returncode == 1, proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["model"] == local_report["model"]
    assert [v["path"] for v in report["videos"]] == local_report["inputs"]  # input order
    for got, want in zip(report["videos"], local_report["videos"]):
        assert_same_video(got, want)
    assert (tmp_path / "r.csv").read_text() == local_report["csv"]
    # Both nodes analysed files (one worker each), and each bad input is reported once.
    nodes = {line.split(" on node ")[1].split(" in ")[0] for line in proc.stderr.splitlines()
             if " on node " in line}
    assert len(nodes) == 2, proc.stderr
    assert proc.stderr.count(f"error: {local_report['empty']}: ") == 1
    assert proc.stderr.count("error: missing.mp4: no such file or folder") == 1
    # The workers wrote the annotated videos, named as a local scan names them.
    local_files = sorted(p.name for p in local_report["annotated"].iterdir())
    assert sorted(p.name for p in annotated.iterdir()) == local_files
    for name in local_files:
        assert frame_count(annotated / name) == frame_count(local_report["annotated"] / name)


def test_relative_annotate_folder_is_refused_with_cluster(cluster: LocalRayCluster,
                                                          clips: list[str],
                                                          shared_media: Path,
                                                          tmp_path: Path) -> None:
    proc = run_cli("scan", str(shared_media / clips[0]), "--cluster", cluster.address,
                   "--annotate", "out", cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "deepfake-monitor: error: --annotate out: with --cluster, name an absolute folder on "
        "storage every node sees (workers write the files)")
    assert "Traceback" not in proc.stderr


def test_unreachable_cluster_is_one_line(clips: list[str], shared_media: Path) -> None:
    with socket.socket() as s:  # a port on 127.0.0.1 where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = run_cli("scan", *clips, "--cluster", f"127.0.0.1:{port}", cwd=shared_media,
                   timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"deepfake-monitor: error: --cluster 127.0.0.1:{port}: "
                                  "no Ray cluster reachable there")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_gpus_per_worker_places_workers_on_the_gpus(cluster: LocalRayCluster,
                                                    clips: list[str], shared_media: Path,
                                                    local_report: dict,
                                                    tmp_path: Path) -> None:
    """A node offering two GPUs to Ray's scheduler gets the two workers of --gpus-per-worker 1
    and no other node any (ONNX Runtime finds no GPU here and runs them on the CPU)."""
    gpus = cluster.add_node(2, num_gpus=2)
    proc = run_cli("scan", *clips, "--cluster", cluster.address, "--gpus-per-worker", "1",
                   "--json", str(tmp_path / "r.json"), "-v", cwd=shared_media)
    assert proc.returncode == 0, proc.stderr
    nodes = {line.split(" on node ")[1].split(" in ")[0] for line in proc.stderr.splitlines()
             if ": INFO: " in line and " on node " in line}
    assert nodes == {f"127.0.0.1 {gpus.node_id[:6]}"}, proc.stderr
    assert "on 2 worker(s)" in proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    local = {v["path"]: v for v in local_report["videos"]}
    assert [v["path"] for v in report["videos"]] == clips
    for got in report["videos"]:
        assert_same_video(got, local[got["path"]])
    proc = run_cli("scan", *clips, "--cluster", cluster.address, "--gpus-per-worker", "3",
                   cwd=shared_media)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "deepfake-monitor: error: --cluster: no node of the cluster offers 3 GPU(s) for a "
        f"worker ({len([n for n in cluster.nodes if n.alive])} node(s) alive)")


def copies(clips: list[str], shared_media: Path, folder: Path, n: int) -> list[Path]:
    """`n` inputs cycling over the clips, each a file of its own (on storage all nodes see)."""
    folder.mkdir()
    out = []
    for i in range(n):
        name = Path(clips[i % len(clips)])
        out.append(folder / f"{i:02d}-{name.name}")
        shutil.copyfile(shared_media / name, out[-1])
    return out


def reference_of(path: str, local_report: dict) -> dict:
    """The local report's entry for the clip `path` is a copy of, under `path`."""
    original = Path(path).name.split("-", 1)[1]
    (want,) = [v for v in local_report["videos"] if v["path"].endswith("/" + original)]
    return {**want, "path": path}


class DoneLines:
    """Reads a running scan's stderr; `wait(n, marker)` until n lines hold `marker`; `done`:
    the -v lines of files done."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            with self._cond:
                self.lines.append(line)
                self._cond.notify_all()

    @property
    def done(self) -> list[str]:
        with self._cond:
            return [ln for ln in self.lines if ": INFO: " in ln and " on node " in ln]

    def wait(self, n: int, marker: str, timeout: float) -> list[str]:
        """The first `n` lines holding `marker`, once there are that many."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(found := [ln for ln in self.lines if marker in ln]) < n:
                left = deadline - time.monotonic()
                assert left > 0, "".join(self.lines)
                self._cond.wait(left)
            return found[:n]

    def text(self) -> str:
        self._thread.join(30)
        return "".join(self.lines)


def start_scan(*args: str, cwd: Path, verbose: str = "-v"
               ) -> tuple[subprocess.Popen[str], DoneLines]:
    proc = subprocess.Popen([*CLI, "scan", *args, verbose], cwd=cwd, env=driver_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return proc, DoneLines(proc)


@pytest.mark.slow
def test_node_killed_mid_scan_every_file_reported_once(cluster: LocalRayCluster,
                                                        clips: list[str], shared_media: Path,
                                                        local_report: dict,
                                                        tmp_path: Path) -> None:
    cluster.add_node(1)  # one more node: room for the lost worker, and for later tests
    files = copies(clips, shared_media, tmp_path / "in", 8)
    proc, lines = start_scan(*map(str, files), "--cluster", cluster.address, "--json",
                             str(tmp_path / "r.json"), cwd=tmp_path, verbose="-vv")
    head = cluster.nodes[0]
    try:
        # The first node other than the head (driver and GCS live there) that is sent a file
        # is killed at once: it dies holding it (a file takes 0.4 s and more).
        sent = lines.wait(1, ": sent to node 127.0.0.1 ", timeout=180)
        while head.node_id.startswith(sent[-1].split()[-1]):
            sent = lines.wait(len(sent) + 1, ": sent to node 127.0.0.1 ", timeout=180)
        (victim,) = [n for n in cluster.nodes if n.node_id.startswith(sent[-1].split()[-1])]
        cluster.kill_node(victim)
        assert proc.wait(timeout=300) == 0, lines.text()
    finally:
        proc.kill()
    stderr = lines.text()
    # at least the killed node's worker; a busy machine can also lose a worker that was
    # starting on that node when it died
    lost = re.search(r"(\d+) worker\(s\) lost", stderr)
    assert lost and int(lost.group(1)) >= 1, stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert [v["path"] for v in report["videos"]] == [str(f) for f in files]
    for got in report["videos"]:
        assert_same_video(got, reference_of(got["path"], local_report))
    # Nothing finished twice: each file's -v line once.
    done = [line.split(": INFO: ")[1].split(": ok on node")[0] for line in lines.done]
    assert sorted(done) == sorted(str(f) for f in files)
    assert not victim.alive


@pytest.mark.slow
def test_sigterm_reports_the_finished_files_and_exits_143(cluster: LocalRayCluster,
                                                          clips: list[str], shared_media: Path,
                                                          tmp_path: Path) -> None:
    """SIGTERM (`timeout`, `docker stop`, systemd) stops a cluster scan as Ctrl+C does: the
    report of the files finished is written (Ray's own SIGTERM handler would exit at once)."""
    files = copies(clips, shared_media, tmp_path / "in", 8)
    report_path = tmp_path / "r.json"
    proc, lines = start_scan(*map(str, files), "--cluster", cluster.address, "--json",
                             str(report_path), cwd=tmp_path)
    try:
        lines.wait(2, " ok on node ", timeout=180)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=120) == 143, lines.text()
    finally:
        proc.kill()
    videos = json.loads(report_path.read_text())["videos"]
    assert 2 <= len(videos) < len(files), lines.text()
    assert all(v["status"] == "ok" for v in videos)
    assert "terminated (SIGTERM); reporting the" in lines.text()


@pytest.mark.slow
def test_resume_after_ctrl_c_analyses_only_the_rest(cluster: LocalRayCluster, clips: list[str],
                                                    shared_media: Path, local_report: dict,
                                                    tmp_path: Path) -> None:
    files = copies(clips, shared_media, tmp_path / "in", 8)
    report_path = tmp_path / "r.json"
    args = [*map(str, files), "--cluster", cluster.address, "--json", str(report_path)]
    proc, lines = start_scan(*args, cwd=tmp_path)
    try:
        lines.wait(2, " ok on node ", timeout=180)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 130, lines.text()
    finally:
        proc.kill()
    first = json.loads(report_path.read_text())["videos"]
    assert 2 <= len(first) < len(files), lines.text()
    assert [v["path"] for v in first] == [str(f) for f in files if str(f) in
                                          {v["path"] for v in first}]  # input order
    proc, lines = start_scan(*args, "--resume", cwd=tmp_path)
    assert proc.wait(timeout=300) == 0, lines.text()
    stderr = lines.text()
    assert f"--resume: {len(first)} of {len(files)} file(s) already in" in stderr
    analysed = {line.split(": INFO: ")[1].split(": ok on node")[0] for line in lines.done}
    assert analysed == {str(f) for f in files} - {v["path"] for v in first}
    videos = json.loads(report_path.read_text())["videos"]
    assert [v["path"] for v in videos] == [str(f) for f in files]
    kept = {v["path"]: v for v in first}
    for got in videos:
        if got["path"] in kept:
            assert got == kept[got["path"]]  # written again as it was
        assert_same_video(got, reference_of(got["path"], local_report))


@pytest.mark.slow
def test_watch_cluster_events_of_four_live_sources(cluster: LocalRayCluster, clips: list[str],
                                                   shared_media: Path, tmp_path: Path) -> None:
    sources = tmp_path / "cams.txt"
    sources.write_text("# four files played live\n" + "\n".join(clips) + "\n\n")
    events = tmp_path / "events.jsonl"
    os.symlink(shared_media / "videos", tmp_path / "videos")
    proc = run_cli("watch", str(sources), "--live", "--cluster", cluster.address, "--events",
                   str(events), "--duration", "60", cwd=tmp_path, timeout=180)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in events.read_text().splitlines()]
    by_source: dict[str, list[dict]] = {name: [] for name in clips}
    for r in records:
        assert r["type"] in ("status", "alert", "alert_cleared", "alert_ended")
        assert set(r) >= {"type", "time", "source"}
        by_source[r["source"]].append(r)
    for name, rs in by_source.items():
        states = [r["state"] for r in rs if r["type"] == "status"]
        assert "live" in states and states[-1] == "ended", (name, states)
    # The driver printed the status line of all four.
    last = [ln for ln in proc.stderr.splitlines() if " | " in ln][-1]
    assert all(f"{name}: ended" in last for name in clips), last


@pytest.mark.slow
def test_watch_cluster_restarts_the_source_of_a_lost_worker(cluster: LocalRayCluster,
                                                             shared_media: Path,
                                                             tmp_path: Path) -> None:
    names = ("liveportrait-driving-d6.mp4", "liveportrait-driving-d9.mp4")  # 34 s and 20 s
    sources = [shared_media / "videos" / n for n in names]
    if not all(s.is_file() for s in sources):
        pytest.skip("the long clips of ../shared/media are absent")
    cluster.add_node(2)  # room for the source whose node is killed
    events = tmp_path / "events.jsonl"
    proc = subprocess.Popen([*CLI, "watch", *map(str, sources), "--live", "--cluster",
                             cluster.address, "--events", str(events), "--duration", "20",
                             "-v"], env=driver_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    placed: dict[str, str] = {}
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            if ": on cluster node 127.0.0.1 " in line:
                name, _, rest = line.partition(": INFO: ")[2].partition(": on cluster node ")
                placed[name] = rest.split()[1]
                if len(placed) == 2:
                    break
        assert len(placed) == 2, "".join(lines)
        head = cluster.nodes[0].node_id
        name, node_id = next((n, i) for n, i in placed.items() if not head.startswith(i))
        (node,) = [n for n in cluster.nodes if n.node_id.startswith(node_id)]
        time.sleep(2)  # the source is live by now
        cluster.kill_node(node)
        lines += proc.stderr.readlines()
        assert proc.wait(timeout=120) == 0, "".join(lines)
    finally:
        proc.kill()
    records = [json.loads(line) for line in events.read_text().splitlines()]
    mine = [(r["state"], r["message"]) for r in records
            if r["type"] == "status" and r["source"] == name]
    lost = [i for i, (state, msg) in enumerate(mine)
            if state == "disconnected" and "cluster worker" in msg]
    assert len(lost) == 1, mine
    back = [i for i, (state, msg) in enumerate(mine) if state == "live" and "reconnected" in msg]
    assert len(back) == 1 and back[0] > lost[0], mine
    other = [r for r in records if r["source"] != name and r["type"] == "status"]
    assert "disconnected" not in {r["state"] for r in other}
    assert any(f"{name}: disconnected: cluster worker" in ln for ln in lines), "".join(lines)


_BENCH_PART = """
import json, sys
from dataclasses import asdict
from pathlib import Path
from deepfake_monitor.realtime.bench.results import BenchConfig
from deepfake_monitor.realtime.bench.cluster_part import run_cluster

config = BenchConfig(video=Path(sys.argv[1]), parts=("cluster",), repeats=1, quick=True)
steps = []
result = run_cluster(config, Path(sys.argv[2]), steps.append, address=sys.argv[3])
print(json.dumps({"result": asdict(result), "steps": steps}))
"""


def test_bench_cluster_part(cluster: LocalRayCluster, shared_media: Path, clips: list[str],
                            tmp_path: Path) -> None:
    """bench's cluster part, on this module's cluster (as a driver process of its own, like
    `bench --only cluster`): figures that add up."""
    from deepfake_monitor.realtime.bench.cluster_part import (
        FILES,
        QUICK_FILES,
        ClusterResult,
        ClusterRun,
    )
    from deepfake_monitor.realtime.bench.run import evaluate_targets

    video = shared_media / clips[0]
    proc = subprocess.run([sys.executable, "-c", _BENCH_PART, str(video), str(tmp_path),
                           cluster.address], env=driver_env(), capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    data = out["result"]
    r = ClusterResult(**{**data, "runs": [ClusterRun(**run) for run in data["runs"]]})
    assert QUICK_FILES < FILES and r.files == QUICK_FILES
    assert r.bytes_per_file == video.stat().st_size
    assert [run.workers for run in r.runs] == [1, 2]
    assert r.local_files_per_s == pytest.approx(r.files / r.local_wall_s)
    for run in r.runs:
        assert run.files == r.files and run.lost_workers == 0
        assert run.files_per_s == pytest.approx(run.files / run.wall_s)
        assert run.driver_ms_per_file == pytest.approx(1000 * run.driver_cpu_s / run.files)
        assert 0 < run.driver_cpu_s < run.wall_s  # the driver waits; the workers work
    assert r.cost_at_one_worker == pytest.approx(r.runs[0].wall_s / r.local_wall_s)
    assert r.driver_limit_files_per_s == pytest.approx(1000 / r.runs[1].driver_ms_per_file)
    assert not any("starting a local Ray node" in s for s in out["steps"])  # it used ours
    (target,) = [t for t in evaluate_targets(_with_cluster(r)) if t.name.startswith("cluster")]
    assert target.value == r.cost_at_one_worker and target.met == (target.value <= 1.10)


def _with_cluster(r: object) -> object:
    from deepfake_monitor.realtime.bench.results import BenchResult

    return BenchResult(machine={}, video={}, cluster=r)


def test_default_bench_parts_leave_the_cluster_out() -> None:
    from deepfake_monitor.realtime.bench.results import OPTIONAL_PARTS, PARTS

    assert "cluster" not in PARTS and OPTIONAL_PARTS == ("cluster",)
