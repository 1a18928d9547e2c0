"""The text page through AppTest: every view, URL state, no forward pass on a view change, the
byte budget at 510 tokens, hostile and bad inputs."""

import io
import json
from urllib.parse import parse_qs

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

import viz.pretrained
import viz.ui.cache
from tests.apptest_helpers import APP, TIMEOUT, assert_clean, open_page, plotly_figures, sent_bytes
from viz.ui import text_ui
from viz.ui.text_ui import VIEWS

PAGE = "app_pages/text.py"
LONG = "hello " * 510  # 510 word pieces + [CLS] + [SEP] = 512 tokens, the model's limit
HOSTILE = "</script><script>alert(1)</script> <img src=x onerror=alert(1)> <b>bold</b>"


def set_text(at: AppTest, text: str) -> AppTest:
    at.text_area(key="text_text").set_value(text).run()
    assert_clean(at)
    return at


def all_text(at: AppTest) -> str:
    return " ".join(str(e.value) for kind in ("error", "warning", "info", "caption") for e in getattr(at, kind))


def test_heatmap_of_the_default_sentence():
    at = open_page(PAGE)
    assert not at.error
    fig = plotly_figures(at)[0]
    ticks = fig["layout"]["xaxis"]["ticktext"]
    assert ticks[0] == "[CLS]" and ticks[-1] == "[SEP]" and "cat" in ticks
    assert fig["layout"]["yaxis"]["autorange"] == "reversed"
    assert fig["layout"]["xaxis"]["title"]["text"] == "key (attended to)"
    assert "6 layers × 12 heads" in all_text(at)


def test_every_view_renders_and_lands_in_the_url():
    at = open_page(PAGE)
    at.text_input(key="text_pair").set_value("It was a long day.").run()
    for view in VIEWS:
        at.radio(key="text_view").set_value(view).run()
        at.selectbox(key="text_layer").set_value(4).run()
        at.selectbox(key="text_head").set_value(7).run()
        assert_clean(at)
        assert not at.error, (view, [e.value for e in at.error])
        if view == "table":
            df = at.dataframe[0].value
            assert len(df) == 72 and {"entropy (nats)", "→ [CLS]", "→ next"} <= set(df.columns)
        elif view == "bertviz":
            assert len(at.get("iframe")) == 1
        else:
            assert len(plotly_figures(at)) == (2 if view == "moves" else 1), view
        params = {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}
        assert params["view"] == view and params["layer"] == "4" and params["head"] == "7" and params["pair"] == "It was a long day."


def test_a_link_reproduces_the_view():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(view="neuron", layer="3", head="5", text="Paris is the capital of France.")
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert_clean(at)
    assert at.radio(key="text_view").value == "neuron"
    assert (at.selectbox(key="text_layer").value, at.selectbox(key="text_head").value) == (3, 5)
    assert at.text_area(key="text_text").value == "Paris is the capital of France."
    assert "paris" in plotly_figures(at)[0]["layout"]["xaxis2"]["ticktext"]


def test_head_table_links_open_that_heads_heatmap():
    at = open_page(PAGE)
    at.radio(key="text_view").set_value("table").run()
    link = at.dataframe[0].value["link"][2 * 12 + 9]  # layer 2, head 9
    q = parse_qs(link.lstrip("?"))
    assert (q["view"], q["layer"], q["head"]) == (["heatmap"], ["2"], ["9"])
    assert q["text"] == [at.text_area(key="text_text").value]


def test_layer_head_and_view_changes_do_not_rerun_the_model(caplog):
    at = open_page(PAGE)
    before = viz.pretrained.text.forward_passes()
    with caplog.at_level("INFO", logger="viz.pretrained.text"):
        set_text(at, "A sentence seen by this test only, once.")
        assert viz.pretrained.text.forward_passes() == before + 1
        for view in ("heatmap", "model", "lines", "neuron", "rollout", "table"):
            at.radio(key="text_view").set_value(view).run()
            at.selectbox(key="text_layer").set_value(5).run()
            at.selectbox(key="text_head").set_value(11).run()
    assert_clean(at)
    assert viz.pretrained.text.forward_passes() == before + 1
    # the server's log says so too: one line per forward pass
    assert [r.getMessage() for r in caplog.records if "forward pass" in r.getMessage()] == [
        "trace_text: forward pass, 12 tokens"]



