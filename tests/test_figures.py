import numpy as np
import pytest

from viz.figures import attention_heatmap, heads_grid, snapshots_grid
from viz.trace import AttentionTrace


def test_tokens_are_escaped_not_interpreted():
    fig = attention_heatmap(np.eye(2), ["</s>", "<b>x</b>"], ["<script>alert(1)</script>", "ok"])
    assert list(fig.layout.yaxis.ticktext) == ["&lt;/s&gt;", "&lt;b&gt;x&lt;/b&gt;"]
    assert "<script>" not in fig.to_json()


def test_axis_convention_and_repeated_tokens():
    fig = attention_heatmap(np.full((3, 5), 0.2), list("abc"), list("hello"))
    assert fig.layout.yaxis.autorange == "reversed"  # queries top to bottom
    assert list(fig.layout.xaxis.ticktext) == list("hello")  # both l's keep their own column
    assert (fig.layout.coloraxis.cmin, fig.layout.coloraxis.cmax) == (0, 1)


def test_masked_cells_are_drawn_as_masked():
    w = np.tril(np.ones((3, 3))) / np.arange(1, 4)[:, None]
    mask = np.tril(np.ones((3, 3), dtype=bool))
    fig = attention_heatmap(w, list("abc"), list("abc"), mask)
    weights, overlay = fig.data
    assert np.isnan(np.array(weights.z, dtype=float)[0, 2])  # not a zero that looks like weak attention
    assert np.array(overlay.z, dtype=float)[0, 2] == 1 and np.isnan(np.array(overlay.z, dtype=float)[2, 0])
    assert "masked" in weights.text[0][2]


def test_shape_mismatch_is_explained():
    with pytest.raises(ValueError, match="3 query and 2 key tokens"):
        attention_heatmap(np.ones((3, 3)), list("abc"), list("ab"))


def test_grids():
    rng = np.random.default_rng(0)
    shape = (2, 4, 3, 3)
    t = AttentionTrace(list("abc"), list("abc"), rng.random(shape), rng.random(shape),
                       rng.random(shape), rng.random(shape), rng.random(shape))
    assert len(heads_grid(t, 1).data) == 4
    assert len(snapshots_grid([(1, np.eye(3)), (50, np.eye(3))], list("abc"), list("abc")).data) == 2
