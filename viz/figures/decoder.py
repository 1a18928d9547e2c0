"""Figures of a decoder: its head detectors, the next-token distribution, the phase change of
training, and the previous-token -> induction circuit. plotly only."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

from viz.figures import spec
from viz.figures.heatmap import label

DETECTORS = {"previous": "previous token", "duplicate": "duplicate token", "prefix": "prefix matching (induction)"}
SCORE_SCALE = [[0.0, "#ffffff"], [1.0, "#60a5fa"]]  # white to a light blue: numbers stay in ink (6:1)
BAR, KEPT, CHOSEN = "#cbd5e1", "#2563eb", "#c2410c"
NODE = "#fdba74"  # the induction head's node: light orange, its label in ink
MAX_BARS = 128  # a larger vocabulary is drawn as its sorted curve plus the top tokens by name
TOP_NAMED = 20


def detector_grid(scores: dict[str, np.ndarray], title: str = "") -> go.Figure:
    """One (L, H) table per detector, each cell the head's score printed on it, on a 0..1 scale."""
    names = [n for n in DETECTORS if n in scores]
    layout = spec.subplots(1, len(names), [DETECTORS[n] for n in names], horizontal_spacing=0.06)
    data = []
    for i, name in enumerate(names):
        s = np.asarray(scores[name], dtype=float)
        L, H = s.shape
        xa, ya = spec.axis_names(1, i + 1, len(names))
        data.append(dict(type="heatmap", z=s, x=list(range(H)), y=list(range(L)), coloraxis="coloraxis",
                         text=np.char.mod("%.2f", s), texttemplate="%{text}", textfont=dict(size=15, color=spec.INK),
                         xgap=2, ygap=2, xaxis=xa, yaxis=ya,
                         hovertemplate=f"layer %{{y}}, head %{{x}}<br>{DETECTORS[name]} %{{z:.3f}}<extra></extra>"))
        layout["xaxis" + xa[1:]].update(title=spec.title("head"), tickmode="array", tickvals=list(range(H)),
                                        showgrid=False, zeroline=False)
        layout["yaxis" + ya[1:]].update(title=spec.title("layer") if i == 0 else None, tickmode="array",
                                        tickvals=list(range(L)), autorange="reversed", showgrid=False,
                                        zeroline=False, showticklabels=i == 0)
    L = np.asarray(scores[names[0]]).shape[0]
    layout.update(title=spec.title(label(title)) if title else None, height=150 + 45 * L,
                  margin=dict(l=10, r=10, t=70 if title else 40, b=10), plot_bgcolor="white",
                  coloraxis=dict(colorscale=SCORE_SCALE, cmin=0, cmax=1, colorbar=dict(title=spec.title("score"))))
    return spec.figure(data, layout)


