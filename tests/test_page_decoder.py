"""The Decoder (GPT) page, headless (AppTest): the induction head found and opened, repeat and step,
the control, a GPT-2 folder, the hostile catalogue in its text boxes, and training live."""

import numpy as np
import pytest

from tests.apptest_helpers import assert_clean, open_page, plotly_figures, rerun_until
from tests.browser.catalogue import HOSTILE
from tests.plotly_data import values

PAGE = "app_pages/decoder.py"


def titles(at):
    return [f["layout"].get("title", {}).get("text", "") for f in plotly_figures(at)]


def open_tab(at, label: str):
    at.session_state["dec_tab"] = label  # what clicking the tab sends
    at.run()
    assert_clean(at)
    return at


@pytest.fixture(scope="module")
def page():
    return open_page(PAGE)


def test_opens_on_the_induction_head_found_from_the_data(page):
    at = page
    assert (at.selectbox(key="dec_layer").value, at.selectbox(key="dec_head").value) == (1, 1)
    found = next(m.value for m in at.markdown if "Found from the data" in m.value)
    assert "Head 1.1 is an induction head" in found
    assert any("K-composition" in m.value and "previous-token score" in m.value for m in at.markdown)
    heat = next(f for f in plotly_figures(at) if "layer 1, head 1" in f["layout"]["title"]["text"])
    w = values(heat["data"][0]["z"])
    assert np.all(np.isnan(w[np.triu_indices(len(w), 1)]))  # masked cells are drawn masked, not as zeros
    own = next(m.value for m in at.markdown if "On your text" in m.value)
    assert "have occurred before" in own and "%" in own
    assert {"dec_heatmap", "dec_detectors", "dec_circuit"} <= {n.key for n in at.get("plotly_chart")}


def test_repeat_it_writes_a_random_sequence_and_its_copy(page):
    at = page
    at.button(key="dec_repeat").click().run()
    assert_clean(at)
    text = at.text_input(key="dec_text").value
    assert len(text) == 40 and text[:20] == text[20:]
    assert at.query_params["text"] == [text] or at.query_params["text"] == text


def test_step_at_temperature_zero_appends_the_most_likely_token(page):
    at = open_tab(page, "The next token")
    at.text_input(key="dec_text").set_value("abcdefgh abcdefgh ab").run()
    at.slider(key="dec_temp").set_value(0.0).run()
    fig = next(f for f in plotly_figures(at) if "the next token" in f["layout"]["title"]["text"])
    assert len(values(fig["data"][0]["y"])) == 64  # the whole vocabulary
    at.button(key="dec_step").click().run()
    assert_clean(at)
    assert at.text_input(key="dec_text").value == "abcdefgh abcdefgh abc"  # induction: after "ab" came "c"
    assert any("Sampled “c” (probability 100.0%)" in s.value for s in at.success)
    at.number_input(key="dec_topk").set_value(3).run()
    at.slider(key="dec_temp").set_value(1.0).run()
    fig = next(f for f in plotly_figures(at) if "the next token" in f["layout"]["title"]["text"])
    assert "3 of 64 kept" in fig["layout"]["title"]["text"]
    open_tab(at, "Attention and heads")


def test_the_one_layer_control_has_no_induction_head(page):
    at = page
    at.radio(key="dec_model").set_value("induction_1layer").run()
    assert_clean(at)
    assert any("No head here is an induction head" in m.value for m in at.markdown)
    assert any("first layer, so no earlier head" in m.value for m in at.markdown)
    at.radio(key="dec_model").set_value("").run()


def test_a_hub_id_offline_gets_a_sentence_and_a_gpt2_folder_loads(page, tmp_path):
    from tests.test_decoder import save_tiny_gpt2

    at = page
    at.radio(key="dec_model").set_value("hub").run()
    assert any("Type a Hub id" in i.value for i in at.info)
    at.text_input(key="dec_hub").set_value("distilgpt2").run()
    assert_clean(at)
    assert any("Hub may be unreachable" in e.value for e in at.error)
    folder = save_tiny_gpt2(tmp_path / "tiny")
    at.text_input(key="dec_hub").set_value(str(folder)).run()
    at.text_input(key="dec_text").set_value("the cat sat on the mat the cat sat").run()
    assert_clean(at)
    assert not at.error
    assert any("Every head's scores" in t for t in titles(at))
    at.radio(key="dec_model").set_value("").run()


@pytest.mark.parametrize("key", ["dec_text", "dec_hub"])
def test_the_hostile_catalogue_gets_an_answer_and_the_session_goes_on(page, key):
    at = page
    at.radio(key="dec_model").set_value("hub" if key == "dec_hub" else "").run()
    for name, value in HOSTILE:
        at.text_input(key=key).set_value(value).run()
        assert_clean(at)
        answered = at.error or at.info or any(n.key == "dec_heatmap" for n in at.get("plotly_chart"))
        assert answered, name
        assert "<script>" not in " ".join(m.value for m in at.markdown)
    at.radio(key="dec_model").set_value("").run()
    at.text_input(key="dec_text").set_value("abc abc").run()
    assert_clean(at)
    assert any(n.key == "dec_heatmap" for n in at.get("plotly_chart"))


@pytest.mark.slow
def test_training_live_shows_the_phase_change_curves_and_cancels(monkeypatch):
    monkeypatch.setenv("ATTENTION_LENS_TRAIN_NICE", "0")
    at = open_tab(open_page(PAGE), "Train live")
    at.slider(key="dec_train_steps").set_value(100).run()
    at.checkbox(key="dec_train_control").check().run()
    at.button(key="dec_train_go").click().run()
    assert_clean(at)
    rerun_until(at, lambda at: any("Done: 100 steps" in s.value for s in at.success), timeout=240)
    assert any("The 1-layer control" in s.value for s in at.success)
    curves = next(f for f in plotly_figures(at) if "phase change" in f["layout"]["title"]["text"])
    names = {d.get("name") for d in curves["data"]}
    assert {"1.1", "0.3", "1-layer control"} <= names  # every head's prefix score, and the control's loss
    assert any("Head" in t and "as it trains" in t for t in titles(at))
    at.slider(key="dec_train_steps").set_value(3000).run()
    at.button(key="dec_train_go").click().run()
    rerun_until(at, lambda at: at.get("progress") and "of 3000" in at.get("progress")[0].proto.text)
    at.button(key="dec_train_cancel").click().run()
    rerun_until(at, lambda at: any("Cancelled after" in i.value for i in at.info), timeout=60)
