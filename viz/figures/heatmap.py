"""Attention heatmaps. plotly only: no streamlit, no torch.

One axis convention for every attention figure in the app:
    rows = queries (y, top to bottom), columns = keys (x), weights on a fixed 0..1 scale,
    masked cells drawn grey with a "masked" hover (never as a zero that looks like weak attention).

Axes are numeric positions labelled with the tokens, so repeated tokens ("l", "l" in "hello")
stay separate cells (plotly merges equal category labels).

plotly reads labels as a small subset of HTML ("<b>", "<br>", "</s>" ...): every token goes
through `label()` first, so "</s>" or "<script>" typed by a user is shown as text.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from viz.figures import spec
from viz.trace import AttentionTrace

COLORSCALE = "Blues"
MASKED_COLOR = "#bdbdbd"
MAX_TICKS = 40


def label(token: str) -> str:
    """A token as plotly text: HTML-escaped, so it is displayed and never interpreted."""
    return html.escape(str(token), quote=False)


def _ticks(tokens: Sequence[str], max_ticks: int = MAX_TICKS) -> dict:
    step = max(1, int(np.ceil(len(tokens) / max_ticks)))
    idx = list(range(0, len(tokens), step))
    return dict(tickmode="array", tickvals=idx, ticktext=[label(tokens[i]) for i in idx])


def _hover_text(weights: np.ndarray, q_tokens, k_tokens, mask, value_name: str = "weight") -> np.ndarray:
    """Per-cell hover strings: query, key, the value under its name (or 'masked')."""
    q = np.asarray([label(t) for t in q_tokens], dtype=object)[:, None]
    k = np.asarray([label(t) for t in k_tokens], dtype=object)[None, :]
    text = "query " + q + "  →  key " + k + f"<br>{value_name} " + np.char.mod("%.3f", weights).astype(object)
    if mask is not None:
        text = np.where(mask, text, "query " + q + "  →  key " + k + "<br>masked: cannot attend")
    return text


def _head_traces(weights, q_tokens, k_tokens, mask, coloraxis="coloraxis", axes=("x", "y"),
                 value_name: str = "weight") -> list[dict]:
    Tq, Tk = weights.shape
    x, y = np.arange(Tk), np.arange(Tq)
    shown = weights.astype(float)
    if mask is not None:
        shown = np.where(mask, shown, np.nan)
    on = {} if axes is None else {"xaxis": axes[0], "yaxis": axes[1]}
    traces = [dict(
        type="heatmap", z=shown, x=x, y=y, coloraxis=coloraxis, hoverinfo="text",
        text=_hover_text(weights, q_tokens, k_tokens, mask, value_name), xgap=1, ygap=1, **on,
    )]
    if mask is not None and not mask.all():
        traces.append(dict(
            type="heatmap", z=np.where(mask, np.nan, 1.0), x=x, y=y, showscale=False, hoverinfo="skip",
            colorscale=[[0, MASKED_COLOR], [1, MASKED_COLOR]], xgap=1, ygap=1, **on,
        ))
    return traces


def _axes(q_tokens, k_tokens, titles=True) -> tuple[dict, dict]:
    """(x axis, y axis) of one attention matrix: token ticks, queries top to bottom."""
    x = dict(**_ticks(k_tokens), tickangle=-60 if len(k_tokens) > 12 else 0, showgrid=False, zeroline=False)
    y = dict(**_ticks(q_tokens), autorange="reversed", showgrid=False, zeroline=False)
    if titles:
        x["title"], y["title"] = spec.title("key (attended to)"), spec.title("query (attending)")
    return x, y


def _coloraxis(name: str = "weight") -> dict:
    return dict(colorscale=spec.colorscale(COLORSCALE), cmin=0, cmax=1, colorbar=dict(title=spec.title(name)))


def attention_heatmap(
    weights: np.ndarray,
    query_tokens: Sequence[str],
    key_tokens: Sequence[str],
    mask: np.ndarray | None = None,
    title: str = "",
    height: int | None = None,
) -> go.Figure:
    """One head's (Tq, Tk) attention weights as a heatmap."""
    weights = np.asarray(weights)
    if weights.shape != (len(query_tokens), len(key_tokens)):
        raise ValueError(
            f"weights have shape {weights.shape}, but there are {len(query_tokens)} query "
            f"and {len(key_tokens)} key tokens"
        )
    xaxis, yaxis = _axes(query_tokens, key_tokens)
    return spec.figure(_head_traces(weights, query_tokens, key_tokens, mask, axes=None), dict(
        xaxis=xaxis, yaxis=yaxis, title=spec.title(label(title)),
        height=height or int(min(700, max(320, 28 * len(query_tokens) + 160))),
        margin=dict(l=10, r=10, t=50 if title else 20, b=10), coloraxis=_coloraxis(), plot_bgcolor="white",
    ))


