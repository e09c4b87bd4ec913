"""A real RTSP server for the stream tests: serves one H.264 MP4 on rtsp://127.0.0.1:PORT/test.

Run with Debian's /usr/bin/python3 (python3-gi and GStreamer's RTSP server come from apt, not
from the project's virtual environment):

    /usr/bin/python3 tests/rtsp_server.py CLIP.mp4 --port 8554 [--user U --password P]

Binds to 127.0.0.1 only, loops the clip (so a short test clip streams for as long as a test needs)
and prints "ready" on stdout once it listens. Every client gets its own pipeline from the clip's
start. Stop it by killing it: the tests do exactly that to simulate a camera that dies.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


class _Looper:
    """Loops one media pipeline: at end of stream, seek the demuxer back to 0 and shift time.

    The EOS is swallowed at the parser's source pad, the seek's flush events are swallowed there
    too (so the payloader and the sinks never see them), and the pad's offset grows by the clip's
    duration each round, so RTP timestamps keep increasing as if the clip went on forever.
    """

    def __init__(self, bin_: Gst.Bin) -> None:
        self.demux = bin_.get_by_name("demux")
        self.pad = bin_.get_by_name("parse").get_static_pad("src")
        self.offset = 0
        self.last_end = 0
        self.seeking = False
        self.pad.add_probe(
            Gst.PadProbeType.EVENT_DOWNSTREAM | Gst.PadProbeType.EVENT_FLUSH
            | Gst.PadProbeType.BUFFER,
            self._probe,
        )

    def _probe(self, pad: Gst.Pad, info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        if info.type & Gst.PadProbeType.BUFFER:
            buf = info.get_buffer()
            pts = buf.pts if buf.pts != Gst.CLOCK_TIME_NONE else buf.dts
            if pts != Gst.CLOCK_TIME_NONE:
                dur = buf.duration if buf.duration != Gst.CLOCK_TIME_NONE else 0
                self.last_end = max(self.last_end, pts + dur)
            return Gst.PadProbeReturn.OK
        event = info.get_event()
        kind = event.type
        if kind == Gst.EventType.EOS:
            self.seeking = True
            GLib.idle_add(self._rewind)
            return Gst.PadProbeReturn.DROP
        if self.seeking and kind in (Gst.EventType.FLUSH_START, Gst.EventType.FLUSH_STOP):
            if kind == Gst.EventType.FLUSH_STOP:
                self.seeking = False
            return Gst.PadProbeReturn.DROP
        return Gst.PadProbeReturn.OK

    def _rewind(self) -> bool:
        self.offset += self.last_end
        self.last_end = 0
        self.pad.set_offset(self.offset)
        self.demux.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0)
        return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("clip", type=Path, help="an MP4 with an H.264 video track")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--path", default="/test")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--no-loop", action="store_true", help="end the stream at the clip's end")
    args = ap.parse_args(argv)
    if not args.clip.is_file():
        print(f"{args.clip}: no such file", file=sys.stderr)
        return 2

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))

    factory = GstRtspServer.RTSPMediaFactory()
    location = str(args.clip.resolve()).replace('"', '\\"')
    factory.set_launch(
        f'( filesrc location="{location}" ! qtdemux name=demux demux.video_0 ! queue '
        "! h264parse name=parse config-interval=-1 ! rtph264pay name=pay0 pt=96 "
        "config-interval=-1 )"
    )
    factory.set_shared(False)
    if not args.no_loop:
        # The pad probe holds the looper, so it lives exactly as long as the client's pipeline.
        factory.connect("media-configure", lambda _f, media: _Looper(media.get_element()))

    if args.user is not None:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password or ""), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role("user", "media.factory.access", True)
        permissions.add_permission_for_role("user", "media.factory.construct", True)
        factory.set_permissions(permissions)

    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        return 1
    print("ready", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        GLib.MainLoop().run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
