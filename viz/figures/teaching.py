"""Figures of the three teaching pages (softmax lab, dimension tracer, positional encodings).

plotly only: no streamlit, no torch. Every label that may come from the user goes through
`label()`. Attention matrices keep the app's convention: rows = queries (top to bottom),
columns = keys, weights on a fixed 0..1 scale.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from viz.figures import spec
from viz.figures.heatmap import COLORSCALE, _axes, _head_traces, _ticks, label

RAW, SCALED = "#d62728", "#1f77b4"  # unscaled red, scaled blue, on every √d_k figure
DIVERGING = "RdBu_r"


def _layout_dict(title: str, height: int, **kw) -> dict:
    """Every teaching figure's title, height, margins and background, as a layout dict."""
    return dict(title=spec.title(label(title)), height=height, margin=dict(l=10, r=10, t=60, b=10),
                plot_bgcolor="white", **kw)


def _layout(fig: go.Figure, title: str, height: int, **kw) -> go.Figure:
    fig.update_layout(**_layout_dict(title, height, **kw))
    fig.update_layout(spec.ink(fig.layout.to_plotly_json()))  # a figure built step by step, inked too
    return fig


# ---------------------------------------------------------------- softmax lab


def softmax_bars(logits: Sequence[float], weights: Sequence[float], title: str = "") -> go.Figure:
    """One bar per logit: its softmax weight on a fixed 0..1 axis; the logit is the tick label."""
    x = np.arange(len(weights))
    ticks = [f"{v:g}" for v in logits]
    return spec.figure([dict(type="bar", x=x, y=list(weights), text=[f"{w:.3f}" for w in weights],
                             textposition="outside", marker=dict(color=SCALED), customdata=ticks,
                             hovertemplate="logit %{customdata}<br>weight %{y:.4f}<extra></extra>")],
                       _layout_dict(title, 340,
                                    xaxis=dict(tickmode="array", tickvals=x, ticktext=ticks,
                                               title=spec.title("logit (as typed)")),
                                    yaxis=dict(range=[0, 1.12], title=spec.title("softmax weight"), gridcolor="#eee")))


def temperature_sweep(temperatures: np.ndarray, weights: np.ndarray, logits: Sequence[float],
                      current: float) -> go.Figure:
    """Weight of each logit against temperature (log axis), the chosen temperature marked."""
    data = [dict(type="scatter", x=temperatures, y=weights[:, j], mode="lines", name=f"logit {v:g}")
            for j, v in enumerate(logits)]
    return spec.figure(data, _layout_dict(
        "Cold: the largest logit takes everything. Hot: the weights flatten.", 340,
        shapes=[dict(type="line", x0=current, x1=current, xref="x", y0=0, y1=1, yref="y domain",
                     line=dict(color="#555", dash="dot"))],
        annotations=[dict(showarrow=False, text=f"T = {current:.3g}", x=current, xanchor="center", xref="x",
                          y=1, yanchor="bottom", yref="y domain")],
        xaxis=dict(type="log", dtick=1, title=spec.title("temperature T (log scale)"), gridcolor="#eee"),
        yaxis=dict(range=[0, 1.02], title=spec.title("softmax weight"), gridcolor="#eee")))


HIST_BINS = 60


def _histogram_bars(a: np.ndarray, b: np.ndarray, names: tuple[str, str], axes: tuple[str, str],
                    value_range: tuple[float, float] | None, legend: bool) -> list[dict]:
    """Two overlaid histograms as bar traces of counts, HIST_BINS bins each: over `value_range`,
    or over each series' own range (so a narrow series keeps its shape beside a wide one). The
    browser gets the counts instead of every sample (6,400 scores: 170 kB of JSON on every run)."""
    traces = []
    for values, name, color, group in ((a, names[0], RAW, "raw"), (b, names[1], SCALED, "scaled")):
        values = np.asarray(values, dtype=float).ravel()
        lo, hi = value_range or (float(values.min()), float(values.max()))
        edges = np.linspace(lo, hi if hi > lo else lo + 1.0, HIST_BINS + 1)
        traces.append(dict(
            type="bar", x=(edges[:-1] + edges[1:]) / 2, y=np.histogram(values, edges)[0],
            width=float(edges[1] - edges[0]), customdata=np.stack([edges[:-1], edges[1:]], axis=1), name=name,
            marker=dict(color=color), opacity=0.6, legendgroup=group, showlegend=legend, xaxis=axes[0],
            yaxis=axes[1], hovertemplate="%{customdata[0]:.3g} to %{customdata[1]:.3g}: %{y}<extra>" + name + "</extra>"))
    return traces


