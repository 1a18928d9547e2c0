import numpy as np
import pytest

from tests.apptest_helpers import assert_clean, open_page, plotly_figures
from tests.plotly_data import values

PAGE = "app_pages/softmax.py"


def titles(at):
    return [f["layout"].get("title", {}).get("text", "") for f in plotly_figures(at)]


def figure(at, title_start):
    return next(f for f in plotly_figures(at) if f["layout"].get("title", {}).get("text", "").startswith(title_start))


@pytest.fixture(scope="module")
def at():
    return open_page(PAGE)


def test_page_draws_every_section(at):
    t = titles(at)
    assert any(x.startswith("softmax at T = 1") for x in t)
    assert any(x.startswith("Saturation") for x in t)
    assert any("mask" in x for x in t)
    assert any(x.startswith("encoder self-attention, layer 0") for x in t)
    assert len(at.dataframe) == 1


def test_typed_logits_and_temperature_drive_the_bars(at):
    at.text_input(key="softmax_logits").set_value("3, 0, 0").run()
    assert_clean(at)
    bars = figure(at, "softmax at T")["data"][0]["y"]
    expected = np.exp([3, 0, 0]) / np.exp([3, 0, 0]).sum()
    np.testing.assert_allclose(bars, expected, rtol=1e-6)
    at.select_slider(key="softmax_temperature").set_value(0.0501).run()
    assert figure(at, "softmax at T")["data"][0]["y"][0] > 0.999
    at.select_slider(key="softmax_temperature").set_value(10.0).run()
    hot = figure(at, "softmax at T")["data"][0]["y"]
    assert max(hot) - min(hot) < 0.15
    assert any("Entropy" in m.value for m in at.markdown)


@pytest.mark.parametrize("bad, words", [
    ("", "at least one number"), ("1, x", "'x' is not a number"), ("nan", "NaN"),
    ("inf", "infinite"), ("1e309", "too large"), ("1, 2, -inf", "infinite"),
])
def test_bad_logits_get_a_sentence_and_the_page_keeps_working(at, bad, words):
    at.text_input(key="softmax_logits").set_value(bad).run()
    assert_clean(at)
    assert any(words in e.value for e in at.error)
    assert not any(t.startswith("softmax at T") for t in titles(at))
    assert any(t.startswith("Saturation") for t in titles(at))  # the rest of the page still runs
    at.text_input(key="softmax_logits").set_value("1, 2").run()
    assert not at.error


def test_dk_slider_changes_the_histograms(at):
    at.select_slider(key="softmax_dk").set_value(1024).run()
    assert_clean(at)
    metric = next(m for m in at.metric if m.label == "variance of q·k")
    assert 900 < float(metric.value) < 1150
    scaled = next(m for m in at.metric if m.label == "variance of q·k / √d_k")
    assert 0.85 < float(scaled.value) < 1.15


def test_masking_controls_and_fully_masked_row(at):
    at.radio(key="softmax_mask_kind").set_value("causal + padding").run()
    at.radio(key="softmax_pad_side").set_value("left").run()
    at.slider(key="softmax_pad").set_value(2).run()
    assert_clean(at)
    assert any("every key" in i.value and "NaN" in i.value for i in at.info)
    fig = next(f for f in plotly_figures(at) if "mask" in f["layout"]["title"]["text"])
    assert "&lt;pad&gt;" in fig["layout"]["yaxis"]["ticktext"]  # escaped, not read as HTML
    at.radio(key="softmax_pad_side").set_value("right").run()
    assert not at.info


def test_overflow_table_and_its_bad_input(at):
    at.text_input(key="softmax_big").set_value("10, 12, 90").run()
    df = at.dataframe[0].value
    assert list(df["naive softmax, float16"]) == ["0", "nan", "nan"]
    assert list(df["max-subtracted, float16"]) == ["0", "0", "1"]
    at.text_input(key="softmax_big").set_value("1e309").run()
    assert any("too large" in e.value for e in at.error)
    at.text_input(key="softmax_big").set_value("70000, 1").run()
    assert any("does not fit in float16" in w.value for w in at.warning)


def test_real_model_row_matches_the_model_at_t1_and_bad_word(at):
    at.select_slider(key="softmax_temperature").set_value(1.0).run()
    at.text_input(key="softmax_text").set_value("hello").run()
    at.radio(key="softmax_view").set_value("cross-attention").run()
    at.selectbox(key="softmax_layer").set_value(1).run()
    at.selectbox(key="softmax_head").set_value(2).run()
    assert_clean(at)
    fig = figure(at, "encoder-decoder cross-attention, layer 1, head 2")
    bars, dots = values(fig["data"][1]["y"]), values(fig["data"][2]["y"])
    np.testing.assert_allclose(bars, dots, atol=1e-5)  # T = 1: the model's own weights
    assert fig["layout"]["xaxis"]["ticktext"] == list("hello")
    at.text_input(key="softmax_text").set_value("Hello World!").run()
    assert any("no token for" in e.value for e in at.error)
    assert_clean(at)