def _grid(matrices, titles, q_tokens, k_tokens, mask, rows, cols, spacing,
          value_names: Sequence[str] | None = None) -> tuple[list[dict], dict]:
    """Traces and layout of attention matrices in a rows x cols grid sharing one colour axis;
    value_names: what each matrix holds, for its hover ("weight" when not given)."""
    layout = spec.subplots(rows, cols, titles, *spacing)
    data = []
    for i, w in enumerate(matrices):
        r, c = i // cols + 1, i % cols + 1
        xa, ya = spec.axis_names(r, c, cols)
        data += _head_traces(np.asarray(w), q_tokens, k_tokens, mask, axes=(xa, ya),
                             value_name=value_names[i] if value_names else "weight")
        xaxis, yaxis = _axes(q_tokens, k_tokens, titles=False)
        layout["xaxis" + xa[1:]].update(xaxis)
        layout["yaxis" + ya[1:]].update(yaxis)
    return data, layout


def heads_grid(trace: AttentionTrace, layer: int, max_cols: int = 6, title: str = "",
               edge_ticks: bool = False) -> go.Figure:
    """All heads of one layer side by side, sharing the 0..1 colour scale. edge_ticks=True: the
    tokens label only the first column's rows (the key axis is the same tokens), so small panels
    keep their titles and labels apart (the lesson's projector)."""
    H = trace.n_heads
    trace.head(layer, 0)  # raises a readable IndexError for a bad layer
    cols = min(H, max_cols)
    rows = int(np.ceil(H / cols))
    data, layout = _grid(trace.weights[layer], [f"head {h}" for h in range(H)], trace.query_tokens,
                         trace.key_tokens, trace.mask, rows, cols, (0.02 if edge_ticks else 0.04, 0.08))
    if edge_ticks:
        for i in range(rows * cols):
            xa, ya = spec.axis_names(i // cols + 1, i % cols + 1, cols)
            layout["xaxis" + xa[1:]]["showticklabels"] = False
            if i % cols:
                layout["yaxis" + ya[1:]]["showticklabels"] = False
    layout.update(
        title=spec.title(label(title)), height=int(rows * min(360, max(220, 18 * len(trace.query_tokens) + 120))),
        margin=dict(l=10, r=10, t=60, b=10), plot_bgcolor="white", coloraxis=_coloraxis(),
    )
    return spec.figure(data, layout)


def snapshots_grid(
    snapshots: Sequence[tuple[int, np.ndarray]], query_tokens, key_tokens, title: str = "", edge_ticks: bool = False
) -> go.Figure:
    """The same (Tq, Tk) attention at several training steps, left to right. edge_ticks=True: tokens
    label only the first panel's rows (for axes too long to label in every small panel)."""
    n = len(snapshots)
    if n == 0:
        raise ValueError("snapshots_grid needs at least one snapshot")
    data, layout = _grid([w for _, w in snapshots], [f"step {s}" for s, _ in snapshots], query_tokens,
                         key_tokens, None, 1, n, (0.03, None))
    if edge_ticks:
        for i in range(n):
            xa, ya = spec.axis_names(1, i + 1, n)
            layout["xaxis" + xa[1:]]["showticklabels"] = False
            if i:
                layout["yaxis" + ya[1:]]["showticklabels"] = False
    layout.update(
        title=spec.title(label(title)), height=300, margin=dict(l=10, r=10, t=60, b=10), plot_bgcolor="white",
        coloraxis=_coloraxis(),
    )
    return spec.figure(data, layout)


def loss_curve(losses: Sequence[float], title: str = "training loss") -> go.Figure:
    return spec.figure([dict(type="scatter", x=np.arange(1, len(losses) + 1), y=list(losses), mode="lines")], dict(
        title=spec.title(label(title)), height=280, margin=dict(l=10, r=10, t=50, b=10),
        xaxis=dict(title=spec.title("step")), yaxis=dict(title=spec.title("cross-entropy"), type="log"),
    ))
