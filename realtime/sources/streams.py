"""Network streams (rtsp, rtsps, http, https, rtmp, srt, udp, tcp) through PyAV
(`StreamCapture`): per-source FFmpeg options, open and read timeouts, and FFmpeg's own reason
when an open fails."""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from ..errors import SourceError
from .capture import NotRetryable
from .credentials import mask_credentials as mask_credentials
from .credentials import quote_userinfo as quote_userinfo
from .credentials import split_userinfo as split_userinfo
from .frame_limit import check_frame_size, decoder_options
from .rotation import frame_turns, turned_size, upright
from .spec import split_stream_options

log = logging.getLogger(__name__)


class StreamCapture:
    """A network stream through PyAV (see the module docstring for why not OpenCV)."""

    def __init__(self, name: str, url: str, options: Mapping[str, str] | None,
                 open_timeout_s: float, read_timeout_s: float) -> None:
        try:
            import av  # lazily: files, webcams and screens work without PyAV
        except ImportError:
            raise NotRetryable(f"{name}: network streams need the 'av' package (PyAV)") \
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
