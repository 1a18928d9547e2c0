"""Figures of the text page. plotly, numpy and pillow only: no streamlit, no torch.

Axis convention of heatmap.py: rows = queries top to bottom, columns = keys, numeric axes with
token tick labels (every token through `label()`), weights on a fixed 0..1 scale.

Three sizes of matrix (`matrix_figure`):
- small (<= HEATMAP_MAX_CELLS): go.Heatmap with one hover string per cell, cells drawn apart;
- large, up to HOVER_MAX_CELLS (a 256-token head): go.Heatmap whose z travels as float32 (plotly
  sends numpy arrays as base64, 0.35 MB at 256 tokens) and whose axes are categories named
  "position: token", so the hover names the query, the key and the weight with O(T) labels, not T²
  strings (per-cell strings cost tens of MB at 512 tokens);
- larger, or `compact=True` where a view shows several large matrices: the same go.Heatmap and
  names, with each value as a whole percent in one byte (uint8, int8 for a scale below 0: 0.35 MB
  at 512 tokens, a quarter of float32), so the hover still names both tokens and the value
  ("weight 35%"); the colours are those 101 steps, finer than a picture's eye can tell;
- a matrix with masked (NaN) cells that is too large for float32: one PNG (a data URI inside a
  go.Image, ~100 kB at 512 tokens), masked cells grey, hover by position.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go
from PIL import Image

from viz.figures import spec
from viz.figures.heatmap import COLORSCALE, MASKED_COLOR, MAX_TICKS, label
from viz.figures.heatmap import _ticks as token_ticks
from viz.trace import AttentionTrace

HEATMAP_MAX_CELLS = 64 * 64  # above this, no per-cell hover strings and no gaps between cells
# Above this (or compact=True) a matrix's numbers are whole percents, one byte a cell: a 512-token
# head as float32 was 1.4 MB of one view's 2.1 (issue 28); the 40-token window (window_figure) and
# the hover's names still give every weight to three decimals where a student needs them.
HOVER_MAX_CELLS = 256 * 256
GRID_TILE = 96  # model grid: each head drawn at most this many pixels a side (max-pooled)
DIVERGING = "RdBu_r"  # compare view: blue = B larger, red = A larger, white = equal
HEAD_COLORS = pc.qualitative.D3  # bertviz's head view uses d3's category10: the same ten colours
BOUNDARY = dict(color="#d62728", width=1.5, dash="dot")


# --- colour and images -------------------------------------------------------------------------

def _lut(colorscale: str, n: int = 256) -> np.ndarray:
    """(n, 3) uint8 colours sampled evenly along a named plotly colorscale."""
    colors = pc.sample_colorscale(pc.get_colorscale(colorscale), np.linspace(0, 1, n), colortype="rgb")
    return np.array([pc.unlabel_rgb(c) for c in colors], dtype=float).round().astype(np.uint8)


def colorize(values: np.ndarray, zmin: float, zmax: float, colorscale: str = COLORSCALE) -> np.ndarray:
    """(h, w) numbers -> (h, w, 3) uint8 RGB on a fixed zmin..zmax scale; NaN drawn grey (masked)."""
    v = np.asarray(values, dtype=np.float64)
    lut = _lut(colorscale)
    t = np.clip((np.nan_to_num(v, nan=zmin) - zmin) / (zmax - zmin), 0.0, 1.0)
    rgb = lut[np.rint(t * (len(lut) - 1)).astype(np.intp)]
    if np.isnan(v).any():
        rgb[np.isnan(v)] = pc.hex_to_rgb(MASKED_COLOR)
    return rgb


def png_data_uri(rgb: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8), mode="RGB").save(buf, format="PNG", compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def max_pool(m: np.ndarray, size: int) -> np.ndarray:
    """Shrink a (h, w) matrix to at most (size, size) by taking the max of each block, so a
    single strong weight stays visible in an overview (a mean would wash it out)."""
    h, w = m.shape
    fh, fw = int(np.ceil(h / size)), int(np.ceil(w / size))
    if fh == 1 and fw == 1:
        return m
    padded = np.full((int(np.ceil(h / fh)) * fh, int(np.ceil(w / fw)) * fw), -np.inf)
    padded[:h, :w] = m
    return padded.reshape(padded.shape[0] // fh, fh, padded.shape[1] // fw, fw).max(axis=(1, 3))


def _colorbar_trace(zmin: float, zmax: float, colorscale: str, title: str) -> dict:
    """An invisible point whose only job is to draw the colour bar next to an image."""
    return dict(
        type="scatter", x=[None], y=[None], mode="markers", hoverinfo="skip", showlegend=False,
        marker=dict(colorscale=spec.colorscale(colorscale), cmin=zmin, cmax=zmax, color=[zmin], showscale=True,
                    colorbar=dict(title=spec.title(title))),
    )


def _vline(x: float) -> dict:
    """A dotted boundary across the plot at x (what fig.add_vline draws)."""
    return dict(type="line", x0=x, x1=x, xref="x", y0=0, y1=1, yref="y domain", line=BOUNDARY)


def _hline(y: float) -> dict:
    return dict(type="line", x0=0, x1=1, xref="x domain", y0=y, y1=y, yref="y", line=BOUNDARY)


def _boundary_shapes(at: int | None, rows: bool = True, cols: bool = True) -> list[dict]:
    """Dotted lines where the second segment of a sentence pair begins."""
    if at is None:
        return []
    return ([_vline(at - 0.5)] if cols else []) + ([_hline(at - 0.5)] if rows else [])


# --- one matrix (a head, a difference, a rollout) ----------------------------------------------

def _position_names(tokens: Sequence[str]) -> list[str]:
    """"12: the": unique category names (plotly merges equal categories, and tokens repeat)."""
    return [f"{i}: {label(t)}" for i, t in enumerate(tokens)]


def _axis_ticks(tokens: Sequence[str], named: bool, max_ticks: int = MAX_TICKS) -> dict:
    """Thinned token tick labels; on a category axis the tick values are the category names."""
    ticks = token_ticks(tokens, max_ticks)
    if named:
        names = _position_names(tokens)
        ticks = dict(ticks, type="category", tickvals=[names[i] for i in ticks["tickvals"]])
    return ticks


def percent_heatmap(values: np.ndarray, q_names: list[str], k_names: list[str], name: str,
                    zmin: float = 0.0, zmax: float = 1.0, colorscale: str = COLORSCALE) -> dict:
    """A heatmap trace whose numbers are whole percents, one byte a cell, on category axes named
    "position: token": hover says "query 3: the → key 7: cat, weight 35%". values without NaN."""
    z = np.rint(np.clip(values, zmin, zmax) * 100).astype(np.int8 if zmin < 0 else np.uint8)
    return dict(type="heatmap", z=z, x=k_names, y=q_names, zmin=100 * zmin, zmax=100 * zmax,
                colorscale=spec.colorscale(colorscale),
                hovertemplate=f"query %{{y}}  →  key %{{x}}<br>{label(name)} %{{z}}%<extra></extra>")


def matrix_figure(
    values: np.ndarray, query_tokens: Sequence[str], key_tokens: Sequence[str], *,
    title: str = "", zmin: float = 0.0, zmax: float = 1.0, colorscale: str = COLORSCALE,
    colorbar_title: str = "weight", boundary: int | None = None, height: int | None = None,
    compact: bool = False,
) -> go.Figure:
    """A (Tq, Tk) matrix on a fixed zmin..zmax scale (the sizes: see the module's docstring).
    compact=True: a large matrix's numbers are whole percents, for views that show several."""
    values = np.asarray(values, dtype=np.float64)
    Tq, Tk = values.shape
    if (Tq, Tk) != (len(query_tokens), len(key_tokens)):
        raise ValueError(
            f"the matrix has shape {values.shape}, but there are {len(query_tokens)} query "
            f"and {len(key_tokens)} key tokens"
        )
    if Tq * Tk <= HEATMAP_MAX_CELLS:
        q = np.asarray([label(t) for t in query_tokens], dtype=object)[:, None]
        k = np.asarray([label(t) for t in key_tokens], dtype=object)[None, :]
        text = q + " → " + k + "<br>" + colorbar_title + " " + np.char.mod("%.3f", values).astype(object)
        data = [dict(
            type="heatmap", z=values, x=np.arange(Tk), y=np.arange(Tq), zmin=zmin, zmax=zmax,
            colorscale=spec.colorscale(colorscale), text=text, hoverinfo="text", xgap=1, ygap=1,
            colorbar=dict(title=spec.title(colorbar_title)),
        )]
    elif not compact and Tq * Tk <= HOVER_MAX_CELLS:
        q_names, k_names = _position_names(query_tokens), _position_names(key_tokens)
        data = [dict(
            type="heatmap", z=values.astype(np.float32), x=k_names, y=q_names, zmin=zmin, zmax=zmax,
            colorscale=spec.colorscale(colorscale), colorbar=dict(title=spec.title(colorbar_title)),
            hovertemplate=f"query %{{y}}  →  key %{{x}}<br>{label(colorbar_title)} %{{z:.3f}}<extra></extra>",
        )]
    elif not np.isnan(values).any():
        data = [percent_heatmap(values, _position_names(query_tokens), _position_names(key_tokens),
                                colorbar_title, zmin, zmax, colorscale)]
        data[0]["colorbar"] = dict(title=spec.title(f"{colorbar_title} (%)"))
    else:
        data = [
            dict(type="image", source=png_data_uri(colorize(values, zmin, zmax, colorscale)), x0=0, dx=1, y0=0, dy=1,
                 hovertemplate="query %{y} → key %{x}<extra></extra>"),
            _colorbar_trace(zmin, zmax, colorscale, colorbar_title),
        ]
    named = data[0]["type"] == "heatmap" and Tq * Tk > HEATMAP_MAX_CELLS  # category axes
    layout = dict(
        xaxis=dict(**_axis_ticks(key_tokens, named), tickangle=-60 if Tk > 12 else 0,
                   title=spec.title("key (attended to)"), showgrid=False, zeroline=False, range=[-0.5, Tk - 0.5]),
        yaxis=dict(**_axis_ticks(query_tokens, named), autorange="reversed", title=spec.title("query (attending)"),
                   showgrid=False, zeroline=False),
        title=spec.title(label(title)), height=height or int(min(760, max(340, 26 * Tq + 170))),
        margin=dict(l=10, r=10, t=50 if title else 20, b=10), plot_bgcolor="white",
    )
    shapes = _boundary_shapes(boundary)
    if shapes:
        layout["shapes"] = shapes
    return spec.figure(data, layout)


def head_figure(trace: AttentionTrace, layer: int, head: int, model: str = "") -> go.Figure:
    """One head's weights; `model` (the text page passes the trace's) names the model in the title."""
    return matrix_figure(trace.head(layer, head), trace.query_tokens, trace.key_tokens,
                         title=f"{model}: layer {layer}, head {head}" if model else f"Layer {layer}, head {head}",
                         boundary=trace.meta.get("pair_start"))


WINDOW = 40  # tokens a window shows, every one labelled (the ticks thin out above MAX_TICKS = 40)


def window_slices(Tq: int, Tk: int, q0: int, k0: int, size: int) -> tuple[slice, slice]:
    """Rows q0.. and columns k0.. (size of each), moved back inside a (Tq, Tk) matrix."""
    q0, k0 = min(max(q0, 0), max(Tq - size, 0)), min(max(k0, 0), max(Tk - size, 0))
    return slice(q0, min(q0 + size, Tq)), slice(k0, min(k0 + size, Tk))


def window_names(tokens: Sequence[str], window: slice) -> list[str]:
    """The window's tokens named with their positions in the whole input ("60: word")."""
    return [f"{window.start + i}: {t}" for i, t in enumerate(tokens[window])]


def window_figure(trace: AttentionTrace, layer: int, head: int, q0: int, k0: int, size: int = WINDOW) -> go.Figure:
    """Queries q0..q0+size-1 against keys k0..k0+size-1 of one head: every tick labelled with its
    position and token, and hover naming both tokens and the weight, however long the input."""
    w = trace.head(layer, head)
    qs, ks = window_slices(*w.shape, q0, k0, size)
    q0, k0 = qs.start, ks.start
    boundary = trace.meta.get("pair_start")
    return matrix_figure(w[qs, ks], window_names(trace.query_tokens, qs), window_names(trace.key_tokens, ks),
                         title=f"Layer {layer}, head {head}: queries {q0}–{qs.stop - 1}, keys {k0}–{ks.stop - 1}",
                         boundary=boundary - k0 if boundary is not None and k0 < boundary < ks.stop else None)


def compare_figure(a: np.ndarray, b: np.ndarray, query_tokens, key_tokens, title: str,
                   boundary: int | None = None, compact: bool = False) -> go.Figure:
    """A − B on a fixed −1..1 diverging scale: red where A attends more, blue where B does."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"cannot subtract attention of shape {b.shape} from {a.shape}")
    return matrix_figure(a - b, query_tokens, key_tokens, title=title, zmin=-1.0, zmax=1.0,
                         colorscale=DIVERGING, colorbar_title="A − B", boundary=boundary, compact=compact)


def rollout_figure(rolled: np.ndarray, tokens, boundary: int | None = None) -> go.Figure:
    return matrix_figure(rolled, tokens, tokens, boundary=boundary, colorbar_title="share",
                         title="Attention rollout: how much each token (row) draws on each input token (column)")


# --- the whole model: layers x heads ------------------------------------------------------------

def model_grid(trace: AttentionTrace, stats: dict[str, np.ndarray] | None = None, tile: int = GRID_TILE) -> go.Figure:
    """Every head of every layer (bertviz's model view) as ONE image: rows = layers, columns =
    heads, each tile a head's (T, T) attention, max-pooled to at most `tile` pixels a side."""
    L, H, T, _ = trace.weights.shape
    side = min(T, tile)
    gap = 2
    canvas = np.full((L * (side + gap) - gap, H * (side + gap) - gap), np.nan)
    for layer in range(L):
        for head in range(H):
            small = max_pool(trace.weights[layer, head], side)
            y, x = layer * (side + gap), head * (side + gap)
            canvas[y:y + small.shape[0], x:x + small.shape[1]] = small
    rgb = colorize(canvas, 0.0, 1.0)
    rgb[np.isnan(canvas)] = 255  # gaps between tiles: white
    step = (side + gap)
    centres = step * np.arange(max(L, H)) + side / 2
    # an invisible layer over the tiles: hover names the head and its behaviour
    hover = [[f"layer {la}, head {h}" + (
        f"<br>entropy {stats['entropy'][la, h]:.2f} nats, mean distance {stats['mean_distance'][la, h]:.1f}"
        if stats else "") for h in range(H)] for la in range(L)]
    layout = dict(
        xaxis=dict(tickmode="array", tickvals=centres[:H], ticktext=[str(h) for h in range(H)],
                   title=spec.title("head"), side="top", showgrid=False, zeroline=False),
        yaxis=dict(tickmode="array", tickvals=centres[:L], ticktext=[str(la) for la in range(L)],
                   title=spec.title("layer"), autorange="reversed", showgrid=False, zeroline=False, scaleanchor="x"),
        title=spec.title(f"All {L} layers × {H} heads (rows: queries, columns: keys"
                         + (f", each head max-pooled from {T}×{T} to {side}×{side} pixels" if side < T else "") + ")"),
        height=int(min(1100, max(420, 60 + L * 900 / H))), margin=dict(l=10, r=10, t=90, b=10),
        plot_bgcolor="white",
    )
    return spec.figure([
        dict(type="image", source=png_data_uri(rgb), x0=0, dx=1, y0=0, dy=1, hoverinfo="skip"),
        dict(type="heatmap", z=np.zeros((L, H)), x=centres[:H], y=centres[:L], opacity=0, showscale=False,
             text=hover, hoverinfo="text", xgap=0, ygap=0),
        _colorbar_trace(0, 1, COLORSCALE, "weight"),
    ], layout)


# --- lines between tokens (bertviz's head view), several heads at once ---------------------------

def lines_figure(
    trace: AttentionTrace, layer: int, heads: Sequence[int], min_weight: float = 0.1,
    max_lines: int = 20_000, query: int | None = None,
) -> go.Figure:
    """Queries on the left, keys on the right, a line for each weight ≥ min_weight; opacity = weight,
    one colour per head. `query` keeps only that token's lines. The strongest `max_lines` are kept."""
    T = len(trace.query_tokens)
    heads = list(heads)
    if not heads:
        raise ValueError("Pick at least one head to draw.")
    picked = []  # (weight, head, i, j)
    for h in heads:
        w = trace.head(layer, h)
        if query is not None:
            w = np.where(np.arange(T)[:, None] == query, w, 0.0)
        i, j = np.nonzero(w >= min_weight)
        picked.append(np.stack([w[i, j], np.full(len(i), h), i, j], axis=1))
    lines = np.concatenate(picked) if picked else np.zeros((0, 4))
    dropped = max(0, len(lines) - max_lines)
    if dropped:
        lines = lines[np.argsort(-lines[:, 0])[:max_lines]]
    data = []
    bins = np.array([0.0, 0.25, 0.5, 0.75, 1.01])
    in_legend: set[int] = set()
    for h in heads:
        color = HEAD_COLORS[h % len(HEAD_COLORS)]
        mine = lines[lines[:, 1] == h]
        for lo, hi in zip(bins[:-1], bins[1:], strict=True):
            sel = mine[(mine[:, 0] >= max(lo, min_weight)) & (mine[:, 0] < hi)]
            if not len(sel):
                continue
            xs = np.tile([0.0, 1.0, np.nan], len(sel))
            ys = np.stack([sel[:, 2], sel[:, 3], np.full(len(sel), np.nan)], axis=1).ravel()
            data.append(dict(
                type="scatter", x=xs, y=ys, mode="lines", hoverinfo="skip",
                opacity=float(min(1.0, 0.15 + (lo + hi) / 2)), line=dict(color=color, width=2), name=f"head {h}",
                legendgroup=f"head {h}", showlegend=h not in in_legend,
            ))
            in_legend.add(h)
    labels = [label(t) for t in trace.query_tokens]
    font = 12 if T <= 64 else 9
    for x, anchor in ((-0.02, "middle left"), (1.02, "middle right")):
        data.append(dict(
            type="scatter", x=[x] * T, y=np.arange(T), mode="text", text=labels, textposition=anchor,
            textfont=dict(size=font), hovertext=[f"{i}: {lab}" for i, lab in enumerate(labels)],
            hoverinfo="text", showlegend=False,
        ))
    pair = trace.meta.get("pair_start")
    note = f" ({dropped} weaker lines not drawn)" if dropped else ""
    return spec.figure(data, dict(
        xaxis=dict(range=[-0.45, 1.45], tickmode="array", tickvals=[0, 1],
                   ticktext=["query (attending)", "key (attended to)"], side="top", showgrid=False, zeroline=False),
        yaxis=dict(range=[T - 0.5, -0.5], showticklabels=False, showgrid=False, zeroline=False),
        title=spec.title(f"Layer {layer}: lines for weights ≥ {min_weight:g}, opacity = weight{note}"),
        height=int(min(8000, max(360, 20 * T + 120) if T <= 64 else 12 * T + 120)),
        margin=dict(l=10, r=10, t=80, b=10), plot_bgcolor="white", legend=dict(orientation="h", y=-0.02),
        **({"shapes": [_hline(pair - 0.5)]} if pair is not None else {}),
    ))


# --- how one score is built (bertviz's neuron view) -------------------------------------------

def neuron_figure(terms: dict, row_weights: np.ndarray, key_tokens: Sequence[str], query_token: str,
                  key_index: int, show_score: bool = True) -> go.Figure:
    """Top: q, k and q∘k for every dimension of the head; the sum times the scaling is the score
    (show_score=False: the title stops at q·k, for a question that asks for the score).
    Bottom: the softmax over the query's row, the chosen key in red."""
    D = len(terms["q"])
    k_tok = key_tokens[key_index]
    score = f"; × {terms['scaling']:.4f} = score {terms['score']:.3f}" if show_score else ""
    layout = spec.subplots(2, 1, [
        f"q∘k for each of the head's {D} dimensions: Σ = q·k = {terms['dot']:.3f}{score}",
        f"softmax over the row of “{label(query_token)}”: weight on “{label(k_tok)}” = {row_weights[key_index]:.3f}",
    ], vertical_spacing=0.22)
    dims = np.arange(D)
    data = [dict(type="bar", x=dims, y=terms[key], name=name, marker=dict(color=color), xaxis="x", yaxis="y",
                 hovertemplate=f"dimension %{{x}}<br>{name} %{{y:.3f}}<extra></extra>")
            for name, key, color in (("q", "q", "#1f77b4"), ("k", "k", "#ff7f0e"), ("q∘k", "product", "#2ca02c"))]
    T = len(key_tokens)
    colors = np.where(np.arange(T) == key_index, "#d62728", "#6baed6")
    data.append(dict(type="bar", x=np.arange(T), y=row_weights, marker=dict(color=colors.tolist()), showlegend=False,
                     hovertext=[f"{i}: {label(t)}" for i, t in enumerate(key_tokens)], xaxis="x2", yaxis="y2",
                     hovertemplate="%{hovertext}<br>weight %{y:.3f}<extra></extra>"))
    layout["xaxis2"].update(**token_ticks(key_tokens), tickangle=-60 if T > 12 else 0)
    layout["yaxis"].update(title=spec.title("value"))
    layout["yaxis2"].update(title=spec.title("weight"), range=[0, 1])
    # The legend to the right of the top panel, beside its bars (a legend above lay on the title).
    return spec.figure(data, layout | dict(barmode="group", height=620, margin=dict(l=10, r=10, t=60, b=10),
                                           legend=dict(y=1.0, yanchor="top"), plot_bgcolor="white"))


# --- several tokens' attention together -------------------------------------------------------

def combined_figure(head_row: np.ndarray, layer_rows: np.ndarray, key_tokens: Sequence[str],
                    selected: Sequence[str], layer: int, head: int) -> go.Figure:
    """Top: the selected tokens' mean attention in one head. Bottom: the same per layer, mean
    over that layer's heads (rows = layers, columns = keys)."""
    T = len(key_tokens)
    L = layer_rows.shape[0]
    names = ", ".join(label(t) for t in selected[:8]) + (" …" if len(selected) > 8 else "")
    layout = spec.subplots(2, 1, [f"Mean attention of {names} in layer {layer}, head {head}",
                                  "Per layer, mean over heads"], vertical_spacing=0.16, row_heights=[0.45, 0.55])
    hover = [f"{i}: {label(t)}" for i, t in enumerate(key_tokens)]
    data = [
        dict(type="bar", x=np.arange(T), y=head_row, marker=dict(color="#3182bd"), hovertext=hover,
             hovertemplate="%{hovertext}<br>weight %{y:.3f}<extra></extra>", showlegend=False, xaxis="x", yaxis="y"),
        dict(type="heatmap", z=layer_rows, x=np.arange(T), y=np.arange(L), zmin=0, zmax=1,
             colorscale=spec.colorscale(COLORSCALE), colorbar=dict(title=spec.title("weight"), len=0.5, y=0.25),
             hovertemplate="layer %{y}, key %{x}<br>weight %{z:.3f}<extra></extra>", xaxis="x2", yaxis="y2"),
    ]
    for axis in ("xaxis", "xaxis2"):
        layout[axis].update(**token_ticks(key_tokens), tickangle=-60 if T > 12 else 0, range=[-0.5, T - 0.5])
    layout["xaxis2"].update(title=spec.title("key (attended to)"))
    layout["yaxis"].update(title=spec.title("weight"), range=[0, 1])
    layout["yaxis2"].update(title=spec.title("layer"), autorange="reversed", tickmode="linear")
    return spec.figure(data, layout | dict(height=640, margin=dict(l=10, r=10, t=60, b=10), plot_bgcolor="white"))