def _cached_trace(text: str):
    traces = [v for k, (v, _) in viz.ui.cache.trace_store()._items.items() if k[0] == "text_trace" and k[4] == text]
    assert len(traces) == 1
    return traces[0]


def test_the_heatmap_computes_one_head_and_the_head_table_all_of_them():
    """The forward pass keeps Q, K and V; the default view computes only the head it shows (and the
    neuron view and the downloads' labels no more), the head table every head, once."""
    text = "Only this test reads this sentence, at this length."
    at = set_text(open_page(PAGE), text)
    for view in ("heatmap", "neuron", "qk"):
        at.radio(key="text_view").set_value(view).run()
        at.selectbox(key="text_head").set_value(7).run()
    assert_clean(at)
    trace = _cached_trace(text)
    assert not trace.weights_computed
    at.radio(key="text_view").set_value("table").run()
    assert_clean(at)
    assert trace.weights_computed and _cached_trace(text) is trace

@pytest.mark.slow
def test_byte_budget_at_510_tokens():
    at = set_text(open_page(PAGE), LONG)
    assert "512 tokens" in all_text(at)
    at.radio(key="text_view").set_value("model").run()
    assert_clean(at)
    grid = sent_bytes(at)
    assert 10_000 < grid <= 2_000_000, f"the all-heads grid sent {grid} bytes"
    for view in ("heatmap", "lines", "neuron", "table", "rollout", "compare", "combine", "moves", "qk"):
        at.radio(key="text_view").set_value(view).run()
        assert_clean(at)
        assert sent_bytes(at) <= 2_000_000, view
        if view in ("heatmap", "moves"):  # every matrix of 512 x 512 names its tokens and value on hover
            matrices = [d for fig in plotly_figures(at)[:1] for d in fig["data"]]
            assert matrices and all(d["type"] == "heatmap" and "key %{x}" in d["hovertemplate"]
                                    and "%{z" in d["hovertemplate"] for d in matrices), view
            assert len(matrices[0]["x"]) == 512
    at.radio(key="text_view").set_value("bertviz").run()
    assert "bertviz shows tokens 0 to 39 of 512" in all_text(at) and len(at.get("iframe")) == 1
    at.slider(key="text_bv_start").set_value(400).run()
    assert "bertviz shows tokens 400 to 439 of 512" in all_text(at)
    assert len(at.get("iframe")[0].proto.srcdoc) <= 1_000_000  # tests/test_page_bytes.py: every view <= 1 MB


def test_600_tokens_truncate_with_a_visible_note():
    at = set_text(open_page(PAGE), "word " * 598)
    assert any("600 tokens" in w.value and "truncated" in w.value for w in at.warning)
    assert len(plotly_figures(at)[0]["layout"]["xaxis"]["ticktext"]) <= 40  # ticks thinned, not 512 labels


def test_hostile_text_is_shown_as_text_in_every_view():
    at = set_text(open_page(PAGE), HOSTILE)
    for view in VIEWS:
        at.radio(key="text_view").set_value(view).run()
        assert_clean(at)
        sent = "".join(n.proto.spec for n in at.get("plotly_chart"))
        assert "<script" not in sent and "<img" not in sent and "<b>" not in sent, view
        if view == "heatmap":
            assert "&lt;" in sent
    html = at.get("iframe")[0].proto.srcdoc
    assert html.count("<script") == 2 and "<img" not in html


