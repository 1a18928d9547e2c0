"""The fine-tuning page, headless (AppTest): a control run of 0 steps through the queue, its result
read back at once the second time, attention before and after on the student's sentence."""


import pytest

from tests.apptest_helpers import assert_clean, open_page, plotly_figures, rerun_until
from tests.plotly_data import values

PAGE = "app_pages/finetune.py"
pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def fast_training(monkeypatch):
    monkeypatch.setenv("ATTENTION_LENS_TRAIN_NICE", "0")  # a busy test machine would starve nice 19




def titles(at):
    return [f["layout"].get("title", {}).get("text", "") for f in plotly_figures(at)]


def test_a_zero_step_control_run_changes_no_attention_and_is_read_back_at_once():
    at = open_page(PAGE)
    assert at.button(key="ft_go") and not at.error
    at.radio(key="ft_task").set_value("sentiment").run()
    at.number_input(key="ft_steps").set_value(0).run()
    at.button(key="ft_go").click().run()
    assert_clean(at)
    rerun_until(at, lambda at: any("Verdict" in m.value for m in at.markdown))
    assert any("Done: 0 steps" in s.value for s in at.success), [s.value for s in at.success]
    notice = next(m.value for m in at.markdown if "What to notice" in m.value)
    assert "No head's attention changed" in notice
    grid = next(f for f in plotly_figures(at) if "How much each head changed" in f["layout"]["title"]["text"])
    z = values(grid["data"][0]["z"])
    assert z.shape == (6, 12) and z.max() == 0  # MiniLM's 6 layers x 12 heads, none changed
    assert any(t.startswith("before: layer") for t in titles(at)) and any(t.startswith("after: layer") for t in titles(at))
    tables = " ".join(m.value for m in at.markdown)
    assert "| held-out sentences | accuracy |" in tables and "| true label | predicted negative |" in tables

    # the student's own sentence: a verdict, and the same figures for it
    at.text_input(key="ft_text").set_value("The show was not boring at all.").run()
    assert_clean(at)
    assert any("Verdict:" in m.value and ("positive" in m.value or "negative" in m.value) for m in at.markdown)
    at.text_input(key="ft_text").set_value("   ").run()
    assert any("Type a sentence" in i.value for i in at.info)

    # another run, then the first settings again: the saved run comes back at once, with no queueing
    at.radio(key="ft_task").set_value("agreement").run()
    at.number_input(key="ft_steps").set_value(0).run()
    at.button(key="ft_go").click().run()
    rerun_until(at, lambda at: any("Done: 0 steps" in s.value for s in at.success))
    at.radio(key="ft_task").set_value("sentiment").run()
    at.number_input(key="ft_steps").set_value(0).run()
    assert any("saved on this server before" in s.value for s in at.success), [s.value for s in at.success]
    assert any("Verdict" in m.value for m in at.markdown)


def test_a_file_source_without_a_file_asks_for_one_and_the_page_keeps_working():
    at = open_page(PAGE)
    at.radio(key="ft_task").set_value("file").run()
    assert any("Choose a file" in i.value for i in at.info)
    at.radio(key="ft_task").set_value("agreement").run()
    assert at.button(key="ft_go") and not at.error


def test_a_hostile_link_opens_on_the_defaults():
    from streamlit.testing.v1 import AppTest

    from tests.apptest_helpers import APP, TIMEOUT

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update({"task": "rm -rf /", "steps": "1e9", "lr": "nan", "seed": "-5", "layer": "99",
                            "head": "-1", "text": "</script><script>alert(1)</script>"})
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert_clean(at)
    assert not at.error
    assert (at.radio(key="ft_task").value, at.number_input(key="ft_steps").value, at.number_input(key="ft_seed").value) \
        == ("agreement", 600, 0)
    at2 = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at2.query_params.update({"task": "sentiment", "steps": "120", "lr": "5e-05", "seed": "7"})
    at2.run()
    at2.switch_page(PAGE)
    at2.run()
    assert (at2.radio(key="ft_task").value, at2.number_input(key="ft_steps").value,
            at2.select_slider(key="ft_lr").value, at2.number_input(key="ft_seed").value) == ("sentiment", 120, 5e-5, 7)


def test_the_text_pages_compare_shows_the_same_head_of_a_model_and_its_fine_tuned_copy():
    import torch

    from viz.finetune.data import TASKS
    from viz.finetune.train import FinetuneConfig, Finetuned, load_classifier, save
    from viz.pretrained.names import finetuned_dir

    model, tok, name = load_classifier(None, TASKS["sentiment"][1])
    with torch.no_grad():  # a stand-in for fine-tuning: layer 3's queries scaled, so its heads change
        model.base_model.encoder.layer[3].attention.self.query.weight.mul_(3.0)
    save(Finetuned(model, tok, TASKS["sentiment"][1], FinetuneConfig(), name), finetuned_dir() / "compare-test")

    at = open_page("app_pages/text.py")
    at.radio(key="text_view").set_value("compare").run()
    at.radio(key="text_cmp_mode").set_value("another model").run()
    assert "newest fine-tuned here" in at.text_input(key="text_cmp_model").label
    at.text_input(key="text_cmp_model").set_value("compare-test").run()
    assert_clean(at)
    diffs = {}
    for layer in (2, 3):
        at.selectbox(key="text_layer").set_value(layer).run()
        figs = {f["layout"]["title"]["text"]: f for f in plotly_figures(at)}
        assert any(t.startswith("B: compare-test") for t in figs), list(figs)
        diff = next(f for t, f in figs.items() if "model A minus model B" in t)
        diffs[layer] = abs(values(diff["data"][0]["z"])).max()
    assert diffs[2] < 1e-4 and diffs[3] > 0.01, diffs  # only the changed layer differs (beyond rounding)
    at.text_input(key="text_cmp_model").set_value("").run()  # the page's own model: a sentence, no figure
    assert any("is the page's model" in i.value for i in at.info)
    at.text_input(key="text_cmp_model").set_value("../../etc").run()
    assert at.error and "outside the folders" in at.error[0].value
