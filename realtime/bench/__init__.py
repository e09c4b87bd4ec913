"""`deepfake-monitor bench`: how fast this machine runs deepfake-monitor, measured in one run.

Seven parts, each answering one question about the live pipeline's speed:

1. classifier: faces/s of the ONNX classifier alone at batch 1, 8 and 32 (the ceiling).
2. detector: frames/s of the face detector alone on 480p, 720p and 1080p frames.
3. decode: frames/s of decoding the input video (read() of every frame, and grab() only).
4. scan: the real `scan` command as a subprocess (start-up included) on the clip; faces/s,
   frames/s and the whole-process efficiency: (the decoding scan really does + detector on
   every analysed frame at its best batch + classifier on every face at its best batch, each
   timed alone in this process) / scan's wall time. Above 1.0 means the stages overlap on
   several cores. Scan leaves unsampled frames that nothing references undecoded; counting it
   as if it decoded every frame (the other efficiency shown beside it) would credit that
   saving as overlap.
5. naive: the original notebooks' loop (one thread: read a frame, detect the sampled ones at
   batch 1, classify each face at batch 1) as a subprocess too, on the same clip, model,
   detector and sampled frames; speedup = naive wall / scan wall, both with start-up. Run
   twice: with ORT's default threads as the notebooks had it, and with the detector session
   set up as scan's, so that the speedup from overlap and skipped decoding shows alone.
6. live: the clip replayed as a live source at its own frame rate through the real
   `StreamAnalyzer`: capture-to-result latency p50/p95, analysed and displayed fps, and
   whether latency grows from the first to the last stretch (a backlog).
7. streams: N such live sources at once sharing one detector and one classifier session.

Without a VIDEO the bench writes its own 720p30 clip (the bundled sample, scaled and padded to
1280x720 and looped) into a temporary folder, so it runs on a fresh machine with no media.
Wall times are measured on the monotonic clock; the numbers in the JSON are the raw terms, so
every ratio in it can be recomputed from them.

One module per part of the bench: results (settings and figures), clips, stages (parts 1-3),
processes (4-5), live (6-7), cluster_part (the optional cluster part), run (the whole run and its
targets), render (the tables).
"""
