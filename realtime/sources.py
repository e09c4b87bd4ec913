"""Video sources: one capture thread per source, with an explicit buffering policy.

Modelled on roboflow/inference's `VideoSource` and ultralytics' `LoadStreams`: each source has
its own thread, a small state machine (`SourceState`), a bounded hand-off buffer, a stop event,
and joins with timeouts. Nothing busy-waits: threads block on a condition, an `Event.wait` or the
backend's own (time-limited) read.

Buffering policy
- Files (not live) never drop a frame: the thread blocks while the buffer (`queue_size`) is full,
  so a slow consumer slows decoding down (backpressure). `sample_fps` keeps frames by
  presentation time (realtime/sampling.py: at most that many per second of video, also where
  the frame rate varies); skipped frames are only `grab()`-ed, never converted into arrays. So
  is a video file served over http(s) (a stream with a finite duration), unless played live.
- Frames are upright: the display rotation phones record portrait video with is applied on
  every path (realtime/rotation.py).
- Live sources (webcam, stream, screen, a file played live) keep only the newest frame: a slot of
  one that the thread overwrites, counting `frames_dropped`, so a slow consumer always analyses
  the present, not a growing backlog. A file played live is paced by its frames' presentation
  times on a monotonic deadline and ends at its end. It can also pause, resume and seek
  (`pause()`, `resume()`, `seek()`, called from any thread): the capture thread handles them
  between two frames, waits on a condition while paused, and re-bases its pacing clock
  afterwards.
- Only network streams and webcams reconnect: a failed or timed-out read gives DISCONNECTED, then
  RECONNECTING attempts with exponential backoff (0.5 s doubling, capped at `max_backoff_s`,
  interrupted at once by `stop()`), then LIVE again ("reconnected ...").
- Network streams also retry their first open, with the same backoff: a camera that is
  rebooting when monitoring starts is picked up when it comes back. `open()` then returns after
  one failed attempt, in DISCONNECTED, and the capture thread goes on trying in CONNECTING.
  `max_retries` and `give_up_after_s` bound each outage (FAILED once spent; `max_retries=0` fails
  at once, as files, webcams and screens always do on their first open).

Backends, and why
- Files and webcams: OpenCV (`cv2.VideoCapture`, FFmpeg backend for files). `grab()` decodes
  without the colour conversion that `retrieve()` does, which is what frame sampling needs.
  Sampled, not-live H.264 files in MP4/MOV/MKV go further (`_SampledH264Capture`, PyAV): an
  unsampled frame whose slices all have nal_ref_idc 0 is referenced by no other frame, so its
  packet is dropped undecoded - about half the frames of a clip with B-frames, ~30 % less
  decoding CPU - while every delivered frame has exactly OpenCV's pixels and numbering.
- Network streams (rtsp, rtsps, http, https, rtmp, srt, udp, tcp): PyAV (`av.open`). Both
  backends were tested against a real RTSP server (GStreamer, tests/rtsp_server.py), FFmpeg 8 in
  both wheels. Both honour an open timeout (a port that accepts TCP but never answers: 2.0 s with
  a 2 s timeout) and see a killed server at once (end of stream). A server that hangs (SIGSTOP)
  is noticed after 2x the read timeout by PyAV and 3x by OpenCV (OpenCV retries internally).
  PyAV was chosen because (1) it says why an open failed - "Connection refused",
  "401 Unauthorized", "404 Not Found" - where OpenCV only returns `isOpened() == False` and
  prints FFmpeg's reasons to stderr, which a one-line `SourceError` cannot quote; (2) FFmpeg
  options are per source (`options=`), where OpenCV takes them from one process-wide variable,
  `OPENCV_FFMPEG_CAPTURE_OPTIONS`, that two sources with different transports would race on;
  (3) it keeps FFmpeg's log quiet. Neither backend can interrupt a blocked network read from
  another thread, so `stop()` joins with a timeout and a thread stuck in such a read exits by
  itself within the read timeout (it is a daemon thread and releases its own capture).

Stream options: RTSP uses TCP by default (`rtsp_transport=tcp`: no lost UDP packets, works
through NAT). The URL's fragment, which is never sent to the server, carries FFmpeg demuxer
options: `rtsp://cam/live#transport=udp` (`transport` is short for `rtsp_transport`), or
`rtsp://cam/live#rtsp_transport=udp&analyzeduration=500000`. In code, pass
`VideoSource(spec, stream_options={"rtsp_transport": "udp"})`, which wins over the fragment.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import struct
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np

from .credentials import mask_credentials as mask_credentials
from .credentials import quote_userinfo as quote_userinfo
from .credentials import remember_url
from .credentials import split_userinfo as split_userinfo
from .errors import SourceError
from .frame_limit import check_file, check_frame_size, decoder_options
from .rotation import frame_turns, opencv_turns, turned_size, upright
from .sampling import Timestamps, keeps_time
from .stream_kinds import no_video_reason

log = logging.getLogger(__name__)

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
        return SourceSpec(SourceKind.SCREEN, _parse_screen(raw), raw, live=True)
    path = Path(raw).expanduser()
    if not path.exists():
        raise SourceError(f"{raw}: no such file")
    if path.is_dir():
        raise SourceError(f"{raw}: is a directory, not a video file")
    return SourceSpec(SourceKind.FILE, str(path), raw, live=live_files)


def _parse_screen(text: str) -> int | tuple[int, int, int, int]:
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


# --------------------------------------------------------------------------------------------
# Backends: each opens synchronously (raising SourceError) and then offers grab()/retrieve().


def keeps_frame(index: int, fps: float, sample_fps: float | None) -> bool:
    """Even sampling by frame number: keep frame i when floor(i * sample / fps) advances."""
    if sample_fps is None or fps <= 0 or sample_fps >= fps:
        return True
    ratio = sample_fps / fps
    return index == 0 or math.floor(index * ratio) > math.floor((index - 1) * ratio)


class _NotRetryable(SourceError):
    """A stream that no retry can open (PyAV is not installed)."""


class _Capture(Protocol):
    fps: float
    frame_count: int | None
    width: int
    height: int

    def grab(self) -> bool: ...  # next frame, decoded but not converted; False at end/failure
    def retrieve(self) -> np.ndarray | None: ...  # the grabbed frame as BGR
    def position_s(self) -> float | None: ...  # presentation time of the grabbed frame
    def failure(self) -> str: ...  # why the last grab() returned False
    def close(self) -> None: ...


class _FileCapture:
    """A video file through OpenCV's FFmpeg backend."""

    def __init__(self, name: str, path: str) -> None:
        self.name = name
        p = Path(path)
        if not p.exists():
            raise SourceError(f"{name}: no such file")
        if p.is_dir():
            raise SourceError(f"{name}: is a directory, not a video file")
        if p.stat().st_size == 0:
            raise SourceError(f"{name}: empty file (0 bytes)")
        self._cap = cv2.VideoCapture(str(p), cv2.CAP_FFMPEG)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"{name}: {_diagnose_unopenable(p)}")
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if self.width <= 0 or self.height <= 0:
            self._cap.release()
            raise SourceError(f"{name}: no video stream")
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        if not fps or not math.isfinite(fps) or fps <= 0:
            log.warning("%s: no frame rate in the file; assuming 25 fps", name)
            fps = 25.0
        self.fps = float(fps)
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self.frame_count: int | None = count if count > 0 else None
        self.turns = opencv_turns(self._cap)  # OpenCV turns the frames upright itself

    def grab(self) -> bool:
        return bool(self._cap.grab())

    def retrieve(self) -> np.ndarray | None:
        ok, image = self._cap.retrieve()
        return image if ok else None

    def position_s(self) -> float | None:
        ms = self._cap.get(cv2.CAP_PROP_POS_MSEC)
        return ms / 1000.0 if math.isfinite(ms) and ms >= 0 else None

    def seek(self, seconds: float) -> int:
        """Move to the frame at `seconds` (clamped to the file); the index of the next frame."""
        target = max(0, round(seconds * self.fps))
        if self.frame_count:
            target = min(target, self.frame_count - 1)
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, target)
        pos = self._cap.get(cv2.CAP_PROP_POS_FRAMES)
        return int(pos) if math.isfinite(pos) and pos >= 0 else target

    def failure(self) -> str:
        return "end of file"

    def close(self) -> None:
        self._cap.release()