@pytest.mark.parametrize("text, expect", [
    ("", "empty"),
    ("   \n  ", "empty"),
    ("\u200b\u200d\ufeff", "kept nothing"),
    ("\x00\x07\x1b", "kept nothing"),
    ("I 🍕 love 🎉", "vocabulary"),
    (("lorem ipsum " * 9000)[:100_000], "truncated"),
    ("x" * 100_000, "vocabulary"),  # one 100k-character word: BERT reads it as [UNK]
])
def test_bad_inputs_give_a_sentence_and_the_page_keeps_working(text, expect):
    at = set_text(open_page(PAGE), text)
    assert expect in all_text(at)
    set_text(at, "Back to normal.")
    assert not at.error and plotly_figures(at)


def test_right_to_left_text_traces():
    at = set_text(open_page(PAGE), "שלום עולם مرحبا بالعالم")
    assert not at.error and plotly_figures(at)


def test_a_model_that_does_not_load_falls_back_to_the_bundled_one():
    at = open_page(PAGE)
    at.text_input(key="text_model").set_value("no-such-user/no-such-model").run()
    assert_clean(at)
    assert "Could not load" in at.error[0].value and "all-MiniLM-L6-v2 (bundled) instead" in at.error[0].value
    assert plotly_figures(at)


def test_compare_another_input_of_the_same_or_another_length():
    at = open_page(PAGE)
    at.radio(key="text_view").set_value("compare").run()
    at.radio(key="text_cmp_mode").set_value("another input").run()
    at.text_input(key="text_cmp_text").set_value("The dog sat on the mat because it was tired.").run()
    assert_clean(at)
    fig = plotly_figures(at)[0]
    assert "cat/dog" in fig["layout"]["xaxis"]["ticktext"]
    at.text_input(key="text_cmp_text").set_value("Yesterday the dog sat on the mat.").run()
    assert_clean(at) and not at.error
    a, b, diff = plotly_figures(at)
    assert "A (13 tokens)" in a["layout"]["title"]["text"] and "B (10 tokens)" in b["layout"]["title"]["text"]
    shared = ["[CLS]", "the", "sat", "on", "the", "mat", ".", "[SEP]"]  # in order in both
    assert diff["layout"]["xaxis"]["ticktext"] == shared and "8 tokens both inputs share" in diff["layout"]["title"]["text"]
    at.text_input(key="text_cmp_text").set_value("Zebras!").run()  # [CLS] zebra ##s ! [SEP]: 2 shared
    assert_clean(at) and len(plotly_figures(at)) == 3


def test_aligned_positions_pair_equal_tokens_in_order():
    from viz.attention import aligned_positions

    a = ["[CLS]", "the", "cat", "sat", "on", "the", "mat", "[SEP]"]
    b = ["[CLS]", "yesterday", "the", "dog", "sat", "on", "the", "mat", "[SEP]"]
    ia, ib = aligned_positions(a, b)
    assert [a[i] for i in ia] == [b[j] for j in ib] == ["[CLS]", "the", "sat", "on", "the", "mat", "[SEP]"]
    assert ia == sorted(ia) and ib == sorted(ib)
    assert aligned_positions(["x"], ["y"]) == ([], [])


def test_camera_icon_exports_png_or_svg():
    at = open_page(PAGE)
    fmt = lambda: json.loads(at.get("plotly_chart")[0].proto.config)["toImageButtonOptions"]["format"]  # noqa: E731
    assert fmt() == "png"
    at.selectbox(key="text_export").set_value("svg").run()
    assert fmt() == "svg"


