"""The cheap figure path (dicts, plotly's validation off) sends exactly what the validated path sends.

viz.figures.spec builds figures in one go.Figure call with validation off. Each figure here is
built twice, with spec.VALIDATE False and True, and the JSON Streamlit would send must be equal:
a misspelt property would raise on the validated side, and a value plotly rewrites (a named
colour scale, a title given as a string) would differ.
"""

import json

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from viz.context import WeightedParts, WordDrift
from viz.figures import classroom, context, heatmap, image, moves, spec, teaching, text
from viz.patches import PatchGrid
from viz.softmax_lab import scaling_sample
from viz.trace import AttentionTrace

TOKENS = ("[CLS]", "</s>", "<b>x</b>", "the", "cat", "sat", "on", "the", "mat", ".", "it", "was", "tired", "[SEP]",
          "it", "slept", "[SEP]")


def _trace(T: int, pair_start=None, causal=False) -> AttentionTrace:
    rng = np.random.default_rng(T)
    L, H, D = 2, 3, 4
    w = rng.random((L, H, T, T))
    w /= w.sum(-1, keepdims=True)
    toks = tuple(TOKENS[i % len(TOKENS)] for i in range(T))
    mask = np.tril(np.ones((T, T), bool)) if causal else None
    return AttentionTrace(toks, toks, w, w, *(rng.random((L, H, T, D)) for _ in range(3)), mask=mask,
                          meta={"pair_start": pair_start})