def _nal_length_size(extradata: bytes | None) -> int | None:
    """The NAL length field size of H.264 in an AVCDecoderConfigurationRecord (MP4, MOV, MKV);
    None for Annex-B streams (start codes) and anything else."""
    if not extradata or len(extradata) < 7 or extradata[0] != 1:
        return None
    return (extradata[4] & 0x03) + 1


def h264_disposable(data: bytes, length_size: int) -> bool:
    """Whether an H.264 access unit (length-prefixed NAL units) is referenced by no other frame:
    every slice has nal_ref_idc 0. Such a frame can be left undecoded without changing any
    other frame's pixels. False where unsure (no slice, a malformed length)."""
    pos, end, slices = 0, len(data), 0
    while pos + length_size <= end:
        size = int.from_bytes(data[pos : pos + length_size], "big")
        pos += length_size
        if size <= 0 or pos + size > end:
            return False
        header = data[pos]
        if header & 0x1F in (1, 5):  # coded slice (non-IDR, IDR)
            if header & 0x60:  # nal_ref_idc > 0: other frames predict from this one
                return False
            slices += 1
        pos += size
    return slices > 0


class _SampledH264Capture:
    """A sampled (non-live) H.264 file through PyAV that never decodes unsampled frames that
    no other frame references (B-frames, mostly: about half the frames of a typical x264 or
    phone clip). `grab()` decodes everything else, so every frame it delivers has exactly the
    pixels OpenCV decodes, turned upright as OpenCV turns them (checked in the tests); `index`
    is the grabbed frame's number in presentation order, from the timestamps of the packets
    read, and so skips the frames left undecoded. Frames are sampled by presentation time
    (realtime/sampling.py): a packet is left undecoded only where a frame already read starts
    in the same 1/sample_fps slot before it. Only MP4/MOV/MKV-style H.264 (length-prefixed NAL
    units); `open()` returns None for anything else, which OpenCV reads.
    """

    def __init__(self, container: Any, stream: Any, length_size: int, fps: float,
                 sample_fps: float, turns: int) -> None:
        import av

        self._decode_error = av.FFmpegError
        self._container = container
        self._stream = stream
        self._length_size = length_size
        self._sample_fps = sample_fps
        self._turns = turns
        self._packets = container.demux(stream)
        self._frames: deque[Any] = deque()
        self._frame: Any = None
        self._time_base = float(stream.time_base)
        self._start = stream.start_time or 0
        self._times = Timestamps()
        self.fps = fps
        self.width, self.height = turned_size(int(stream.codec_context.width),
                                              int(stream.codec_context.height), turns)
        self.frame_count: int | None = int(stream.frames) if stream.frames else None
        self.index = -1  # number of the last grabbed frame
        self.frames_seen = 0  # packets read so far (grabbed or left undecoded)
        self.skipped = 0

    @classmethod
    def open(cls, path: str, fps_hint: float | None, sample_fps: float,
             turns: int) -> _SampledH264Capture | None:
        try:
            import av
        except ImportError:
            return None
        try:
            container = av.open(path)
        except (av.FFmpegError, OSError):
            return None
        try:
            stream = container.streams.video[0] if container.streams.video else None
            length_size = _nal_length_size(stream.codec_context.extradata) if stream else None
            rate = (stream.guessed_rate or stream.average_rate) if stream else None
            if stream is None or stream.codec_context.name != "h264" or length_size is None \
                    or not rate or not stream.time_base:
                container.close()
                return None
            stream.thread_type = "AUTO"
            return cls(container, stream, length_size, fps_hint or float(rate), sample_fps,
                       turns)
        except Exception:
            container.close()
            return None

    def _seconds(self, pts: int) -> float:
        return (pts - self._start) * self._time_base

    def _unsampled(self, pts: int) -> bool:
        """Certainly not analysed: a frame read already starts in its slot before it (the
        frame shown just before it, still unread or not, lies between the two)."""
        before = self._times.previous(pts)
        return before is not None and \
            not keeps_time(self._seconds(pts), self._seconds(before), self._sample_fps)

    def grab(self) -> bool:
        while not self._frames:
            packet = next(self._packets, None)
            if packet is None:
                return False
            if packet.size and packet.pts is not None:
                unsampled = self._unsampled(packet.pts)
                self._times.add(packet.pts, packet.duration)
                self.frames_seen = len(self._times)
                if unsampled and h264_disposable(bytes(packet), self._length_size):
                    self.skipped += 1
                    continue
            try:
                self._frames.extend(packet.decode())
            except self._decode_error as exc:  # a damaged packet: its frame is missing, go on
                log.debug("skipping a damaged packet: %s", exc)
        self._frame = self._frames.popleft()
        pts = self._frame.pts
        self.index = self._times.number(pts) if pts is not None else self.index + 1
        self.frames_seen = max(self.frames_seen, self.index + 1)
        return True

    def retrieve(self) -> np.ndarray | None:
        if self._frame is None:
            return None
        return upright(self._frame.to_ndarray(format="bgr24"), self._turns)

    def position_s(self) -> float | None:
        pts = None if self._frame is None else self._frame.pts
        return None if pts is None else self._seconds(pts)

    def previous_s(self) -> float | None:
        """Presentation time of the frame before the grabbed one (decoded or not)."""
        pts = None if self._frame is None else self._frame.pts
        before = None if pts is None else self._times.previous(pts)
        return None if before is None else self._seconds(before)

    def end_s(self) -> float | None:
        """Where the video ends: the latest frame's time plus its duration (so far)."""
        return None if self._times.end is None else self._seconds(self._times.end)

    def failure(self) -> str:
        return "end of file"

    def close(self) -> None:
        self._container.close()


