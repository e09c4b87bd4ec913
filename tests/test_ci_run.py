""".ci/run in CI (CI=true, as root): a failed system-package install fails the run instead of
letting the RTSP, Xvfb and ffmpeg tests skip. Run on a copy of .ci/run whose install script
really fails (exit 100), so it stops before making any virtual environment."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="CI runs .ci/run as root")


def run_copy(tmp_path: Path, install: str, ci: str | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / ".ci").mkdir()
    shutil.copy(REPO / ".ci" / "run", tmp_path / ".ci" / "run")
    (tmp_path / ".ci" / "install-system-packages").write_text(install)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["CI_INSTALL_RETRY_DELAY_S"] = "0"
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(["bash", str(tmp_path / ".ci" / "run")], capture_output=True,
                          text=True, timeout=60, env=env, cwd=tmp_path)


def test_a_failed_install_fails_the_ci_run(tmp_path: Path) -> None:
    marker = tmp_path / "attempts"
    done = run_copy(tmp_path, f"echo x >> {marker}\nexit 100\n", ci="true")
    assert done.returncode == 1, done.stderr
    assert "ci: error: the system packages could not be installed" in done.stderr
    assert len(marker.read_text().splitlines()) == 3  # tried three times first
    assert not (tmp_path / ".venv").exists()  # stopped before the tests


def test_a_tool_missing_after_a_successful_install_fails_the_ci_run(tmp_path: Path) -> None:
    """An install that 'succeeds' without installing anything: the probes notice what a
    skipping test would otherwise hide (here: Xvfb and ffmpeg looked up on a PATH without
    them)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "id", "dirname", "sleep", "rm", "env"):
        found = shutil.which(tool)
        assert found, tool
        (bin_dir / tool).symlink_to(found)
    (tmp_path / ".ci").mkdir()
    shutil.copy(REPO / ".ci" / "run", tmp_path / ".ci" / "run")
    (tmp_path / ".ci" / "install-system-packages").write_text("exit 0\n")
    env = {"PATH": str(bin_dir), "CI": "true", "CI_INSTALL_RETRY_DELAY_S": "0"}
    done = subprocess.run([str(bin_dir / "bash"), str(tmp_path / ".ci" / "run")],
                          capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "ci: error: missing after the install: ffmpeg Xvfb" in done.stderr
    assert not (tmp_path / ".venv").exists()
