"""Sampled, not-live H.264 files through PyAV (`SampledH264Capture`): an unsampled frame whose
slices all have nal_ref_idc 0 is referenced by no other frame, so its packet is dropped
undecoded, while every delivered frame has exactly OpenCV's pixels and numbering."""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

import numpy as np

from .credentials import mask_credentials as mask_credentials
from .credentials import quote_userinfo as quote_userinfo
from .credentials import split_userinfo as split_userinfo
from .rotation import turned_size, upright
from .sampling import Timestamps, keeps_time

log = logging.getLogger(__name__)


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


class SampledH264Capture:
    """A sampled (non-live) H.264 file through PyAV that never decodes unsampled frames that
    no other frame references (B-frames, mostly: about half the frames of a typical x264 or
    phone clip). `grab()` decodes everything else, so every frame it delivers has exactly the
    pixels OpenCV decodes, turned upright as OpenCV turns them (checked in the tests); `index`
    is the grabbed frame's number in presentation order, from the timestamps of the packets
    read, and so skips the frames left undecoded. Frames are sampled by presentation time
    (realtime/sources/sampling.py): a packet is left undecoded only where a frame already read
    starts in the same 1/sample_fps slot before it. Only MP4/MOV/MKV-style H.264
    (length-prefixed NAL units); `open()` returns None for anything else, which OpenCV reads.
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
             turns: int) -> SampledH264Capture | None:
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
