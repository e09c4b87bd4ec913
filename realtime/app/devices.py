"""Which webcams and monitors exist, found without opening them (so nothing can hang).

Linux reads /sys/class/video4linux (a camera's extra metadata nodes are skipped); elsewhere Qt
Multimedia lists the cameras where it is installed. Monitors come from mss, in the numbering
that `screen:N` uses. Every failure means "none found", never an error.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Webcam:
    index: int
    name: str

    @property
    def source(self) -> str:
        return str(self.index)


@dataclass(frozen=True)
class Monitor:
    index: int  # mss numbering: 1.. for each monitor (0 would be all of them)
    left: int
    top: int
    width: int
    height: int

    @property
    def source(self) -> str:
        return f"screen:{self.index}"

    @property
    def label(self) -> str:
        return f"Monitor {self.index} ({self.width}x{self.height} at {self.left},{self.top})"


def list_webcams(sysfs: Path = Path("/sys/class/video4linux"), dev: Path = Path("/dev")
                 ) -> list[Webcam]:
    try:
        if sys.platform.startswith("linux"):
            return _linux_webcams(sysfs, dev)
        return _qt_webcams()
    except Exception as exc:  # enumeration is a convenience: never fail the app over it
        log.debug("webcam enumeration failed: %s", exc)
        return []


def _linux_webcams(sysfs: Path, dev: Path) -> list[Webcam]:
    if not sysfs.is_dir():
        return []
    cams = []
    for node in sysfs.glob("video*"):
        number = node.name.removeprefix("video")
        if not number.isdecimal() or not (dev / node.name).exists():
            continue
        index_file = node / "index"
        # A camera's second node (index 1, ...) carries metadata, not pictures.
        if index_file.is_file() and index_file.read_text().strip() not in ("", "0"):
            continue
        name_file = node / "name"
        name = name_file.read_text().strip() if name_file.is_file() else ""
        cams.append(Webcam(int(number), name or f"Camera {number}"))
    return sorted(cams, key=lambda c: c.index)


def _qt_webcams() -> list[Webcam]:
    try:
        from PyQt6.QtMultimedia import QMediaDevices
    except ImportError:
        return []
    return [Webcam(i, d.description()) for i, d in enumerate(QMediaDevices.videoInputs())]


def list_monitors() -> list[Monitor]:
    try:
        import mss

        factory = getattr(mss, "MSS", None) or mss.mss
        with factory() as sct:
            monitors = list(sct.monitors)
    except Exception as exc:
        log.debug("monitor enumeration failed: %s", exc)
        return []
    return [Monitor(i, m["left"], m["top"], m["width"], m["height"])
            for i, m in enumerate(monitors) if i > 0]