def test_downloads_hold_the_weights_shown():
    at = open_page(PAGE)
    at.selectbox(key="text_layer").set_value(2).run()
    at.selectbox(key="text_head").set_value(0).run()
    trace = viz.ui.cache.text_trace("", "cpu", "float32", at.text_area(key="text_text").value, "")
    csv = pd.read_csv(io.StringIO(text_ui._head_csv(trace, 2, 0)), index_col=0)
    np.testing.assert_allclose(csv.to_numpy(), trace.weights[2, 0], atol=1e-6)
    assert list(csv.columns)[:2] == ["0:[CLS]", "1:the"]
    np.testing.assert_array_equal(np.load(io.BytesIO(text_ui._all_npy(trace))), trace.weights)
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Layer 2, head 0 weights (CSV)" in labels and any("(6, 12," in x for x in labels)


def test_what_moves_shows_weights_beside_what_is_moved_and_names_the_overstated_group():
    from viz.attention import group_shares, norm_shares, token_groups, weighted_norms
    from viz.pretrained import load_text_model, trace_text

    at = open_page(PAGE)
    at.radio(key="text_view").set_value("moves").run()
    at.selectbox(key="text_layer").set_value(2).run()
    at.selectbox(key="text_head").set_value(5).run()
    assert_clean(at) and not at.error
    head, layers = plotly_figures(at)
    titles = [a["text"] for a in head["layout"]["annotations"]]
    assert titles == ["weights: where it looks", "share of ‖w·v·W_O‖: what it moves"]
    from tests.plotly_data import values

    moved = values(head["data"][1]["z"]).astype(float)
    assert np.allclose(moved.sum(axis=1), 1, atol=1e-3)  # shares of each row
    assert "share moved" in head["data"][1]["text"][0][0] and "weight" in head["data"][0]["text"][0][0]  # hover
    assert head["layout"]["coloraxis"]["colorbar"]["title"]["text"] == "weight · share"
    # The per-layer lines against the same numbers computed here, outside the app.
    t = trace_text(load_text_model(), "The cat sat on the mat because it was tired.")
    groups = group_shares(t.weights, norm_shares(weighted_norms(t.weights, t.values, t.w_o)),
                          token_groups(t.key_tokens, t.meta["cls_positions"], t.meta["sep_positions"]))
    lines = {d["name"]: values(d["y"]) for d in layers["data"]}
    np.testing.assert_allclose(lines["[CLS]: weight"], groups["[CLS]"][0], atol=1e-4)
    np.testing.assert_allclose(lines["[CLS]: moved"], groups["[CLS]"][1], atol=1e-4)
    np.testing.assert_allclose(moved, norm_shares(weighted_norms(t.weights, t.values, t.w_o))[2, 5], atol=1e-4)
    w, n = (float(np.mean(groups["[CLS]"][k][1:5])) for k in (0, 1))  # layers 1 to 4 of 6
    assert w > 3 * n  # the finding the README quotes: looked at, little moved
    shown = " ".join(m.value for m in at.markdown).replace("\\", "")
    assert f"In layers 1 to 4, [CLS] gets {w:.0%} of the attention weight but only {n:.0%}" in shown


def test_queries_and_keys_view_projects_this_head_and_draws_the_chosen_query():
    from tests.plotly_data import values
    from viz.attention import qk_projection
    from viz.pretrained import load_text_model, trace_text

    at = open_page(PAGE)
    at.radio(key="text_view").set_value("qk").run()
    at.selectbox(key="text_layer").set_value(3).run()
    at.selectbox(key="text_head").set_value(1).run()
    at.selectbox(key="text_qk_q").set_value(8).run()  # "it"
    assert_clean(at) and not at.error
    (fig,) = plotly_figures(at)
    t = trace_text(load_text_model(), "The cat sat on the mat because it was tired.")
    q2, k2, _ = qk_projection(t.queries[3, 1], t.keys[3, 1])
    points = {d["name"]: d for d in fig["data"] if d.get("name") in ("queries", "keys")}
    np.testing.assert_allclose(values(points["queries"]["x"]), q2[:, 0], atol=1e-4)
    np.testing.assert_allclose(values(points["keys"]["y"]), k2[:, 1], atol=1e-4)
    lines = [d for d in fig["data"] if d.get("mode") == "lines"]
    assert len(lines) == len(t.key_tokens)
    strongest = int(np.argmax(t.weights[3, 1, 8]))
    assert values(lines[0]["x"])[1] == pytest.approx(k2[strongest, 0], abs=1e-4)


def test_a_long_input_reads_any_40_token_window_with_every_label_and_hover_names():
    from tests.plotly_data import values

    words = [f"word{i}" if i % 7 else "cat" for i in range(150)]
    at = open_page(PAGE)
    at.text_area(key="text_text").input(" ".join(words)).run()
    assert_clean(at)
    T = int(next(c.value for c in at.caption if "tokens," in c.value).split(" tokens,")[0].split()[-1])
    assert T > 40
    at.slider(key="text_window_q").set_value(60).run()
    at.slider(key="text_window_k").set_value(0).run()
    window = next(f for f in plotly_figures(at) if "queries 60–99" in f["layout"]["title"]["text"])
    y = window["layout"]["yaxis"]["ticktext"]
    assert len(y) == 40 and y[0].startswith("60: ") and len(window["layout"]["xaxis"]["ticktext"]) == 40
    hover = values(window["data"][0]["text"])
    assert hover[0][0].startswith(y[0] + " → 0: [CLS]<br>weight ")
    # The same session, a short sentence: no window, no sliders.
    at.text_area(key="text_text").input("A short one.").run()
    assert not [s for s in at.slider if s.key in ("text_window_q", "text_window_k")]


def test_what_moves_on_a_long_input_names_every_cell_and_reads_any_40_token_window():
    from tests.plotly_data import values
    from viz.attention import norm_shares, weighted_norms
    from viz.pretrained import load_text_model, trace_text

    text = " ".join(f"word{i}" if i % 7 else "cat" for i in range(60))
    at = open_page(PAGE)
    at.text_area(key="text_text").input(text).run()
    at.radio(key="text_view").set_value("moves").run()
    at.selectbox(key="text_layer").set_value(3).run()
    at.selectbox(key="text_head").set_value(0).run()
    at.slider(key="text_moves_q").set_value(50).run()
    at.slider(key="text_moves_k").set_value(7).run()
    assert_clean(at) and not at.error
    whole, window, _ = plotly_figures(at)
    T = len(values(whole["data"][0]["x"]))
    assert T > 64 and whole["data"][0]["x"][0] == "0: [CLS]"  # > 64 x 64: named category axes
    assert "%{x}" in whole["data"][1]["hovertemplate"] and "share moved %{z:.3f}" in whole["data"][1]["hovertemplate"]
    assert "queries 50–89, keys 7–46" in window["layout"]["title"]["text"]
    hover = values(window["data"][1]["text"])
    assert hover.shape == (40, 40) and hover[0][0].startswith("query 50: ") and "key 7: " in hover[0][0]
    t = trace_text(load_text_model(), text)
    shares = norm_shares(weighted_norms(t.weights, t.values, t.w_o))[3, 0]  # head 0, computed here
    np.testing.assert_allclose(values(window["data"][1]["z"]).astype(float), shares[50:90, 7:47], atol=1e-4)
    np.testing.assert_allclose(values(whole["data"][1]["z"]).astype(float), shares, atol=1e-4)


def test_the_page_opens_on_a_telling_head_and_says_what_to_notice():
    """Not layer 0, head 0: the head where the words look furthest afield (viz.context.telling_head),
    with a line computed from it; every view says in one line what it shows."""
    from viz.context import telling_head
    from viz.ui.text_ui import VIEW_HELP

    at = open_page(PAGE)
    trace = viz.ui.cache.text_trace("", "cpu", "float32", at.text_area(key="text_text").value, "")
    chosen = telling_head(trace)
    assert chosen != (0, 0)
    assert (at.selectbox(key="text_layer").value, at.selectbox(key="text_head").value) == chosen
    notice = " ".join(m.value for m in at.markdown if "What to notice" in m.value)
    assert f"Layer {chosen[0]}, head {chosen[1]}:" in notice and "→" in notice
    assert VIEW_HELP["heatmap"] in [c.value for c in at.caption]
    at.selectbox(key="text_head").set_value(3).run()
    assert "head 3:" in " ".join(m.value for m in at.markdown if "What to notice" in m.value)
    assert set(VIEW_HELP) == set(text_ui.VIEWS)
