"""Capture threads on real media: files, files played live, a real RTSP server, Xvfb screens.

Only the webcam is faked (there is none on the test machines); everything else is real.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import astronaut_frames, shared_clips, wait_for, write_clip
from rtsp_support import (
    RtspServer,
    ffmpeg_unavailable_reason,
    free_port,
    rtsp_unavailable_reason,
    write_h264_clip,
)
from xdisplay import start_xvfb, stop_xvfb

from deepfake_monitor.realtime.errors import SourceError
from deepfake_monitor.realtime.sources.credentials import mask_credentials
from deepfake_monitor.realtime.sources.files import FileCapture
from deepfake_monitor.realtime.sources.h264 import SampledH264Capture, h264_disposable
from deepfake_monitor.realtime.sources.spec import (
    DEFAULT_SCREEN_FPS,
    Frame,
    SourceKind,
    SourceSpec,
    SourceState,
    StatusEvent,
    parse_source,
    split_stream_options,
)
from deepfake_monitor.realtime.sources.video_source import VideoSource

PASSWORD = "s3cr3t-Pw"
ODD_PASSWORD = "p#ss/w?rd@x"  # reserved characters, unencoded

# -- helpers ---------------------------------------------------------------------------------


def drain(src: VideoSource, limit_s: float = 30.0, delay_s: float = 0.0) -> list[Frame]:
    """Every frame until the source ends (a slow consumer with delay_s)."""
    frames: list[Frame] = []
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        frame = src.read(timeout=0.5)
        if frame is None:
            if src.ended:
                return frames
            continue
        frames.append(frame)
        if delay_s:
            time.sleep(delay_s)
    raise AssertionError(f"{src.name} did not end within {limit_s} s")


def cv2_frame_count(path: Path) -> int:
    """An independent count: decode the whole file with a plain cv2.VideoCapture."""
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def capture_threads(src: VideoSource) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"source:{src.name}" and t.is_alive()]


def stop_quickly(src: VideoSource) -> float:
    """stop() must return within 2 s and leave no capture thread behind."""
    started = time.monotonic()
    src.stop(timeout=2.0)
    took = time.monotonic() - started
    assert took < 2.0, f"stop() took {took:.2f} s in state {src.state}"
    assert capture_threads(src) == []
    return took


def states(src: VideoSource) -> list[SourceState]:
    return [e.state for e in src.events]


def file_spec(path: Path, live: bool = False) -> SourceSpec:
    return parse_source(str(path), live_files=live)


def assert_open_fails(spec: SourceSpec, *needles: str, **kwargs: float) -> SourceError:
    """open() raises one clear line naming the input; the source is FAILED, no thread left."""
    src = VideoSource(spec, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(SourceError) as info:
        src.open()
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{spec.name}: "), message
    for needle in needles:
        assert needle in message, message
    assert src.state is SourceState.FAILED and src.ended
    reason = message.removeprefix(f"{spec.name}: ")
    assert src.error == reason  # without the name: events and `error` never repeat it
    assert src.events[-1].state is SourceState.FAILED and src.events[-1].message == reason
    assert src.read(timeout=0.05) is None
    stop_quickly(src)
    return info.value


# -- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def h264_clip(tmp_path_factory: pytest.TempPathFactory, astronaut_bgr: np.ndarray) -> Path:
    """4 s at 25 fps of a real face, H.264 (what the RTSP server can packetize)."""
    reason = ffmpeg_unavailable_reason()
    if reason:
        pytest.skip(reason)
    path = tmp_path_factory.mktemp("h264") / "astronaut_h264.mp4"
    return write_h264_clip(path, astronaut_frames(astronaut_bgr, n=100, size=(480, 360)))


@pytest.fixture(scope="session")
def rtsp_ok() -> None:
    reason = rtsp_unavailable_reason()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def rtsp_server(rtsp_ok: None, h264_clip: Path) -> Iterator[RtspServer]:
    with RtspServer(h264_clip) as server:
        yield server


@pytest.fixture
def xvfb(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real X display (Xvfb, 320x240) for screen capture; DISPLAY points at it."""
    try:
        proc, display, read_fd = start_xvfb(320, 240)
    except LookupError as exc:
        pytest.skip(str(exc))
    monkeypatch.setenv("DISPLAY", display)
    try:
        yield display
    finally:
        stop_xvfb(proc, read_fd)


# -- parsing ---------------------------------------------------------------------------------


def test_parse_source_kinds(tmp_path: Path) -> None:
    cam = parse_source("0")
    assert (cam.kind, cam.target, cam.live, cam.name) == (SourceKind.WEBCAM, 0, True, "webcam 0")
    assert parse_source("1").target == 1

    url = f"rtsp://admin:{PASSWORD}@10.0.0.7:554/Streaming/101"
    stream = parse_source(url)
    assert stream.kind is SourceKind.STREAM and stream.live
    assert stream.target == url  # the real URL, to connect with
    assert stream.name == "rtsp://***@10.0.0.7:554/Streaming/101"
    for text in ("rtsps://cam/x", "http://cam/video.mjpg", "https://example.org/live.m3u8"):
        assert parse_source(text).kind is SourceKind.STREAM

    assert parse_source("screen").target == 1  # monitor 1 in mss terms: the primary
    assert parse_source("screen:2").target == 2
    region = parse_source("screen:10,20,300,200")
    assert (region.kind, region.target, region.live) == (SourceKind.SCREEN, (10, 20, 300, 200),
                                                         True)

    clip = write_clip(tmp_path / "clip.mp4", [np.zeros((64, 64, 3), np.uint8)] * 3)
    spec = parse_source(str(clip))
    assert (spec.kind, spec.target, spec.live, spec.name) == (SourceKind.FILE, str(clip), False,
                                                              str(clip))
    assert parse_source(str(clip), live_files=True).live


