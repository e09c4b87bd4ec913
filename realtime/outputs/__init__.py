"""The output stage: what the analysis becomes for people and files. Overlays drawn on frames,
the event log (alerts, source status), the scan report and its schema, the annotated H.264
video, the labelled metrics of `scan --labels`, the summary table and the order reports are
listed in, writing to stdout, and the atomic file writes they all go through."""
