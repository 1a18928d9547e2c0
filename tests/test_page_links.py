"""Every page through AppTest with its state in the URL: a link restores the widgets and the figure,
the page writes its state back (non-default values only), and hostile values change nothing.
The text page's own link tests are in tests/test_page_text.py."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import APP, TIMEOUT, assert_clean, plotly_figures

slow = pytest.mark.slow

# page: (URL parameters, widget values they must give, a text some figure's title must contain)
LINKS = {
    "scratch": ({"tab": "train", "task": "num2words", "text": "97", "view": "encoder", "layer": "0", "head": "2"},
                {"scratch_tab": "Train live", "scratch_task": "num2words", "scratch_text_num2words": "97",
                 "scratch_view": "Encoder self-attention", "scratch_layer": 0, "scratch_head": 2},
                "encoder self-attention, layer 0, head 2"),
    "softmax": ({"logits": "5, 1, 1", "temperature": "2", "dk": "16", "mask": "padding", "pad": "3", "side": "right",
                 "big": "1, 2", "word": "order", "view": "cross", "layer": "1", "head": "3", "query": "2"},
                {"softmax_logits": "5, 1, 1", "softmax_temperature": 2.0, "softmax_dk": 16,
                 "softmax_mask_kind": "padding", "softmax_pad": 3, "softmax_pad_side": "right", "softmax_big": "1, 2",
                 "softmax_text": "order", "softmax_view": "cross-attention", "softmax_layer": 1, "softmax_head": 3,
                 "softmax_query": 2},
                "softmax at T = 2"),
    "dimensions": ({"tab": "worksheet", "sentence": "", "n": "12", "d_model": "768", "h": "12", "batch": "2",
                    "own": "1", "d_k": "32", "d_v": "48", "word": "order", "head": "3", "sheet": "7"},
                   {"dims_tab": "Worksheet", "dims_sentence": "", "dims_n": 12, "dims_d_model": 768, "dims_h": 12,
                    "dims_batch": 2, "dims_override": True, "dims_d_k": 32, "dims_d_v": 48, "dims_text": "order",
                    "dims_head": 3, "dims_seed": 7},
                   "n = 12, d_model = 768, h = 12, d_k = 32, d_v = 48"),
    "positional": ({"n": "32", "d": "16", "dims": "0,3,5", "k": "7", "pos": "20", "source": "bert", "rope_d": "8",
                    "seed": "5", "word": "order", "perm": "shuffle", "layer": "1", "head": "0"},
                   {"pos_n": 32, "pos_d": 16, "pos_dims_16": [0, 3, 5], "pos_k": 7, "pos_pos": 20,
                    "pos_source": "all-MiniLM-L6-v2, a BERT (learned, 512 positions)", "pos_rope_d": 8,
                    "pos_rope_seed": 5, "pos_text": "order", "pos_perm": "shuffle", "pos_perm_layer": 1,
                    "pos_perm_head": 0},
                   "Encoder self-attention, layer 1, head 0"),
    "image": ({"sample": "coffee", "layer": "3", "head": "5", "opacity": "0.3", "tab": "click", "patch": "20"},
              {"image_sample": "coffee", "image_layer": 3, "image_head": 5, "image_opacity": 0.3,
               "image_tab": "Click a patch", "image_patch": 20},
              "where patch r1c3 attends, layer 3, head 5"),
    # The image page draws only its open tab, so a link names that tab's own settings alone.
    "image rollout": ({"sample": "coffee", "head": "4", "tab": "rollout", "fusion": "max", "discard": "0.5"},
                      {"image_sample": "coffee", "image_head": 4, "image_tab": "Rollout", "image_fusion": "max",
                       "image_discard": 0.5},
                      "Attention rollout to CLS (max of heads, discard 50%)"),
}
PAGES = ["scratch", "softmax", "dimensions", "positional", pytest.param("image", marks=slow),
         pytest.param("image rollout", marks=slow)]

HOSTILE = {"layer": "99", "head": "-1", "temperature": "1e309", "n": "0", "view": "nope", "tab": "nope",
           "text": "</script><script>alert(1)</script>", "logits": "x" * 100_000, "model": "m" * 100_000,
           "word": "<b>x</b>", "dims": "1,2,999", "d": "3", "opacity": "nan", "discard": "1e309", "patch": "100000",
           "sample": "../../etc/passwd", "task": "rm -rf /", "query": "1.5", "sheet": "-5", "own": "maybe",
           "d_model": "1e9", "dk": "0", "pad": "٣"}


def open_link(page: str, params: dict[str, str]) -> AppTest:
    """A fresh session opened on /page?params, as a pasted link does."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(params)
    at.run()
    at.switch_page(f"app_pages/{page}.py")
    at.run()
    assert_clean(at)
    return at


