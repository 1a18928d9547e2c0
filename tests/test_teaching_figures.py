import numpy as np

from viz.figures import teaching as fig


def test_user_labels_are_escaped():
    f = fig.real_scores_and_weights(["<b>", "</s>"], np.zeros(2), np.full(2, 0.5), np.full(2, 0.5), 1.0,
                                    "query '<script>'")
    assert f.layout.xaxis.ticktext == ("&lt;b&gt;", "&lt;/s&gt;")
    assert "<script>" not in f.layout.title.text
    g = fig.tensor_grid([fig.Panel("<i>X</i>", np.eye(2), ["<a>", "b"], ["0", "1"], "dim")])
    assert g.layout.yaxis.ticktext == ("&lt;a&gt;", "b")


def test_attention_panels_keep_the_app_convention():
    f = fig.attention_pair([("a", np.eye(3), list("abc"), list("abc")), ("b", np.eye(3), list("abc"), list("abc"))])
    assert f.layout.coloraxis.cmin == 0 and f.layout.coloraxis.cmax == 1
    assert f.layout.yaxis.autorange == "reversed" and f.layout.xaxis.title.text == "key (attended to)"
    grid = fig.tensor_grid([fig.Panel("w", np.eye(2) * 0.5, ["a", "b"], ["a", "b"], "key", weights=True)])
    assert (grid.data[0].zmin, grid.data[0].zmax) == (0, 1)


def test_scaling_histograms_send_counts_not_every_sample():
    """The √d_k histograms: each series counted on 60 bins over its own range (every sample in
    one), the weights' panel on the same 0..1 bins, and the figure a few kB, not every score."""
    import plotly.io as pio

    from viz.softmax_lab import scaling_sample

    s = scaling_sample(64)
    f = fig.scaling_histograms(s.dots, s.scaled, s.max_weight_raw, s.max_weight_scaled, 64)
    left, right = [d for d in f.data if d.xaxis == "x"], [d for d in f.data if d.xaxis == "x2"]
    assert [sum(d.y) for d in left] == [s.dots.size] * 2 and [sum(d.y) for d in right] == [400, 400]
    assert all(len(d.x) == fig.HIST_BINS for d in f.data)
    for bars, values in zip(left, (s.dots, s.scaled), strict=True):
        edges = np.linspace(values.min(), values.max(), fig.HIST_BINS + 1)
        np.testing.assert_allclose([bars.customdata[0][0], bars.customdata[-1][1]], [values.min(), values.max()])
        np.testing.assert_array_equal(bars.y, np.histogram(values, edges)[0])
    assert np.array_equal(right[0].x, right[1].x)
    np.testing.assert_allclose([right[0].customdata[0][0], right[0].customdata[-1][1]], [0, 1])
    assert len(pio.to_json(f.to_dict(), validate=False)) < 30_000  # every score: 170 kB


def test_positional_tables_are_sent_as_float32():
    """The positional page's big heatmaps go to the browser as float32 (half the bytes of float64);
    the hover shows three decimals, and the values are the table's to float32 precision."""
    import json

    import plotly.io as pio

    from viz import positional as pos

    pe = pos.sinusoidal(64, 64).astype(np.float64)
    for f in (fig.pe_heatmap(pe, "PE"), fig.similarity_and_offset(pos.cosine_similarity(pe), np.arange(4),
                                                                  np.zeros((1, 4)), "s", [0])):
        z = json.loads(pio.to_json(f.to_dict(), validate=False))["data"][0]["z"]
        assert z["dtype"] == "f4"
    np.testing.assert_allclose(fig.pe_heatmap(pe, "PE").data[0].z, pe, atol=1e-6)