def _gave_up(retries: int, first: bool, waited: float, reason: str) -> str:
    """Why a source was given up, counting attempts as --max-retries does: retries after the
    first open (which counts as an attempt of its own) or after a disconnect."""
    plural = "y" if retries == 1 else "ies"
    if first:
        tries = retries + 1
        counted = f"{tries} attempt{'s' if tries != 1 else ''} ({retries} retr{plural})"
    else:
        counted = f"{retries} retr{plural} to reconnect"
    return f"gave up after {counted} in {waited:.1f} s: {reason}"


def _diagnose_unopenable(path: Path) -> str:
    """Why FFmpeg could not open a file, for the one-line error (MP4/MOV structure checked)."""
    no_video = no_video_reason(path)
    if no_video is not None:  # an audio-only MP4 is no corrupt one
        return no_video
    size = path.stat().st_size
    with path.open("rb") as fh:
        head = fh.read(12)
        if len(head) < 8 or head[4:8] != b"ftyp":
            return "not a video file (FFmpeg cannot read a video stream from it)"
        offset, kinds = 0, []
        while offset + 8 <= size:
            fh.seek(offset)
            header = fh.read(16)
            box_size, kind = struct.unpack(">I4s", header[:8])
            if box_size == 1 and len(header) == 16:
                box_size = struct.unpack(">Q", header[8:16])[0]
            elif box_size == 0:
                box_size = size - offset
            if box_size < 8:
                return "corrupt MP4 (invalid box structure)"
            label = kind.decode("latin-1")
            kinds.append(label)
            if offset + box_size > size:
                tail = "" if "moov" in kinds else " and has no 'moov' index"
                return (f"truncated MP4: the file ends inside its '{label}' box "
                        f"({size - offset} of {box_size} bytes){tail}")
            offset += box_size
    if "moov" not in kinds:
        return "corrupt MP4: no 'moov' index"
    return "corrupt MP4 (FFmpeg cannot decode it)"


class _WebcamCapture:
    """A camera through OpenCV's default backend (V4L2, Media Foundation, AVFoundation)."""

    def __init__(self, name: str, index: int) -> None:
        self.name = name
        self._cap = cv2.VideoCapture(index)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(f"{name}: no such camera (cannot open video device {index}; "
                              "is it connected, or in use by another program?)")
        ok = self._cap.grab()
        if not ok:
            self._cap.release()
            raise SourceError(f"{name}: camera opened but delivers no frames")
        self._pending = True  # the first grab stays for the first frame
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and math.isfinite(fps) and fps > 0 else 0.0
        self.frame_count: int | None = None

    def grab(self) -> bool:
        if self._pending:
            self._pending = False
            return True
        return bool(self._cap.grab())

    def retrieve(self) -> np.ndarray | None:
        ok, image = self._cap.retrieve()
        return image if ok else None

    def position_s(self) -> float | None:
        return None

    def failure(self) -> str:
        return "camera stopped delivering frames"

    def close(self) -> None:
        self._cap.release()


