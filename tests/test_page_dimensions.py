import pytest

from tests.apptest_helpers import assert_clean, open_page, plotly_figures
from viz import dimensions as dims

PAGE = "app_pages/dimensions.py"


@pytest.fixture(scope="module")
def at():
    return open_page(PAGE)


def diagram_text(at) -> str:
    fig = next(f for f in plotly_figures(at) if f["layout"]["title"]["text"].startswith("n = "))
    return " ".join(a["text"] for a in fig["layout"]["annotations"])


def test_tracer_diagram_follows_the_widgets(at):
    assert "n × d_k = 6 × 64" in diagram_text(at)  # six words in the default sentence
    at.text_input(key="dims_sentence").set_value("one two three").run()
    at.number_input(key="dims_d_model").set_value(768).run()
    at.number_input(key="dims_h").set_value(12).run()
    assert_clean(at)
    text = diagram_text(at)
    assert "n × d_k = 3 × 64" in text and "W_O: 768 × 768" in text and "n × n = 3 × 3" in text
    assert any("2,359,296 weights" in m.value for m in at.markdown)  # 4 · 768²
    at.number_input(key="dims_batch").set_value(4).run()
    assert "B × n × d_k = 4 × 3 × 64" in diagram_text(at)
    at.toggle(key="dims_override").set_value(True).run()
    at.number_input(key="dims_d_k").set_value(32).run()
    assert "4 × 3 × 32" in diagram_text(at)
    assert any("(out, in)" in i.value for i in at.info)


@pytest.mark.parametrize("field, value, words", [
    ("dims_d_model", 0, "d_model = 0"),
    ("dims_h", 1000, "more than d_model"),
    ("dims_h", 7, "not divisible by h = 7"),
    ("dims_h", 0, "at least one head"),
])
def test_bad_sizes_get_a_sentence_and_the_page_recovers(at, field, value, words):
    at.toggle(key="dims_override").set_value(False).run()
    at.number_input(key="dims_d_model").set_value(512).run()
    at.number_input(key=field).set_value(value).run()
    assert_clean(at)
    assert any(words in e.value for e in at.error)
    assert not any(f["layout"]["title"]["text"].startswith("n = ") for f in plotly_figures(at))
    at.number_input(key="dims_d_model").set_value(512).run()
    at.number_input(key="dims_h").set_value(8).run()
    assert not at.error and diagram_text(at)


def test_empty_sentence_asks_for_n(at):
    at.text_input(key="dims_sentence").set_value("").run()
    assert any("n = 0" in e.value for e in at.error)
    at.number_input(key="dims_n").set_value(5).run()
    assert not at.error and "5 × 64" in diagram_text(at)
    at.text_input(key="dims_sentence").set_value("the fish swam near the bank").run()


def test_real_tensors_of_the_scratch_model(at):
    at.text_input(key="dims_text").set_value("shape").run()
    at.selectbox(key="dims_head").set_value(3).run()
    assert_clean(at)
    fig = next(f for f in plotly_figures(at) if f["layout"]["title"]["text"].startswith("First encoder"))
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert titles[:2] == ["X (5 × 64)", "Q_3 (5 × 16)"]
    assert fig["layout"]["yaxis"]["ticktext"] == list("shape")
    caption = next(c.value for c in at.caption if "w_q.weight" in c.value)
    assert "(64, 64)" in caption and "rows 48..63" in caption
    at.text_input(key="dims_text").set_value("<b>x</b>").run()
    assert any("no token for" in e.value for e in at.error)
    assert_clean(at)


def test_worksheet_scores_typed_answers(at):
    at.number_input(key="dims_seed").set_value(3).run()
    sheet = dims.worksheet(3)
    for q in sheet[:5]:  # five right, with different separators
        ans = q.answer_text.replace(" × ", "x") if q.number % 2 else q.answer_text
        at.text_input(key=f"dims_answer_3_{q.number}").set_value(ans)
    at.text_input(key="dims_answer_3_6").set_value("1 x 1 x 1")  # wrong
    at.text_input(key="dims_answer_3_7").set_value("no idea")  # unreadable: a warning, not a crash
    at.button(key="dims_check").click().run()
    assert_clean(at)
    assert any("Score: 5 / 8" in m.value for m in at.markdown)
    assert any("not a shape" in w.value or "not a whole number" in w.value for w in at.warning)
    assert any("sheet 3: 5/8" in c.value for c in at.caption)
    at.toggle(key="dims_reveal").set_value(True).run()
    assert at.table[0].value["answer"].tolist() == [q.answer_text for q in sheet]
