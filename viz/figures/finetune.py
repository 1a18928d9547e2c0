"""Figures of a fine-tuning run: its curves, how much each head changed, one row before and after."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from viz.figures import spec
from viz.figures.heatmap import label

BEFORE, AFTER = "#7f8590", "#c2410c"  # grey for the pretrained model, orange for the fine-tuned one
SUBSET_COLOURS = ["#1d4ed8", "#b91c1c", "#047857", "#7c3aed"]
# White to a mid orange, light enough that the cells' numbers stay in ink (5.6:1 on the darkest)
CHANGE_SCALE = [[0.0, "#ffffff"], [1.0, "#f97316"]]


def training_curves(losses: Sequence[float], evals: Sequence[tuple[int, float, dict]], total: int,
                    title: str = "") -> go.Figure:
    """Left: the training loss per step. Right: held-out accuracy at each evaluation, in all and
    per subset, on a fixed 0..1 axis with chance (0.5) drawn."""
    layout = spec.subplots(1, 2, ("training loss (cross-entropy)", "held-out accuracy"), horizontal_spacing=0.1)
    data = [dict(type="scatter", x=np.arange(1, len(losses) + 1), y=list(losses), mode="lines", name="loss",
                 line=dict(color="#374151"), xaxis="x", yaxis="y", showlegend=False,
                 hovertemplate="step %{x}<br>loss %{y:.3f}<extra></extra>")]
    steps = [s for s, _, _ in evals]
    data.append(dict(type="scatter", x=steps, y=[a for _, a, _ in evals], mode="lines+markers", name="all",
                     line=dict(color="#111827", width=3), xaxis="x2", yaxis="y2",
                     hovertemplate="step %{x}<br>accuracy %{y:.3f}<extra>all</extra>"))
    subsets = list(dict.fromkeys(k for _, _, sub in evals for k in sub))
    if len(subsets) > 1:
        for i, name in enumerate(subsets):
            data.append(dict(type="scatter", x=steps, y=[sub.get(name) for _, _, sub in evals], mode="lines+markers",
                             name=name, line=dict(color=SUBSET_COLOURS[i % 4], dash="dot"), xaxis="x2", yaxis="y2",
                             hovertemplate=f"step %{{x}}<br>accuracy %{{y:.3f}}<extra>{label(name)}</extra>"))
    span = [0, max(1, total)]
    layout["xaxis"].update(title=spec.title("step"), range=[1, max(2, total)])
    layout["yaxis"].update(type="log", dtick=1)  # one labelled tick per decade: 1, 0.1, 0.01
    layout["xaxis2"].update(title=spec.title("step"), range=span)
    layout["yaxis2"].update(range=[0, 1.02], tickformat=".0%")
    layout.update(title=spec.title(label(title)) if title else None, height=300,
                  margin=dict(l=10, r=10, t=60 if title else 40, b=10),
                  legend=dict(orientation="h", y=-0.3), plot_bgcolor="white",
                  shapes=[dict(type="line", xref="x2", yref="y2", x0=0, x1=max(1, total), y0=0.5, y1=0.5,
                               line=dict(color="#6b7280", dash="dash", width=1))])
    layout["annotations"] = list(layout.get("annotations", ())) + [dict(
        xref="x2", yref="y2", x=max(1, total), y=0.5, text="chance", showarrow=False, xanchor="right",
        yanchor="bottom")]
    return spec.figure(data, layout)


def change_grid(js: np.ndarray, cosine: np.ndarray, title: str, selected: tuple[int, int] | None = None) -> go.Figure:
    """Layers x heads: each head's Jensen-Shannon divergence before vs after (colour and number),
    its cosine in the hover; the selected head outlined."""
    js, cosine = np.asarray(js, float), np.asarray(cosine, float)
    L, H = js.shape
    zmax = max(0.05, float(js.max()))
    text = np.char.mod("%.2f", js)
    hover = np.array([[f"layer {i}, head {h}<br>JS {js[i, h]:.3f}<br>cosine {cosine[i, h]:.3f}" for h in range(H)]
                      for i in range(L)], dtype=object)
    data = [dict(type="heatmap", z=js, x=list(range(H)), y=list(range(L)), zmin=0, zmax=zmax,
                 colorscale=CHANGE_SCALE, text=text, texttemplate="%{text}",
                 textfont=dict(size=11, color=spec.INK), customdata=hover, hovertemplate="%{customdata}<extra></extra>",
                 xgap=2, ygap=2, colorbar=dict(title=spec.title("JS")))]
    shapes = []
    if selected is not None:
        i, h = selected
        shapes.append(dict(type="rect", x0=h - 0.5, x1=h + 0.5, y0=i - 0.5, y1=i + 0.5,
                           line=dict(color="#111827", width=3)))
    return spec.figure(data, dict(
        title=spec.title(label(title)), height=110 + 34 * L, margin=dict(l=10, r=10, t=50, b=10),
        xaxis=dict(title=spec.title("head"), tickmode="array", tickvals=list(range(H)), side="bottom"),
        yaxis=dict(title=spec.title("layer"), tickmode="array", tickvals=list(range(L)), autorange="reversed"),
        shapes=shapes, plot_bgcolor="white",
    ))


def row_before_after(before: np.ndarray, after: np.ndarray, key_tokens: Sequence[str], title: str) -> go.Figure:
    """One query's attention row before and after, as grouped bars over the key tokens."""
    x = [f"{i}: {label(t)}" for i, t in enumerate(key_tokens)]
    data = [dict(type="bar", x=x, y=np.asarray(before, float), name="before (pretrained)", marker=dict(color=BEFORE),
                 hovertemplate="%{x}<br>before %{y:.3f}<extra></extra>"),
            dict(type="bar", x=x, y=np.asarray(after, float), name="after (fine-tuned)", marker=dict(color=AFTER),
                 hovertemplate="%{x}<br>after %{y:.3f}<extra></extra>")]
    return spec.figure(data, dict(
        title=spec.title(label(title)), barmode="group", height=300, margin=dict(l=10, r=10, t=50, b=10),
        yaxis=dict(title=spec.title("weight"), range=[0, 1]), xaxis=dict(tickangle=-40),
        legend=dict(orientation="h", y=1.12, x=1, xanchor="right"), plot_bgcolor="white",
    ))


