"""Figures over an image: the patch grid, attention overlays and maps, position-embedding similarity.

plotly only (plus numpy and PIL to encode pixels): no streamlit, no torch. Pictures go to the
browser as JPEG/PNG data URIs in go.Image(source=...), never as JSON arrays of numbers, so each
view stays far below 1 MB. Image axes are in the model's input pixels: x to the right, y down;
patch (r, c) covers x in [c p, (c + 1) p) and y in [r p, (r + 1) p).

Spatial attention maps (one query's weights over the patches) are drawn from 0 to the map's own
maximum, said on the colour bar: over 256 patches a fixed 0..1 scale would show nothing.
"""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go
from PIL import Image
from plotly.colors import sample_colorscale, unlabel_rgb

from viz.figures import spec
from viz.figures.heatmap import label
from viz.patches import PatchGrid, upsample

ATTENTION_SCALE = "Inferno"
SIMILARITY_SCALE = "Viridis"
GRID_COLOR = "rgba(255,255,255,0.35)"
HIGHLIGHT_COLOR = "#00e5ff"


def _lut(scale: str) -> np.ndarray:
    """(256, 3) uint8 colour lookup table sampled from a plotly colour scale."""
    return np.array([unlabel_rgb(c) for c in sample_colorscale(scale, np.linspace(0, 1, 256))]).round().astype(np.uint8)


_LUTS = {name: _lut(name) for name in (ATTENTION_SCALE, SIMILARITY_SCALE)}


def plotly_scale(name: str, n: int = 11) -> list[list]:
    """A colour scale as [position, "rgb(r, g, b)"] pairs (a fresh list: sampled once per name).

    Not plotly's hex list: Streamlit's theme uses "#000001" ... "#000019" as placeholders that its
    frontend swaps for theme colours, and Inferno starts with "#000004", which came out pink.
    """
    return [list(step) for step in _sampled_scale(name, n)]


@functools.cache
def _sampled_scale(name: str, n: int) -> tuple[tuple[float, str], ...]:
    t = np.linspace(0, 1, n)  # sample_colorscale costs ~5 ms a call, and every overlay asks
    return tuple((float(x), c) for x, c in zip(t, sample_colorscale(name, t), strict=True))


def colorize(values: np.ndarray, vmin: float, vmax: float, scale: str = ATTENTION_SCALE) -> np.ndarray:
    """(...,) floats -> (..., 3) uint8 colours, vmin..vmax mapped onto the colour scale."""
    t = (np.asarray(values, dtype=np.float64) - vmin) / (vmax - vmin if vmax > vmin else 1.0)
    return _LUTS[scale][np.clip(np.round(t * 255), 0, 255).astype(np.intp)]


def attention_overlay(image: np.ndarray, grid_weights: np.ndarray, patch: int, opacity: float = 0.6,
                      vmax: float | None = None) -> np.ndarray:
    """The image blended with its attention map, patch by patch: (S, S, 3) uint8.

    out = (1 - opacity) * image + opacity * colour(weight / vmax), where colour runs from black (0)
    to yellow (vmax): attended patches light up, the rest darkens. Each patch's colour covers
    exactly that patch's p x p pixels (no smoothing across patch borders).
    """
    img = np.asarray(image, dtype=np.float64)
    w = np.asarray(grid_weights, dtype=np.float64)  # (gh, gw)
    if img.shape[:2] != (w.shape[0] * patch, w.shape[1] * patch):
        raise ValueError(f"an image of {img.shape[:2]} pixels does not hold {w.shape} patches of {patch} px")
    vmax = float(w.max()) if vmax is None else vmax
    t = upsample(w / vmax if vmax > 0 else np.zeros_like(w), patch)  # (S, S) in 0..1
    out = (1 - opacity) * img + opacity * colorize(t, 0, 1)
    return np.round(out).astype(np.uint8)


def data_uri(rgb: np.ndarray, fmt: str = "JPEG", scale: int = 1) -> str:
    """An (h, w, 3) uint8 picture as a data URI, optionally enlarged `scale` times (nearest)."""
    img = Image.fromarray(np.asarray(rgb, dtype=np.uint8))
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **({"quality": 90} if fmt == "JPEG" else {"compress_level": 6}))
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(buf.getvalue()).decode()}"


def _picture(rgb: np.ndarray, side: int, axes: tuple[str, str] | None = None) -> dict:
    """A picture trace covering data coordinates 0..side (it may be sent larger for sharpness)."""
    h = np.asarray(rgb).shape[0]
    trace = dict(type="image", source=data_uri(rgb), dx=side / h, dy=side / h, hoverinfo="skip")
    return trace | (dict(xaxis=axes[0], yaxis=axes[1]) if axes else {})


