"""The text page's math (head stats, score terms, combined attention), figures and bertviz HTML."""

import base64
import io
import json
import re

import numpy as np
import pytest
from PIL import Image

from viz.attention import combined_attention, head_stats, score_terms
from viz.bertviz_html import MAX_TOKENS, BertvizError, bertviz_html, make_inert
from viz.figures.text import (
    HEATMAP_MAX_CELLS,
    HOVER_MAX_CELLS,
    colorize,
    compare_figure,
    lines_figure,
    matrix_figure,
    max_pool,
    model_grid,
    neuron_figure,
)
from viz.trace import AttentionTrace

HOSTILE = ["[CLS]", "</script><script>alert(1)</script>", "<img src=x onerror=alert(1)>", "&amp;", "[SEP]"]


def make_trace(weights, tokens=None, d=4, pair_start=None):
    w = np.asarray(weights, dtype=np.float32)
    L, H, T, _ = w.shape
    tokens = tokens or [f"t{i}" for i in range(T)]
    rng = np.random.default_rng(0)
    qkv = rng.normal(size=(3, L, H, T, d)).astype(np.float32)
    return AttentionTrace(tokens, tokens, w, np.log(np.maximum(w, 1e-9)), *qkv,
                          meta=dict(pair_start=pair_start, special=[False] * T))


# --- head behaviour on a hand-made attention ---------------------------------------------------

def hand_made() -> np.ndarray:
    """(1, 4, 4, 4): head 0 all on [CLS], head 1 uniform, head 2 previous token, head 3 self."""
    T = 4
    cls = np.zeros((T, T))
    cls[:, 0] = 1
    uniform = np.full((T, T), 1 / T)
    prev = np.eye(T, k=-1)
    prev[0, 0] = 1  # the first token has no previous one: it looks at itself
    return np.stack([cls, uniform, prev, np.eye(T)])[None]


def test_head_stats_on_a_hand_made_attention():
    s = head_stats(hand_made(), cls_positions=[0], sep_positions=[3])
    assert {k: v.shape for k, v in s.items()} == {k: (1, 4) for k in s}
    np.testing.assert_allclose(s["entropy"][0], [0, np.log(4), 0, 0], atol=1e-12)
    np.testing.assert_allclose(s["mean_distance"][0], [(0 + 1 + 2 + 3) / 4, (1.5 + 1 + 1 + 1.5) / 4, 3 / 4, 0])
    np.testing.assert_allclose(s["to_cls"][0], [1, 0.25, 0.5, 0.25])  # prev head: rows 0 and 1 land on [CLS]
    np.testing.assert_allclose(s["to_sep"][0], [0, 0.25, 0, 0.25])
    np.testing.assert_allclose(s["to_self"][0], [0.25, 0.25, 0.25, 1])
    np.testing.assert_allclose(s["to_prev"][0], [1 / 3, 0.25, 1, 0])  # mean over rows 1..3
    np.testing.assert_allclose(s["to_next"][0], [0, 0.25, 0, 0])


def test_head_stats_refuses_non_square_attention():
    with pytest.raises(ValueError, match="self-attention"):
        head_stats(np.ones((1, 1, 2, 3)))


def test_score_terms_sum_is_the_score():
    q, k = np.array([1.0, -2.0, 0.5, 3.0]), np.array([2.0, 1.0, 4.0, -1.0])
    t = score_terms(q, k)
    np.testing.assert_allclose(t["product"], [2, -2, 2, -3])
    assert t["dot"] == pytest.approx(-1.0) and t["scaling"] == pytest.approx(0.5)
    assert t["score"] == pytest.approx(-0.5)
    with pytest.raises(ValueError):
        score_terms(q, k[:3])


def test_combined_attention_is_the_mean_of_the_selected_rows():
    w = hand_made()
    c = combined_attention(w, [2, 3, 3])
    np.testing.assert_allclose(c, w[..., [2, 3], :].mean(axis=-2))
    np.testing.assert_allclose(c.sum(-1), 1.0)
    with pytest.raises(ValueError, match="at least one"):
        combined_attention(w, [])
    with pytest.raises(ValueError, match="0..3"):
        combined_attention(w, [4])


# --- figures -----------------------------------------------------------------------------------

def png_of(fig) -> np.ndarray:
    src = next(t.source for t in fig.data if t.type == "image")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))))


def test_small_matrix_is_a_heatmap_with_escaped_tokens_and_axis_convention():
    T = 5
    w = np.eye(T)
    fig = matrix_figure(w, HOSTILE, HOSTILE, title="<b>x</b>")
    heat = fig.data[0]
    assert heat.type == "heatmap" and (heat.zmin, heat.zmax) == (0, 1)
    assert fig.layout.yaxis.autorange == "reversed"
    assert fig.layout.xaxis.title.text == "key (attended to)" and fig.layout.yaxis.title.text == "query (attending)"
    text = json.dumps([list(fig.layout.xaxis.ticktext), heat.text.tolist(), fig.layout.title.text])
    assert "<script" not in text and "<img" not in text and "<b>" not in text
    assert "&lt;/script&gt;" in text and "&amp;amp;" in text