T17 = _trace(17, pair_start=14)
T90 = _trace(90)
T400 = _trace(400)
MASKED = _trace(6, causal=True)
_rng = np.random.default_rng(0)
GRID, GRID_WIDE = PatchGrid(rows=16, cols=16, patch=14), PatchGrid(rows=4, cols=6, patch=8)
PIXELS = _rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
PIXELS_WIDE = _rng.integers(0, 256, (32, 48, 3), dtype=np.uint8)
MAP, MAP_WIDE = _rng.random((16, 16)), _rng.random((4, 6))
SIMILARITY = np.corrcoef(_rng.random((24, 10)))
SCALING = scaling_sample(64, n_rows=50)
PE = _rng.standard_normal((16, 8))
FIGURES = {
    "head (heatmap)": lambda: text.head_figure(T17, 1, 2),
    "head (named heatmap, 90 tokens)": lambda: text.head_figure(T90, 0, 1),
    "head (whole percents, 90 tokens)": lambda: text.matrix_figure(T90.head(0, 1), T90.query_tokens,
                                                                    T90.key_tokens, compact=True),
    "head (picture, 90 tokens, masked)": lambda: text.matrix_figure(
        np.where(np.tri(90, dtype=bool), T90.head(0, 1), np.nan), T90.query_tokens, T90.key_tokens, compact=True),
    "what moves (heatmaps)": lambda: moves.moves_figure(T17, T17.weights[::-1], 1, 2),
    "what moves (named heatmaps, 90 tokens)": lambda: moves.moves_figure(T90, T90.weights[::-1], 0, 1),
    "what moves (window)": lambda: moves.moves_figure(T90, T90.weights[::-1], 0, 1, window=(60, 5, 40)),
    "what moves (pictures, 400 tokens)": lambda: moves.moves_figure(T400, T400.weights[::-1], 0, 1),
    "compare": lambda: text.compare_figure(T17.head(0, 1), T17.head(1, 2), T17.query_tokens, T17.key_tokens,
                                           "A − B", 14),
    "rollout": lambda: text.rollout_figure(T17.weights[0, 0], T17.query_tokens),
    "model grid": lambda: text.model_grid(T17, {"entropy": np.ones((2, 3)), "mean_distance": np.ones((2, 3))}),
    "attention heatmap (masked)": lambda: heatmap.attention_heatmap(MASKED.head(0, 0), MASKED.query_tokens,
                                                                    MASKED.key_tokens, MASKED.mask, title="<i>t</i>"),
    "heads grid": lambda: heatmap.heads_grid(MASKED, 1, title="layer 1"),
    "snapshots": lambda: heatmap.snapshots_grid([(1, MASKED.head(0, 0)), (9, MASKED.head(0, 1))],
                                                MASKED.query_tokens, MASKED.key_tokens),
    "loss curve": lambda: heatmap.loss_curve([3.0, 2.5, 1.0]),
    "softmax bars": lambda: teaching.softmax_bars([2.0, 1.0, -0.5], [0.6, 0.3, 0.1], "softmax at T = 1 <b>"),
    "temperature sweep": lambda: teaching.temperature_sweep(np.geomspace(0.05, 10, 7), np.full((7, 2), 0.5),
                                                            [2.0, -1.0], 0.5),
    "scaling histograms": lambda: teaching.scaling_histograms(SCALING.dots, SCALING.scaled, SCALING.max_weight_raw,
                                                              SCALING.max_weight_scaled, 64),
    "a real model's scores": lambda: teaching.real_scores_and_weights(
        ["<s>", "a", "b"], np.array([1.0, -2.0, 0.5]), np.array([0.6, 0.1, 0.3]), np.array([0.5, 0.2, 0.3]), 2.0,
        "layer 0, head 1, query 'x'"),
    "positional encoding table": lambda: teaching.pe_heatmap(PE, "PE <b>", x_title="column", y_title="row"),
    "positional encoding curves": lambda: teaching.pe_curves(PE, [0, 1, 5], [6.28, 6.28, 62.8]),
    "similarity and offset": lambda: teaching.similarity_and_offset(PE @ PE.T, np.arange(8), PE[:3, :8], "<i>s</i>",
                                                                   [0, 2, 4]),
    "matrix pair (one scale)": lambda: teaching.matrix_pair(PE[:8, :8], PE[8:, :8], ("a<", "b"), "key n", "query m", "t"),
    "matrix pair (two scales)": lambda: teaching.matrix_pair(PE[:8, :8], 5 * PE[8:, :8], ("a", "b"), "x", "y",
                                                             shared=False),
    "attention pair": lambda: teaching.attention_pair([("one", T17.head(0, 0), T17.query_tokens, T17.key_tokens),
                                                       ("two <", T17.head(1, 1), T17.query_tokens, T17.key_tokens),
                                                       ("three", T17.head(0, 2), T17.query_tokens, T17.key_tokens)],
                                                      "encoder"),
    "tensor grid": lambda: teaching.tensor_grid([
        teaching.Panel("X <i>", PE[:6, :8], TOKENS[:6], [str(i) for i in range(8)], "d_model index"),
        teaching.Panel("W", T17.head(0, 0)[:6, :6], TOKENS[:6], TOKENS[:6], "key", weights=True),
        teaching.Panel("zero", np.zeros((2, 2)), ["a", "b"], ["a", "b"], "x")], cols=2, title="tensors"),
    "shape diagram": lambda: teaching.shape_diagram([(f"W_{i} <", f"({i}, d)", "note") for i in range(7)], "shapes"),
    "lines": lambda: text.lines_figure(T17, 1, [0, 2], 0.05),
    "lines, one query, the strongest kept": lambda: text.lines_figure(T90, 0, [1, 2], 0.0, max_lines=300, query=3),
    "neuron": lambda: text.neuron_figure({"q": PE[0], "k": PE[1], "product": PE[0] * PE[1], "dot": 1.5, "scaling": 0.125,
                                          "score": 0.19}, T17.head(0, 0)[3], T17.key_tokens, "it <", 5),
    "combined tokens": lambda: text.combined_figure(T17.head(0, 0)[2], T17.weights[:, 0, 2], T17.key_tokens,
                                                    ["a", "<b>"] * 5, 1, 2),
    "context vectors": lambda: context.context_figure(
        WordDrift("bank <b>", ("bank",), (3,), (5,), PE[:7, :4], PE[7:14, :4], np.linspace(0.9, 0.4, 7)),
        WeightedParts(2, np.array([0.1, 0.02, 0.5, 0.38]), PE[:4, :6], PE[5, :6]), ["a", "<b>", "bank", "c"], 2, 4),
    "a class's answers": lambda: classroom.answer_counts_figure(
        [("12", 10, True), ("<b>11</b>", 5, False)] + [(str(i), 1, False) for i in range(14)], 30, True, font_size=18),
    "image with its patch grid": lambda: image.image_with_grid(PIXELS, GRID, "a <b>cat</b>"),
    "image, clickable patches": lambda: image.image_with_grid(PIXELS_WIDE, GRID_WIDE, clickable=True, height=300),
    "attention overlay": lambda: image.attention_overlay_figure(PIXELS, MAP, GRID, "CLS <i>x</i>", 0.6),
    "attention overlay, a patch outlined": lambda: image.attention_overlay_figure(PIXELS_WIDE, MAP_WIDE, GRID_WIDE,
                                                                                 "", 0.3, highlight=(1, 2)),
    "attention map": lambda: image.attention_map(MAP, GRID, "map"),
    "attention map, a patch outlined": lambda: image.attention_map(MAP_WIDE, GRID_WIDE, highlight=(2, 5)),
    "overlays grid (6 heads)": lambda: image.overlays_grid(PIXELS, [MAP, MAP ** 2, 1 - MAP, MAP, MAP, MAP], GRID,
                                                           [f"head {h}" for h in range(6)], title="every head"),
    "overlays grid (4 of 3 columns)": lambda: image.overlays_grid(PIXELS_WIDE, [MAP_WIDE] * 4, GRID_WIDE,
                                                                  ["a", "b<", "c", "d"], 0.4),
    "position similarity": lambda: image.position_similarity_figure(SIMILARITY, GRID_WIDE, "cosine"),
}


def _sent(fig: go.Figure) -> dict:
    """What st.plotly_chart sends: the figure's dict as JSON (parsed back, so key order is moot)."""
    return json.loads(pio.to_json(fig.to_dict(), validate=False))


@pytest.mark.parametrize("name", list(FIGURES))
def test_cheap_path_sends_the_same_figure_as_the_validated_path(name, monkeypatch):
    cheap = FIGURES[name]()
    monkeypatch.setattr(spec, "VALIDATE", True)
    validated = FIGURES[name]()
    assert validated._validate and not cheap._validate
    assert _sent(cheap) == _sent(validated)