def url(at: AppTest) -> dict[str, str]:
    return {k: (v[-1] if isinstance(v, list) else v) for k, v in at.query_params.items()}


def titles(at: AppTest) -> str:
    return " | ".join((f["layout"].get("title") or {}).get("text", "") for f in plotly_figures(at))


@pytest.mark.parametrize("page", PAGES)
def test_a_link_restores_the_widgets_and_the_figure(page):
    params, values, title = LINKS[page]
    at = open_link(page.split()[0], params)
    assert not at.error, [e.value for e in at.error]
    assert {k: at.session_state[k] for k in values} == values
    assert title in titles(at)
    assert url(at) == params  # written back as it came: every value is a non-default one


def test_the_url_follows_the_widgets():
    at = open_link("scratch", {"layer": "0"})
    assert url(at) == {"layer": "0"}
    at.selectbox(key="scratch_head").set_value(3).run()
    assert url(at) == {"layer": "0", "head": "3"}
    at.selectbox(key="scratch_layer").set_value(1).run()  # the default (the last layer) leaves the link
    assert url(at) == {"head": "3"}
    at.radio(key="scratch_view").set_value("Encoder self-attention").run()
    at.selectbox(key="scratch_task").set_value("sort").run()
    assert url(at) == {"head": "3", "view": "encoder", "task": "sort"}
    assert at.text_input(key="scratch_text_sort").value == "3141592653"  # the sort example, not a stale text
    at.text_input(key="scratch_text_sort").set_value("123").run()
    assert url(at)["text"] == "123"
    at.text_input(key="scratch_text_sort").set_value("").run()  # an input error: the charts, and their
    assert "Type something" in at.error[0].value                # layer, head and view, leave the link
    assert url(at) == {"task": "sort", "text": ""}


def test_parameters_do_not_leak_from_one_page_to_another():
    at = open_link("scratch", {"layer": "0", "head": "2", "text": "abc"})
    at.switch_page("app_pages/softmax.py")  # AppTest keeps the query string across pages
    at.run()
    assert_clean(at)
    assert (at.session_state["softmax_layer"], at.session_state["softmax_head"]) == (0, 0)
    assert url(at) == {}


@pytest.mark.parametrize("page", ["scratch", "softmax", "dimensions", "positional", "text",
                                  pytest.param("image", marks=slow)])
def test_hostile_values_are_ignored(page):
    at = open_link(page, HOSTILE)
    got = url(at)
    if page == "text":  # always written: the head it opens on (viz.context.telling_head), not the link's
        from viz.context import telling_head
        from viz.ui.cache import text_trace
        trace = text_trace("", "cpu", "float32", at.text_area(key="text_text").value, "")
        assert (got.pop("layer"), got.pop("head")) == tuple(str(v) for v in telling_head(trace))
    if page == "image":  # always written: the head chosen from the picture (object_head), not the link's -1
        assert got.pop("head") == str(at.session_state["image_head"]) and 0 <= at.session_state["image_head"] < 6
    for name in ("layer", "head", "temperature", "view", "tab", "logits", "model", "dims", "d", "opacity",
                 "discard", "patch", "sample", "task", "query", "sheet", "own", "d_model", "dk", "pad"):
        assert got.get(name) in (None, "0", "heatmap"), (name, got.get(name))  # text: its defaults, always written
    # Text is kept as typed (the pages show it escaped) where it fits the box, and refused where not.
    errors = " ".join(e.value for e in at.error)
    if page == "scratch":
        assert got == {"text": HOSTILE["text"]} and "has no token for '<'" in errors
    if page in ("softmax", "dimensions", "positional"):
        assert got == {"word": "<b>x</b>"} and "has no token for '<'" in errors
    if page == "image":
        assert got == {} and at.session_state["image_layer"] == 11