def _grid_path(grid: PatchGrid) -> str:
    S_w, S_h = grid.cols * grid.patch, grid.rows * grid.patch
    vs = [f"M{c * grid.patch},0V{S_h}" for c in range(1, grid.cols)]
    hs = [f"M0,{r * grid.patch}H{S_w}" for r in range(1, grid.rows)]
    return "".join(vs + hs)


def _colorbar_trace(vmax: float, title: str, scale: str = ATTENTION_SCALE, vmin: float = 0.0) -> dict:
    """An invisible point that only carries the colour bar of a picture."""
    return dict(type="scatter", x=[None], y=[None], mode="markers", hoverinfo="skip", showlegend=False,
                marker=dict(color=[vmin], cmin=vmin, cmax=vmax, colorscale=plotly_scale(scale), showscale=True,
                            colorbar=dict(title=dict(text=title, side="right"), thickness=12)))


def _image_layout(side_x: int, side_y: int, title: str, height: int) -> dict:
    return dict(xaxis=dict(range=[0, side_x], visible=False, constrain="domain"),
                yaxis=dict(range=[side_y, 0], visible=False, scaleanchor="x", constrain="domain"),
                title=spec.title(label(title)), height=height, margin=dict(l=0, r=0, t=40 if title else 0, b=0),
                plot_bgcolor="white", showlegend=False)


def _highlight(cell: tuple[int, int] | None, size: float = 1.0, offset: float = 0.0) -> list[dict]:
    """The chosen patch's outline (a list of at most one shape): `size` data units per patch,
    shifted by `offset` (-0.5 on a heatmap, whose cells are centred on their index)."""
    if cell is None:
        return []
    r, c = cell
    return [dict(type="rect", x0=c * size + offset, x1=(c + 1) * size + offset, y0=r * size + offset,
                 y1=(r + 1) * size + offset, line=dict(color=HIGHLIGHT_COLOR, width=3))]


def image_with_grid(image: np.ndarray, grid: PatchGrid, title: str = "", clickable: bool = False,
                    height: int = 460) -> go.Figure:
    """The model's input image with its patch grid drawn over it.

    clickable: one transparent square marker per patch, at its centre, carrying the patch label,
    so a click selects that patch (plotly selection events only come from point traces).
    """
    S_w, S_h = grid.cols * grid.patch, grid.rows * grid.patch
    data = [_picture(image, S_h)]
    layout = _image_layout(S_w, S_h, title, height)
    layout["shapes"] = [dict(type="path", path=_grid_path(grid), line=dict(color=GRID_COLOR, width=1))]
    if clickable:
        rows, cols = np.divmod(np.arange(grid.n_patches), grid.cols)
        tokens = grid.tokens()[grid.n_prefix:]
        data.append(dict(
            type="scatter", x=(cols + 0.5) * grid.patch, y=(rows + 0.5) * grid.patch, mode="markers",
            customdata=np.arange(grid.n_patches) + grid.n_prefix,
            text=[f"patch {label(t)}" for t in tokens], hovertemplate="%{text}<extra></extra>",
            marker=dict(symbol="square", size=max(6, int(0.95 * grid.patch * (height - 40) / S_h)),
                        color="rgba(0,0,0,0)", line=dict(width=0)),
            selected=dict(marker=dict(color="rgba(0,229,255,0.45)")),
            unselected=dict(marker=dict(opacity=0)),
        ))
        layout.update(clickmode="event+select", dragmode=False, hovermode="closest")
    return spec.figure(data, layout)


def attention_overlay_figure(image: np.ndarray, grid_weights: np.ndarray, grid: PatchGrid, title: str = "",
                             opacity: float = 0.6, highlight: tuple[int, int] | None = None,
                             height: int = 460) -> go.Figure:
    """One query's attention over the patches, tinted onto the image, with a colour bar."""
    vmax = float(np.max(grid_weights))
    data = [_picture(attention_overlay(image, grid_weights, grid.patch, opacity, vmax), grid.rows * grid.patch),
            _colorbar_trace(vmax, "weight")]
    layout = _image_layout(grid.cols * grid.patch, grid.rows * grid.patch, title, height)
    if highlight is not None:
        layout["shapes"] = _highlight(highlight, grid.patch)
    return spec.figure(data, layout)


