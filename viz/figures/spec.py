"""Figures built in one constructor call from plain dicts, without plotly's per-property checks.

plotly validates every property as it is set, and `update_xaxes`/`update_layout` walk the
figure's property tree again on every call: a 15-token heatmap took ~25 ms to build that way,
most of the text page's figure time. The figures here write their traces and layout as dicts
in the form plotly's validators would produce (`title=dict(text=...)`, colour scales as
`[[0.0, "rgb(...)"], ...]`) and hand them to `go.Figure` once, with validation off (~2 ms).

`VALIDATE = True` builds the same dicts through plotly's validators: tests/test_figure_spec.py
checks that both give the same figure JSON, so a typo in a property name or a value plotly would
have rewritten cannot slip through.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Sequence

import plotly.graph_objects as go

VALIDATE = False

# Chart text colour. Streamlit's chart theme writes tick, axis and annotation text in its gray70
# (#808495, 3.7:1 on white), too pale for a projector; WCAG AA asks 4.5:1. Every figure's text is
# inked explicitly (a figure's own values win over the theme's template): 15.8:1 on white.
INK = "#1f2130"
_AXIS = re.compile(r"[xy]axis\d*$")


def ink(layout: dict, data: Sequence[dict] = ()) -> dict:
    """The layout with INK on every text the theme would draw grey: the global font, title, every
    axis's ticks and title, annotations, legend and colour bars. Colours already set are kept."""
    def on(d: dict, *path: str) -> None:
        for key in path:
            d = d.setdefault(key, {})
        d.setdefault("color", INK)

    on(layout, "font")
    if isinstance(layout.get("title"), dict):
        on(layout["title"], "font")
    for name in [k for k in layout if _AXIS.match(k)] or ["xaxis", "yaxis"]:
        axis = layout.setdefault(name, {})
        on(axis, "tickfont")
        if isinstance(axis.get("title"), dict):
            on(axis["title"], "font")
    for note in layout.get("annotations", ()):
        on(note, "font")
    on(layout, "legend", "font")
    bars = [layout[k].setdefault("colorbar", {}) for k in layout if k.startswith("coloraxis")]
    bars += [t["colorbar"] for t in data if isinstance(t.get("colorbar"), dict)]
    for bar in bars:
        on(bar, "tickfont")
        if isinstance(bar.get("title"), dict):
            on(bar["title"], "font")
    return layout


def figure(data: list[dict], layout: dict) -> go.Figure:
    """go.Figure from trace dicts (each with its "type") and a layout dict, in one call, inked."""
    return go.Figure(data=data, layout=ink(layout, data), _validate=VALIDATE)


def title(text: str | None) -> dict:
    return {"text": text}


@functools.cache
def _colorscale(name: str) -> tuple:
    return go.Heatmap(colorscale=name).colorscale  # plotly's own expansion, once per name


def colorscale(name_or_scale) -> list:
    """A named colour scale as plotly's validator stores it: [[position, "rgb(...)"], ...]."""
    if isinstance(name_or_scale, str):
        return [list(step) for step in _colorscale(name_or_scale)]
    return [list(step) for step in name_or_scale]


@functools.cache
def _subplots(rows: int, cols: int, titles: tuple[str, ...], spacing: tuple[float | None, float | None],
              row_heights: tuple[float, ...] | None) -> dict:
    from plotly.subplots import make_subplots

    kw = {"horizontal_spacing": spacing[0], "vertical_spacing": spacing[1]}
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=list(titles) or None,
                        row_heights=list(row_heights) if row_heights else None,
                        **{k: v for k, v in kw.items() if v is not None})
    layout = fig.layout.to_plotly_json()
    layout.pop("template", None)
    return layout


def subplots(rows: int, cols: int, titles: Sequence[str] = (), horizontal_spacing: float | None = None,
             vertical_spacing: float | None = None, row_heights: Sequence[float] | None = None) -> dict:
    """The layout make_subplots builds (axes with their domains, the titles as annotations), as a
    fresh dict: make_subplots itself costs ~10 ms, so each grid shape is built once."""
    return copy.deepcopy(_subplots(rows, cols, tuple(titles), (horizontal_spacing, vertical_spacing),
                                   tuple(row_heights) if row_heights else None))


def axis_names(row: int, col: int, cols: int) -> tuple[str, str]:
    """("x3", "y3") for the subplot at (row, col), 1-based; ("x", "y") for the first."""
    n = (row - 1) * cols + col
    return ("x", "y") if n == 1 else (f"x{n}", f"y{n}")


class SharedFigure(go.Figure):
    """A figure that many sessions show and nobody changes again (a lesson step's figure, cached
    once per server): `to_dict()`, which st.plotly_chart calls on every show and which deep-copies
    the whole figure (2 to 11 ms for the lesson's figures), is made once and then handed out as is.
    Do not change the figure, or the dict, after the first `to_dict()`."""

    def to_dict(self) -> dict:
        d = self.__dict__.get("_shared_dict")
        if d is None:
            d = super().to_dict()
            self._shared_dict = d
        return d


def shared(fig: go.Figure) -> SharedFigure:
    """The same figure as a SharedFigure (one copy, without plotly's per-property checks)."""
    return SharedFigure(fig.to_dict(), skip_invalid=True, _validate=False)
