"""A class on the Lesson page through AppTest: one teacher and students as separate sessions of one
server (AppTest runs them in this process, so they share the class store like real sessions)."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest_helpers import APP, TIMEOUT, assert_clean, open_page, plotly_figures
from viz.ui.class_ui import store

PAGE = "app_pages/lesson.py"

# the lesson's last step needs the lesson's fine-tune on this server
pytestmark = pytest.mark.usefixtures("lesson_finetuned")


def shown(at: AppTest) -> str:
    return re.sub(r"\\(.)", r"\1", " ".join(
        str(e.value) for kind in ("error", "warning", "info", "success", "markdown", "caption")
        for e in getattr(at, kind)))


def teacher() -> tuple[AppTest, str]:
    at = open_page(PAGE)
    at.button(key="class_start").click().run()
    assert_clean(at)
    code = at.session_state["class_code"]
    assert code in " ".join(h.proto.body for h in at.get("html"))  # the code is on the teacher's screen
    return at, code


def student(code: str) -> AppTest:
    at = open_page(PAGE)
    at.text_input(key="class_join_code").input(code)
    at.button(key="class_join").click().run()
    assert_clean(at)
    assert at.session_state["class_role"] == "student", shown(at)
    return at


def picker(at: AppTest):
    """The step picker: its key names the step it shows (lesson_ui._step_picker)."""
    return at.selectbox(key=f"lesson_pick_{step_of(at)}")


def step_of(at: AppTest) -> int:
    return at.session_state["lesson_step"]


def test_students_follow_answer_and_see_the_revealed_answer():
    t, code = teacher()
    s1, s2 = student(code), student(code.lower())
    t.button(key="lesson_next").click().run()
    t.button(key="lesson_next").click().run()  # step 3: scaled dot-product, a number question
    assert_clean(t)
    for s in (s1, s2):
        s.run()
        assert step_of(s) == 2 and picker(s).disabled  # followed, and cannot step alone
        assert s.button(key="lesson_next").disabled
        assert "Class question" in shown(s)
    t.run()
    q = store().state(code).question
    right = str(q["answer"])
    s1.text_input(key="class_answer").input(right)
    s1.button(key="class_send").click().run()
    s2.text_input(key="class_answer").input("123")
    s2.button(key="class_send").click().run()
    assert "Sent" in shown(s1) and "Sent" in shown(s2)
    t.run()
    # While the question is open the teacher's screen counts who answered, not what they answered.
    assert "2 of 2** have answered" in shown(t)
    assert not [f for f in plotly_figures(t) if "answered" in str(f["layout"].get("title"))]
    t.toggle(key="class_peek").set_value(True).run()  # the teacher peeks on their own screen
    counts = [f for f in plotly_figures(t) if "answered" in str(f["layout"].get("title"))][0]
    assert "2 of 2 answered" in counts["layout"]["title"]["text"]
    assert sorted(counts["data"][0]["x"]) == [1, 1]
    assert len(set(counts["data"][0]["marker"]["color"])) == 1  # not given away before the reveal
    t.toggle(key="lesson_present").set_value(True).run()  # on the projector: no peeking
    assert not [f for f in plotly_figures(t) if "answered" in str(f["layout"].get("title"))]
    t.toggle(key="lesson_present").set_value(False).run()
    t.button(key="class_reveal").click().run()
    assert [f for f in plotly_figures(t) if "answered" in str(f["layout"].get("title"))]
    for s, ok in ((s1, True), (s2, False)):
        s.run()
        assert "The answer:" in shown(s)
        assert bool(s.success) == ok and bool(s.error) != ok, shown(s)


def test_a_student_joining_mid_lesson_lands_on_the_current_step_with_the_teachers_input():
    t, code = teacher()
    picker(t).set_value(9).run()  # BERT: sentence pairs
    t.text_input(key="lesson_bert_pair").input("The bank was closed.").run()
    s = student(code)
    assert step_of(s) == 9
    assert s.text_input(key="lesson_bert_pair").value == "The bank was closed."
    assert not s.error


def test_a_student_steps_away_and_back_and_cannot_move_the_class():
    t, code = teacher()
    s = student(code)
    s.toggle(key="class_follow").set_value(False).run()
    assert not picker(s).disabled
    picker(s).set_value(6).run()  # looking around on their own
    t.button(key="lesson_next").click().run()
    s.run()
    assert step_of(s) == 6 and "The teacher is on step 2" in shown(s)
    assert store().state(code).step == 1  # the student's own steps did not move the class
    s.toggle(key="class_follow").set_value(True).run()
    assert step_of(s) == 1
    # With the code but not the key, "take it back" changes nothing and says why.
    s.button(key="class_leave").click().run()
    s.text_input(key="class_resume_code").input(code)
    s.text_input(key="class_resume_key").input("guess")
    s.button(key="class_resume").click().run()
    assert "does not match" in shown(s) and "class_role" not in s.session_state
    assert store().state(code).step == 1


def test_bad_codes_get_a_message_and_an_ended_class_lets_its_students_go():
    s = open_page(PAGE)
    for typed, message in (("", "Type the class code"), ("<script>alert(1)</script>", "not a class code"),
                           ("ZZZZZZ", "no open class")):
        s.text_input(key="class_join_code").input(typed)
        s.button(key="class_join").click().run()
        assert_clean(s)
        assert message in shown(s) and "class_role" not in s.session_state
        assert "alert" not in shown(s)  # the typed text is not echoed
    t, code = teacher()
    s = student(code)
    t.button(key="class_end").click().run()
    assert "has ended" in shown(t)
    s.run()
    assert "has ended" in shown(s) and "class_role" not in s.session_state
    assert len(plotly_figures(s)) == 1  # the lesson goes on, solo


def test_the_hostile_catalogue_in_the_code_and_answer_boxes():
    """Every catalogue entry typed as a class code, then as an answer: a sentence or a sent answer,
    never an exception; the teacher's counts show one answer (the last) as escaped text."""
    from tests.browser.catalogue import HOSTILE

    s = open_page(PAGE)
    for name, value in HOSTILE:
        s.text_input(key="class_join_code").input(value)
        s.button(key="class_join").click().run()
        assert_clean(s)
        assert s.warning and "class_role" not in s.session_state, name
    t, code = teacher()
    s = student(code)
    for name, value in HOSTILE:
        s.text_input(key="class_answer").input(value)
        s.button(key="class_send").click().run()
        assert_clean(s)
        assert "Sent:" in shown(s) or s.warning, name
    t.run()
    t.toggle(key="class_peek").set_value(True).run()
    counts = [f for f in plotly_figures(t) if "answered" in str(f["layout"].get("title"))][0]
    assert "1 of 1 answered" in counts["layout"]["title"]["text"]
    assert counts["data"][0]["x"] == [1] and counts["layout"]["yaxis"]["ticktext"] == ["../../etc/passwd"]