class _StreamCapture:
    """A network stream through PyAV (see the module docstring for why not OpenCV)."""

    def __init__(self, name: str, url: str, options: Mapping[str, str] | None,
                 open_timeout_s: float, read_timeout_s: float) -> None:
        try:
            import av  # lazily: files, webcams and screens work without PyAV
        except ImportError:
            raise _NotRetryable(f"{name}: network streams need the 'av' package (PyAV)") \
                from None

        self.name = name
        self._av = av
        url, fragment_options = split_stream_options(url)
        opts: dict[str, str] = {}
        if urlsplit(url).scheme.lower() in ("rtsp", "rtsps"):
            opts["rtsp_transport"] = "tcp"
        opts.update(fragment_options)
        opts.update({k: str(v) for k, v in (options or {}).items()})
        self.read_timeout_s = read_timeout_s
        self._frames: deque[Any] = deque()
        self._frame: Any = None
        self._failure = ""
        started = time.monotonic()
        try:
            # the probe decodes nothing above the frame-size limit (frame_limit.py)
            self._container = av.open(url, options=opts, timeout=(open_timeout_s, read_timeout_s),
                                      stream_options=[decoder_options()] * 8)
        except (av.FFmpegError, OSError) as exc:
            raise SourceError(f"{name}: cannot open stream: "
                              f"{self._reason(exc, time.monotonic() - started, open_timeout_s)}"
                              ) from None
        try:
            if not self._container.streams.video:
                raise SourceError(f"{name}: no video stream")
            self._stream = self._container.streams.video[0]
            check_frame_size(name, self._stream.codec_context.width,
                             self._stream.codec_context.height)
            self._packets = self._container.demux(self._stream)
            if not self.grab():  # prove that frames arrive, and learn the real frame size
                raise SourceError(f"{name}: opened, but no video frame arrived: {self._failure}")
        except BaseException:
            self._container.close()
            raise
        self._frames.appendleft(self._frame)  # keep the first frame for the first grab()
        self.width, self.height = turned_size(self._frame.width, self._frame.height,
                                              frame_turns(self._frame))
        rate = self._stream.average_rate or self._stream.guessed_rate
        self.fps = float(rate) if rate else 0.0
        self.frame_count: int | None = None
        # A file over http(s) ends at its end; RTSP servers announce a duration even for a
        # looped or live feed, so for them the end of the stream is a lost connection.
        duration = self._container.duration
        self.finite = duration is not None and duration > 0 and \
            urlsplit(url).scheme.lower() not in ("rtsp", "rtsps")

    def _reason(self, exc: BaseException, elapsed: float, timeout: float) -> str:
        av = self._av
        if isinstance(exc, av.error.ExitError) or (
                isinstance(exc, av.error.InvalidDataError) and elapsed >= 0.95 * timeout):
            return f"no answer within {timeout:g} s"
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        return mask_credentials(str(reason))

    def grab(self) -> bool:
        av = self._av
        while not self._frames:
            started = time.monotonic()
            try:
                packet = next(self._packets)
            except StopIteration:
                self._failure = "stream ended (the server closed the connection)"
                return False
            except (av.FFmpegError, OSError) as exc:
                self._failure = self._reason(exc, time.monotonic() - started, self.read_timeout_s)
                if self._failure.startswith("no answer"):
                    self._failure = f"no data for {self.read_timeout_s:g} s"
                return False
            if packet.size == 0:  # the demuxer's flush packet: end of stream
                self._failure = "stream ended (the server closed the connection)"
                with contextlib.suppress(av.FFmpegError):  # the frames the decoder still holds
                    self._frames.extend(packet.decode())
                if not self._frames:
                    return False
                continue
            try:
                self._frames.extend(packet.decode())
            except av.FFmpegError as exc:  # one damaged packet must not end a live stream
                log.debug("%s: skipping an undecodable packet: %s", self.name,
                          mask_credentials(str(exc)))
        self._frame = self._frames.popleft()
        return True

    def retrieve(self) -> np.ndarray | None:
        image = self._frame.to_ndarray(format="bgr24")
        return np.ascontiguousarray(upright(image, frame_turns(self._frame)))

    def position_s(self) -> float | None:
        return self._frame.time if self._frame is not None else None

    def failure(self) -> str:
        return self._failure

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._container.close()


class _ScreenCapture:
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


# --------------------------------------------------------------------------------------------


def _masked_traceback(exc: BaseException) -> str:
    """A traceback for the log, with URL credentials masked (exception texts quote URLs)."""
    return mask_credentials("".join(traceback.format_exception(type(exc), exc,
                                                               exc.__traceback__)))


