"""The bench's result as tables on a rich console."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .results import BenchResult

# -- output ---------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def render(r: BenchResult, console: Any) -> None:
    """The figures as rich tables, with the machine, provider and model they came from."""
    from rich.table import Table

    from ..display_text import escape

    m = r.machine
    console.print(f"[bold]deepfake-monitor bench[/] — {escape(m['cpu'])}, {m['cpu_count']} CPU(s), "
                  f"{m['platform']}")
    console.print(f"classifier {escape(m['model_name'])} ({escape(m['model'])}) on "
                  f"{m['provider']}; detector {escape(Path(m['detector']).name)} on "
                  f"{m['detector_provider']}; "
                  f"onnxruntime {m['onnxruntime']}, OpenCV {m['opencv']}")
    v = r.video
    seconds = f"{v['seconds']:.1f} s" if v.get("seconds") else "? s"
    console.print(f"video {escape(v['path'])}: {v['width']}x{v['height']} at {v['fps']:g} fps, "
                  f"{v['frames']} frames, {seconds}")
    table = Table(title="measurements")
    for col, justify in (("part", "left"), ("measure", "left"), ("value", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]

    def row(part: str, measure: str, value: str) -> None:
        table.add_row(part, measure, value)

    for t in r.classifier:
        row("1 classifier", f"batch {t.batch}", f"{t.per_s:,.0f} faces/s")
    for t in r.detector:
        row("2 detector", f"{t.label.removeprefix('frames ')} batch={t.batch}",
            f"{t.per_s:,.0f} frames/s")
    if r.decode:
        row("3 decode", "read() every frame", f"{r.decode.read_fps:,.0f} frames/s")
        row("3 decode", "grab() every frame", f"{r.decode.grab_fps:,.0f} frames/s")
    if r.scan:
        s = r.scan
        row("4 scan", f"process wall, start-up included (median of {len(s.walls)})",
            f"{s.wall_s:.2f} s")
        row("4 scan", "frames / faces analysed", f"{s.frames_analysed} / {s.faces}")
        row("4 scan", "throughput", f"{s.frames_per_s:.1f} frames/s, {s.faces_per_s:.1f} faces/s")
        if s.stages:
            st = s.stages
            row("4 scan", "decoding what scan decodes, alone", f"{st.decode_scan_s:.2f} s")
            row("4 scan", f"detector on {st.frames_analysed} frames alone "
                          f"({st.detect_best})", f"{st.detect_s:.2f} s")
            row("4 scan", f"classifier on {st.faces} faces alone "
                          f"(batch {st.classify_best_batch})", f"{st.classify_s:.2f} s")
            row("4 scan", "whole-process efficiency (stages / wall)",
                f"[bold]{s.efficiency:.2f}[/] (decoding all {st.frames_decoded} frames, "
                f"{st.decode_s:.2f} s: {s.efficiency_all_decoded:.2f})")
    for n in (r.naive, r.naive_tuned):
        if n is None:
            continue
        how = "ORT default threads" if n.detector_threads is None else \
            f"detector threads={n.detector_threads}, as scan"
        row("5 naive", f"process wall, start-up included, median of {len(n.walls)} ({how})",
            f"{n.wall_s:.2f} s")
        row("5 naive", f"loop alone ({how})", f"{n.loop_s:.2f} s")
        if n.speedup is not None:
            row("5 naive", f"speedup of scan: naive wall / scan wall ({how})",
                f"{n.speedup:.2f}x")
    for part, live in (("6 live", r.live), ("7 streams", r.streams)):
        if not live:
            continue
        for s in live.streams:
            row(part, f"{s.name} ({live.width}x{live.height}, {s.seconds:.0f} s)",
                f"latency p50 {_ms(s.latency_p50_ms)} / p95 {_ms(s.latency_p95_ms)} ms; "
                f"analysed {s.analysed_fps:.1f} fps, "
                f"{s.faces_per_s:.1f} faces/s; displayed {s.displayed_fps:.1f} fps; "
                f"{s.frames_dropped} frames dropped; latency first/last "
                f"{_ms(s.latency_first_ms)}/{_ms(s.latency_last_ms)} ms: backlog "
                f"{'GROWS' if s.backlog_growing else 'none'}")
        row(part, "latency target 2 x (inference + frame interval)",
            f"2 x ({live.inference_ms:.1f} + {live.frame_interval_ms:.1f}) = "
            f"{live.latency_target_ms:.0f} ms")
    if r.cluster:
        from .cluster_part import cluster_rows

        for measure, value in cluster_rows(r.cluster):
            row("8 cluster", measure, value)
    console.print(table)
    if r.targets:
        title = "targets" if r.targets_judged else \
            "targets (not judged: they apply to the full run, not to --quick)"
        targets = Table(title=title)
        for col in ("target", "measured", "goal", "met"):
            targets.add_column(col)
        for t in r.targets:
            value = "-" if t.value is None else f"{t.value:.2f}"
            met = "-" if t.met is None else ("[green]yes[/]" if t.met else "[red]no[/]")
            targets.add_row(t.name, value, t.goal, met)
        console.print(targets)
