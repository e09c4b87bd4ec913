"""The largest video frame a source may have, checked before anything is decoded.

A 662 KB H.264 file can declare 15000x15000 frames, and decoding them took `scan` to 3.8 GB of
memory before it failed. A file's frame size is read from its stream headers by FFmpeg with
`max_pixels` set, so that even the probe decodes nothing larger, and a source above the limit is
refused in one line. The default, DCI 8K (8192x4320, 35.4 megapixels), passes every common
video format; `--max-pixels` raises it for the run (`set_max_pixels`), and cluster workers get
the driver's value.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import SourceError

log = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 8192 * 4320
_max_pixels = DEFAULT_MAX_PIXELS


def set_max_pixels(pixels: int) -> None:
    """The limit for every source this process opens from now on (the command's option)."""
    global _max_pixels
    if pixels <= 0:
        raise ValueError(f"max_pixels must be > 0, got {pixels}")
    _max_pixels = int(pixels)


def max_pixels() -> int:
    return _max_pixels


def decoder_options() -> dict[str, str]:
    """FFmpeg codec options that make a decoder refuse frames above the limit."""
    return {"max_pixels": str(_max_pixels)}


def check_frame_size(name: str, width: int, height: int) -> None:
    """SourceError in one line when `width` x `height` is above the limit."""
    if width > 0 and height > 0 and width * height > _max_pixels:
        raise SourceError(
            f"{name}: frames of {width}x{height} ({width * height / 1e6:.1f} megapixels) are "
            f"larger than the limit of {_max_pixels / 1e6:.1f} megapixels; refused before "
            "decoding (--max-pixels raises it)")


def check_file(name: str, path: str | Path) -> None:
    """Refuse a video file whose frames are above the limit, reading only its headers. A file
    FFmpeg cannot read passes: opening it says why."""
    try:
        import av
    except ImportError:  # pragma: no cover - av is a runtime dependency
        return
    try:
        with av.open(str(path), stream_options=[decoder_options()] * 8) as container:
            sizes = [(s.codec_context.width, s.codec_context.height)
                     for s in container.streams.video]
    except Exception as exc:  # unreadable here: the real open reports it
        log.debug("%s: no frame size from its headers (%s)", name, exc)
        return
    for width, height in sizes:
        check_frame_size(name, width, height)
