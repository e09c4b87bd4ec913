"""What a source is, before anything is opened: its kind and target parsed from the text a user
gives (`parse_source`), the FFmpeg options a stream URL's fragment carries, the states a source
goes through and the events it reports, the frames it hands out, and even sampling by frame
number (`keeps_frame`)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from ..errors import SourceError
from .credentials import mask_credentials as mask_credentials
from .credentials import quote_userinfo as quote_userinfo
from .credentials import remember_url
from .credentials import split_userinfo as split_userinfo

STREAM_SCHEMES = ("rtsp", "rtsps", "http", "https", "rtmp", "rtmps", "srt", "udp", "tcp")
DEFAULT_SCREEN_FPS = 15.0
_FIRST_BACKOFF_S = 0.5
_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_OPTION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=[^&=]*$")
_TRANSPORT_ALIASES = {"transport": "rtsp_transport"}


class SourceKind(str, Enum):
    FILE = "file"
    WEBCAM = "webcam"
    STREAM = "stream"
    SCREEN = "screen"


@dataclass(frozen=True)
class SourceSpec:
    """What to open. `target` keeps real credentials; `name` is safe to print."""

    kind: SourceKind
    target: str | int | tuple[int, ...]  # path / webcam index / URL / monitor or (x, y, w, h)
    name: str
    live: bool


@dataclass(frozen=True, slots=True)
class Frame:
    source: str  # SourceSpec.name
    index: int  # frame number within the source (files: counting skipped frames)
    t: float  # files (also played live): presentation time in s; else s since start()
    # time.monotonic() when captured, for capture-to-result latency: files played live and
    # screens just before the frame is decoded or grabbed, streams and webcams once it arrived
    captured_at: float
    image: np.ndarray  # BGR uint8 HxWx3, C-contiguous


class SourceState(str, Enum):
    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    DISCONNECTED = "disconnected"
    ENDED = "ended"
    FAILED = "failed"


@dataclass(frozen=True)
class StatusEvent:
    source: str
    state: SourceState
    message: str
    at: float  # time.time()


def parse_source(text: str, *, live_files: bool = False) -> SourceSpec:
    """Turn command-line text into a SourceSpec; SourceError when it cannot name a source.

    "0", "1", ... are webcams; rtsp/rtsps/http/https (and rtmp, srt, udp, tcp) URLs are streams;
    "screen", "screen:N", "screen:x,y,w,h" capture a monitor or a region; anything else is a
    file path, live only with `live_files`. Directories are for the caller to expand.
    """
    raw = text.strip()
    if not raw:
        raise SourceError("'': empty source name")
    if raw.isdecimal():
        return SourceSpec(SourceKind.WEBCAM, int(raw), f"webcam {int(raw)}", live=True)
    scheme = _URL_SCHEME.match(raw)
    if scheme:
        name = remember_url(raw)
        if scheme.group(1).lower() not in STREAM_SCHEMES:
            raise SourceError(f"{name}: unsupported URL scheme '{scheme.group(1)}' "
                              f"(use one of {', '.join(STREAM_SCHEMES)})")
        if not urlsplit(quote_userinfo(raw)).hostname:
            raise SourceError(f"{name}: URL has no host")
        return SourceSpec(SourceKind.STREAM, raw, name, live=True)
    if raw.lower() == "screen" or raw.lower().startswith("screen:"):
        return SourceSpec(SourceKind.SCREEN, parse_screen(raw), raw, live=True)
    path = Path(raw).expanduser()
    if not path.exists():
        raise SourceError(f"{raw}: no such file")
    if path.is_dir():
        raise SourceError(f"{raw}: is a directory, not a video file")
    return SourceSpec(SourceKind.FILE, str(path), raw, live=live_files)


def parse_screen(text: str) -> int | tuple[int, int, int, int]:
    if text.lower() == "screen":
        return 1
    arg = text.split(":", 1)[1].strip()
    try:
        numbers = [int(part) for part in arg.split(",")]
    except ValueError:
        numbers = []
    if len(numbers) == 1 and numbers[0] >= 0:
        return numbers[0]
    if len(numbers) == 4 and numbers[2] > 0 and numbers[3] > 0:
        return (numbers[0], numbers[1], numbers[2], numbers[3])
    raise SourceError(f"{text}: expected screen, screen:N (monitor N, 0 = all) or "
                      "screen:x,y,w,h (a region, w and h > 0)")


def split_stream_options(url: str) -> tuple[str, dict[str, str]]:
    """Split FFmpeg options off a stream URL's fragment: "rtsp://c/x#transport=udp" → url, opts.

    A fragment that is not `key=value[&key=value...]` is left in the URL. The userinfo comes back
    percent-encoded (`quote_userinfo`), so a "#" in a password never starts the fragment.
    """
    url = quote_userinfo(url)
    parts = urlsplit(url)
    if not parts.fragment:
        return url, {}
    items = parts.fragment.split("&")
    if not all(_OPTION.match(item) for item in items):
        return url, {}
    options = {}
    for item in items:
        key, value = item.split("=", 1)
        options[_TRANSPORT_ALIASES.get(key, key)] = value
    return urlunsplit(parts._replace(fragment="")), options


def keeps_frame(index: int, fps: float, sample_fps: float | None) -> bool:
    """Even sampling by frame number: keep frame i when floor(i * sample / fps) advances."""
    if sample_fps is None or fps <= 0 or sample_fps >= fps:
        return True
    ratio = sample_fps / fps
    return index == 0 or math.floor(index * ratio) > math.floor((index - 1) * ratio)
