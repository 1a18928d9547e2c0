import numpy as np
import pytest

from tests.plotly_data import values
from viz.figures import teaching as fig
from viz.positional import PositionTable, cosine_similarity


def test_patch_similarity_grid_places_each_patch_map_at_its_patch():
    gh, gw = 3, 4
    rows, cols = np.meshgrid(np.arange(gh), np.arange(gw), indexing="ij")
    table = np.stack([np.cos(rows.ravel()), np.sin(rows.ravel()), np.cos(cols.ravel()), np.sin(cols.ravel())], 1)
    src = PositionTable("toy ViT", table, grid=(gh, gw))
    f = fig.patch_similarity_grid(cosine_similarity(src.table), src.grid)
    z = values(f.data[0].z).reshape(gh * (gh + 1), gw * (gw + 1))
    for r in range(gh):
        for c in range(gw):
            block = z[r * (gh + 1): r * (gh + 1) + gh, c * (gw + 1): c * (gw + 1) + gw]
            assert block[r, c] == pytest.approx(1.0)  # a patch is most like itself
            assert block.argmax() == r * gw + c
    with pytest.raises(ValueError, match="3x4 grid"):
        fig.patch_similarity_grid(np.eye(5), (3, 4))


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