def test_parse_source_errors_name_the_input(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"^clip\.mp4: no such file$"):
        parse_source("clip.mp4")
    with pytest.raises(SourceError, match=rf"^{tmp_path}: is a directory"):
        parse_source(str(tmp_path))
    with pytest.raises(SourceError, match=r"^screen:abc: expected screen, screen:N"):
        parse_source("screen:abc")
    with pytest.raises(SourceError, match=r"^screen:0,0,0,10: expected"):
        parse_source("screen:0,0,0,10")
    with pytest.raises(SourceError) as info:
        parse_source(f"ftp://bob:{PASSWORD}@host/x.mp4")
    assert str(info.value) == "ftp://***@host/x.mp4: unsupported URL scheme 'ftp' " \
        "(use one of rtsp, rtsps, http, https, rtmp, rtmps, srt, udp, tcp)"


def test_mask_credentials() -> None:
    assert mask_credentials("rtsp://user:pw@cam/x") == "rtsp://***@cam/x"
    assert mask_credentials("rtsp://cam:554/x") == "rtsp://cam:554/x"
    assert mask_credentials("no url here") == "no url here"
    several = "a rtsp://u:p@h1/x and 'http://admin:p@ss@h2:80/y?q=1' or https://tok@h3"
    assert mask_credentials(several) == \
        "a rtsp://***@h1/x and 'http://***@h2:80/y?q=1' or https://***@h3"
    assert mask_credentials("lost rtsp://u:p#w@cam, retrying") == "lost rtsp://***@cam, retrying"


@pytest.mark.parametrize(("url", "masked"), [
    # unencoded "#", "/", "?", "@" in a password: the userinfo runs to the last "@" before a host
    ("rtsp://u:p#w@cam/x", "rtsp://***@cam/x"),
    ("rtsp://u:p/w@cam:554/x", "rtsp://***@cam:554/x"),
    ("rtsp://u:p?w@cam/x?ch=1", "rtsp://***@cam/x?ch=1"),
    ("rtsp://u:a@b#c/d?e@[::1]:554/x", "rtsp://***@[::1]:554/x"),
    ("rtsp://u:p%23w@cam/x", "rtsp://***@cam/x"),
    # credentials in the query string
    ("rtsp://cam/x?password=pw&ch=1", "rtsp://cam/x?password=***&ch=1"),
    ("http://cam/x?ch=1&pass=pw", "http://cam/x?ch=1&pass=***"),
    ("http://cam/x?user=admin&pwd=p/w?x", "http://cam/x?user=***&pwd=***"),
    ("https://cam/live.m3u8?Token=abc&PASSWD=x", "https://cam/live.m3u8?Token=***&PASSWD=***"),
    ("rtsp://u:p@cam/x?password=pw", "rtsp://***@cam/x?password=***"),
    # an "@" in a query value is not userinfo
    ("rtsp://cam/x?email=a@b.com&ch=1", "rtsp://cam/x?email=a@b.com&ch=1"),
])
def test_mask_credentials_with_reserved_characters_and_query_secrets(url: str,
                                                                     masked: str) -> None:
    assert mask_credentials(url) == masked
    # inside a sentence and in quotes
    assert mask_credentials(f"cannot open {url} now") == f"cannot open {masked} now"
    assert mask_credentials(f"'{url}' returned 22") == f"'{masked}' returned 22"
    assert mask_credentials(masked) == masked  # masking twice changes nothing


def test_stream_options_from_url_fragment() -> None:
    assert split_stream_options("rtsp://cam/live#transport=udp") == \
        ("rtsp://cam/live", {"rtsp_transport": "udp"})
    assert split_stream_options("rtsp://cam/live?ch=1#rtsp_transport=tcp&analyzeduration=5") == \
        ("rtsp://cam/live?ch=1", {"rtsp_transport": "tcp", "analyzeduration": "5"})
    # a fragment that is not options stays
    assert split_stream_options("rtsp://cam/x#frag") == ("rtsp://cam/x#frag", {})
    # reserved characters in a password are percent-encoded for FFmpeg (which would otherwise
    # end the host at the "#"); encoded ones stay as they are
    assert split_stream_options("rtsp://u:p#w/x?y@z@cam/x#transport=udp") == \
        ("rtsp://u:p%23w%2Fx%3Fy%40z@cam/x", {"rtsp_transport": "udp"})
    assert split_stream_options("rtsp://u:p%23w@cam/x") == ("rtsp://u:p%23w@cam/x", {})
    assert split_stream_options("rtsp://u:100%@cam/x") == ("rtsp://u:100%25@cam/x", {})
    assert parse_source("rtsp://u:p/w@cam/x").name == "rtsp://***@cam/x"


# -- files -----------------------------------------------------------------------------------


