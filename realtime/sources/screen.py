"""A monitor or a region of one, grabbed with mss at a steady rate (`ScreenCapture`)."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import cv2
import numpy as np

from ..errors import SourceError
from .credentials import mask_credentials as mask_credentials
from .credentials import quote_userinfo as quote_userinfo
from .credentials import split_userinfo as split_userinfo


class ScreenCapture:
    """A monitor or region through mss; one mss instance per thread (it holds a display)."""

    def __init__(self, name: str, target: int | tuple[int, ...], fps: float) -> None:
        self.name = name
        self.fps = fps
        self.frame_count: int | None = None
        self._local = threading.local()
        sct = self._open_mss()
        try:
            monitors = sct.monitors
            if isinstance(target, int):
                if target >= len(monitors):
                    count = len(monitors) - 1
                    raise SourceError(
                        f"{name}: no such monitor; this display has {count} "
                        f"(screen:1{'' if count == 1 else f' to screen:{count}'}; "
                        "screen:0 = all of them)")
                m = monitors[target]
                self.region = {"left": m["left"], "top": m["top"], "width": m["width"],
                               "height": m["height"]}
            else:
                x, y, w, h = target
                whole = monitors[0]
                if x < whole["left"] or y < whole["top"] or \
                        x + w > whole["left"] + whole["width"] or \
                        y + h > whole["top"] + whole["height"]:
                    raise SourceError(
                        f"{name}: region outside the screen ({whole['width']}x{whole['height']} "
                        f"at {whole['left']},{whole['top']})")
                self.region = {"left": x, "top": y, "width": w, "height": h}
            self.width, self.height = self.region["width"], self.region["height"]
            sct.grab(self.region)  # fail now, not in the thread, when the display refuses
        except SourceError:
            raise
        except Exception as exc:
            raise SourceError(f"{name}: screen capture failed: {exc}") from None
        finally:
            self._close_mss()
        self._shot: Any = None

    def _open_mss(self) -> Any:
        sct = getattr(self._local, "sct", None)
        if sct is not None:
            return sct
        try:
            import mss
        except ImportError:
            raise SourceError(f"{self.name}: screen capture needs the 'mss' package") from None
        factory = getattr(mss, "MSS", None) or mss.mss
        try:
            sct = factory()
        except Exception as exc:
            raise SourceError(f"{self.name}: no display to capture ({exc})") from None
        self._local.sct = sct
        return sct

    def _close_mss(self) -> None:
        sct = getattr(self._local, "sct", None)
        if sct is not None:
            self._local.sct = None
            with contextlib.suppress(Exception):
                sct.close()

    def grab(self) -> bool:
        try:
            self._shot = self._open_mss().grab(self.region)
        except Exception as exc:
            self._failure = f"screen capture failed: {exc}"
            return False
        return True

    def retrieve(self) -> np.ndarray | None:
        shot = self._shot
        bgra = np.frombuffer(shot.raw, np.uint8).reshape(shot.height, shot.width, 4)  # no copy
        return cv2.cvtColor(bgra, cv2.COLOR_BGRA2BGR)  # the one copy, contiguous BGR

    def position_s(self) -> float | None:
        return None

    def failure(self) -> str:
        return getattr(self, "_failure", "screen capture failed")

    def close(self) -> None:
        self._close_mss()