def scaling_histograms(dots: np.ndarray, scaled: np.ndarray, max_raw: np.ndarray,
                       max_scaled: np.ndarray, d_k: int) -> go.Figure:
    """Left: q·k with and without 1/√d_k. Right: each row's largest softmax weight, both ways."""
    layout = spec.subplots(1, 2, [f"q·k over random unit-variance q, k (d_k = {d_k})",
                                  "largest softmax weight of each row"])
    names = ("q·k (unscaled)", "q·k / √d_k")
    data = (_histogram_bars(dots, scaled, names, ("x", "y"), None, legend=True)
            + _histogram_bars(max_raw, max_scaled, names, ("x2", "y2"), (0.0, 1.0), legend=False))
    layout["xaxis"].update(title=spec.title("score"))
    layout["xaxis2"].update(title=spec.title("max weight"), range=[0, 1])
    for axis in ("yaxis", "yaxis2"):
        layout[axis].update(title=spec.title("count"), gridcolor="#eee")
    return spec.figure(data, layout | _layout_dict("", 360, barmode="overlay", bargap=0))


def saturation_curve(d_ks: np.ndarray, raw: np.ndarray, scaled: np.ndarray, n_keys: int,
                     current: int | None = None) -> go.Figure:
    """Mean max-weight against d_k: unscaled climbs towards 1 (one-hot), scaled stays flat."""
    fig = go.Figure([
        go.Scatter(x=d_ks, y=raw, mode="lines+markers", name="unscaled", line_color=RAW),
        go.Scatter(x=d_ks, y=scaled, mode="lines+markers", name="scaled by 1/√d_k", line_color=SCALED),
    ])
    fig.add_hline(y=1 / n_keys, line_dash="dot", line_color="#888",
                  annotation_text=f"uniform (1/{n_keys})", annotation_position="bottom right")
    if current is not None:
        fig.add_vline(x=current, line_dash="dot", line_color="#555")
    fig.update_xaxes(type="log", title_text="d_k (log scale)", gridcolor="#eee")
    fig.update_yaxes(range=[0, 1.02], title_text="mean largest weight", gridcolor="#eee")
    return _layout(fig, f"Saturation: softmax over {n_keys} keys", 340)


def real_scores_and_weights(keys: Sequence[str], scores: np.ndarray, weights: np.ndarray,
                            model_weights: np.ndarray, temperature: float, title: str) -> go.Figure:
    """One query of a real model: its scaled scores (left), softmax at T (bars) and at T = 1 (dots)."""
    layout = spec.subplots(1, 2, ["scaled scores q·k/√d_k", f"softmax weights at T = {temperature:.3g}"])
    for axis in ("xaxis", "xaxis2"):
        layout[axis].update(_ticks(keys), title=spec.title("key"))
    layout["yaxis"].update(title=spec.title("score"), gridcolor="#eee")
    layout["yaxis2"].update(title=spec.title("weight"), range=[0, 1.02], gridcolor="#eee")
    x = np.arange(len(keys))
    return spec.figure([
        dict(type="bar", x=x, y=scores, marker=dict(color="#7f7f7f"), name="score", showlegend=False,
             xaxis="x", yaxis="y"),
        dict(type="bar", x=x, y=weights, marker=dict(color=SCALED), name=f"T = {temperature:.3g}",
             xaxis="x2", yaxis="y2"),
        dict(type="scatter", x=x, y=model_weights, mode="markers", marker=dict(color="black", size=8),
             name="the model's weights (T = 1)", xaxis="x2", yaxis="y2"),
    ], {**layout, **_layout_dict(title, 360)})


