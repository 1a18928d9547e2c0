"""The "What moves" view: where a head looks (its weights) beside what it moves (each key's share
of ‖w_ij · v_j W_O‖, Kobayashi et al. 2020), and per layer the share of each that goes to [CLS],
[SEP] and punctuation. plotly only; both panels on the app's 0..1 scale, rows = queries."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from viz.figures import spec
from viz.figures.heatmap import COLORSCALE, MAX_TICKS, _coloraxis, _grid, label
from viz.figures.text import (
    HEATMAP_MAX_CELLS,
    HOVER_MAX_CELLS,
    _axis_ticks,
    _colorbar_trace,
    _position_names,
    colorize,
    percent_heatmap,
    png_data_uri,
    window_names,
    window_slices,
)
from viz.trace import AttentionTrace

GROUP_COLOURS = {"[CLS]": "#1f77b4", "[SEP]": "#d62728", "punctuation": "#2ca02c"}


PANEL_TICKS = 10  # x labels per panel on a long input: a panel is about 300 px wide on a 1280 px screen


def _spread_ticks(tokens, named: bool, n: int) -> dict:
    """n tick labels spread over the axis, the first half a step in from the left edge."""
    step = max(1, int(np.ceil(len(tokens) / n)))
    idx = list(range(step // 2, len(tokens), step))
    names = _position_names(tokens) if named else None
    return dict(tickmode="array", tickvals=[names[i] for i in idx] if named else idx,
                ticktext=[label(tokens[i]) for i in idx], **({"type": "category"} if named else {}))


def moves_figure(trace: AttentionTrace, shares: np.ndarray, layer: int, head: int,
                 window: tuple[int, int, int] | None = None) -> go.Figure:
    """shares: (L, H, Tq, Tk) norm shares (viz.attention.norm_shares of weighted_norms). The panels
    follow matrix_figure's sizes: above HEATMAP_MAX_CELLS cells no per-cell hover strings (at 512
    tokens two heatmaps with one per cell were 39 MB) but float32 numbers on category axes named
    "position: token", while both panels fit HOVER_MAX_CELLS; above that, whole percents, one byte
    a cell (text.percent_heatmap), or pictures where cells are masked.
    window=(q0, k0, size): only queries q0.. and keys k0.. (size of each), every token labelled
    with its position, as the heatmap view's window (text.window_figure)."""
    trace.head(layer, head)  # the readable range check
    titles = ["weights: where it looks", "share of ‖w·v·W_O‖: what it moves"]
    matrices = [trace.head(layer, head), shares[layer, head]]
    q_tokens, k_tokens, mask = trace.query_tokens, trace.key_tokens, trace.mask
    title = f"Layer {layer}, head {head}: looking against moving"
    if window is not None:
        qs, ks = window_slices(len(q_tokens), len(k_tokens), *window)
        matrices = [m[qs, ks] for m in matrices]
        q_tokens, k_tokens = window_names(q_tokens, qs), window_names(k_tokens, ks)
        mask = None if mask is None else mask[qs, ks]
        title += f", queries {qs.start}–{qs.stop - 1}, keys {ks.start}–{ks.stop - 1}"
    Tq, Tk = len(q_tokens), len(k_tokens)
    if Tq * Tk <= HEATMAP_MAX_CELLS:
        data, layout = _grid(matrices, titles, q_tokens, k_tokens, mask, 1, 2, (0.08, None),
                             value_names=["weight", "share moved"])
        layout.update(coloraxis=_coloraxis("weight · share"))
    else:
        precise = 2 * Tq * Tk <= HOVER_MAX_CELLS  # float32 numbers; else whole percents
        pictures = not precise and mask is not None and not mask.all()  # NaN cannot be a byte
        named = not pictures
        layout = spec.subplots(1, 2, titles, 0.08)
        data = []
        for i, (m, name) in enumerate(zip(matrices, ("weight", "share moved"), strict=True)):
            xa, ya = spec.axis_names(1, i + 1, 2)
            m = np.where(mask, m, np.nan) if mask is not None else m  # masked cells grey
            if precise:
                data.append(dict(type="heatmap", z=np.asarray(m, dtype=np.float32), x=_position_names(k_tokens),
                                 y=_position_names(q_tokens), coloraxis="coloraxis", xaxis=xa, yaxis=ya,
                                 hovertemplate=f"query %{{y}}  →  key %{{x}}<br>{name} %{{z:.3f}}<extra></extra>"))
            elif named:
                data.append(dict(percent_heatmap(m, _position_names(q_tokens), _position_names(k_tokens), name),
                                 coloraxis="coloraxis", xaxis=xa, yaxis=ya))
            else:
                data.append(dict(type="image", source=png_data_uri(colorize(m, 0.0, 1.0)),
                                 x0=0, dx=1, y0=0, dy=1, xaxis=xa, yaxis=ya,
                                 hovertemplate=f"{name}: query %{{y}} → key %{{x}}<extra></extra>"))
            # two panels side by side: a window's 40 keys are all labelled, as everywhere; a whole
            # long input gets PANEL_TICKS labels a panel, none at the left edge (turned by -60 degrees
            # a label there hung over the y labels; 20 a panel at 512 tokens overlapped each other)
            x_ticks = (_axis_ticks(k_tokens, named, MAX_TICKS) if Tk <= MAX_TICKS else
                       _spread_ticks(k_tokens, named, PANEL_TICKS))
            layout["xaxis" + xa[1:]].update(**x_ticks, tickangle=-60, showgrid=False,
                                            zeroline=False, range=[-0.5, Tk - 0.5])
            layout["yaxis" + ya[1:]].update(**_axis_ticks(q_tokens, named), autorange="reversed",
                                            showgrid=False, zeroline=False)
        if precise:
            layout.update(coloraxis=_coloraxis("weight · share"))
        elif named:
            layout.update(coloraxis=dict(_coloraxis("weight · share (%)"), cmin=0, cmax=100))
        else:
            data.append(_colorbar_trace(0.0, 1.0, COLORSCALE, "weight · share"))
    layout.update(title=spec.title(label(title)),
                  height=int(min(900, max(380, 22 * Tq + 160))), margin=dict(l=10, r=10, t=70, b=10),
                  plot_bgcolor="white")
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
