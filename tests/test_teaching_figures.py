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