# ---------------------------------------------------------------- dimension tracer


@dataclass(frozen=True)
class Panel:
    """One small heatmap of a grid: a matrix with labelled rows and columns."""
    title: str
    z: np.ndarray
    rows: Sequence[str]
    cols: Sequence[str]
    x_title: str
    weights: bool = False  # True: attention weights on the fixed 0..1 Blues scale


def _few_ticks(labels: Sequence[str], most: int = 16) -> dict:
    step = max(1, int(np.ceil(len(labels) / most)))
    idx = list(range(0, len(labels), step))
    return dict(tickmode="array", tickvals=idx, ticktext=[label(labels[i]) for i in idx], tickangle=0)


def tensor_grid(panels: Sequence[Panel], cols: int = 3, title: str = "") -> go.Figure:
    """Small heatmaps side by side. Values on a diverging scale centred at 0, each with its own
    range (X, Q, K, V, scores); attention weights on the app's 0..1 scale."""
    n_rows = int(np.ceil(len(panels) / cols))
    layout = spec.subplots(n_rows, cols, [label(p.title) for p in panels], horizontal_spacing=0.06,
                           vertical_spacing=0.16)
    data = []
    for i, p in enumerate(panels):
        xa, ya = spec.axis_names(i // cols + 1, i % cols + 1, cols)
        z = np.asarray(p.z, dtype=float)
        if p.weights:
            scale = dict(colorscale=spec.colorscale(COLORSCALE), zmin=0, zmax=1)
        else:
            m = float(np.abs(z).max()) or 1.0
            scale = dict(colorscale=spec.colorscale(DIVERGING), zmin=-m, zmax=m)
        data.append(dict(type="heatmap", z=z, x=np.arange(z.shape[1]), y=np.arange(z.shape[0]), showscale=False,
                         hovertemplate="row %{y}, col %{x}: %{z:.3f}<extra></extra>", xaxis=xa, yaxis=ya, **scale))
        layout["xaxis" + xa[1:]].update(**_few_ticks(p.cols), title=spec.title(p.x_title), showgrid=False)
        layout["yaxis" + ya[1:]].update(**_few_ticks(p.rows), autorange="reversed", title=spec.title("token"),
                                        showgrid=False)
    return spec.figure(data, layout | _layout_dict(title, 330 * n_rows))


def shape_diagram(nodes: Sequence[tuple[str, str, str]], title: str = "", per_row: int = 5,
                  font_px: int = 13) -> go.Figure:
    """A chain of boxes, `per_row` to a row and snaking back, joined by arrows: (name, shape, note)
    each. The text has an explicit size (font_px, the note smaller) so that a figure enlarged for a
    projector keeps it inside its box; fewer boxes to a row make each box wider."""
    n = len(nodes)
    shapes, notes = [], []

    def place(i: int) -> tuple[float, float]:
        r, c = divmod(i, per_row)
        c = c if r % 2 == 0 else per_row - 1 - c  # snake so the arrows stay short
        return c * 2.2, -r * 1.6

    for i, (name, shape, note) in enumerate(nodes):
        x, y = place(i)
        shapes.append(dict(type="rect", x0=x - 0.95, x1=x + 0.95, y0=y - 0.55, y1=y + 0.55,
                           line=dict(color="#1f77b4"), fillcolor="#eef4fb"))
        notes.append(dict(x=x, y=y, showarrow=False, align="center", font=dict(size=font_px),
                          text=f"<b>{label(name)}</b><br>{label(shape)}<br>"
                               f"<span style='font-size:{font_px - 2}px;color:#3d4150'>{label(note)}</span>"))
        if i + 1 < n:
            x2, y2 = place(i + 1)
            arrow = dict(xref="x", yref="y", axref="x", ayref="y", showarrow=True, arrowhead=2, arrowcolor="#555",
                         text="")
            if y2 == y:
                sx, ex = (x + 0.95, x2 - 0.95) if x2 > x else (x - 0.95, x2 + 0.95)
                notes.append(dict(x=ex, y=y2, ax=sx, ay=y, **arrow))
            else:
                notes.append(dict(x=x2, y=y2 + 0.55, ax=x, ay=y - 0.55, **arrow))
    rows = int(np.ceil(n / per_row))
    return spec.figure([], dict(
        shapes=shapes, annotations=notes,
        xaxis=dict(visible=False, range=[-1.1, (per_row - 1) * 2.2 + 1.1]),
        yaxis=dict(visible=False, range=[-(rows - 1) * 1.6 - 0.8, 0.8]),
    ) | _layout_dict(title, 150 * rows + 80))


# ---------------------------------------------------------------- positional encodings


def pe_heatmap(table: np.ndarray, title: str, x_title: str = "dimension", y_title: str = "position") -> go.Figure:
    """(positions, dimensions) on a diverging scale centred at 0; position 0 at the top. Sent as
    float32: the hover shows three decimals, and the positional page draws two of these per run."""
    z = np.asarray(table, dtype=np.float32)
    m = float(np.abs(z).max()) or 1.0
    return spec.figure([dict(type="heatmap", z=z, colorscale=spec.colorscale(DIVERGING), zmin=-m, zmax=m,
                             colorbar=dict(title=spec.title("value")),
                             hovertemplate="position %{y}, dim %{x}: %{z:.3f}<extra></extra>")],
                       dict(xaxis=dict(title=spec.title(x_title)),
                            yaxis=dict(title=spec.title(y_title), autorange="reversed")) | _layout_dict(title, 380))


def pe_curves(table: np.ndarray, dims: Sequence[int], wavelengths: Sequence[float]) -> go.Figure:
    pos = np.arange(table.shape[0])
    data = [dict(type="scatter", x=pos, y=table[:, d], mode="lines+markers", marker=dict(size=4),
                 name=f"dim {d} ({'sin' if d % 2 == 0 else 'cos'}, wavelength {wl:.3g})")
            for d, wl in zip(dims, wavelengths, strict=True)]
    return spec.figure(data, dict(
        xaxis=dict(title=spec.title("position"), gridcolor="#eee"),
        yaxis=dict(title=spec.title("PE value"), range=[-1.1, 1.1], gridcolor="#eee"),
    ) | _layout_dict("Each dimension is a wave; the wavelength grows with the dimension", 340))


def similarity_and_offset(sim: np.ndarray, offsets: np.ndarray, by_offset: np.ndarray,
                          title: str, from_positions: Sequence[int]) -> go.Figure:
    """Left: cosine similarity of every pair of positions. Right: similarity against offset,
    one line per starting position (the lines coincide: it depends on the offset only)."""
    layout = spec.subplots(1, 2, ["cosine similarity of positions", "similarity against offset k"],
                           horizontal_spacing=0.2)
    data = [dict(type="heatmap", z=np.asarray(sim, dtype=np.float32), colorscale=spec.colorscale(DIVERGING),
                 zmin=-1, zmax=1, colorbar=dict(x=0.4, thickness=12), xaxis="x", yaxis="y",
                 hovertemplate="pos %{y} · pos %{x}: %{z:.3f}<extra></extra>")]  # float32: as pe_heatmap
    data += [dict(type="scatter", x=offsets, y=row, mode="lines", name=f"from position {p}", xaxis="x2", yaxis="y2")
             for p, row in zip(from_positions, by_offset, strict=True)]
    layout["xaxis"].update(title=spec.title("position"))
    layout["yaxis"].update(title=spec.title("position"), autorange="reversed")
    layout["xaxis2"].update(title=spec.title("offset k"), gridcolor="#eee")
    layout["yaxis2"].update(title=spec.title("cosine similarity"), gridcolor="#eee")
    return spec.figure(data, layout | _layout_dict(title, 380))


def matrix_pair(left: np.ndarray, right: np.ndarray, titles: tuple[str, str], x_title: str,
                y_title: str, title: str = "", shared: bool = True) -> go.Figure:
    """Two matrices side by side on diverging scales centred at 0: one shared scale, or
    (shared=False) one per matrix, for two quantities of different size."""
    layout = spec.subplots(1, 2, [label(t) for t in titles], horizontal_spacing=0.1 if shared else 0.2)
    data, scales = [], {}
    for c, z in ((1, left), (2, right)):
        xa, ya = spec.axis_names(1, c, 2)
        axis = "coloraxis" if shared or c == 1 else "coloraxis2"
        data.append(dict(type="heatmap", z=z, coloraxis=axis, xaxis=xa, yaxis=ya,
                         hovertemplate=f"{y_title} %{{y}}, {x_title} %{{x}}: %{{z:.4f}}<extra></extra>"))
        both = (left, right) if shared else (z,)
        m = float(max(np.abs(np.asarray(a)).max() for a in both)) or 1.0
        scales[axis] = dict(colorscale=spec.colorscale(DIVERGING), cmin=-m, cmax=m,
                            colorbar=dict(x=1.0 if axis == "coloraxis2" or shared else 0.41, thickness=12))
        layout["xaxis" + xa[1:]].update(title=spec.title(x_title))
        layout["yaxis" + ya[1:]].update(title=spec.title(y_title), autorange="reversed")
    return spec.figure(data, layout | _layout_dict(title, 380, **scales))


def attention_pair(panels: Sequence[tuple[str, np.ndarray, Sequence[str], Sequence[str]]],
                   title: str = "", cols: int = 2) -> go.Figure:
    """Attention heatmaps in a grid, in the app's convention (rows queries, 0..1 Blues)."""
    rows = int(np.ceil(len(panels) / cols))
    layout = spec.subplots(rows, cols, [label(p[0]) for p in panels], horizontal_spacing=0.15, vertical_spacing=0.18)
    data = []
    for i, (_, w, q, k) in enumerate(panels):
        xa, ya = spec.axis_names(i // cols + 1, i % cols + 1, cols)
        data += _head_traces(np.asarray(w), q, k, None, axes=(xa, ya))
        xaxis, yaxis = _axes(q, k)
        if i % cols:
            yaxis.pop("title")  # one query title per row: another one would lie on the panel to its left
        layout["xaxis" + xa[1:]].update(xaxis)
        layout["yaxis" + ya[1:]].update(yaxis)
    return spec.figure(data, layout | _layout_dict(title, 360 * rows, coloraxis=dict(
        colorscale=spec.colorscale(COLORSCALE), cmin=0, cmax=1, colorbar=dict(title=spec.title("weight")))))


def first_layer_tensors(x: np.ndarray, trace, head: int, title: str = "") -> go.Figure:
    """X and head `head`'s Q, K, V, scores and weights in the first layer of a trace's model."""
    tok = trace.query_tokens
    dims = [str(i) for i in range(x.shape[1])]
    d = [str(i) for i in range(trace.d_head)]
    n, D = len(tok), trace.d_head
    panels = [
        Panel(f"X ({n} × {x.shape[1]})", x, tok, dims, "d_model index"),
        Panel(f"Q_{head} ({n} × {D})", trace.queries[0, head], tok, d, "d_k index"),
        Panel(f"K_{head} ({n} × {D})", trace.keys[0, head], trace.key_tokens, d, "d_k index"),
        Panel(f"V_{head} ({n} × {D})", trace.values[0, head], trace.key_tokens, d, "d_v index"),
        Panel(f"scores Q_{head}·K_{head}ᵀ/√{D} ({n} × {len(trace.key_tokens)})", trace.scores[0, head],
              tok, trace.key_tokens, "key"),
        Panel(f"weights softmax(scores) ({n} × {len(trace.key_tokens)})", trace.weights[0, head],
              tok, trace.key_tokens, "key", weights=True),
    ]
    return tensor_grid(panels, cols=3, title=title)
