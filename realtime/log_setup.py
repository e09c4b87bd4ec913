"""Logging as the commands (and the cluster's worker processes) set it up: one stderr handler
that masks credentials and terminal escapes, native libraries (OpenCV, FFmpeg) kept quiet, and
the sources' own reasons not repeated below the error the command prints."""

from __future__ import annotations

import logging
import os
import sys

from .argtypes import PROG


class MaskingFilter(logging.Filter):
    """Credentials in URLs never reach a log line, whoever logs them; nor do the terminal
    escapes a file name may hold (display_text.py)."""

    def filter(self, record: logging.LogRecord) -> bool:
        from .display_text import clean
        from .sources.credentials import mask_credentials

        message = record.getMessage()
        masked = clean(mask_credentials(message), lines=True)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def quiet_native_logs(verbosity: int) -> None:
    """OpenCV and FFmpeg print their own warnings for every unreadable file; our one-line errors
    already say what went wrong. Must run before cv2 opens its first capture."""
    if verbosity == 0:
        os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
        os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
        import cv2

        # Errors only, also when cv2 was imported before the variable was set.
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


class SourceRepeatFilter(logging.Filter):
    """Sources log why they failed; the commands print that same reason once, as an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("deepfake_monitor.realtime.sources")
                    and record.levelno < logging.ERROR)


def setup_logging(verbosity: int) -> None:
    """One stderr handler on the root logger: `prog: level: message`, credentials masked, at
    WARNING less 10 per `-v` (a second call replaces the first's handler)."""
    quiet_native_logs(verbosity)
    level = max(logging.DEBUG, logging.WARNING - 10 * verbosity)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "deepfake_monitor", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(sys.stderr)
    handler.deepfake_monitor = True  # type: ignore[attr-defined]
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(levelname)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    if verbosity == 0:
        handler.addFilter(SourceRepeatFilter())
    root.addHandler(handler)
    root.setLevel(min(root.getEffectiveLevel(), level))