def test_file_reads_every_frame_in_order(astronaut_clip: Path) -> None:
    expected = cv2_frame_count(astronaut_clip)
    seen: list[StatusEvent] = []
    src = VideoSource(file_spec(astronaut_clip), on_status=seen.append)
    src.start()
    frames = drain(src)
    assert len(frames) == expected == 50
    assert [f.index for f in frames] == list(range(expected))
    ts = [f.t for f in frames]
    assert ts[0] == 0.0 and all(b > a for a, b in itertools.pairwise(ts))
    assert ts[-1] == pytest.approx((expected - 1) / 25, abs=0.02)
    first = frames[0].image
    assert first.dtype == np.uint8 and first.shape == (360, 640, 3) and first.flags.c_contiguous
    assert all(f.source == str(astronaut_clip) for f in frames)
    assert (src.fps, src.frame_count, src.width, src.height) == (25.0, 50, 640, 360)
    assert src.frames_read == expected and src.frames_dropped == 0
    assert src.state is SourceState.ENDED and src.ended and src.error is None
    assert states(src) == [SourceState.CONNECTING, SourceState.LIVE, SourceState.ENDED]
    assert seen == src.events
    assert src.read(timeout=0.05) is None
    stop_quickly(src)
    assert src.state is SourceState.ENDED  # stop() after the end changes nothing


def test_file_slow_consumer_loses_nothing(astronaut_clip: Path) -> None:
    with VideoSource(file_spec(astronaut_clip), queue_size=2) as src:
        frames = drain(src, delay_s=0.01)
    assert [f.index for f in frames] == list(range(50))
    assert src.frames_dropped == 0


def test_shared_clip_read_fully(shared_media: Path) -> None:
    clips = [c for c in shared_clips() if c.name == "face_recognition-short_hamilton_clip.mp4"]
    if not clips:
        pytest.skip("face_recognition-short_hamilton_clip.mp4 is absent from shared media")
    clip = clips[0]
    with VideoSource(file_spec(clip)) as src:
        frames = drain(src)
    assert len(frames) == cv2_frame_count(clip) == src.frame_count
    assert [f.index for f in frames] == list(range(len(frames)))
    assert src.fps == pytest.approx(29.97, abs=0.01) and src.error is None
    ts = [f.t for f in frames]
    assert all(b > a for a, b in itertools.pairwise(ts))


