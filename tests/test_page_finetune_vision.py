"""The fine-tuning page's Vision Transformer half, headless (AppTest): a 0-step control run of the bundled
DINOv2-small through the queue changes no attention, and its result shows every figure."""

import json

import pytest

from tests.apptest_helpers import assert_clean, open_page, plotly_figures, rerun_until

PAGE = "app_pages/finetune.py"
pytestmark = pytest.mark.slow


def test_a_zero_step_vit_run_shows_where_cls_looks_before_and_after(monkeypatch):
    monkeypatch.setenv("ATTENTION_LENS_TRAIN_NICE", "0")
    at = open_page(PAGE)
    at.radio(key="ft_model").set_value("vit").run()
    assert_clean(at)
    assert len(at.get("imgs")) or any("circle" in c.value for c in at.caption)
    at.number_input(key="ftv_steps").set_value(0).run()
    at.button(key="ftv_go").click().run()
    assert_clean(at)
    rerun_until(at, lambda at: any("Verdict" in m.value for m in at.markdown), timeout=400)
    assert any("Done: 0 steps" in s.value and "the last 4 of 12 blocks" in s.value for s in at.success)
    notice = next(m.value for m in at.markdown if "What to notice" in m.value)
    assert "In no layer did it move" in notice  # 0 steps: nothing moved
    keys = {n.key for n in at.get("plotly_chart")}
    assert {"ftv_object", "ftv_before", "ftv_after"} <= keys
    titles = [f["layout"].get("title", {}).get("text", "") for f in plotly_figures(at)]
    assert any(t.startswith("before: CLS") for t in titles) and any(t.startswith("after: CLS") for t in titles)
    tables = " ".join(m.value for m in at.markdown)
    assert "| true \\ predicted | circle | square | triangle | cross |" in tables
    at.slider(key="ftv_pic").set_value(3).run()
    assert_clean(at)
    assert "Rollout (every layer together)" in notice
    at.radio(key="ftv_map").set_value("rollout").run()  # rollout before and after, on the same picture
    assert_clean(at)
    titles = [f["layout"].get("title", {}).get("text", "") for f in plotly_figures(at)]
    assert {"before: rollout of CLS over every layer", "after: rollout of CLS over every layer"} <= {
        t.split("<")[0] for t in titles}, titles
    assert not any(s.key == "ftv_layer" for s in at.selectbox)  # rollout has no layer to choose
    figs = {n.key: n for n in at.get("plotly_chart")}
    data = {k: json.loads(figs[k].proto.spec)["data"] for k in ("ftv_before", "ftv_after")}
    assert data["ftv_before"] == data["ftv_after"]  # 0 steps: the same map
    # a zip that is not one: a sentence, and the page goes on
    at.radio(key="ftv_source").set_value("zip").run()
    assert any("Choose a zip" in i.value for i in at.info)