def object_attention_figure(before: dict, after: dict, title: str = "") -> go.Figure:
    """Per layer, before (grey) and after (orange): left, the share of CLS's attention on the object's
    patches, with chance dashed; right, the pointing-game hit rate. Both on 0..1."""
    layout = spec.subplots(1, 2, ("CLS attention on the object's patches", "pointing game: top patch on object"),
                           horizontal_spacing=0.1)
    L = len(before["share"])
    data = []
    for i, (key, axes) in enumerate((("share", ("x", "y")), ("pointing", ("x2", "y2")))):
        for name, side, colour in (("before", before, BEFORE), ("after", after, AFTER)):
            data.append(dict(type="scatter", x=list(range(L)), y=np.asarray(side[key]).tolist(), mode="lines+markers",
                             name=name, legendgroup=name, showlegend=i == 0, line=dict(color=colour, width=3),
                             xaxis=axes[0], yaxis=axes[1],
                             hovertemplate=f"layer %{{x}}<br>{name} %{{y:.3f}}<extra></extra>"))
    for xa, ya in (("x", "y"), ("x2", "y2")):
        layout["xaxis" + xa[1:]].update(title=spec.title("layer"), tickmode="array", tickvals=list(range(L)))
        layout["yaxis" + ya[1:]].update(range=[0, 1.02], tickformat=".0%")
    chance = float(before["chance"])
    layout.update(title=spec.title(label(title)) if title else None, height=320, plot_bgcolor="white",
                  margin=dict(l=10, r=10, t=70 if title else 40, b=10), legend=dict(orientation="h", y=-0.3),
                  shapes=[dict(type="line", xref=xa, yref=ya, x0=0, x1=L - 1, y0=chance, y1=chance,
                               line=dict(color="#6b7280", dash="dash", width=1)) for xa, ya in (("x", "y"), ("x2", "y2"))])
    layout["annotations"] = list(layout.get("annotations", ())) + [dict(
        xref="x", yref="y", x=L - 1, y=chance, text="chance", showarrow=False, xanchor="right", yanchor="bottom")]
    return spec.figure(data, layout)
