"""What streams a file FFmpeg cannot open as video holds, for its one-line error.

An MP4 with only an audio track is a sound file, not a corrupt video: saying "corrupt" sends
the user looking for damage that is not there. PyAV reads the container's headers only.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def no_video_reason(path: str | Path) -> str | None:
    """'no video stream (...)' where FFmpeg reads the file's container but finds no video
    stream in it; None where it has one, or the container itself cannot be read."""
    try:
        import av
    except ImportError:  # pragma: no cover - av is a runtime dependency
        return None
    try:
        with av.open(str(path)) as container:
            if container.streams.video:
                return None
            kinds = sorted({s.type for s in container.streams})
    except Exception as exc:  # unreadable container: the caller says why
        log.debug("%s: no stream list from its headers (%s)", path, exc)
        return None
    held = f"only {' and '.join(kinds)}" if kinds else "no streams at all"
    return f"no video stream ({held})"
