"""A private X display (Xvfb) for the tests that capture a screen or show the real window.

Used by tests/test_sources.py (screen capture) and tests/app_screenshot.py (the app window).
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time


def start_xvfb(width: int, height: int) -> tuple[subprocess.Popen[bytes], str, int]:
    """Xvfb on a free display (-displayfd picks it); returns the process, the display and the
    pipe Xvfb wrote the display number to, which must stay open while Xvfb runs (it dies on a
    broken pipe). LookupError when Xvfb is absent or does not start."""
    exe = shutil.which("Xvfb")
    if not exe:
        raise LookupError("Xvfb is absent (run .ci/install-system-packages)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen([exe, "-displayfd", str(write_fd), "-screen", "0",
                             f"{width}x{height}x24", "-nolisten", "tcp", "-noreset"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    os.close(write_fd)
    text = b""
    deadline = time.monotonic() + 10
    while not text.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([read_fd], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(read_fd, 64) if ready else b""
        if not chunk:
            break
        text += chunk
    number = text.decode().strip()
    if not number.isdecimal() or proc.poll() is not None:
        stop_xvfb(proc, read_fd)
        raise LookupError("Xvfb did not start")
    return proc, f":{number}", read_fd


def stop_xvfb(proc: subprocess.Popen[bytes], read_fd: int) -> None:
    proc.terminate()  # SIGTERM: Xvfb removes its socket and lock file
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    os.close(read_fd)
