"""A text alternative for every figure: its title and, where the page has one, its notice, written
just before the chart for a screen reader and hidden from the eye.

Plotly draws its title as SVG text and gives the chart no accessible name, so a screen reader
meets an unnamed graphic. Every page draws its charts through `plotly_chart(where, fig)` below: an
element with "Figure: <title>. <notice>" goes first, into the same container, then the chart.
ALT_CSS (installed once per page run by app.py) takes that element out of the layout (no gap, no
pixel), the way the usual visually-hidden pattern does; screen readers still read it.
"""

from __future__ import annotations

import html
import re

import streamlit as st

ALT_CLASS = "al-figure-alt"
ALT_CSS = f"""<style>
[data-testid="stElementContainer"]:has(.{ALT_CLASS}) {{ position: absolute !important; width: 1px !important;
  height: 1px !important; min-width: 0 !important; margin: -1px !important; padding: 0 !important;
  overflow: hidden !important; clip-path: inset(50%); white-space: nowrap; }}
</style>"""
_TAG = re.compile(r"<[^>]+>")


def _text(value) -> str:
    """Plotly text (which may hold <b>, <br>, <sub> and entities) as plain words."""
    if isinstance(value, dict):
        value = value.get("text")
    if value is None:
        return ""
    words = _TAG.sub("", re.sub(r"<br\s*/?>", ". ", str(value)))
    return " ".join(html.unescape(words).split())


def figure_title(fig) -> str:
    """The figure's title; lacking one, its subplot titles (annotations), then its axis titles."""
    # the layout only: a whole figure's to_plotly_json deep-copies its data, on every chart of every run
    layout = fig.get("layout", {}) if isinstance(fig, dict) else fig.layout.to_plotly_json()
    if title := _text(layout.get("title")):
        return title
    notes = [_text(a) for a in layout.get("annotations", ()) or ()]
    if notes := [n for n in notes if n]:
        return "; ".join(notes[:8])
    axes = [_text(v.get("title")) for k, v in sorted(layout.items()) if re.fullmatch(r"[xy]axis\d*", k)]
    return " against ".join(a for a in axes if a)


def alt_text(fig, notice: str = "") -> str:
    title = figure_title(fig) or "a chart"
    text = f"Figure: {title.rstrip('.')}."
    return f"{text} {' '.join(notice.split())}" if notice.strip() else text


def plotly_chart(where, fig, notice: str = "", **kwargs):
    """`where.plotly_chart(fig, **kwargs)` (where: st, a column or a container), preceded by the
    figure's text alternative. Returns what plotly_chart returns (a selection event, if asked)."""
    where.html(f'<p class="{ALT_CLASS}">{html.escape(alt_text(fig, notice))}</p>')
    return where.plotly_chart(fig, **kwargs)


def install_css() -> None:
    st.html(ALT_CSS)
