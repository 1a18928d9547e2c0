import numpy as np
import pytest

from tests.apptest_helpers import assert_clean, open_page, plotly_figures
from tests.plotly_data import values

PAGE = "app_pages/positional.py"


def fig_titled(at, start):
    return next(f for f in plotly_figures(at) if f["layout"].get("title", {}).get("text", "").startswith(start))


@pytest.fixture(scope="module")
def at():
    return open_page(PAGE)


def test_sinusoidal_section_follows_the_sliders(at):
    at.slider(key="pos_n").set_value(32).run()
    at.select_slider(key="pos_d").set_value(16).run()
    assert_clean(at)
    heat = fig_titled(at, "PE, 32 positions × 16 dimensions")
    assert values(heat["data"][0]["z"]).shape == (32, 16)
    assert heat["layout"]["yaxis"]["title"]["text"] == "position"
    at.multiselect(key="pos_dims_16").set_value([0, 5]).run()
    curves = fig_titled(at, "Each dimension is a wave")
    assert [t["name"].split(" (")[0] for t in curves["data"]] == ["dim 0", "dim 5"]
    assert "cos" in curves["data"][1]["name"]  # odd dimension
    sim = fig_titled(at, "Similarity depends on the offset")
    lines = [values(t["y"]) for t in sim["data"][1:]]
    np.testing.assert_allclose(lines[0], lines[1], atol=1e-5)


def test_rotation_section(at):
    at.slider(key="pos_k").set_value(7).run()
    at.slider(key="pos_pos").set_value(30).run()
    assert_clean(at)
    df = at.dataframe[0].value
    np.testing.assert_allclose(df["R_k · PE(pos)"], df["PE(pos + k)"], atol=1e-9)
    assert any("max |R_k·PE(pos) − PE(pos + k)|" in m.value for m in at.markdown)
    assert fig_titled(at, "R_k for k = 7")


def test_rope_section_is_toeplitz(at):
    at.select_slider(key="pos_rope_d").set_value(32).run()
    at.number_input(key="pos_rope_seed").set_value(4).run()
    assert_clean(at)
    fig = fig_titled(at, "The same q and k placed")
    rope = values(fig["data"][0]["z"])
    assert all(np.ptp(np.diagonal(rope, o)) < 1e-6 for o in range(-31, 32))


def test_learned_positions_section(at):
    assert not any("checkpoint is missing" in w.value for w in at.warning)
    fig = fig_titled(at, "Position embeddings")
    learned, sin = values(fig["data"][0]["z"]), values(fig["data"][1]["z"])
    assert learned.shape == sin.shape == (17, 64)
    assert not np.allclose(learned, sin)
    assert fig_titled(at, "Which positions look alike")


def test_permutation_demo_and_bad_input(at):
    at.text_input(key="pos_text").set_value("order").run()
    at.selectbox(key="pos_perm").set_value("shuffle").run()
    assert_clean(at)
    fig = fig_titled(at, "Encoder self-attention, layer 0, head 1")
    z = [values(t["z"]) for t in fig["data"]]
    np.testing.assert_allclose(z[0], z[1], atol=1e-5)  # no positions: the same once put back
    assert not np.allclose(z[2], z[3], atol=1e-3)  # with positions: different
    assert fig["layout"]["xaxis"]["ticktext"] == list("order")
    at.selectbox(key="pos_perm_layer").set_value(1).run()
    at.selectbox(key="pos_perm_head").set_value(3).run()
    z = [values(t["z"]) for t in fig_titled(at, "Encoder self-attention, layer 1, head 3")["data"]]
    np.testing.assert_allclose(z[0], z[1], atol=1e-5)
    at.text_input(key="pos_text").set_value("<script>").run()
    assert any("no token for" in e.value for e in at.error)
    assert_clean(at)


def test_pretrained_position_embeddings_bert_and_dinov2(at):
    """BERT's learned rows beside sinusoids; DINOv2's patch positions as the ViT paper's grid."""
    source = at.selectbox(key="pos_source")
    bert = next(o for o in source.options if "MiniLM" in o)
    source.set_value(bert).run()
    assert_clean(at)
    assert "nn.Embedding(512, 384)" in " ".join(c.value for c in at.caption)
    tables = fig_titled(at, "Position embeddings")
    assert "512 × 384" in str(tables["layout"]["annotations"])
    vit = next(o for o in at.selectbox(key="pos_source").options if "DINOv2" in o)
    at.selectbox(key="pos_source").set_value(vit).run()
    assert_clean(at)
    grid = fig_titled(at, "cosine similarity of each patch")
    assert grid["data"][0]["type"] == "image"  # sent as one PNG, not 65,536 numbers
    assert [str(i) for i in range(16)] == grid["layout"]["xaxis"]["ticktext"]
