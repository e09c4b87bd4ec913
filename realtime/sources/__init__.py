"""The source stage: video sources, one capture thread per source, with an explicit buffering
policy.

Modelled on roboflow/inference's `VideoSource` and ultralytics' `LoadStreams`: each source has
its own thread, a small state machine (`SourceState`), a bounded hand-off buffer, a stop event,
and joins with timeouts. Nothing busy-waits: threads block on a condition, an `Event.wait` or the
backend's own (time-limited) read.

Buffering policy
- Files (not live) never drop a frame: the thread blocks while the buffer (`queue_size`) is full,
  so a slow consumer slows decoding down (backpressure). `sample_fps` keeps frames by
  presentation time (realtime/sources/sampling.py: at most that many per second of video, also where
  the frame rate varies); skipped frames are only `grab()`-ed, never converted into arrays. So
  is a video file served over http(s) (a stream with a finite duration), unless played live.
- Frames are upright: the display rotation phones record portrait video with is applied on
  every path (realtime/sources/rotation.py).
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
  Sampled, not-live H.264 files in MP4/MOV/MKV go further (`SampledH264Capture`, PyAV): an
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

Modules: spec (what a source is: kinds, parsing, states, events, frames), credentials (parse,
mask, quote the userinfo of URLs), capture (the backends' protocol), one module per capture kind
(files, h264 for sampled H.264 files, webcam, streams, screen), the helpers they share
(sampling, rotation, frame_limit, stream_kinds), buffer (the hand-off), and video_source (the
state machine) with its collaborators: status (states and events), connection (the backend for
a kind, the capture in use), reconnect (first open, reconnects with backoff), reading (the
capture thread's loop) and playback (pause and seek of a file played live).
"""