def test_the_validated_path_catches_what_the_cheap_path_would_let_through(monkeypatch):
    data, layout = [dict(type="heatmap", z=[[1.0]])], dict(xaxis=dict(titel="typo"))
    spec.figure(data, layout)  # no check
    monkeypatch.setattr(spec, "VALIDATE", True)
    with pytest.raises(ValueError, match="titel"):
        spec.figure(data, layout)
    cheap_named = go.Figure([dict(type="heatmap", z=[[1.0]], colorscale="Blues")], _validate=False)
    assert _sent(cheap_named) != _sent(go.Figure([dict(type="heatmap", z=[[1.0]], colorscale="Blues")]))


def test_subplot_layout_is_a_fresh_copy_each_time():
    a = spec.subplots(1, 2, ["left", "right"])
    a["xaxis"]["title"] = {"text": "changed"}
    b = spec.subplots(1, 2, ["left", "right"])
    assert "title" not in b["xaxis"] and [x["text"] for x in b["annotations"]] == ["left", "right"]
    assert spec.axis_names(1, 1, 2) == ("x", "y") and spec.axis_names(2, 1, 2) == ("x3", "y3")


def test_a_shared_figure_shows_the_same_figure_and_makes_its_dict_once():
    import json

    import plotly.io
    import plotly.tools

    from viz.figures.spec import SharedFigure, shared
    from viz.lesson import STEPS, LocalSources

    step = STEPS[2]
    fig = step.figure(step.compute(LocalSources(), step.values()))
    sf = shared(fig)
    assert isinstance(sf, SharedFigure)
    as_shown = plotly.tools.return_figure_from_figure_or_data(sf, validate_figure=True)  # st.plotly_chart's call
    assert json.loads(plotly.io.to_json(as_shown, validate=False)) == json.loads(fig.to_json())
    assert sf.to_dict() is sf.to_dict()  # made once
    assert fig.to_dict() is not fig.to_dict()  # a plain figure copies every time


def test_what_moves_on_a_long_input_names_tokens_without_a_hover_string_per_cell():
    t = _trace(150)  # both panels fit HOVER_MAX_CELLS: float32 heatmaps on named category axes
    fig = moves.moves_figure(t, t.weights, 1, 2)
    assert [d.type for d in fig.data] == ["heatmap", "heatmap"] and all(d.text is None for d in fig.data)
    assert [d.hovertemplate.split("<br>")[1].split(" %")[0] for d in fig.data] == ["weight", "share moved"]
    assert fig.data[0].x[2] == "2: &lt;b&gt;x&lt;/b&gt;" and len(set(fig.data[0].x)) == 150
    np.testing.assert_array_equal(np.asarray(fig.data[1].z), t.weights[1, 2].astype(np.float32))
    assert len(fig.to_json()) < 300_000  # 2 x 150² float32 in base64 is 0.24 MB
    t = _trace(400)  # two 400 x 400 panels exceed it: whole percents, one byte a cell, names on hover
    fig = moves.moves_figure(t, t.weights, 1, 2)
    assert [d.type for d in fig.data] == ["heatmap", "heatmap"]
    assert [d.hovertemplate.split("<br>")[1] for d in fig.data] == ["weight %{z}%<extra></extra>",
                                                                   "share moved %{z}%<extra></extra>"]
    assert fig.data[0].x[2] == "2: &lt;b&gt;x&lt;/b&gt;" and len(set(fig.data[0].y)) == 400
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), np.rint(t.weights[1, 2] * 100))
    assert fig.layout.coloraxis.cmax == 100
    assert len(fig.to_json()) < 600_000  # 2 x 400² bytes in base64 is 0.43 MB


def test_what_moves_spreads_few_key_labels_over_each_panel_on_a_long_input():
    """Two panels side by side have half the width of one heatmap: on a long input each panel's key
    axis gets PANEL_TICKS labels (20 a panel overlapped at 512 tokens), none at the left edge, where a
    label turned by -60 degrees hung over the query labels; the query axis keeps 40; a 40-token window
    still labels every key."""
    from viz.figures.heatmap import MAX_TICKS

    for T in (400, 512):
        t = _trace(T)
        fig = moves.moves_figure(t, t.weights, 1, 2)
        for xaxis in (fig.layout.xaxis, fig.layout.xaxis2):
            assert moves.PANEL_TICKS - 1 <= len(xaxis.tickvals) <= moves.PANEL_TICKS
            positions = [int(v.split(":")[0]) for v in xaxis.tickvals]  # category names "position: token"
            assert positions[0] >= T // moves.PANEL_TICKS // 2 - 1 and positions == sorted(positions)
            assert xaxis.ticktext[0] == text.label(t.key_tokens[positions[0]])
        assert MAX_TICKS - 1 <= len(fig.layout.yaxis.tickvals) <= MAX_TICKS
    fig = moves.moves_figure(T90, T90.weights[::-1], 0, 1, window=(60, 5, 40))
    assert len(fig.layout.xaxis.ticktext) == 40