class _FrameBuffer:
    """Hand-off between capture thread and consumer: bounded FIFO, or a latest-wins slot."""

    def __init__(self, size: int, latest_wins: bool) -> None:
        self._items: deque[Frame] = deque()
        self._fifo_size = size
        self._size = 1 if latest_wins else size
        self._latest_wins = latest_wins
        self._cond = threading.Condition()
        self._closed = False

    def put(self, frame: Frame) -> tuple[bool, bool]:
        """(accepted, dropped an unread frame). Blocks while a FIFO is full, until closed."""
        with self._cond:
            if self._closed:
                return False, False
            dropped = False
            if self._latest_wins:
                dropped = bool(self._items)
                self._items.clear()
            else:
                while len(self._items) >= self._size and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return False, False
            self._items.append(frame)
            self._cond.notify_all()
            return True, dropped

    def get(self, timeout: float | None) -> Frame | None:
        with self._cond:
            if not self._cond.wait_for(lambda: self._items or self._closed, timeout):
                return None
            if not self._items:
                return None
            frame = self._items.popleft()
            self._cond.notify_all()
            return frame

    def close(self, discard: bool = False) -> None:
        """No more frames will come; wakes everyone. `discard` drops what is still buffered."""
        with self._cond:
            self._closed = True
            if discard:
                self._items.clear()
            self._cond.notify_all()

    def empty(self) -> bool:
        with self._cond:
            return not self._items

    def set_latest_wins(self, latest_wins: bool) -> None:
        """Switch between a bounded FIFO and a latest-wins slot (a stream that turns out to
        be a video file); called by the capture thread, or before it starts."""
        with self._cond:
            self._latest_wins = latest_wins
            self._size = 1 if latest_wins else self._fifo_size
            self._cond.notify_all()


