"""The app's words, colours and numbers for a face's state, one definition each.

A face is real, uncertain or fake by its smoothed P(fake) against the threshold and the band
around it (realtime/analysis/verdict.py); the colours are the annotated video's (overlays.py). An
alert's number is its face's peak smoothed P(fake) since the face was first seen
(`FaceResult.peak`, `AlertEvent.peak`): the banner, the alert log and the face panel all show
that one number, kept current while the alert lasts, so they never disagree.
"""

from __future__ import annotations

from html import escape

from ..analysis.verdict import UNCERTAIN_BAND
from ..outputs.overlays import STATE_COLOURS, STATE_WORDS, face_state, legend_items


def css_colour(state: str) -> str:
    """"#rrggbb" of a state's colour (overlays hold BGR)."""
    b, g, r = STATE_COLOURS[state]
    return f"#{r:02x}{g:02x}{b:02x}"


def state_word(p: float, threshold: float, band: float = UNCERTAIN_BAND) -> str:
    """"REAL", "UNCERTAIN" or "FAKE", as the face's label on the video says."""
    return STATE_WORDS[face_state(p, threshold, band)]


def peak_text(peak: float) -> str:
    """An alert's number: "peak 83 %"."""
    return f"peak {percent(peak)}"


def percent(p: float) -> str:
    return f"{p * 100:.0f} %"


def legend_html(threshold: float, band: float = UNCERTAIN_BAND) -> str:
    """The colour legend ("■ real < 0.60  ■ uncertain  ■ fake >= 0.80") as rich text."""
    return "&nbsp;&nbsp;".join(
        f"<span style='color:{css_colour(state)}'>■</span>&nbsp;{escape(text)}"
        for state, text in legend_items(threshold, band))