def next_token_figure(probs: np.ndarray, labels: Sequence[str], model_probs: np.ndarray | None = None,
                      chosen: int | None = None, title: str = "") -> go.Figure:
    """The next token's distribution over the whole vocabulary. Up to MAX_BARS tokens: one bar each,
    in vocabulary order, kept tokens blue, cut ones (top-k, top-p) grey with the model's own
    probability. Larger vocabularies: the TOP_NAMED most likely by name, and above them every
    token's probability sorted, as one line (so the whole vocabulary is still there)."""
    probs = np.asarray(probs, dtype=float)
    base = probs if model_probs is None else np.asarray(model_probs, dtype=float)
    V = len(probs)
    names = [label(t) for t in labels]
    colour = np.where(probs > 0, KEPT, BAR).astype(object)
    if chosen is not None:
        colour[chosen] = CHOSEN
    hover = "%{customdata}<br>after the cuts %{y:.3f}<extra></extra>"
    if V <= MAX_BARS:
        shown = np.where(probs > 0, probs, base)  # a cut token shows what the model gave it, in grey
        data = [dict(type="bar", x=list(range(V)), y=shown, marker=dict(color=colour.tolist()),
                     customdata=[f"{n}: model {b:.3f}, sampled from {p:.3f}" for n, b, p in zip(names, base, probs, strict=True)],
                     hovertemplate="%{customdata}<extra></extra>")]
        step = 1 if V <= 64 else 2
        layout = dict(xaxis=dict(tickmode="array", tickvals=list(range(0, V, step)), ticktext=names[::step],
                                 tickangle=0, title=spec.title("next token (the whole vocabulary)")),
                      yaxis=dict(title=spec.title("probability"), rangemode="tozero"))
        height = 300
    else:
        top = np.argsort(-base, kind="stable")[:TOP_NAMED]
        layout = spec.subplots(2, 1, (f"all {V} tokens, most likely first",
                                      f"the {TOP_NAMED} most likely"), vertical_spacing=0.18)
        ranked = np.sort(base)[::-1]
        idx = np.unique(np.geomspace(1, V, 400).astype(int)) - 1  # every rank's order of magnitude
        data = [dict(type="scatter", x=idx + 1, y=ranked[idx], mode="lines", line=dict(color=KEPT), xaxis="x",
                     yaxis="y", hovertemplate="rank %{x}<br>probability %{y:.2e}<extra></extra>", showlegend=False),
                dict(type="bar", x=[names[i] for i in top], y=probs[top], marker=dict(color=colour[top].tolist()),
                     xaxis="x2", yaxis="y2", customdata=[f"{names[i]}: model {base[i]:.3f}" for i in top],
                     hovertemplate=hover, showlegend=False)]
        layout["xaxis"].update(type="log", title=spec.title("rank"))
        layout["yaxis"].update(type="log", title=spec.title("probability"))
        layout["xaxis2"].update(tickangle=-45)
        layout["yaxis2"].update(title=spec.title("probability"), rangemode="tozero")
        height = 520
    layout.update(title=spec.title(label(title)) if title else None, height=height, plot_bgcolor="white",
                  margin=dict(l=10, r=10, t=60 if title else 30, b=10), bargap=0.15)
    return spec.figure(data, layout)


def phase_change_figure(steps: Sequence[int], losses: Sequence[float], prefix: Sequence[np.ndarray],
                        total: int, title: str = "") -> go.Figure:
    """Left: the repeated half's loss per step. Right: every head's prefix-matching score at each
    measurement, one line per head ("layer.head"), on a 0..1 axis. `prefix[i]` is (L, H) at steps[i]."""
    layout = spec.subplots(1, 2, ("loss on the repeated half", "prefix-matching score of each head"),
                           horizontal_spacing=0.1)
    data = [dict(type="scatter", x=np.arange(1, len(losses) + 1), y=list(losses), mode="lines", showlegend=False,
                 line=dict(color="#374151"), xaxis="x", yaxis="y",
                 hovertemplate="step %{x}<br>loss %{y:.3f}<extra></extra>")]
    if len(prefix):
        table = np.stack(prefix)  # (n, L, H)
        L, H = table.shape[1:]
        palette = ["#9ca3af", "#6b7280", "#1d4ed8", "#b91c1c", "#047857", "#7c3aed", "#c2410c", "#0e7490"]
        for layer in range(L):
            for head in range(H):
                data.append(dict(type="scatter", x=list(steps), y=table[:, layer, head], mode="lines+markers",
                                 name=f"{layer}.{head}", xaxis="x2", yaxis="y2",
                                 line=dict(color=palette[(layer * H + head) % len(palette)] if layer else "#9ca3af",
                                           dash="dot" if layer == 0 else "solid"),
                                 hovertemplate=f"head {layer}.{head}<br>step %{{x}}<br>score %{{y:.2f}}<extra></extra>"))
    layout["xaxis"].update(title=spec.title("step"), range=[1, max(2, total)])
    layout["yaxis"].update(title=spec.title("cross-entropy"), rangemode="tozero")
    layout["xaxis2"].update(title=spec.title("step"), range=[0, max(1, total)])
    layout["yaxis2"].update(range=[0, 1.02])
    layout.update(title=spec.title(label(title)) if title else None, height=320, plot_bgcolor="white",
                  margin=dict(l=10, r=10, t=70 if title else 40, b=10),
                  legend=dict(title=spec.title("head (layer.head)"), orientation="v"))
    return spec.figure(data, layout)


