"""Context-aware vectors: how far one word's two vectors drift apart, layer by layer, and one
head's output x'_i = Σ_j w_ij · v_j drawn as its weighted parts. plotly only."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from viz.context import WeightedParts, WordDrift
from viz.figures import spec
from viz.figures.heatmap import label

PART_COLOR = "#6baed6"
SUM_COLOR = "#d62728"


def context_figure(drift: WordDrift, parts: WeightedParts, key_tokens: Sequence[str], layer: int,
                   head: int) -> go.Figure:
    """Top: cosine similarity of the word's vector in sentence A and in B after every layer.
    Bottom: ‖w_ij · v_j‖ for every token j of sentence A in one head, and ‖x'_i‖ of their sum
    (weights of 0.05 and more written over their bars)."""
    word = label(drift.word)
    L = len(drift.cosine) - 1
    x = list(range(L + 1))  # 0: the embeddings; i + 1: after layer i (short ticks fit a projector)
    where = ["embeddings"] + [f"after layer {i}" for i in range(L)]
    T = len(key_tokens)
    layout = spec.subplots(2, 1, [
        f"“{word}” in A vs in B: cosine after each layer (emb.: before the first)",
        f"Layer {layer}, head {head}: x′ of “{label(key_tokens[parts.query])}” = Σ w·v, ‖each part‖, ‖sum‖ (red)",
    ], vertical_spacing=0.24)
    names = [f"{j}: {label(t)}" for j, t in enumerate(key_tokens)] + ["x′ (sum)"]
    norms = np.append(parts.norms, np.linalg.norm(parts.output))
    weights = np.append(parts.weights, parts.weights.sum())
    data = [
        dict(type="scatter", x=x, y=drift.cosine, mode="lines+markers+text", name="cosine",
             text=[f"{c:.2f}" for c in drift.cosine], textposition="top center",
             customdata=where, hovertemplate="%{customdata}: cosine %{y:.3f}<extra></extra>", showlegend=False,
             xaxis="x", yaxis="y"),
        dict(type="bar", x=np.arange(T + 1), y=norms, marker=dict(color=[PART_COLOR] * T + [SUM_COLOR]),
             text=[f"w={w:.2f}" if w >= 0.05 else "" for w in weights], textposition="outside", constraintext="none",
             cliponaxis=False, showlegend=False, hovertext=names, xaxis="x2", yaxis="y2",
             hovertemplate="%{hovertext}<br>‖part‖ %{y:.3f}<extra></extra>"),
    ]
    low = min(0.0, float(drift.cosine.min()) - 0.05)
    layout["xaxis"].update(tickmode="array", tickvals=x, ticktext=["emb."] + [str(i) for i in range(L)])
    layout["yaxis"].update(range=[low, 1.2], title=spec.title("cosine"), gridcolor="#eee")
    layout["yaxis2"].update(title=spec.title("length of the part"), gridcolor="#eee")
    layout["xaxis2"].update(tickmode="array", tickvals=list(range(T + 1)), ticktext=names,
                            tickangle=-60 if T > 10 else 0)
    return spec.figure(data, layout | dict(height=640, margin=dict(l=10, r=10, t=60, b=10), plot_bgcolor="white"))