class VideoSource:
    """One source read on its own thread; see the module docstring for the buffering policy.

    `on_status` is called on the thread that changes the state (the capture thread, or the one
    calling open()/stop()); keep it quick. The timeouts apply to network streams; files, webcams
    and screens are read through backends with their own. `stream_options` are FFmpeg options
    for network streams (e.g. {"rtsp_transport": "udp"}). `max_retries` (retries in a
    row) and `give_up_after_s` (seconds without a connection) bound the retries of a network
    stream's first open and of every reconnect of streams and webcams; None: retry forever.
    A stream that turns out to be a video file (http(s) with a finite duration) is read like a
    file, every sampled frame in order at the analysis' own pace, unless `play_finite_live`,
    which plays it at its own frame rate as a file played live.
    """

    def __init__(
        self,
        spec: SourceSpec,
        *,
        sample_fps: float | None = None,
        queue_size: int = 8,
        on_status: Callable[[StatusEvent], None] | None = None,
        open_timeout_s: float = 10.0,
        read_timeout_s: float = 5.0,
        max_backoff_s: float = 10.0,
        stream_options: Mapping[str, str] | None = None,
        max_retries: int | None = None,
        give_up_after_s: float | None = None,
        play_finite_live: bool = False,
    ) -> None:
        if sample_fps is not None and not sample_fps > 0:
            raise ValueError(f"sample_fps must be > 0, got {sample_fps}")
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        if max_retries is not None and max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {max_retries}")
        if give_up_after_s is not None and not give_up_after_s > 0:
            raise ValueError(f"give_up_after_s must be > 0, got {give_up_after_s}")
        self._spec = spec
        if spec.kind is SourceKind.STREAM:  # its secrets masked in this process's messages too
            remember_url(str(spec.target))
        self._name = mask_credentials(spec.name)  # even if a caller built the spec by hand
        self.sample_fps = sample_fps
        self.queue_size = queue_size
        self.on_status = on_status
        self.open_timeout_s = open_timeout_s
        self.read_timeout_s = read_timeout_s
        self.max_backoff_s = max_backoff_s
        self.stream_options = dict(stream_options or {})
        self.max_retries = max_retries
        self.give_up_after_s = give_up_after_s
        self.play_finite_live = play_finite_live
        self._finite = False  # a stream that is a video file (known once it is open)
        self._end_s: float | None = None  # where a file's last frame read so far ends
        self._rebase_clock = True  # timed live play: the next frame is due at once
        self._opened = False
        self._open_failure = ""  # why the first open failed, while it is being retried
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._buffer = _FrameBuffer(queue_size, latest_wins=spec.live)
        self._thread: threading.Thread | None = None
        self._capture: _Capture | None = None
        self._state = SourceState.CONNECTING
        self._events: list[StatusEvent] = []
        self._error: str | None = None
        self._stopped = False
        self._t0 = time.monotonic()
        self._fps = 0.0
        self._frame_count: int | None = None
        self._width = 0
        self._height = 0
        self._frames_read = 0
        self._frames_dropped = 0
        self._outages = 0
        # pause / seek of a file played live: set by any thread, acted on by the capture thread
        self._control = threading.Condition()
        self._paused = False
        self._seek_to: float | None = None
        self._step = False  # paused, after a seek: deliver the frame at the new position

    # -- properties -------------------------------------------------------------------------

    @property
    def spec(self) -> SourceSpec:
        return self._spec

    @property
    def name(self) -> str:
        return self._name

    @property
    def live(self) -> bool:
        """Whether only the newest frame counts (older ones are dropped): not for files, nor
        for video files served over the network unless played live."""
        return self._spec.live and not (self._finite and not self.play_finite_live)

    @property
    def finite(self) -> bool:
        """A network stream that is a video file with a duration (known once open)."""
        return self._finite

    @property
    def fps(self) -> float:
        """Nominal frame rate (screens: the capture rate; 0.0 where a stream does not say)."""
        return self._fps

    @property
    def frame_count(self) -> int | None:
        """Frames in the file, from its header; None for live sources."""
        return self._frame_count

    @property
    def width(self) -> int:
        return self._width

    @property
    def height(self) -> int:
        return self._height

    @property
    def frames_read(self) -> int:
        """Frames handed to the buffer (sampled-out frames do not count)."""
        return self._frames_read

    @property
    def frames_dropped(self) -> int:
        """Live sources: frames overwritten before the consumer read them."""
        return self._frames_dropped

    @property
    def outages(self) -> int:
        """How often the connection was lost (streams and webcams), for consumers whose
        state ends with it."""
        return self._outages

    @property
    def state(self) -> SourceState:
        return self._state

    @property
    def ended(self) -> bool:
        """True once no frame will come any more and the buffer is drained."""
        done = self._stop.is_set() or self._state in (SourceState.ENDED, SourceState.FAILED)
        return done and self._buffer.empty()

    @property
    def error(self) -> str | None:
        """Why the source failed, without its name ("decoding stopped at frame 812 of 1500")."""
        return self._error

    @property
    def events(self) -> list[StatusEvent]:
        with self._lock:
            return list(self._events)

    @property
    def seekable(self) -> bool:
        """Whether `pause()`, `resume()` and `seek()` apply: files played live."""
        return self._spec.kind is SourceKind.FILE and self._spec.live

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def duration_s(self) -> float | None:
        """Length of a file: where its last frame ends once it has been read to the end (by
        presentation time, right for variable frame rates too), before that from its header
        (frames / fps); None for live sources."""
        if self._end_s is not None and self._state is SourceState.ENDED:
            return self._end_s
        if self._frame_count and self._fps > 0:
            return self._frame_count / self._fps
        return None

    # -- pause and seek (files played live) --------------------------------------------------

    def pause(self) -> None:
        """Hold at the current frame; the capture thread waits without polling."""
        self._require_seekable("pause")
        with self._control:
            self._paused = True
            self._control.notify_all()

    def resume(self) -> None:
        """Play on from where it paused, at the file's own pace."""
        self._require_seekable("resume")
        with self._control:
            self._paused = False
            self._control.notify_all()

    def seek(self, seconds: float) -> None:
        """Continue from the frame at `seconds` (clamped to the file). While paused, the frame
        at the new position is delivered and the source stays paused. Requests coalesce: only
        the latest one before the capture thread gets to it counts. No effect once the file
        has ended (the capture is released then; open a new VideoSource)."""
        self._require_seekable("seek")
        if not math.isfinite(seconds):
            raise ValueError(f"seek position must be finite, got {seconds}")
        with self._control:
            self._seek_to = max(0.0, float(seconds))
            self._control.notify_all()

    def _require_seekable(self, what: str) -> None:
        if not self.seekable:
            raise ValueError(f"{self.name}: cannot {what}: only video files played live can "
                             "pause and seek")

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def retries_first_open(self) -> bool:
        """Whether a failed first open is retried (network streams, unless max_retries=0)."""
        return self._spec.kind is SourceKind.STREAM and self.max_retries != 0

    def open(self) -> None:
        """Open synchronously, so that a bad source fails here with a SourceError.

        A network stream that cannot be reached is no bad source: unless `max_retries` is 0,
        open() returns in DISCONNECTED and start()'s thread goes on trying."""
        if self._opened:
            return
        if self._stopped:
            raise RuntimeError(f"{self.name}: stopped; create a new VideoSource")
        self._set_state(SourceState.CONNECTING, f"opening {self._describe()}")
        try:
            capture = self._open_capture()
        except SourceError as exc:
            if self.retries_first_open and not isinstance(exc, _NotRetryable):
                self._opened = True
                self._open_failure = str(exc).removeprefix(f"{self.name}: ")
                self._set_state(SourceState.DISCONNECTED, self._open_failure)
                return
            self._fail(str(exc))
            self._buffer.close()
            raise
        except Exception as exc:  # a backend bug must still surface as one clear line
            message = f"{self.name}: cannot open: {mask_credentials(str(exc)) or type(exc)}"
            self._fail(message)
            self._buffer.close()
            raise SourceError(message) from None
        self._opened = True
        self._capture = capture
        self._adopt(capture)
        self._fps, self._frame_count = capture.fps, capture.frame_count
        self._width, self._height = capture.width, capture.height
        count = f", {self._frame_count} frames" if self._frame_count else ""
        self._set_state(SourceState.LIVE,
                        f"opened {self.width}x{self.height} at {self.fps:g} fps{count}")

    def start(self) -> None:
        """Open if needed, then start the capture thread."""
        if self._thread is not None:
            return
        self.open()
        self._t0 = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"source:{self.name}",
                                        daemon=True)
        self._thread.start()

    def read(self, timeout: float | None = None) -> Frame | None:
        """The next frame; None on timeout, or when the source has ended (see `ended`)."""
        if self._thread is None and not self._stopped and self._state is not SourceState.FAILED:
            raise RuntimeError(f"{self.name}: call start() before read()")
        return self._buffer.get(timeout)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop the thread and release the capture; idempotent, returns within `timeout`."""
        self._stop.set()
        with self._control:
            self._control.notify_all()  # a paused capture thread wakes up and sees the stop
        self._buffer.close(discard=True)
        thread = self._thread
        if thread is None:
            self._release()
        elif thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("%s: capture thread still blocked in a read; it exits by itself "
                            "within %g s", self.name, self.read_timeout_s)
        if not self._stopped:
            self._stopped = True
            if self._state not in (SourceState.ENDED, SourceState.FAILED):
                self._set_state(SourceState.ENDED, "stopped", final=True)

    def __enter__(self) -> VideoSource:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"VideoSource({self.name!r}, {self._spec.kind.value}, {self._state.value})"

    # -- internals --------------------------------------------------------------------------

    def _describe(self) -> str:
        kind = self._spec.kind
        if kind is SourceKind.FILE:
            return "file, played live" if self.live else "file"
        return kind.value

    def _open_capture(self) -> _Capture:
        spec, name = self._spec, self.name
        if spec.kind is SourceKind.FILE:
            check_file(name, str(spec.target))  # frames too large: refused before decoding
            capture = _FileCapture(name, str(spec.target))
            if not spec.live and self.sample_fps and self.sample_fps < capture.fps:
                # Sampling a file: frames nothing else references need not be decoded at all.
                sampled = _SampledH264Capture.open(str(spec.target), capture.fps,
                                                   self.sample_fps, capture.turns)
                if sampled is not None:
                    capture.close()
                    return sampled
            return capture
        if spec.kind is SourceKind.WEBCAM:
            return _WebcamCapture(name, int(spec.target))  # type: ignore[arg-type]
        if spec.kind is SourceKind.STREAM:
            return _StreamCapture(name, str(spec.target), self.stream_options,
                                  self.open_timeout_s, self.read_timeout_s)
        if spec.kind is SourceKind.SCREEN:
            target = spec.target if isinstance(spec.target, (int, tuple)) else \
                _parse_screen(str(spec.target))
            return _ScreenCapture(name, target, self.sample_fps or DEFAULT_SCREEN_FPS)
        raise SourceError(f"{name}: unknown source kind {spec.kind!r}")

    def _adopt(self, capture: _Capture) -> None:
        """A stream that is a video file: its frames are not dropped unless played live."""
        self._finite = self._spec.kind is SourceKind.STREAM and \
            bool(getattr(capture, "finite", False))
        self._buffer.set_latest_wins(self.live)

    def _set_state(self, state: SourceState, message: str, *, final: bool = False) -> None:
        if self._stop.is_set() and not final:
            return  # after stop() only its own "stopped" counts; a late thread stays quiet
        event = StatusEvent(self.name, state, mask_credentials(message), time.time())
        with self._lock:
            self._state = state
            self._events.append(event)
        level = logging.WARNING if state in (SourceState.DISCONNECTED, SourceState.FAILED) \
            else logging.INFO
        log.log(level, "%s: %s: %s", self.name, state.value, event.message)
        if self.on_status is not None:
            try:
                self.on_status(event)
            except Exception as exc:
                log.error("%s: on_status callback failed: %s", self.name, _masked_traceback(exc))

    def _fail(self, message: str) -> None:
        self._error = mask_credentials(message).removeprefix(f"{self.name}: ")
        self._set_state(SourceState.FAILED, self._error)

    def _release(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            with contextlib.suppress(Exception):
                capture.close()

    def _run(self) -> None:
        try:
            # the first open failed: a network stream keeps trying
            if self._capture is None and \
                    self._reconnect(self._open_failure, first=True) is None:
                return
            if self.live:
                self._run_live()
            else:
                self._run_file()
        except Exception as exc:
            log.debug("%s: capture thread crashed: %s", self.name, _masked_traceback(exc))
            if not self._stop.is_set():
                self._fail(f"capture failed: {mask_credentials(str(exc))}")
        finally:
            self._release()
            self._buffer.close()

    def _frame_time(self, capture: _Capture, index: int) -> float:
        pos = capture.position_s()
        if pos is not None and (pos > 0 or index == 0):
            return pos
        return index / self.fps if self.fps > 0 else 0.0

    def _run_file(self) -> None:
        """Every frame read, in order; the sampled ones (by presentation time) handed on,
        waiting while the buffer is full. Also a video file served over the network."""
        capture = self._capture
        assert capture is not None
        # it numbers its own frames, and knows those it left undecoded
        sampled = capture if isinstance(capture, _SampledH264Capture) else None
        index, previous = -1, None
        while not self._stop.is_set():
            if not capture.grab():
                break
            index = sampled.index if sampled else index + 1
            t = self._frame_time(capture, index)
            if sampled:
                previous = sampled.previous_s()
            keep = keeps_time(t, previous, self.sample_fps)
            self._end_s = sampled.end_s() if sampled else \
                t + (t - previous if previous is not None and t > previous else
                     1.0 / self.fps if self.fps > 0 else 0.0)
            previous = t
            if not keep:
                continue  # grabbed only: never converted to an array
            image = capture.retrieve()
            if image is None:
                break
            frame = Frame(self.name, index, t, time.monotonic(), image)
            accepted, _ = self._buffer.put(frame)
            if not accepted:
                return  # stopped
            self._frames_read += 1
        if self._stop.is_set():
            return
        if self._spec.kind is SourceKind.STREAM and \
                not capture.failure().startswith("stream ended"):
            self._fail(f"{capture.failure()} after {index + 1} frames")
        else:
            self._finish_file(sampled.frames_seen if sampled else index + 1)

    def _finish_file(self, decoded: int) -> None:
        count = self.frame_count
        if count and count - decoded > max(2, 0.05 * count):
            self._fail(f"decoding stopped at frame {decoded} of {count}")
        else:
            what = "stream" if self._spec.kind is SourceKind.STREAM else "file"
            self._set_state(SourceState.ENDED, f"end of {what} after {decoded} frames")

    def _run_live(self) -> None:
        capture = self._capture
        assert capture is not None
        kind = self._spec.kind
        # files played live (and videos served over the network, played live) are paced and
        # sampled by presentation time; screens are captured at the sample rate already
        timed = kind is SourceKind.FILE or self._finite
        paced_fps = capture.fps if kind is SourceKind.SCREEN else 0.0
        period = 1.0 / self.sample_fps if self.sample_fps and not timed and \
            kind in (SourceKind.STREAM, SourceKind.WEBCAM) else 0.0
        next_offer = self._t0
        index, previous = -1, None
        self._rebase_clock = True
        while not self._stop.is_set():
            if kind is SourceKind.FILE:
                control = self._file_control(capture, index)
                if control is None:
                    return
                index = control
            if paced_fps > 0 and index >= 0:
                # deadline of the next frame on the monotonic clock; waits are interruptible
                delay = self._t0 + (index + 1) / paced_fps - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
            # A screen has its frame at hand now: the screenshot counts in its latency. A
            # stream's or camera's grab() waits for the frame to arrive, so theirs is taken
            # once it has; a timed frame's once it is due.
            before = time.monotonic()
            if not capture.grab():
                capture = self._after_failure(capture, index)
                if capture is None:
                    return
                continue
            index += 1
            now = time.monotonic()
            if timed:
                t = self._frame_time(capture, index)
                if self._rebase_clock:  # start, pause or seek: this frame is due now
                    self._rebase_clock, previous = False, None
                    self._t0 = now - t
                keep = keeps_time(t, previous, self.sample_fps)
                previous = t
                if not keep:
                    continue
                delay = self._t0 + t - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    return
                captured = time.monotonic()
            else:
                if period:
                    if now < next_offer:
                        continue  # decoded, not converted: outside the offer rate
                    next_offer = max(next_offer + period, now - period / 2)
                t = now - self._t0
                captured = before if kind is SourceKind.SCREEN else now
            image = capture.retrieve()
            if image is None:
                continue
            accepted, dropped = self._buffer.put(Frame(self.name, index, t, captured, image))
            if not accepted:
                return
            self._step = False
            self._frames_read += 1
            self._frames_dropped += dropped

    def _file_control(self, capture: _Capture, index: int) -> int | None:
        """Apply pause and seek requests between two frames of a file played live.

        Returns the index of the last frame delivered (a seek changes it), or None once
        stopped. Waits on the condition while paused; seeks outside the lock (seeking decodes
        up to the target, and pause() or seek() from the GUI must not wait for that).
        Afterwards the pacing clock is re-based (on the next frame) so that the next frame is
        due at once and play continues at the file's own pace.
        """
        rebase = False
        while True:
            with self._control:
                if self._stop.is_set():
                    return None
                target, self._seek_to = self._seek_to, None
                if target is None:
                    if not self._paused or self._step:
                        break
                    self._control.wait()
                    rebase = True
                    continue
                paused = self._paused
            index = capture.seek(target) - 1  # type: ignore[attr-defined]
            self._step = paused  # paused: show the frame at the new position
            rebase = True
        if rebase:
            self._rebase_clock = True
        return index

    def _after_failure(self, capture: _Capture, index: int) -> _Capture | None:
        """End, fail, or reconnect after a failed grab; the capture to go on with, or None."""
        kind = self._spec.kind
        if kind is SourceKind.FILE:
            self._finish_file(index + 1)
            return None
        reason = capture.failure()
        if kind is SourceKind.SCREEN:
            self._fail(reason)
            return None
        if kind is SourceKind.STREAM and getattr(capture, "finite", False) \
                and reason.startswith("stream ended"):
            self._set_state(SourceState.ENDED, "end of stream")
            return None
        return self._reconnect(reason)

    def _reconnect(self, reason: str, *, first: bool = False) -> _Capture | None:
        """Retry with backoff until a capture opens (returned), stop(), or the retry bounds are
        spent (FAILED, None). `first`: the first open failed; no connection was made yet."""
        if not first:
            self._outages += 1
            self._set_state(SourceState.DISCONNECTED, reason)
        self._release()
        delay, attempt, last = _FIRST_BACKOFF_S, 0, reason if first else ""
        lost_at = time.monotonic()
        deadline = None if self.give_up_after_s is None else lost_at + self.give_up_after_s
        while True:
            waited = time.monotonic() - lost_at
            if (self.max_retries is not None and attempt >= self.max_retries) or \
                    (deadline is not None and time.monotonic() >= deadline):
                self._fail(_gave_up(attempt, first, waited, last or reason) if attempt or first
                           else f"{reason} (not retried)")
                return None
            attempt += 1
            wait = delay if deadline is None else max(0.0, min(delay, deadline - time.monotonic()))
            if first:
                self._set_state(SourceState.CONNECTING, f"attempt {attempt + 1} in "
                                f"{round(wait, 1):g} s (last attempt: {last})")
            else:  # a wait cut to the deadline reads 1.5 s, not 1.49681 s
                self._set_state(SourceState.RECONNECTING, f"reconnect attempt {attempt} in "
                                f"{round(wait, 1):g} s" + (f" (last attempt: {last})" if last
                                                           else ""))
            if self._stop.wait(wait):
                return None
            try:
                capture = self._open_capture()
            except SourceError as exc:
                last = str(exc).removeprefix(f"{self.name}: ")
                log.debug("%s: attempt %d failed: %s", self.name, attempt, last)
                delay = min(delay * 2, self.max_backoff_s)
                continue
            if self._stop.is_set():
                capture.close()
                return None
            self._capture = capture
            self._adopt(capture)
            # a camera may come back with another size or rate
            self._fps, self._width, self._height = capture.fps, capture.width, capture.height
            took = f"({time.monotonic() - lost_at:.1f} s)"
            if first:
                self._set_state(SourceState.LIVE, f"opened {self.width}x{self.height} at "
                                f"{self.fps:g} fps after {attempt + 1} attempts {took}")
            else:
                self._set_state(SourceState.LIVE, f"reconnected after {attempt} attempt"
                                f"{'s' if attempt > 1 else ''} {took}")
            return capture