def test_sampling_keeps_frames_evenly_and_converts_only_those(
        astronaut_clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    converted = []
    real_retrieve = FileCapture.retrieve

    def counting_retrieve(self: FileCapture) -> np.ndarray | None:
        converted.append(1)
        return real_retrieve(self)

    monkeypatch.setattr(FileCapture, "retrieve", counting_retrieve)
    with VideoSource(file_spec(astronaut_clip), sample_fps=5) as src:
        frames = drain(src)
    assert [f.index for f in frames] == list(range(0, 50, 5))
    assert [f.t for f in frames] == pytest.approx([i / 25 for i in range(0, 50, 5)], abs=0.002)
    assert len(converted) == 10  # the 40 skipped frames were grabbed, never converted
    assert src.state is SourceState.ENDED and src.error is None

    with VideoSource(file_spec(astronaut_clip), sample_fps=30) as src:  # above the file's fps
        assert len(drain(src)) == 50


def test_sampling_a_29_97_fps_clip(shared_media: Path) -> None:
    clip = shared_media / "videos" / "face_recognition-short_hamilton_clip.mp4"
    if not clip.exists():
        pytest.skip(f"{clip.name} is absent")
    with VideoSource(file_spec(clip), sample_fps=10) as src:
        frames = drain(src)
    n, fps = src.frame_count, src.fps
    assert n
    assert len(frames) == int((n - 1) * 10 / fps) + 1
    gaps = {b.index - a.index for a, b in itertools.pairwise(frames)}
    assert gaps <= {2, 3}  # 29.97 / 10: every third frame, now and then every second


# -- files played live -----------------------------------------------------------------------


def test_live_file_slow_consumer_gets_the_newest_frame(astronaut_clip: Path) -> None:
    src = VideoSource(file_spec(astronaut_clip, live=True))
    assert src.live
    started = time.monotonic()
    src.start()
    frames, lags = [], []
    while True:
        frame = src.read(timeout=0.5)
        if frame is None:
            if src.ended:
                break
            continue
        frames.append(frame)
        # newest wins: what we get is about where the clip's own clock is now (loosely)
        lags.append((time.monotonic() - started) * 25 - frame.index)
        time.sleep(0.15)  # slower than the source's 25 fps
    elapsed = time.monotonic() - started
    indices = [f.index for f in frames]
    assert indices == sorted(indices) and len(set(indices)) == len(indices)
    assert max(b - a for a, b in itertools.pairwise(indices)) >= 3
    assert src.frames_dropped > 0
    assert len(frames) + src.frames_dropped == src.frames_read == 50
    assert np.median(lags) < 8  # frames of the present, not of a backlog
    assert 1.5 < elapsed < 5.0  # 2 s of video paced at 25 fps, checked loosely
    assert src.state is SourceState.ENDED and src.error is None  # ends; no loop, no reconnect
    stop_quickly(src)


def test_live_file_is_paced_at_its_fps(astronaut_clip: Path) -> None:
    with VideoSource(file_spec(astronaut_clip, live=True)) as src:
        started = time.monotonic()
        frames = drain(src)
        elapsed = time.monotonic() - started
    assert 1.5 < elapsed < 4.0  # 50 frames at 25 fps = 2 s, not as fast as decoding goes
    assert len(frames) + src.frames_dropped == 50
    assert frames[-1].t == pytest.approx(49 / 25, abs=0.02)


# -- bad inputs ------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"^clip\.mp4: no such file$"):
        parse_source("clip.mp4")
    gone = tmp_path / "gone.mp4"  # e.g. deleted between parsing and opening
    assert_open_fails(SourceSpec(SourceKind.FILE, str(gone), str(gone), False), "no such file")


def test_zero_byte_file(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    assert_open_fails(file_spec(empty), "empty file (0 bytes)")


def test_text_file_renamed_mp4(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("these are meeting notes, not a video\n" * 20)
    assert_open_fails(file_spec(fake), "not a video file")


def test_audio_only_mp4_says_no_video_stream(shared_media: Path, tmp_path: Path) -> None:
    """The sound track of a real clip alone in an MP4 (stream copy, PyAV): no corrupt file."""
    import av

    clip = shared_media / "videos" / "aniportrait-pose_ref_video.mp4"
    if not clip.is_file():
        pytest.skip(f"{clip} is absent")
    sound = tmp_path / "sound.mp4"
    with av.open(str(clip)) as source, av.open(str(sound), "w") as out:
        audio = out.add_stream_from_template(source.streams.audio[0])
        for packet in source.demux(source.streams.audio[0]):
            if packet.dts is not None:
                packet.stream = audio
                out.mux(packet)
    error = assert_open_fails(file_spec(sound), "no video stream (only audio)")
    assert "corrupt" not in str(error)


def _real_clip(tmp_path: Path, astronaut_bgr: np.ndarray) -> Path:
    clips = shared_clips()
    return clips[0] if clips else write_clip(tmp_path / "real.mp4", astronaut_frames(astronaut_bgr))


def test_truncated_mp4(tmp_path: Path, astronaut_bgr: np.ndarray) -> None:
    """The first half of a real clip: its index ('moov') was at the end, so nothing opens."""
    clip = _real_clip(tmp_path, astronaut_bgr)
    data = clip.read_bytes()
    half = tmp_path / "half.mp4"
    half.write_bytes(data[: len(data) // 2])
    assert_open_fails(file_spec(half), "truncated MP4: the file ends inside its 'mdat' box",
                      "no 'moov' index")


def test_truncated_faststart_mp4_reports_where_decoding_stopped(tmp_path: Path) -> None:
    """With the index first, half a file opens; decoding stops early and `error` says where."""
    reason = ffmpeg_unavailable_reason()
    if reason:
        pytest.skip(reason)
    clip = next(iter(shared_clips()), None)
    if clip is None:
        pytest.skip("no shared clip")
    faststart = tmp_path / "faststart.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(clip), "-c", "copy", "-an",
                    "-movflags", "+faststart", str(faststart)], check=True, timeout=60)
    data = faststart.read_bytes()
    half = tmp_path / "half_faststart.mp4"
    half.write_bytes(data[: len(data) // 2])
    with VideoSource(file_spec(half)) as src:
        frames = drain(src)
    total = src.frame_count
    assert total and 0 < len(frames) < total
    assert src.error == f"decoding stopped at frame {len(frames)} of {total}"
    assert src.state is SourceState.FAILED and src.ended
    assert src.events[-1].message == src.error


def test_unreachable_rtsp_url_fails_fast_without_retries() -> None:
    port = free_port()  # nothing listens there
    url = f"rtsp://127.0.0.1:{port}/x"
    started = time.monotonic()
    assert_open_fails(parse_source(url), url, "Connection refused", open_timeout_s=1.0,
                      max_retries=0)
    assert time.monotonic() - started < 3.0


def test_unreachable_rtsp_url_is_retried_from_the_first_open() -> None:
    """A camera that is down when monitoring starts: open() returns, the thread keeps trying
    with the reconnect backoff (0.5, 1, 2 s ...), until the retry bound is spent."""
    url = f"rtsp://viewer:{PASSWORD}@127.0.0.1:{free_port()}/x"
    src = VideoSource(parse_source(url), open_timeout_s=1.0, max_retries=2)
    started = time.monotonic()
    src.open()
    assert src.state is SourceState.DISCONNECTED and src.error is None
    assert src.events[-1].message.startswith("cannot open stream: Connection refused")
    src.start()
    wait_for(lambda: src.state is SourceState.FAILED, 10, "the retries to be spent")
    took = time.monotonic() - started
    assert 1.5 <= took < 4.0  # backoff 0.5 + 1 s, and three refused connections
    assert src.read(timeout=0.1) is None and src.ended
    assert states(src) == [SourceState.CONNECTING, SourceState.DISCONNECTED,
                           SourceState.CONNECTING, SourceState.CONNECTING, SourceState.FAILED]
    messages = [e.message for e in src.events]
    assert messages[2] == "attempt 2 in 0.5 s (last attempt: cannot open stream: " \
        "Connection refused)"
    assert messages[3].startswith("attempt 3 in 1 s (last attempt: ")
    assert src.error is not None
    assert src.error.startswith("gave up after 3 attempts (2 retries) in ")
    assert src.error.endswith(": cannot open stream: Connection refused")
    assert not [m for m in [*messages, src.name] if PASSWORD in m]
    stop_quickly(src)


def test_give_up_after_bounds_the_retries_in_time() -> None:
    src = VideoSource(parse_source(f"rtsp://127.0.0.1:{free_port()}/x"), open_timeout_s=1.0,
                      give_up_after_s=1.2)
    started = time.monotonic()
    src.start()
    wait_for(lambda: src.state is SourceState.FAILED, 10, "giving up")
    took = time.monotonic() - started
    assert 1.2 <= took < 2.5, took  # the last wait is cut to the deadline, not a full backoff
    assert src.error is not None and src.error.startswith("gave up after ")
    # the cut wait is shown to a tenth of a second, like the others
    waits = [re.search(r" in ([0-9.]+) s", e.message) for e in src.events
             if e.message.startswith("attempt ")]
    assert len(waits) >= 2 and all(w is not None and len(w.group(1)) <= 3 for w in waits), \
        [e.message for e in src.events]
    stop_quickly(src)


def test_stop_while_retrying_the_first_open() -> None:
    src = VideoSource(parse_source(f"rtsp://127.0.0.1:{free_port()}/x"), open_timeout_s=1.0,
                      max_backoff_s=5.0)
    src.start()
    wait_for(lambda: len([s for s in states(src) if s is SourceState.CONNECTING]) >= 4, 10,
             "a long backoff wait")
    assert stop_quickly(src) < 0.5
    assert src.state is SourceState.ENDED and src.error is None


@pytest.mark.slow
def test_rtsp_camera_that_comes_up_after_the_first_open(rtsp_ok: None, h264_clip: Path) -> None:
    port = free_port()
    server = RtspServer(h264_clip, port=port, user="viewer", password=ODD_PASSWORD)
    src = VideoSource(parse_source(server.url), open_timeout_s=2.0, max_backoff_s=1.0)
    src.start()
    try:
        wait_for(lambda: len([s for s in states(src) if s is SourceState.CONNECTING]) >= 3, 10,
                 "two retries")
        assert src.read(timeout=0.1) is None and not src.ended
        server.restart()  # the camera has booted
        wait_for(lambda: src.state is SourceState.LIVE, 10, "LIVE")
        frames = [src.read(timeout=3.0) for _ in range(5)]
        assert all(f is not None and f.image.shape == (360, 480, 3) for f in frames)
        assert (src.width, src.height, src.fps) == (480, 360, 25.0)
        assert re.fullmatch(r"opened 480x360 at 25 fps after \d+ attempts \(\d+\.\d s\)",
                            src.events[-1].message), src.events[-1].message
    finally:
        stop_quickly(src)
        server.stop()
    texts = [src.name] + [e.message for e in src.events]
    assert not [t for t in texts if "w?rd" in t or "p#ss" in t]


def test_rtsp_server_that_never_answers_hits_the_open_timeout() -> None:
    with socket.socket() as listener:  # accepts TCP, never speaks RTSP
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        url = f"rtsp://viewer:{PASSWORD}@127.0.0.1:{listener.getsockname()[1]}/x"
        started = time.monotonic()
        error = assert_open_fails(parse_source(url), "no answer within 1 s", open_timeout_s=1.0,
                                  max_retries=0)
        took = time.monotonic() - started
    assert 0.9 < took < 3.0
    assert PASSWORD not in str(error) and "rtsp://***@127.0.0.1" in str(error)


def test_no_such_webcam() -> None:
    if Path("/dev/video7").exists():
        pytest.skip("this machine has a /dev/video7")
    assert_open_fails(parse_source("7"), "webcam 7: no such camera")


def test_no_such_monitor(xvfb: str) -> None:
    assert_open_fails(parse_source("screen:99"), "screen:99: no such monitor",
                      "this display has 1")
    assert_open_fails(parse_source("screen:300,0,100,100"), "region outside the screen")


def test_screen_without_a_display(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mss")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert_open_fails(parse_source("screen:99"), "screen:99: no display to capture")


# -- screen ----------------------------------------------------------------------------------


def test_screen_capture_on_xvfb(xvfb: str) -> None:
    with VideoSource(parse_source("screen"), sample_fps=20) as src:
        assert (src.width, src.height, src.fps, src.live) == (320, 240, 20.0, True)
        frames = [f for f in (src.read(timeout=2.0) for _ in range(5)) if f is not None]
    assert len(frames) == 5
    assert frames[0].image.shape == (240, 320, 3) and frames[0].image.flags.c_contiguous
    assert [f.index for f in frames] == sorted({f.index for f in frames})
    with VideoSource(parse_source("screen:10,20,100,50")) as src:
        frame = src.read(timeout=2.0)
        assert src.fps == DEFAULT_SCREEN_FPS
    assert frame is not None and frame.image.shape == (50, 100, 3)
    assert capture_threads(src) == []


# -- webcam (faked: no camera here) ----------------------------------------------------------


def test_webcam_reconnects_after_a_failed_read(astronaut_clip: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """No webcam exists on the test machines, so cv2.VideoCapture(index) is replaced by a real
    capture of a real clip that stops delivering after 10 frames the first time, like a camera
    unplugged and plugged back in."""
    real_capture = cv2.VideoCapture
    opened: list[int] = []

    class Camera:
        def __init__(self, index: int) -> None:
            opened.append(index)
            self._cap = real_capture(str(astronaut_clip))
            self._left = 10 if len(opened) == 1 else 10**6

        def grab(self) -> bool:
            self._left -= 1
            return self._left >= 0 and self._cap.grab()

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(self._cap, name)

    monkeypatch.setattr(cv2, "VideoCapture", Camera)
    src = VideoSource(parse_source("3"), max_backoff_s=0.5)
    src.start()
    wait_for(lambda: "reconnected" in src.events[-1].message, 10, "the webcam to reconnect")
    assert src.read(timeout=2.0) is not None
    stop_quickly(src)
    assert opened[:2] == [3, 3]
    assert states(src)[:5] == [SourceState.CONNECTING, SourceState.LIVE, SourceState.DISCONNECTED,
                               SourceState.RECONNECTING, SourceState.LIVE]
    assert src.events[2].message == "camera stopped delivering frames"


# -- stop() in every state -------------------------------------------------------------------


def test_stop_before_open_and_twice(astronaut_clip: Path) -> None:
    src = VideoSource(file_spec(astronaut_clip))
    assert src.state is SourceState.CONNECTING
    stop_quickly(src)
    stop_quickly(src)
    assert src.state is SourceState.ENDED and src.ended
    with pytest.raises(RuntimeError):
        src.start()


def test_read_before_start_is_a_mistake(astronaut_clip: Path) -> None:
    src = VideoSource(file_spec(astronaut_clip))
    src.open()
    with pytest.raises(RuntimeError, match="start"):
        src.read(timeout=0.1)
    stop_quickly(src)


def test_stop_while_blocked_on_a_full_queue(astronaut_clip: Path) -> None:
    src = VideoSource(file_spec(astronaut_clip), queue_size=2)
    src.start()
    wait_for(lambda: src.frames_read == 2, 5, "the queue to fill")
    time.sleep(0.1)
    assert src.frames_read == 2 and src.state is SourceState.LIVE  # backpressure: it waits
    stop_quickly(src)
    assert src.state is SourceState.ENDED and src.events[-1].message == "stopped"
    assert src.read(timeout=0.05) is None and src.ended


def test_stop_while_pacing_a_live_file(astronaut_clip: Path) -> None:
    src = VideoSource(file_spec(astronaut_clip, live=True))
    src.start()
    assert src.read(timeout=2.0) is not None
    assert stop_quickly(src) < 0.5


# -- RTSP against a real server --------------------------------------------------------------


@pytest.mark.slow
def test_rtsp_reads_frames_and_reconnects(rtsp_server: RtspServer) -> None:
    src = VideoSource(parse_source(rtsp_server.url), open_timeout_s=3.0, read_timeout_s=2.0,
                      max_backoff_s=1.0)
    src.start()
    try:
        assert (src.width, src.height, src.fps, src.frame_count) == (480, 360, 25.0, None)
        first = [src.read(timeout=3.0) for _ in range(5)]
        assert all(f is not None and f.image.shape == (360, 480, 3) for f in first)

        rtsp_server.stop()  # the camera dies
        wait_for(lambda: SourceState.RECONNECTING in states(src), 5, "RECONNECTING")
        seen = states(src)
        assert seen.index(SourceState.DISCONNECTED) < seen.index(SourceState.RECONNECTING)
        time.sleep(1.0)  # a few failed attempts against a closed port
        assert src.state is SourceState.RECONNECTING

        rtsp_server.restart()  # the same port
        wait_for(lambda: src.state is SourceState.LIVE, 10, "LIVE again")
        assert src.events[-1].message.startswith("reconnected after")
        index_before = src.frames_read
        later = [src.read(timeout=3.0) for _ in range(10)]
        assert all(f is not None for f in later)
        assert src.frames_read > index_before
        assert all(later[i].index < later[i + 1].index for i in range(9))  # type: ignore[union-attr]
    finally:
        stop_quickly(src)
    messages = [e.message for e in src.events if e.state is SourceState.RECONNECTING]
    assert messages[0] == "reconnect attempt 1 in 0.5 s"
    assert "Connection refused" in messages[1]


@pytest.mark.slow
@pytest.mark.parametrize("password", [PASSWORD, ODD_PASSWORD])
def test_rtsp_credentials_never_leak(rtsp_ok: None, h264_clip: Path, password: str,
                                     caplog: pytest.LogCaptureFixture) -> None:
    """Also with a password that holds "#", "/", "?" and "@" unencoded: it opens, and no part
    of it shows anywhere."""
    caplog.set_level(logging.DEBUG)
    with RtspServer(h264_clip, user="viewer", password=password) as server:
        assert password in server.url
        wrong = server.url.replace(password, password + "-wrong")
        error = assert_open_fails(parse_source(wrong), "401 Unauthorized", open_timeout_s=3.0,
                                  max_retries=0)
        src = VideoSource(parse_source(server.url), open_timeout_s=3.0, max_backoff_s=0.5)
        assert src.name == f"rtsp://***@127.0.0.1:{server.port}/test"
        src.start()
        assert src.read(timeout=3.0) is not None
        server.stop()
        wait_for(lambda: SourceState.RECONNECTING in states(src), 5, "RECONNECTING")
        time.sleep(0.8)  # let a reconnect attempt fail and be logged
        server.restart()
        wait_for(lambda: src.state is SourceState.LIVE, 10, "LIVE again")
        stop_quickly(src)
    texts = [str(error), src.name, str(src.error)] + [e.message for e in src.events] + \
        [e.source for e in src.events] + [r.getMessage() for r in caplog.records] + \
        [t.name for t in threading.enumerate()]
    pieces = {password, *(p for p in re.split(r"[#/?@]", password) if len(p) >= 3)}
    assert not [t for t in texts if any(p in t for p in pieces)]
    assert any("rtsp://***@" in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_rtsp_hung_server_hits_the_read_timeout(rtsp_server: RtspServer) -> None:
    """A server that stops answering (SIGSTOP) but keeps the connection open."""
    assert rtsp_server.proc is not None
    pid = rtsp_server.proc.pid
    src = VideoSource(parse_source(rtsp_server.url), open_timeout_s=1.0, read_timeout_s=0.5,
                      max_backoff_s=0.5)
    src.start()
    try:
        assert src.read(timeout=3.0) is not None
        os.kill(pid, signal.SIGSTOP)
        hung_at = time.monotonic()
        wait_for(lambda: SourceState.DISCONNECTED in states(src), 5, "DISCONNECTED")
        assert time.monotonic() - hung_at < 3.0
        disconnected = next(e for e in src.events if e.state is SourceState.DISCONNECTED)
        assert disconnected.message == "no data for 0.5 s"
        wait_for(lambda: len([s for s in states(src) if s is SourceState.RECONNECTING]) >= 2,
                 5, "a reconnect attempt to time out")
        assert "no answer within 1 s" in src.events[-1].message
        os.kill(pid, signal.SIGCONT)
        wait_for(lambda: src.state is SourceState.LIVE, 10, "LIVE again")
        assert src.read(timeout=3.0) is not None
    finally:
        os.kill(pid, signal.SIGCONT)
        stop_quickly(src)


@pytest.mark.slow
def test_rtsp_stop_in_every_state(rtsp_server: RtspServer) -> None:
    live = VideoSource(parse_source(rtsp_server.url + "#transport=udp"), open_timeout_s=3.0,
                       max_backoff_s=5.0)
    live.start()
    assert live.read(timeout=3.0) is not None
    stop_quickly(live)  # LIVE, over UDP as the URL's fragment asked

    src = VideoSource(parse_source(rtsp_server.url), open_timeout_s=3.0, max_backoff_s=5.0)
    src.start()
    rtsp_server.stop()
    wait_for(lambda: src.state is SourceState.RECONNECTING, 5, "RECONNECTING")
    time.sleep(0.7)  # now in a long backoff wait
    assert stop_quickly(src) < 0.5  # the wait is an Event.wait: stop() cuts it short
    assert src.state is SourceState.ENDED and src.events[-1].message == "stopped"


# -- pause and seek (files played live) ------------------------------------------------------


def read_for(src: VideoSource, seconds: float) -> list[Frame]:
    """Every frame that arrives within `seconds` (the source keeps running)."""
    frames: list[Frame] = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        frame = src.read(timeout=min(left, 0.1))
        if frame is not None:
            frames.append(frame)
    return frames


@pytest.mark.timeout(30)
def test_live_file_pause_holds_and_resume_goes_on(astronaut_clip: Path) -> None:
    src = VideoSource(file_spec(astronaut_clip, live=True))
    assert src.seekable and not src.paused
    assert src.duration_s is None  # known once open
    src.start()
    assert src.duration_s == pytest.approx(2.0, abs=0.05)
    first = read_for(src, 0.3)
    assert first
    src.pause()
    assert src.paused
    # at most the frame already in flight, then nothing: the capture thread waits
    in_flight = read_for(src, 0.15)
    assert len(in_flight) <= 1
    assert read_for(src, 0.6) == []
    assert src.state is SourceState.LIVE and not src.ended
    src.resume()
    rest = drain(src)
    indices = [f.index for f in first + in_flight + rest]
    assert indices == sorted(indices) and indices[-1] == 49
    assert src.frames_dropped == 0  # a fast consumer misses nothing across the pause
    assert len(indices) == 50
    # resumed at the file's pace, not in a burst catching up with the pause
    assert rest[-1].captured_at - rest[0].captured_at > 0.6 * (rest[-1].t - rest[0].t)
    stop_quickly(src)


@pytest.mark.timeout(30)
def test_live_file_seek_while_playing_and_while_paused(astronaut_clip: Path) -> None:
    src = VideoSource(file_spec(astronaut_clip, live=True))
    src.start()
    assert src.read(timeout=2.0) is not None
    src.seek(1.2)
    after = read_for(src, 0.4)
    jumped = [f for f in after if f.index >= 30]
    assert jumped and jumped[0].index == 30
    assert jumped[0].t == pytest.approx(1.2, abs=0.05)
    src.pause()
    read_for(src, 0.2)
    src.seek(0.4)  # paused: the frame at the new position comes, then nothing more
    shown = read_for(src, 0.6)
    assert [f.index for f in shown] == [10]
    assert shown[0].t == pytest.approx(0.4, abs=0.05)
    assert src.paused
    src.seek(99.0)  # beyond the end: clamped to the last frame
    assert [f.index for f in read_for(src, 0.5)] == [49]
    src.resume()
    drain(src, limit_s=5)
    assert src.state is SourceState.ENDED and src.error is None
    src.seek(0.0)  # ended: no effect, no error
    stop_quickly(src)


@pytest.mark.timeout(30)
def test_stop_while_paused(astronaut_clip: Path) -> None:
    src = VideoSource(file_spec(astronaut_clip, live=True))
    src.start()
    assert src.read(timeout=2.0) is not None
    src.pause()
    time.sleep(0.1)
    assert stop_quickly(src) < 0.5
    assert src.state is SourceState.ENDED


@pytest.mark.timeout(30)
def test_only_files_played_live_pause_and_seek(astronaut_clip: Path) -> None:
    for spec in (file_spec(astronaut_clip), parse_source("0")):
        src = VideoSource(spec)
        assert not src.seekable
        for call in (src.pause, src.resume, lambda s=src: s.seek(1.0)):
            with pytest.raises(ValueError, match="only video files played live"):
                call()
    live = VideoSource(file_spec(astronaut_clip, live=True))
    with pytest.raises(ValueError, match="finite"):
        live.seek(float("nan"))


# -- sampled H.264 files: unsampled frames that nothing references are never decoded ----------


def _read_all(source: VideoSource) -> list[Frame]:
    source.start()
    frames = []
    while not source.ended:
        frame = source.read(timeout=2.0)
        if frame is not None:
            frames.append(frame)
    source.stop()
    return frames


def _sampled_both_ways(clip: Path, sample_fps: float,
                       monkeypatch: pytest.MonkeyPatch) -> tuple[VideoSource, list[Frame],
                                                                 VideoSource, list[Frame]]:
    fast = VideoSource(parse_source(str(clip)), sample_fps=sample_fps)
    fast.open()
    fast_frames = _read_all(fast)
    with monkeypatch.context() as m:  # the OpenCV path: every frame decoded
        m.setattr(SampledH264Capture, "open", classmethod(lambda cls, *a: None))
        slow = VideoSource(parse_source(str(clip)), sample_fps=sample_fps)
        slow.open()
        slow_frames = _read_all(slow)
    return fast, fast_frames, slow, slow_frames


@pytest.fixture(scope="module")
def bframe_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s of the bundled sample at 720p30, H.264 with B-frames (x264's defaults)."""
    from deepfake_monitor.realtime.bench.clips import make_clip

    return make_clip(tmp_path_factory.mktemp("h264") / "bframes.mp4", 2.0)


def test_sampled_h264_skips_frames_yet_delivers_the_same_frames(
        bframe_clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, fast_frames, slow, slow_frames = _sampled_both_ways(bframe_clip, 5.0, monkeypatch)
    assert [f.index for f in fast_frames] == [f.index for f in slow_frames] == \
        [0, 6, 12, 18, 24, 30, 36, 42, 48, 54]
    assert [f.t for f in fast_frames] == pytest.approx([f.t for f in slow_frames], abs=1e-3)
    for a, b in zip(fast_frames, slow_frames):
        assert np.array_equal(a.image, b.image)  # pixel for pixel what OpenCV decodes
    assert fast.state is slow.state is SourceState.ENDED
    assert fast.events[-1].message == slow.events[-1].message == "end of file after 60 frames"
    assert fast.error is None


def test_sampled_h264_capture_leaves_disposable_frames_undecoded(bframe_clip: Path) -> None:
    wanted = {0, 15, 30, 45}  # 2 of the clip's 30 frames a second
    capture = SampledH264Capture.open(str(bframe_clip), None, 2.0, 0)
    assert capture is not None
    grabbed = []
    while capture.grab():
        grabbed.append(capture.index)
    capture.close()
    assert wanted <= set(grabbed)
    assert capture.skipped > 0 and len(grabbed) + capture.skipped == 60
    assert capture.frames_seen == 60
    assert grabbed == sorted(grabbed)


def test_other_files_and_unsampled_scans_use_opencv(bframe_clip: Path,
                                                    astronaut_clip: Path) -> None:
    for clip, sample_fps in ((bframe_clip, None), (bframe_clip, 60.0), (astronaut_clip, 5.0)):
        source = VideoSource(parse_source(str(clip)), sample_fps=sample_fps)
        source.open()
        assert isinstance(source._capture, FileCapture), (clip, sample_fps)
        source.stop()
    live = VideoSource(parse_source(str(bframe_clip), live_files=True), sample_fps=5.0)
    live.open()
    assert isinstance(live._capture, FileCapture)
    live.stop()


def test_h264_disposable_reads_nal_ref_idc() -> None:
    def unit(*nals: bytes) -> bytes:
        return b"".join(len(n).to_bytes(4, "big") + n for n in nals)

    b_slice = bytes([0x01, 0x9A, 0x00])  # nal_ref_idc 0, type 1
    p_slice = bytes([0x41, 0x9A, 0x00])  # nal_ref_idc 2, type 1
    idr = bytes([0x65, 0x88, 0x80])  # nal_ref_idc 3, type 5
    sei = bytes([0x06, 0x05, 0x01])  # type 6, no slice
    assert h264_disposable(unit(sei, b_slice, b_slice), 4)
    assert not h264_disposable(unit(b_slice, p_slice), 4)
    assert not h264_disposable(unit(idr), 4)
    assert not h264_disposable(unit(sei), 4)  # no slice: not sure, keep it
    assert not h264_disposable(unit(b_slice)[:-1], 4)  # truncated: keep it
    assert not h264_disposable(b"", 4)


@pytest.mark.skipif(not shared_clips(), reason="../shared/media is absent")
def test_sampled_h264_matches_opencv_on_real_footage(monkeypatch: pytest.MonkeyPatch) -> None:
    for clip in shared_clips()[:6]:
        _, fast_frames, _, slow_frames = _sampled_both_ways(clip, 5.0, monkeypatch)
        assert [f.index for f in fast_frames] == [f.index for f in slow_frames], clip.name
        assert all(np.array_equal(a.image, b.image) for a, b in zip(fast_frames, slow_frames))
