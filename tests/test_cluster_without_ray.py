"""The runtime install has no Ray: scan and watch run without it and never import it, and
--cluster says in one line how to install it; watch's .txt source lists work locally too. Run
in subprocesses whose import system refuses `ray`, so it holds whether or not the cluster extra
is installed here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(180)

_NO_RAY = """
import sys

class Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "ray":
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)")
        return None

sys.meta_path.insert(0, Blocker())
from deepfake_monitor.realtime.cli import main
code = main(sys.argv[1:])
print("ray imported" if any(m.split(".")[0] == "ray" for m in sys.modules) else "no ray")
sys.exit(code)
"""

MISSING = ("deepfake-monitor: error: --cluster needs Ray, which is not installed: "
           "pip install 'deepfake-monitor[cluster]'")


def run_without_ray(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _NO_RAY, *args], capture_output=True,
                          text=True, timeout=150, check=False)


@pytest.fixture(scope="module")
def clip(shared_media: Path) -> str:
    path = shared_media / "videos" / "video-retalking-face5.mp4"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    return str(path)


def test_scan_without_cluster_needs_no_ray(clip: str, tmp_path: Path) -> None:
    done = run_without_ray("scan", clip, "--json", str(tmp_path / "r.json"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "no ray"
    assert (tmp_path / "r.json").is_file()


@pytest.mark.parametrize("command", [["scan"], ["watch", "--live"]])
def test_cluster_without_ray_says_how_to_install_it(command: list[str], clip: str) -> None:
    done = run_without_ray(*command, clip, "--cluster", "auto")
    assert done.returncode == 2
    assert done.stderr.strip() == MISSING


def test_bench_cluster_without_ray_says_how_to_install_it_before_any_work() -> None:
    """The same hint as --cluster, before the bench makes its clip (it used to make it, then
    fail with ModuleNotFoundError)."""
    done = run_without_ray("bench", "--only", "cluster", "--quick")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == MISSING.replace("--cluster", "bench --only cluster")


def test_watch_reads_sources_from_a_txt_list(clip: str, shared_media: Path,
                                             tmp_path: Path) -> None:
    """One source per line, blank lines and comments skipped; locally too, without Ray."""
    other = shared_media / "videos" / "aniportrait-pose_ref_video.mp4"
    if not other.is_file():
        pytest.skip(f"{other} is absent")
    listing = tmp_path / "cams.txt"
    listing.write_text(f"# two files\n{clip}\n\n  {other}  \n")
    events = tmp_path / "events.jsonl"
    done = run_without_ray("watch", str(listing), "--live", "--events", str(events))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "no ray"
    states = {(r["source"], r["state"]) for r in map(json.loads, events.read_text().splitlines())
              if r["type"] == "status"}
    assert {(clip, "ended"), (str(other), "ended")} <= states


def test_watch_list_naming_no_source_is_one_line(tmp_path: Path) -> None:
    listing = tmp_path / "cams.txt"
    listing.write_text("# nothing yet\n\n")
    done = run_without_ray("watch", str(listing))
    assert done.returncode == 2
    assert done.stderr.strip() == (f"deepfake-monitor: error: {listing}: names no source "
                                   "(one per line)")
