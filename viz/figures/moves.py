"""The "What moves" view: where a head looks (its weights) beside what it moves (each key's share
of ‖w_ij · v_j W_O‖, Kobayashi et al. 2020), and per layer the share of each that goes to [CLS],
[SEP] and punctuation. plotly only; both panels on the app's 0..1 scale, rows = queries."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from viz.figures import spec
from viz.figures.heatmap import _coloraxis, _grid, label
from viz.trace import AttentionTrace

GROUP_COLOURS = {"[CLS]": "#1f77b4", "[SEP]": "#d62728", "punctuation": "#2ca02c"}


def moves_figure(trace: AttentionTrace, shares: np.ndarray, layer: int, head: int) -> go.Figure:
    """shares: (L, H, Tq, Tk) norm shares (viz.attention.norm_shares of weighted_norms)."""
    trace.head(layer, head)  # the readable range check
    data, layout = _grid([trace.weights[layer, head], shares[layer, head]],
                         ["weights: where it looks", "share of ‖w·v·W_O‖: what it moves"],
                         trace.query_tokens, trace.key_tokens, trace.mask, 1, 2, (0.08, None),
                         value_names=["weight", "share moved"])
    T = len(trace.query_tokens)
    layout.update(title=spec.title(label(f"Layer {layer}, head {head}: looking against moving")),
                  height=int(min(900, max(380, 22 * T + 160))), margin=dict(l=10, r=10, t=70, b=10),
                  plot_bgcolor="white", coloraxis=_coloraxis("weight · share"))
    return spec.figure(data, layout)


def shares_figure(groups: dict[str, tuple[np.ndarray, np.ndarray]]) -> go.Figure:
    """Per layer: share of weight (dashed) and of weighted norm (solid) per group of tokens."""
    data = []
    for name, (w, n) in groups.items():
        colour = GROUP_COLOURS.get(name, "#7f7f7f")
        x = list(range(len(w)))
        data.append(dict(type="scatter", x=x, y=[float(v) for v in w], mode="lines+markers", name=f"{name}: weight",
                         line=dict(color=colour, dash="dash")))
        data.append(dict(type="scatter", x=x, y=[float(v) for v in n], mode="lines+markers", name=f"{name}: moved",
                         line=dict(color=colour)))
    return spec.figure(data, dict(
        title=spec.title("Share of attention weight (dashed) and of what is moved (solid), per layer"),
        height=360, margin=dict(l=10, r=10, t=60, b=10), plot_bgcolor="white",
        xaxis=dict(title=spec.title("layer"), dtick=1), yaxis=dict(title=spec.title("share"), range=[0, 1]),
    ))
