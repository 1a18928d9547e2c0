
import pytest

from tests.apptest_helpers import assert_clean, open_page, plotly_figures, rerun_until

PAGE = "app_pages/scratch.py"


def test_scratch_page_shows_attention_for_typed_input():
    at = open_page(PAGE)
    at.text_input(key="scratch_text_reverse").set_value("transformer").run()
    assert_clean(at)
    assert any("remrofsnart" in m.value for m in at.markdown)
    figs = plotly_figures(at)
    assert len(figs) >= 2  # one head + all heads of the layer
    ticks = figs[0]["layout"]["xaxis"]["ticktext"]
    assert "".join(ticks) == "transformer"  # keys = the typed letters, in order
    assert figs[0]["layout"]["yaxis"]["autorange"] == "reversed"  # queries top to bottom


def test_every_view_layer_and_task():
    at = open_page(PAGE)
    for view in at.radio(key="scratch_view").options:
        at.radio(key="scratch_view").set_value(view).run()
        at.selectbox(key="scratch_layer").set_value(1).run()
        at.selectbox(key="scratch_head").set_value(3).run()
        assert_clean(at)
        assert len(plotly_figures(at)) >= 2
    at.selectbox(key="scratch_task").set_value("num2words").run()
    at.text_input(key="scratch_text_num2words").set_value("412").run()
    assert_clean(at)
    assert any("four hundred twelve" in m.value for m in at.markdown)


def test_decoder_self_attention_marks_masked_cells():
    at = open_page(PAGE)
    at.radio(key="scratch_view").set_value("Decoder masked self-attention").run()
    fig = plotly_figures(at)[0]
    assert len(fig["data"]) == 2  # the weights, and a grey layer over the masked cells
    assert "masked" in str(fig["data"][0]["text"])


def test_bad_inputs_give_messages_and_the_page_keeps_working():
    at = open_page(PAGE)
    box = "scratch_text_reverse"
    at.text_input(key=box).set_value("").run()
    assert "Type something" in at.error[0].value
    at.text_input(key=box).set_value("héllo <script>").run()
    assert "no token for" in at.error[0].value and "'é'" in at.error[0].value
    at.text_input(key=box).set_value("abcdefghijklmnopqrstuvwxyz").run()
    assert any("truncated" in w.value for w in at.warning)
    at.text_input(key=box).set_value("ok").run()
    assert_clean(at)
    assert not at.error and plotly_figures(at)




def titles(at):
    return [f["layout"].get("title", {}).get("text", "") for f in plotly_figures(at)]


@pytest.fixture
def fast_training(monkeypatch):
    monkeypatch.setenv("ATTENTION_LENS_TRAIN_NICE", "0")  # a busy test machine would starve nice 19


def test_live_training_tab_trains_in_the_queue_and_shows_snapshots(fast_training):
    at = open_page(PAGE)
    at.slider(key="train_steps").set_value(100).run()
    at.button(key="train_go").click().run()
    assert_clean(at)
    assert any("Your training" in m.value for m in at.markdown)  # queued at once, the page is free
    rerun_until(at, lambda at: any("Held-out exact match" in m.value for m in at.markdown))
    assert any("Done: 100 steps" in s.value for s in at.success)
    snap = next(f for f in plotly_figures(at) if "forming" in f["layout"]["title"]["text"])
    assert len(snap["data"]) == 6  # six snapshots
    assert any("training loss" in t for t in titles(at))


def test_live_training_shows_progress_and_cancels(fast_training):
    at = open_page(PAGE)
    at.slider(key="train_steps").set_value(3000).run()
    at.button(key="train_go").click().run()
    rerun_until(at, lambda at: any("training loss" in t for t in titles(at)))  # the curve so far
    progress = at.get("progress")[0].proto
    assert "step" in progress.text and "of 3000" in progress.text
    at.switch_page("app_pages/home.py").run()  # another page, then back: the job is found again
    at.switch_page(PAGE).run()
    assert any("Your training" in m.value and "3000 steps" in m.value for m in at.markdown)
    at.button(key="train_go").click().run()  # a second start is refused with a sentence
    assert any("already have a training" in w.value for w in at.warning)
    at.button(key="train_cancel").click().run()
    rerun_until(at, lambda at: any("Cancelled after" in i.value for i in at.info), timeout=60)


def test_what_moves_under_the_scratch_heatmaps():
    import json

    import numpy as np

    from tests.plotly_data import values
    from viz.attention import norm_shares, weighted_norms
    from viz.scratch.run import run
    from viz.scratch.tasks import TASKS
    from viz.scratch.train import checkpoint_path, load_checkpoint

    at = open_page("app_pages/scratch.py")
    assert_clean(at)
    assert not [n for n in at.get("plotly_chart") if n.key == "scratch_moves"]  # closed: not built
    at.session_state["scratch_moves_open"] = True  # what a click on the expander sends
    at.run()
    fig = next(json.loads(n.proto.spec) for n in at.get("plotly_chart") if n.key == "scratch_moves")
    layer, head = at.selectbox(key="scratch_layer").value, at.selectbox(key="scratch_head").value
    model, _ = load_checkpoint(checkpoint_path("reverse"))
    r = run(model, TASKS["reverse"], TASKS["reverse"].example)
    want = norm_shares(weighted_norms(r.cross.weights, r.cross.values, r.cross.w_o))[layer, head]
    np.testing.assert_allclose(values(fig["data"][1]["z"]).astype(float), want, atol=1e-4)
