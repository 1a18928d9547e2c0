"""The Lesson page through AppTest: every step draws, the URL carries the step and its inputs,
presenter mode, answers checked on the page, hostile links; the text page's context view."""

import json
import re
import time

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import APP, TIMEOUT, assert_clean, open_page, plotly_figures
from viz.lesson import STEPS
from viz.ui.lesson_ui import PRESENTER_FIG_HEIGHT

PAGE = "app_pages/lesson.py"

# the lesson's last step needs the lesson's fine-tune on this server
pytestmark = pytest.mark.usefixtures("lesson_finetuned")


def open_with(params: dict) -> AppTest:
    """Open the lesson with these query parameters, as a link would."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page(PAGE)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert_clean(at)
    return at


def plain(text: str) -> str:
    """Page text without the markdown escapes the page adds to user-derived text."""
    return re.sub(r"\\(.)", r"\1", str(text))


def texts(at: AppTest) -> str:
    return " ".join(plain(e.value) for kind in ("error", "warning", "info", "success", "markdown", "caption")
                    for e in getattr(at, kind))


def test_every_step_draws_and_lands_in_the_url():
    at = open_page(PAGE)
    for i, step in enumerate(STEPS):
        if i:
            at.button(key="lesson_next").click().run()
        assert_clean(at)
        assert not at.error, (step.slug, [e.value for e in at.error])
        assert len(plotly_figures(at)) == 1, step.slug
        assert at.query_params["step"] == str(i + 1)
        assert {f.name for f in step.fields} <= set(at.query_params)
        assert "What to notice" not in texts(at), f"{step.slug}: the notice shows before the answer"
        at.toggle(key=f"lesson_{step.slug}_reveal").set_value(True).run()
        assert "What to notice" in texts(at)
    assert at.button(key="lesson_next").disabled
    at.button(key="lesson_prev").click().run()
    assert at.session_state["lesson_step"] == len(STEPS) - 2


def test_a_link_opens_the_step_with_its_inputs_in_presenter_mode():
    at = open_with({"step": "4", "present": "1", "a": "He fished from the bank of the lake.",
                    "b": "The bank raised its rates.", "word": "bank"})
    assert at.session_state["lesson_step"] == 3 and at.selectbox(key="lesson_pick_3").value == 3
    assert at.toggle(key="lesson_present").value
    assert at.text_input(key="lesson_context-vectors_a").value == "He fished from the bank of the lake."
    assert any("display: none" in h.proto.body for h in at.get("html"))  # the sidebar and header are hidden
    fig = plotly_figures(at)[0]
    assert fig["layout"]["height"] == PRESENTER_FIG_HEIGHT and fig["layout"]["font"]["size"] == 16
    assert all(a["tickfont"]["size"] >= 16 for k, a in fig["layout"].items() if k.startswith(("xaxis", "yaxis")))
    assert "lake" in json.dumps(fig)
    at.toggle(key="lesson_present").set_value(False).run()
    assert "present" not in at.query_params and not any("display: none" in h.proto.body for h in at.get("html"))


def test_answers_are_checked_on_the_page():
    at = open_with({"step": "5"})  # Q/K/V dimensions: the shape of W_Q
    at.text_input(key="lesson_qkv-dimensions_answer").set_value("64 x 512")
    at.button(key="lesson_qkv-dimensions_check").click().run()
    assert at.error and "nn.Linear" in plain(at.error[0].value)
    at.text_input(key="lesson_qkv-dimensions_answer").set_value("(512, 64)")
    at.button(key="lesson_qkv-dimensions_check").click().run()
    assert at.success and "512 × 64" in plain(at.success[0].value)
    # a changed input changes the answer: the old result is not shown for the new question
    at.selectbox(key="lesson_qkv-dimensions_heads").set_value("16").run()
    assert not at.success
    at.toggle(key="lesson_qkv-dimensions_reveal").set_value(True).run()
    assert "512 × 32" in texts(at)


def test_a_changed_input_changes_the_notice():
    at = open_page(PAGE)
    at.toggle(key="lesson_attention_reveal").set_value(True).run()
    before = texts(at)
    at.text_input(key="lesson_attention_text").set_value("The dog chased the ball because it was bored.").run()
    assert_clean(at)
    after = texts(at)
    assert before != after and "What to notice" in after
    assert at.query_params["text"] == "The dog chased the ball because it was bored."


def test_hostile_links_get_a_sentence():
    for params, expected in (({"step": "999"}, "There is no step"), ({"step": "abc"}, "There is no step"),
                             ({"step": "2", "temperature": "1e309"}, "not one of the choices"),
                             ({"step": "1", "text": "<script>alert(1)</script>", "word": "it"}, "is not in")):
        at = open_with(params)
        assert expected in texts(at), (params, texts(at))
    at = open_with({"step": "1", "text": "<script>alert(1)</script> it rains", "word": "it"})
    at.toggle(key="lesson_attention_reveal").set_value(True).run()
    assert not at.error and "What to notice" in texts(at)


def test_text_page_context_view():
    at = open_page("app_pages/text.py")
    at.radio(key="text_view").set_value("context").run()
    assert_clean(at)
    assert not at.error and len(plotly_figures(at)) == 1
    assert "least alike after layer" in texts(at)
    at.text_input(key="text_ctx_word").set_value("bank").run()
    assert at.error and "'bank' is not in sentence A" in plain(at.error[0].value)


def test_presenter_mode_on_and_off_keeps_the_step():
    """The picker moves into the Teacher drawer and back; the step is no widget's state, which a
    run that does not draw the widget would drop (it went back to step 1)."""
    at = open_with({"step": "4"})
    for present in (True, False):
        at.toggle(key="lesson_present").set_value(present).run()
        assert at.session_state["lesson_step"] == 3 and at.query_params["step"] == "4"
    at.selectbox(key="lesson_pick_3").set_value(6).run()
    assert at.query_params["step"] == "7"


def test_the_fine_tuning_step_waits_for_a_click_then_trains_in_the_queue(tmp_path, monkeypatch):
    """On a server that has not fine-tuned the lesson's model, the last step says so, and trains
    nothing until asked; its button queues the run (a child process, as a class start does), the
    step shows its progress, then the figure and the question."""
    from viz.finetune.job import lesson_request
    from viz.pretrained.names import FINETUNED_ENV

    monkeypatch.setenv(FINETUNED_ENV, str(tmp_path))
    # a sentence no other test uses: its view is not in the server's shared cache
    at = open_with({"step": str(len(STEPS)), "text": "Nobody else asked about this quiet little film."})
    assert any("has not fine-tuned the lesson's model" in e.value for e in at.info)
    assert not plotly_figures(at) and not list(tmp_path.iterdir())  # a page run trains nothing
    at.button(key="lesson_ft_go").click().run()
    assert_clean(at)
    deadline = time.monotonic() + 180
    while not (tmp_path / lesson_request().folder_name() / "finetune.json").exists():
        assert time.monotonic() < deadline, "the lesson's fine-tune did not finish in 3 minutes"
        time.sleep(1)
    at.run()
    assert_clean(at)
    figs = plotly_figures(at)
    assert len(figs) == 1 and "changed on your sentence" in json.dumps(figs[0]["layout"]["title"])
    assert "Which layer holds the head" in texts(at)


def test_the_step_survives_a_visit_to_another_page():
    """The step is a session value (url_state's session=True): the sidebar drops the query string,
    and coming back from another page opens the step the student left, not step 1."""
    at = open_with({"step": "6"})
    at.switch_page("app_pages/text.py").run()
    assert_clean(at)
    assert "step" not in at.query_params  # the text page wrote its own link
    at.switch_page(PAGE).run()
    assert_clean(at)
    assert at.session_state["lesson_step"] == 5 and at.query_params["step"] == "6"
