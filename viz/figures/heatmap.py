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
from plotly.subplots import make_subplots

from viz.trace import AttentionTrace

COLORSCALE = "Blues"
MASKED_COLOR = "#bdbdbd"
MAX_TICKS = 40


def label(token: str) -> str:
    """A token as plotly text: HTML-escaped, so it is displayed and never interpreted."""
    return html.escape(str(token), quote=False)


def _ticks(tokens: Sequence[str]) -> dict:
    step = max(1, int(np.ceil(len(tokens) / MAX_TICKS)))
    idx = list(range(0, len(tokens), step))
    return dict(tickmode="array", tickvals=idx, ticktext=[label(tokens[i]) for i in idx])


def _hover_text(weights: np.ndarray, q_tokens, k_tokens, mask) -> np.ndarray:
    """Per-cell hover strings: query, key, weight (or 'masked')."""
    q = np.asarray([label(t) for t in q_tokens], dtype=object)[:, None]
    k = np.asarray([label(t) for t in k_tokens], dtype=object)[None, :]
    text = "query " + q + "  →  key " + k + "<br>weight " + np.char.mod("%.3f", weights).astype(object)
    if mask is not None:
        text = np.where(mask, text, "query " + q + "  →  key " + k + "<br>masked: cannot attend")
    return text


def _head_traces(weights, q_tokens, k_tokens, mask, coloraxis="coloraxis") -> list[go.Heatmap]:
    Tq, Tk = weights.shape
    x, y = np.arange(Tk), np.arange(Tq)
    shown = weights.astype(float)
    if mask is not None:
        shown = np.where(mask, shown, np.nan)
    traces = [
        go.Heatmap(
            z=shown, x=x, y=y, coloraxis=coloraxis, hoverinfo="text",
            text=_hover_text(weights, q_tokens, k_tokens, mask), xgap=1, ygap=1,
        )
    ]
    if mask is not None and not mask.all():
        traces.append(
            go.Heatmap(
                z=np.where(mask, np.nan, 1.0), x=x, y=y, showscale=False, hoverinfo="skip",
                colorscale=[[0, MASKED_COLOR], [1, MASKED_COLOR]], xgap=1, ygap=1,
            )
        )
    return traces


def _style_axes(fig: go.Figure, q_tokens, k_tokens, row=None, col=None, titles=True) -> None:
    fig.update_xaxes(**_ticks(k_tokens), tickangle=-60 if len(k_tokens) > 12 else 0,
                     title_text="key (attended to)" if titles else None, row=row, col=col,
                     showgrid=False, zeroline=False)
    fig.update_yaxes(**_ticks(q_tokens), autorange="reversed",
                     title_text="query (attending)" if titles else None, row=row, col=col,
                     showgrid=False, zeroline=False)


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
    fig = go.Figure(_head_traces(weights, query_tokens, key_tokens, mask))
    _style_axes(fig, query_tokens, key_tokens)
    size = height or int(min(700, max(320, 28 * len(query_tokens) + 160)))
    fig.update_layout(
        title=label(title), height=size, margin=dict(l=10, r=10, t=50 if title else 20, b=10),
        coloraxis=dict(colorscale=COLORSCALE, cmin=0, cmax=1, colorbar=dict(title="weight")),
        plot_bgcolor="white",
    )
    return fig


def heads_grid(trace: AttentionTrace, layer: int, max_cols: int = 6, title: str = "") -> go.Figure:
    """All heads of one layer side by side, sharing the 0..1 colour scale."""
    H = trace.n_heads
    trace.head(layer, 0)  # raises a readable IndexError for a bad layer
    cols = min(H, max_cols)
    rows = int(np.ceil(H / cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[f"head {h}" for h in range(H)],
                        horizontal_spacing=0.04, vertical_spacing=0.08)
    for h in range(H):
        r, c = h // cols + 1, h % cols + 1
        for tr in _head_traces(trace.weights[layer, h], trace.query_tokens, trace.key_tokens, trace.mask):
            fig.add_trace(tr, row=r, col=c)
        _style_axes(fig, trace.query_tokens, trace.key_tokens, row=r, col=c, titles=False)
    fig.update_layout(
        title=label(title), height=int(rows * min(360, max(220, 18 * len(trace.query_tokens) + 120))),
        margin=dict(l=10, r=10, t=60, b=10), plot_bgcolor="white",
        coloraxis=dict(colorscale=COLORSCALE, cmin=0, cmax=1, colorbar=dict(title="weight")),
    )
    return fig


def snapshots_grid(
    snapshots: Sequence[tuple[int, np.ndarray]], query_tokens, key_tokens, title: str = ""
) -> go.Figure:
    """The same (Tq, Tk) attention at several training steps, left to right."""
    n = len(snapshots)
    if n == 0:
        raise ValueError("snapshots_grid needs at least one snapshot")
    fig = make_subplots(rows=1, cols=n, subplot_titles=[f"step {s}" for s, _ in snapshots],
                        horizontal_spacing=0.03)
    for i, (_, w) in enumerate(snapshots):
        for tr in _head_traces(np.asarray(w), query_tokens, key_tokens, None):
            fig.add_trace(tr, row=1, col=i + 1)
        _style_axes(fig, query_tokens, key_tokens, row=1, col=i + 1, titles=False)
    fig.update_layout(
        title=label(title), height=300, margin=dict(l=10, r=10, t=60, b=10), plot_bgcolor="white",
        coloraxis=dict(colorscale=COLORSCALE, cmin=0, cmax=1, colorbar=dict(title="weight")),
    )
    return fig


def loss_curve(losses: Sequence[float], title: str = "training loss") -> go.Figure:
    fig = go.Figure(go.Scatter(x=np.arange(1, len(losses) + 1), y=list(losses), mode="lines"))
    fig.update_layout(title=label(title), height=280, margin=dict(l=10, r=10, t=50, b=10),
                      xaxis_title="step", yaxis_title="cross-entropy", yaxis_type="log")
    return fig