def test_large_matrix_hover_names_both_tokens_and_the_weight_with_labels_not_cells():
    """Past 64 x 64 cells the hover still names the query, the key and the weight, from one label per
    token (category axes "position: token") and float32 numbers, not one string per cell."""
    T = 256
    assert T * T > HEATMAP_MAX_CELLS and T * T <= HOVER_MAX_CELLS
    rng = np.random.default_rng(0)
    w = rng.dirichlet(np.ones(T), size=T)
    tokens = ["the"] * (T - 1) + ["<script>"]  # repeated tokens must stay separate cells
    fig = matrix_figure(w, tokens, tokens)
    heat = fig.data[0]
    assert heat.type == "heatmap" and heat.text is None
    assert list(heat.x) == list(heat.y) and len(set(heat.x)) == T  # unique categories
    assert heat.x[3] == "3: the" and heat.x[-1] == "255: &lt;script&gt;"
    assert "%{y}" in heat.hovertemplate and "%{x}" in heat.hovertemplate and "%{z:.3f}" in heat.hovertemplate
    np.testing.assert_array_equal(np.asarray(heat.z), w.astype(np.float32))  # the exact weights
    assert fig.layout.xaxis.type == "category" and fig.layout.yaxis.type == "category"
    assert set(fig.layout.xaxis.tickvals) <= set(heat.x) and len(fig.layout.xaxis.tickvals) <= 40
    assert list(fig.layout.xaxis.ticktext[:2]) == ["the", "the"]
    sent = fig.to_json()
    assert "<script" not in sent
    assert len(sent) < 400_000  # 256 x 256 float32 as base64 (~0.35 MB) and 512 labels


def test_larger_matrix_or_compact_carries_whole_percents_with_names_on_hover():
    """Past 256 x 256 cells, or compact=True where a view shows several matrices, each value is a
    whole percent in one byte: the hover still names both tokens and the value."""
    rng = np.random.default_rng(1)
    for T, compact in ((100, True), (int(np.sqrt(HOVER_MAX_CELLS)) + 1, False)):
        w = rng.dirichlet(np.ones(T) * 0.1, size=T)
        tokens = [f"t{i}" for i in range(T - 1)] + ["<b>"]
        fig = matrix_figure(w, tokens, tokens, compact=compact)
        heat = fig.data[0]
        assert [t.type for t in fig.data] == ["heatmap"] and heat.text is None
        z = np.asarray(heat.z)
        assert z.dtype == np.uint8 and z.shape == (T, T)
        np.testing.assert_array_equal(z, np.rint(w * 100))  # independent: the weight in percent, rounded
        assert heat.x[5] == "5: t5" and heat.y[-1] == f"{T - 1}: &lt;b&gt;" and len(set(heat.x)) == T
        assert "query %{y}" in heat.hovertemplate and "key %{x}" in heat.hovertemplate
        assert "weight %{z}%" in heat.hovertemplate
        assert (heat.zmin, heat.zmax) == (0, 100) and heat.colorbar.title.text == "weight (%)"
        assert fig.layout.xaxis.type == "category"
        assert len(fig.to_json()) < 1.4 * T * T + 40 * T + 20_000  # one byte a cell, in base64
    diff = rng.uniform(-1, 1, size=(70, 80))
    heat = matrix_figure(diff, [f"q{i}" for i in range(70)], [f"k{i}" for i in range(80)], zmin=-1, zmax=1,
                         compact=True).data[0]
    assert np.asarray(heat.z).dtype == np.int8 and (heat.zmin, heat.zmax) == (-100, 100)
    np.testing.assert_array_equal(np.asarray(heat.z), np.rint(diff * 100))


def test_a_large_matrix_with_masked_cells_is_a_picture_with_the_same_colours():
    T = 100
    w = np.zeros((T, T))
    w[np.arange(T), np.arange(T)] = 1.0
    w[0, 1] = np.nan  # a masked cell: no byte for it, so a picture with it grey
    fig = matrix_figure(w, [f"t{i}" for i in range(T)], [f"t{i}" for i in range(T)], compact=True)
    assert [t.type for t in fig.data][0] == "image"
    rgb = png_of(fig)
    assert rgb.shape == (T, T, 3)
    np.testing.assert_array_equal(rgb[5, 5], colorize(np.array([[1.0]]), 0, 1)[0, 0])  # diagonal: darkest
    np.testing.assert_array_equal(rgb[5, 6], colorize(np.array([[0.0]]), 0, 1)[0, 0])
    assert tuple(rgb[0, 1]) == (0xBD, 0xBD, 0xBD)
    assert len(fig.to_json()) < 60_000


def test_colorize_fixed_scale_and_masked_grey():
    rgb = colorize(np.array([[0.0, 1.0, 2.0, np.nan]]), 0, 1)
    assert tuple(rgb[0, 1]) == tuple(rgb[0, 2])  # clipped at the top of the fixed scale
    assert tuple(rgb[0, 3]) == (0xBD, 0xBD, 0xBD)
    assert rgb[0, 0].sum() > rgb[0, 1].sum()  # Blues: 0 is light, 1 is dark