def test_starting_a_class_builds_every_steps_view_in_the_background():
    """The teacher's first ▶ onto a step, and the class with it, would otherwise wait for that
    step's model: starting a class builds each step's default view, for screen and projector."""
    from viz.device import resolve_device
    from viz.lesson import STEPS
    from viz.ui import cache, lesson_ui

    cache.trace_store().clear()  # views that other tests built do not count
    lesson_ui._warmed.clear()  # nor an earlier warm-up in this process
    t, _ = teacher()
    assert lesson_ui._warming.acquire(timeout=300)  # the warm-up thread has finished
    lesson_ui._warming.release()
    device = str(resolve_device("auto").device)  # the sidebar's default, as the teacher's session has it
    missing = [(step.slug, present) for step in STEPS for present in (False, True)
               if cache.trace_store().get(lesson_ui.view_key(step, {f.name: f.default for f in step.fields},
                                                             present, device)) is None]
    assert not missing, missing
    assert lesson_ui.warm_progress(device) == len(STEPS)
    t.run()
    assert "Getting the lesson ready" not in shown(t)  # the banner said so while it was not
    assert not lesson_ui.warm_up(device)  # once per server and device
    t.button(key="lesson_next").click().run()  # and the page still draws from it
    assert_clean(t)
    assert plotly_figures(t)


def test_the_join_link_and_its_qr_code_land_a_student_in_the_class_and_bring_them_back():
    t, code = teacher()
    body = " ".join(h.proto.body for h in t.get("html"))
    assert f"/lesson?join={code}" in body and 'class="class-qr" src="data:image/svg+xml' in body  # the link and its QR code
    picker(t).set_value(4).run()
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page(PAGE)
    at.query_params["join"] = code
    at.run()
    assert at.session_state["class_role"] == "student" and step_of(at) == 4
    sid = at.session_state["class_sid"]
    assert at.query_params["join"] == code and at.query_params["sid"] == sid
    # A fresh session on the same URL (the student's server died; another replica took the page):
    # back in the class with the same id, so still one answer per question.
    again = AppTest.from_file(APP, default_timeout=TIMEOUT)
    again.run()
    again.switch_page(PAGE)
    for k in ("join", "sid", "step"):
        again.query_params[k] = at.query_params[k]
    again.run()
    assert again.session_state["class_sid"] == sid and step_of(again) == 4
    assert store().state(code).students == 1
    t.toggle(key="lesson_present").set_value(True).run()
    t.toggle(key="class_join_screen").set_value(True).run()
    assert "Join the class" in " ".join(h.value for h in t.header)
    assert not plotly_figures(t)  # the join screen instead of the step
