"""--cluster where no cluster is: refused within the bounded time --help states, in one line
that names this program's options (not Ray's warnings, nor Ray CLI's `--address` flag). No
cluster is started: every case is an address where nothing listens, as a user meets it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the cluster extra (ray) is not installed")

from conftest import REPO

SAMPLE = REPO / "assets" / "samples" / "astronaut_sbi.mp4"
CLI = [sys.executable, "-m", "deepfake_monitor.realtime.cli"]
BOUND_S = 5  # what --help promises

pytestmark = pytest.mark.timeout(180)


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def scan_on(address: str, tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str],
                                                                 float]:
    """scan --cluster ADDRESS as a process, with Ray's temp folder under `tmp_path` (no cluster
    this machine may run is found) and RAY_ADDRESS unset unless given."""
    environ = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    environ.update({"TMPDIR": str(tmp_path), **env})
    started = time.monotonic()
    done = subprocess.run([*CLI, "scan", str(SAMPLE), "--cluster", address], env=environ,
                          capture_output=True, text=True, timeout=120, check=False)
    return done, time.monotonic() - started


def assert_one_line(done: subprocess.CompletedProcess[str], took: float, *needles: str) -> str:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("deepfake-monitor: error: --cluster "), \
        done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "--address" not in lines[0] and "Warning" not in done.stderr
    assert took < BOUND_S + 10, took  # Python and Ray's import included
    return lines[0]


def test_help_states_the_bound() -> None:
    done = subprocess.run([*CLI, "scan", "--help"], capture_output=True, text=True, timeout=60,
                          check=True)
    text = " ".join(done.stdout.split())
    assert f"an address where nothing answers within {BOUND_S} s is refused" in text


def test_ray_client_address_with_nothing_listening(tmp_path: Path) -> None:
    """Ray Client retried it for 30 s and printed its raw UserWarning first."""
    address = f"ray://127.0.0.1:{closed_port()}"
    done, took = scan_on(address, tmp_path)
    assert_one_line(done, took, address, "Connection refused")


def test_auto_without_a_cluster_names_our_options(tmp_path: Path) -> None:
    done, took = scan_on("auto", tmp_path)
    assert_one_line(done, took, "no Ray cluster found", "--cluster HOST:PORT", "local_ray start")


def test_auto_with_a_stale_cluster_address(tmp_path: Path) -> None:
    """The address this machine's last `ray start` recorded, of a cluster long gone (Ray
    retried it for minutes); and the same through RAY_ADDRESS."""
    port = closed_port()
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "ray_current_cluster").write_text(f"127.0.0.1:{port}\n")
    done, took = scan_on("auto", tmp_path)
    assert_one_line(done, took, f"found 127.0.0.1:{port}", "Connection refused")
    (tmp_path / "ray" / "ray_current_cluster").unlink()
    done, took = scan_on("auto", tmp_path, RAY_ADDRESS=f"127.0.0.1:{port}")
    assert_one_line(done, took, f"found 127.0.0.1:{port}", "Connection refused")