def test_max_pool_keeps_a_single_strong_weight():
    m = np.zeros((10, 10))
    m[7, 3] = 0.9
    small = max_pool(m, 4)
    assert small.shape == (4, 4) and small.max() == 0.9
    assert max_pool(m, 10) is m


def test_model_grid_is_one_image_of_every_head():
    rng = np.random.default_rng(1)
    w = rng.dirichlet(np.ones(300), size=(2, 3, 300))
    fig = model_grid(make_trace(w))
    rgb = png_of(fig)
    assert rgb.shape[:2] == (2 * 96 + 2, 3 * 96 + 4)  # tiles max-pooled to 96 px, 2 px gaps
    assert list(fig.layout.xaxis.ticktext) == ["0", "1", "2"] and list(fig.layout.yaxis.ticktext) == ["0", "1"]
    assert "max-pooled from 300×300" in fig.layout.title.text


def test_lines_figure_draws_one_segment_per_weight_above_the_threshold():
    w = hand_made()
    trace = make_trace(w)
    fig = lines_figure(trace, 0, [0, 2], min_weight=0.5)
    segments = sum(np.isnan(np.asarray(t.y, dtype=float)).sum() for t in fig.data if t.mode == "lines")
    assert segments == 4 + 4  # head 0: every row to [CLS]; head 2: every row to one token
    assert {t.name for t in fig.data if t.mode == "lines"} == {"head 0", "head 2"}
    one = lines_figure(trace, 0, [1], min_weight=0.1, query=2)
    assert sum(np.isnan(np.asarray(t.y, dtype=float)).sum() for t in one.data if t.mode == "lines") == 4
    with pytest.raises(ValueError, match="at least one head"):
        lines_figure(trace, 0, [])


def test_neuron_figure_shows_the_terms_and_the_row():
    t = score_terms(np.array([1.0, 2.0]), np.array([3.0, -1.0]), 0.5)
    fig = neuron_figure(t, np.array([0.2, 0.8]), ["a", "<b>"], "a", 1)
    assert "score 0.500" in fig.layout.annotations[0].text and "&lt;b&gt;" in fig.layout.annotations[1].text
    np.testing.assert_allclose(fig.data[2].y, [3.0, -2.0])


def test_compare_figure_is_diverging_on_a_fixed_scale():
    a, b = np.eye(3), np.full((3, 3), 1 / 3)
    fig = compare_figure(a, b, ["x", "y", "z"], ["x", "y", "z"], "A - B", boundary=1)
    assert (fig.data[0].zmin, fig.data[0].zmax) == (-1, 1)
    np.testing.assert_allclose(fig.data[0].z, a - b)
    assert len(fig.layout.shapes) == 2  # the pair's boundary, on both axes
    with pytest.raises(ValueError):
        compare_figure(a, b[:2], ["x"] * 3, ["x"] * 3, "")


# --- bertviz HTML ------------------------------------------------------------------------------

def test_bertviz_html_keeps_hostile_tokens_inert_and_scripts_local():
    w = np.full((2, 2, 5, 5), 0.2)
    for view in ("head", "model"):
        html, notes = bertviz_html(make_trace(w, HOSTILE), view, local=True)
        assert not notes
        assert html.count("<script") == 2 and html.count("</script") == 2  # require.js + bertviz's own
        assert "alert(1)</script>" not in html and "<img" not in html
        assert "cdnjs" not in html and "/app/static/vendor/require.js" in html and "/app/static/vendor/d3.min'" in html
        data = re.search(r"const params = (.*);\n", html).group(1)
        assert json.loads(data)["attention"][0]["left_text"] == HOSTILE  # the same tokens, shown as text


def test_bertviz_without_local_scripts_falls_back_to_the_cdn_with_a_note():
    html, notes = bertviz_html(make_trace(np.full((1, 1, 2, 2), 0.5)), "head", local=False)
    assert "cdnjs" in html and "offline" not in notes[0] and "make run" in notes[0]


def test_bertviz_shows_a_window_of_a_long_input_and_says_so():
    T = MAX_TOKENS + 30
    w = np.random.default_rng(0).random((1, 2, T, T))
    html, notes = bertviz_html(make_trace(w / w.sum(-1, keepdims=True)), "head", local=True, start=20)
    data = json.loads(re.search(r"const params = (.*);\n", html).group(1))
    assert any(f"tokens 20 to {20 + MAX_TOKENS - 1} of {T}" in n for n in notes)
    assert len(data["attention"][0]["left_text"]) == MAX_TOKENS
    assert data["attention"][0]["left_text"][0] == make_trace(w).query_tokens[20]
    assert len(html) < 3_000_000  # a window's worth of numbers, not the whole input's
    _, notes = bertviz_html(make_trace(w / w.sum(-1, keepdims=True)), "head", local=True, start=10_000)
    assert any(f"tokens {T - MAX_TOKENS} to {T - 1}" in n for n in notes)  # clamped to the input


def test_make_inert_refuses_html_it_does_not_recognise():
    with pytest.raises(BertvizError):
        make_inert("<script>const params = {}; nothing else</script>")
