"""The README's recipe for trying --cluster on one machine, as a user runs it: `local_ray start`
prints an address and a command, scan runs on that cluster, `local_ray stop` ends every process
of it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the cluster extra (ray) is not installed")

from conftest import REPO

LOCAL_RAY = [sys.executable, "-m", "deepfake_monitor.realtime.local_ray"]
SAMPLE = REPO / "assets" / "samples" / "astronaut_sbi.mp4"

pytestmark = pytest.mark.timeout(300)


def cluster_processes(folder: str) -> list[int]:
    """Processes whose command line names the cluster's folder."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if folder.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_start_scan_stop(tmp_path: Path) -> None:
    started = subprocess.run([*LOCAL_RAY, "start", "--nodes", "1"], capture_output=True,
                             text=True, timeout=200, check=False)
    assert started.returncode == 0, started.stderr
    folder = re.search(r"local_ray stop (/tmp/dfm-ray-\S+)", started.stdout)
    use = re.search(r"^  (.*) deepfake-monitor scan VIDEO\.\.\. --cluster (127\.0\.0\.1:\d+)$",
                    started.stdout, re.M)
    assert folder and use, started.stdout
    try:
        assert cluster_processes(folder[1])  # it outlives the command that started it
        env = dict(os.environ, **dict(v.split("=", 1) for v in use[1].split()))
        report = tmp_path / "r.json"
        scan = subprocess.run([sys.executable, "-m", "deepfake_monitor.realtime.cli", "scan",
                               str(SAMPLE), "--cluster", use[2], "--json", str(report)],
                              env=env, capture_output=True, text=True, timeout=200, check=False)
        assert scan.returncode == 0, scan.stderr
        assert [v["status"] for v in json.loads(report.read_text())["videos"]] == ["ok"]
    finally:
        stopped = subprocess.run([*LOCAL_RAY, "stop", folder[1]], capture_output=True,
                                 text=True, timeout=60, check=False)
    assert stopped.returncode == 0, stopped.stderr
    assert not cluster_processes(folder[1]) and not Path(folder[1]).exists()
    again = subprocess.run([*LOCAL_RAY, "stop", folder[1]], capture_output=True, text=True,
                           timeout=60, check=False)
    assert again.returncode == 2 and "not the folder of a local cluster" in again.stderr