def attention_map(grid_weights: np.ndarray, grid: PatchGrid, title: str = "",
                  highlight: tuple[int, int] | None = None, height: int = 460) -> go.Figure:
    """The same weights as a plain (gh, gw) map: row r, column c is patch r{r}c{c}."""
    w = np.asarray(grid_weights, dtype=float)
    names = np.array([[f"r{r}c{c}" for c in range(grid.cols)] for r in range(grid.rows)], dtype=object)
    text = "patch " + names + "<br>weight " + np.char.mod("%.4f", w).astype(object)
    data = [dict(type="heatmap", z=w, zmin=0, zmax=float(w.max()), colorscale=plotly_scale(ATTENTION_SCALE),
                 text=text, hoverinfo="text", colorbar=dict(title=dict(text="weight", side="right"), thickness=12))]
    layout = dict(
        xaxis=dict(title=spec.title("patch column"), constrain="domain", showgrid=False, zeroline=False),
        yaxis=dict(title=spec.title("patch row"), autorange="reversed", scaleanchor="x", constrain="domain",
                   showgrid=False, zeroline=False),
        title=spec.title(label(title)), height=height, margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        plot_bgcolor="white")
    if highlight is not None:
        layout["shapes"] = _highlight(highlight, offset=-0.5)
    return spec.figure(data, layout)


def overlays_grid(image: np.ndarray, maps: Sequence[np.ndarray], grid: PatchGrid, titles: Sequence[str],
                  opacity: float = 0.6, max_cols: int = 3, title: str = "") -> go.Figure:
    """Several attention maps over the same image, side by side (e.g. every head of a layer).

    Each map is tinted from 0 to its own maximum, so a diffuse head is as readable as a sharp one.
    """
    n = len(maps)
    cols = min(n, max_cols)
    rows = int(np.ceil(n / cols))
    layout = spec.subplots(rows, cols, [label(t) for t in titles], horizontal_spacing=0.01, vertical_spacing=0.06)
    side = grid.rows * grid.patch
    data = []
    for i, m in enumerate(maps):
        xa, ya = spec.axis_names(i // cols + 1, i % cols + 1, cols)
        data.append(_picture(attention_overlay(image, m, grid.patch, opacity), side, axes=(xa, ya)))
        layout["xaxis" + xa[1:]].update(range=[0, grid.cols * grid.patch], visible=False)
        layout["yaxis" + ya[1:]].update(range=[side, 0], visible=False, scaleanchor=xa)
    layout.update(title=spec.title(label(title)), height=int(rows * 1000 / cols) + 80,
                  margin=dict(l=0, r=0, t=70, b=0), plot_bgcolor="white")
    return spec.figure(data, layout)


def position_similarity_mosaic(similarity: np.ndarray, grid: PatchGrid) -> np.ndarray:
    """(N, N) cosine similarities -> a (gh, gw) mosaic of (gh, gw) maps with 1-px white gaps: RGB uint8.

    Tile (r, c) shows how similar patch r{r}c{c}'s position embedding is to every other patch's.
    """
    gh, gw = grid.rows, grid.cols
    sim = np.asarray(similarity)
    if sim.shape != (gh * gw, gh * gw):
        raise ValueError(f"similarity has shape {sim.shape}, expected ({gh * gw}, {gh * gw}) for a {gh} x {gw} grid")
    tiles = colorize(sim.reshape(gh, gw, gh, gw), -1.0, 1.0, SIMILARITY_SCALE)  # (gh, gw, gh, gw, 3)
    out = np.full((gh * (gh + 1) - 1, gw * (gw + 1) - 1, 3), 255, np.uint8)
    for r in range(gh):
        for c in range(gw):
            out[r * (gh + 1): r * (gh + 1) + gh, c * (gw + 1): c * (gw + 1) + gw] = tiles[r, c]
    return out


def position_similarity_figure(similarity: np.ndarray, grid: PatchGrid, title: str = "", height: int = 720) -> go.Figure:
    """The ViT paper's figure: for every patch, the cosine similarity of its position embedding
    to those of all patches, each as a small map placed where that patch is."""
    mosaic = position_similarity_mosaic(similarity, grid)
    h, w = mosaic.shape[:2]
    data = [dict(type="image", source=data_uri(mosaic, "PNG", scale=2), dx=1 / 2, dy=1 / 2, hoverinfo="skip"),
            _colorbar_trace(1.0, "cosine similarity", SIMILARITY_SCALE, vmin=-1.0)]
    centres_r = [r * (grid.rows + 1) + grid.rows / 2 for r in range(grid.rows)]
    centres_c = [c * (grid.cols + 1) + grid.cols / 2 for c in range(grid.cols)]
    return spec.figure(data, dict(
        xaxis=dict(range=[0, w], tickvals=centres_c, ticktext=[str(c) for c in range(grid.cols)],
                   title=spec.title("input patch column"), constrain="domain", showgrid=False, zeroline=False,
                   side="top"),
        yaxis=dict(range=[h, 0], tickvals=centres_r, ticktext=[str(r) for r in range(grid.rows)],
                   title=spec.title("input patch row"), scaleanchor="x", constrain="domain", showgrid=False,
                   zeroline=False),
        title=spec.title(label(title)), height=height, margin=dict(l=10, r=10, t=90 if title else 50, b=10),
        plot_bgcolor="white", showlegend=False))
