"""Queries and keys of one head in one 2-D space (viz.attention.qk_projection): circles are
queries, diamonds keys, both coloured by position; a chosen query's attention is drawn as lines
to the keys, thicker and darker for more weight. plotly only."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from viz.figures import spec
from viz.figures.heatmap import label

MAX_LINES = 40  # the chosen query's strongest keys; the rest would be invisible anyway


def qk_figure(q2: np.ndarray, k2: np.ndarray, explained: Sequence[float], q_tokens: Sequence[str],
              k_tokens: Sequence[str], row: np.ndarray | None = None, query: int | None = None,
              title: str = "", position_labels: tuple[str, str] | None = None,
              positions: tuple[np.ndarray, np.ndarray] | None = None) -> go.Figure:
    """row: the chosen query's weights over the keys (Tk,). positions: the colour of each query and
    key (defaults to their index); position_labels: what the colour means for the colour bar."""
    qc, kc = positions if positions is not None else (np.arange(len(q2)), np.arange(len(k2)))
    cmax = float(max(np.max(qc, initial=0), np.max(kc, initial=0), 1))
    data = []
    if row is not None and query is not None:
        for j in np.argsort(-row)[:MAX_LINES]:
            w = float(row[j])
            data.append(dict(type="scatter", x=[float(q2[query, 0]), float(k2[j, 0])],
                             y=[float(q2[query, 1]), float(k2[j, 1])], mode="lines", hoverinfo="skip",
                             line=dict(color=f"rgba(214,39,40,{0.15 + 0.85 * w:.3f})", width=1 + 8 * w),
                             showlegend=False))
    marker = dict(colorscale="Viridis", cmin=0, cmax=cmax, line=dict(width=1, color="white"))
    bar = dict(title=dict(text=(position_labels or ("position", ""))[0]), len=0.8)
    data.append(dict(type="scatter", x=q2[:, 0], y=q2[:, 1], mode="markers", name="queries",
                     marker=dict(marker, symbol="circle", size=11, color=list(map(float, qc)), colorbar=bar),
                     text=[f"query {label(t)} (#{i})" for i, t in enumerate(q_tokens)],
                     hovertemplate="%{text}<extra></extra>"))
    data.append(dict(type="scatter", x=k2[:, 0], y=k2[:, 1], mode="markers", name="keys",
                     marker=dict(marker, symbol="diamond-open", size=11, color=list(map(float, kc)),
                                 line=dict(width=2)),
                     text=[f"key {label(t)} (#{j})" + (f": weight {row[j]:.3f}" if row is not None else "")
                           for j, t in enumerate(k_tokens)],
                     hovertemplate="%{text}<extra></extra>"))
    if query is not None:
        data.append(dict(type="scatter", x=[float(q2[query, 0])], y=[float(q2[query, 1])], mode="markers",
                         name=f"chosen query: {label(q_tokens[query])}", hoverinfo="skip",
                         marker=dict(symbol="circle-open", size=22, line=dict(width=3, color="#d62728"))))
    return spec.figure(data, dict(
        title=spec.title(label(title)), height=560, margin=dict(l=10, r=10, t=60, b=10), plot_bgcolor="white",
        xaxis=dict(title=spec.title(f"axis 1 ({explained[0]:.0%} of the variance)"), zeroline=False),
        yaxis=dict(title=spec.title(f"axis 2 ({explained[1]:.0%})"), zeroline=False, scaleanchor="x"),
        legend=dict(orientation="h", y=-0.12),
    ))