def circuit_figure(composition: np.ndarray, induction_head: tuple[int, int], previous: np.ndarray,
                   title: str = "") -> go.Figure:
    """The two-head circuit: each head of the layers before the induction head as a node, with its
    previous-token score; a line from each into the induction head, as wide as its K-composition
    score; the strongest line labelled. composition (l, H), previous (l, H) for those layers."""
    l2, h2 = induction_head
    comp = np.asarray(composition, dtype=float)
    rows, H = comp.shape
    top = np.unravel_index(int(np.argmax(comp)), comp.shape)
    span = comp.max() - comp.min() or 1.0
    data, notes = [], []
    for l1 in range(rows):
        for h1 in range(H):
            strong = (l1, h1) == tuple(top)
            w = 1 + 9 * (comp[l1, h1] - comp.min()) / span
            data.append(dict(type="scatter", x=[h1, (H - 1) / 2], y=[l1, l2], mode="lines", hoverinfo="skip",
                             line=dict(color=CHOSEN if strong else "#94a3b8", width=w), showlegend=False))
    nodes = [(layer, head) for layer in range(rows) for head in range(H)]
    ys, xs = [n[0] for n in nodes], [n[1] for n in nodes]
    data.append(dict(type="scatter", x=xs, y=ys, mode="markers+text", showlegend=False,
                     marker=dict(size=44, color=[float(previous[n]) for n in nodes], cmin=0, cmax=1,
                                 colorscale=SCORE_SCALE, line=dict(color="#1f2130", width=1),
                                 colorbar=dict(title=spec.title("previous-<br>token score"))),
                     text=[f"{a}.{b}" for a, b in nodes], textfont=dict(size=15, color=spec.INK),
                     customdata=[f"head {a}.{b}: previous-token score {previous[a, b]:.2f}, K-composition "
                                 f"{comp[a, b]:.2f}" for a, b in nodes],
                     hovertemplate="%{customdata}<extra></extra>"))
    data.append(dict(type="scatter", x=[(H - 1) / 2], y=[l2], mode="markers+text", showlegend=False,
                     marker=dict(size=54, color=NODE, line=dict(color="#1f2130", width=2)),
                     text=[f"{l2}.{h2}"], textfont=dict(size=15, color=spec.INK),
                     hovertemplate=f"head {l2}.{h2}: the induction head<extra></extra>"))
    notes.append(dict(x=(H - 1) / 2, y=l2, text="induction head", showarrow=False, yshift=-42, font=dict(size=15)))
    tl, th = int(top[0]), int(top[1])
    notes.append(dict(x=th, y=tl, showarrow=False, yshift=-40, text=f"K-composition {comp[tl, th]:.2f}",
                      font=dict(size=15, color=CHOSEN), bgcolor="white"))
    layout = dict(title=spec.title(label(title)) if title else None, height=200 + 90 * rows, plot_bgcolor="white",
                  margin=dict(l=10, r=10, t=60 if title else 20, b=10), annotations=notes,
                  xaxis=dict(visible=False, range=[-0.7, H - 0.3]),
                  yaxis=dict(title=spec.title("layer"), tickmode="array", tickvals=list(range(l2 + 1)),
                             autorange="reversed", range=None, showgrid=False, zeroline=False))
    layout["yaxis"]["range"] = [l2 + 0.8, -0.5]
    layout["yaxis"].pop("autorange")
    return spec.figure(data, layout)
