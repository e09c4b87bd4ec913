"""Test support for stream tests: a real RTSP server (tests/rtsp_server.py) in a subprocess.

The server runs under Debian's /usr/bin/python3, which has python3-gi and GStreamer's RTSP
server (.ci/install-system-packages installs them); the project's venv does not need them.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO

import numpy as np

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER_SCRIPT = Path(__file__).with_name("rtsp_server.py")
_PROBE = (
    "import gi; gi.require_version('Gst', '1.0'); gi.require_version('GstRtspServer', '1.0'); "
    "from gi.repository import Gst, GstRtspServer; Gst.init(None); "
    "assert Gst.ElementFactory.find('rtph264pay') and Gst.ElementFactory.find('h264parse') "
    "and Gst.ElementFactory.find('qtdemux'), 'GStreamer plugins missing'"
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (free when this returns)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rtsp_unavailable_reason() -> str | None:
    """None when the RTSP server can run here, else why not (for pytest.skip)."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} is absent (the RTSP server needs Debian's python3-gi)"
    try:
        probe = subprocess.run([SYSTEM_PYTHON, "-c", _PROBE], capture_output=True, text=True,
                               timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {SYSTEM_PYTHON}: {exc}"
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["unknown error"])[-1]
        return (f"{SYSTEM_PYTHON} cannot load GStreamer's RTSP server ({last}); "
                "run .ci/install-system-packages")
    return None


def ffmpeg_unavailable_reason() -> str | None:
    return None if shutil.which("ffmpeg") else "ffmpeg is absent (run .ci/install-system-packages)"


def write_h264_clip(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    """Encode BGR frames as an H.264 MP4 with ffmpeg/libx264 (a keyframe every second, no
    B-frames), which the RTSP server can packetize."""
    h, w = frames[0].shape[:2]
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
           "-s", f"{w}x{h}", "-r", str(fps), "-i", "-", "-c:v", "libx264", "-preset", "ultrafast",
           "-g", str(fps), "-bf", "0", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
           str(path)]
    data = b"".join(np.ascontiguousarray(f).tobytes() for f in frames)
    subprocess.run(cmd, input=data, check=True, capture_output=True, timeout=120)
    return path


class RtspServer:
    """rtsp://127.0.0.1:PORT/test serving `clip` (looped); kill with stop(), same port on
    restart(). Always killed on exit from the context manager."""

    def __init__(self, clip: Path, port: int | None = None, *, user: str | None = None,
                 password: str | None = None, path: str = "/test",
                 ready_timeout_s: float = 15.0) -> None:
        self.clip = Path(clip)
        self.port = port or free_port()
        self.user = user
        self.password = password
        self.path = path
        self.ready_timeout_s = ready_timeout_s
        self.proc: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    @property
    def url(self) -> str:
        auth = f"{self.user}:{self.password}@" if self.user is not None else ""
        return f"rtsp://{auth}127.0.0.1:{self.port}{self.path}"

    def start(self) -> RtspServer:
        if self.proc is not None and self.proc.poll() is None:
            return self
        cmd = [SYSTEM_PYTHON, str(SERVER_SCRIPT), str(self.clip), "--port", str(self.port),
               "--path", self.path]
        if self.user is not None:
            cmd += ["--user", self.user, "--password", self.password or ""]
        # stderr goes to a file: a pipe nobody reads could fill up and stall the server
        if self._log is not None:
            self._log.close()
        self._log = tempfile.TemporaryFile(mode="w+t")  # noqa: SIM115 - as long as the server
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log, text=True)
        self.proc = proc
        lines: list[str] = []
        assert proc.stdout is not None
        reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(self.ready_timeout_s)
        if not lines or lines[0].strip() != "ready":
            self.stop()
            raise RuntimeError(f"RTSP server on port {self.port} did not become ready within "
                               f"{self.ready_timeout_s:g} s: {self.last_log[-500:]}")
        return self

    @property
    def last_log(self) -> str:
        """What the last server process wrote on stderr."""
        if self._log is None or self._log.closed:
            return ""
        self._log.seek(0)
        return self._log.read().strip()

    def stop(self) -> None:
        """Kill the server at once (SIGKILL): to its clients, a camera that died."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()

    def restart(self, *, attempts: int = 20) -> RtspServer:
        """Start again on the same port (retrying while the kernel still holds the port)."""
        self.stop()
        for attempt in range(attempts):
            try:
                return self.start()
            except RuntimeError:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.25)
        return self

    def __enter__(self) -> RtspServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
        if self._log is not None:
            self._log.close()
