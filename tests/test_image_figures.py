"""Patch geometry, overlay alignment, clicks -> tokens, and what the image figures send."""

import json

import numpy as np
import pytest

from viz.attention import rollout
from viz.figures.image import (
    attention_map,
    attention_overlay,
    attention_overlay_figure,
    colorize,
    image_with_grid,
    overlays_grid,
    position_similarity_figure,
    position_similarity_mosaic,
)
from viz.patches import PatchGrid, token_from_selection, upsample
from viz.positional import cosine_similarity

GRID = PatchGrid(rows=16, cols=16, patch=14)
GREY = np.full((224, 224, 3), 128, np.uint8)


def test_tokens_and_cells_round_trip():
    tokens = GRID.tokens()
    assert len(tokens) == 257 and tokens[0] == "CLS" and tokens[1 + 3 * 16 + 7] == "r3c7"
    for tok in (1, 17, 256):
        r, c = GRID.cell_of(tok)
        assert GRID.token_of(r, c) == tok
    assert GRID.cell_of(0) is None


@pytest.mark.parametrize("r,c", [(0, 0), (3, 7), (15, 15), (9, 2)])
def test_overlay_lights_exactly_the_attended_patch(r, c):
    w = np.zeros((16, 16))
    w[r, c] = 1.0
    out = attention_overlay(GREY, w, 14, opacity=0.7).astype(int)
    lit = (out != out[0 if r else -1, 0 if c else -1]).any(-1)  # differs from an unattended pixel
    expected = np.zeros((224, 224), bool)
    expected[r * 14:(r + 1) * 14, c * 14:(c + 1) * 14] = True
    assert (lit == expected).all()


def test_overlay_opacity_zero_is_the_image():
    w = np.random.default_rng(0).random((16, 16))
    assert (attention_overlay(GREY, w, 14, opacity=0.0) == GREY).all()


def test_upsample_places_each_value_on_its_pixels():
    g = np.arange(6).reshape(2, 3)
    up = upsample(g, 4)
    assert up.shape == (8, 12) and up[5, 9] == g[1, 2] and up[3, 3] == g[0, 0]


@pytest.mark.parametrize("x,y,token", [(0, 0, 1), (13.9, 13.9, 1), (14, 0, 2), (7 + 14 * 7, 7 + 14 * 3, 1 + 3 * 16 + 7),
                                        (223, 223, 256), (224, 10, None), (-1, 5, None)])
def test_pixel_to_token(x, y, token):
    assert GRID.token_at(x, y) == token


def test_click_selection_maps_to_the_right_token():
    fig = image_with_grid(GREY, GRID, clickable=True)
    scatter = next(t for t in fig.data if t.type == "scatter")
    for i in (0, 55, 255):  # the point plotly reports for a click on patch i carries its centre
        point = {"x": float(scatter.x[i]), "y": float(scatter.y[i]), "point_index": i}
        tok = token_from_selection([point], GRID)
        assert tok == int(scatter.customdata[i]) == 1 + i
        assert scatter.text[i] == f"patch {GRID.tokens()[tok]}"
    assert token_from_selection([], GRID) is None


def test_rollout_of_a_trace_that_always_reads_one_patch_lights_that_patch():
    T = 1 + 16
    grid = PatchGrid(4, 4, 14)
    w = np.full((3, 2, T, T), 1.0 / T)
    target = grid.token_of(2, 1)
    w[:, :, 0, :] = 0.0
    w[:, :, 0, target] = 1.0  # CLS reads only patch r2c1 in every layer and head
    r = rollout(w, "mean", 0.0)
    np.testing.assert_allclose(r.sum(1), 1.0)
    cls_map = grid.to_grid(r[0])
    assert np.unravel_index(cls_map.argmax(), cls_map.shape) == (2, 1)


def test_figures_send_pictures_not_numbers():
    w = np.random.default_rng(1).random((16, 16))
    figs = [image_with_grid(GREY, GRID, clickable=True), attention_overlay_figure(GREY, w, GRID, highlight=(2, 3)),
            overlays_grid(GREY, [w] * 12, GRID, [f"head {i}" for i in range(12)]),
            position_similarity_figure(cosine_similarity(np.random.default_rng(2).normal(size=(256, 32))), GRID)]
    for fig in figs:
        spec = fig.to_json()
        assert len(spec) < 1_000_000
        images = [t for t in fig.data if t.type == "image"]
        assert images and all(t.source.startswith("data:image/") and t.z is None for t in images)
        # Streamlit's theme swaps "#000001".."#000019" for its own colours: none in our traces
        # (its template, present once streamlit is imported, may hold them: that is its business)
        assert "#00000" not in json.dumps([t.to_plotly_json() for t in fig.data], default=str)


def test_attention_map_rows_are_patch_rows():
    w = np.zeros((16, 16))
    w[3, 7] = 0.5
    fig = attention_map(w, GRID)
    z = np.asarray(fig.data[0].z)
    assert z[3, 7] == 0.5 and fig.layout.yaxis.autorange == "reversed"
    assert "r3c7" in fig.data[0].text[3][7]


def test_cosine_similarity_and_mosaic():
    pos = np.random.default_rng(3).normal(size=(16, 8))
    sim = cosine_similarity(pos)
    np.testing.assert_allclose(np.diag(sim), 1.0)
    np.testing.assert_allclose(sim, sim.T)
    grid = PatchGrid(4, 4, 14)
    mosaic = position_similarity_mosaic(sim, grid)
    assert mosaic.shape == (4 * 5 - 1, 4 * 5 - 1, 3)
    # tile (r, c), cell (r, c) is the patch's similarity to itself: the top colour of the scale
    top = colorize(np.array(1.0), -1, 1, "Viridis")
    for r, c in [(0, 0), (1, 2), (3, 3)]:
        assert (mosaic[r * 5 + r, c * 5 + c] == top).all()
    assert (mosaic[4, :] == 255).all()  # the white gap between tile rows


def test_clickable_grid_selects_on_click():
    fig = image_with_grid(GREY, GRID, clickable=True)
    assert json.loads(fig.to_json())["layout"]["clickmode"] == "event+select"
