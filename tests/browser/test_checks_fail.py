"""The browser checks fail on a broken page: a tiny Streamlit app, served like the real one, that
breaks one check at a time (?mode=...), and its mode=good, which passes them all (so a check that
always fails proves nothing either).

The app has the boxes of two catalogue entries under the same accessible names (the scratch page's
"Your input", the text page's sidebar "Model (text page)") and the Lines view's slider:
- none: the box answers nothing (a chart above it still makes the old "any message or chart" check pass);
- unrelated: a chart that belongs to something else follows the box, and a message sits above it;
- caption: the model's name is in a caption, and the chart's title does not carry it;
- deaf: the slider moves and its chart stays the same.
The checks are the functions the real tests call (tests/browser/checks.py), with the entries of
tests/browser/catalogue.py.
"""

import pytest

from tests.browser.catalogue import TEXT_INPUTS
from tests.browser.checks import answer_problem, change_problem, good_value_problems, slide
from tests.browser.harness import new_page, serve_app, wait_for_app, wait_for_text

pytestmark = pytest.mark.browser

SCRATCH = next(b for b in TEXT_INPUTS if b.path == "scratch" and b.name == "Your input")
MODEL = next(b for b in TEXT_INPUTS if b.name == "Model (text page)")
FAST = 2_000  # a check that is meant to fail here waits this long, not its full timeout

BROKEN_APP = '''
import plotly.graph_objects as go
import streamlit as st

mode = st.query_params.get("mode", "good")


def chart(title, z, key):
    st.plotly_chart(go.Figure(go.Heatmap(z=[[z, 1.0], [0.0, 1.0]]), layout=dict(title=title)), key=key)


st.sidebar.text_input("Model (text page)", key="model")
st.title("A page that breaks one check at a time")
st.caption("all-MiniLM-L6-v2 (bundled): 6 layers x 12 heads")  # the model's name, always on the page
chart("Layer 0, head 0" if mode == "caption" else "all-MiniLM-L6-v2 (bundled): layer 0, head 0", 0.5,
      "text_chart_heatmap")
if mode == "unrelated":
    st.info("A message above the box: it answers nothing typed below.")
min_w = st.slider("Draw weights from", 0.01, 0.9, 0.1, step=0.01, key="lines_min")
chart("lines", 0.2 if mode == "deaf" else min_w, "text_chart_lines")
value = st.text_input("Your input", key="box")
if mode in ("good", "caption", "deaf"):
    if value.isalpha():
        st.markdown(value[::-1])
        chart("the box's own chart", len(value), "scratch_heatmap")
    else:
        st.error("Type letters only.")
elif mode == "unrelated":
    chart("a chart about something else", 0.3, "another_chart")
'''


@pytest.fixture(scope="module")
def broken_url(tmp_path_factory):
    script = tmp_path_factory.mktemp("broken") / "broken_app.py"
    script.write_text(BROKEN_APP)
    with serve_app(script=script) as server:
        yield server.url


def open_mode(browser, url, mode):
    page, log = new_page(browser, url)
    page.goto(f"{url}/?mode={mode}")
    wait_for_app(page)
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
    return page, log


def type_into(page, box, value):
    box.fill(value)
    box.press("Enter")
    wait_for_app(page)


def old_answer_check_passes(page) -> bool:
    """The check test_hostile.py had: any message or chart anywhere on the page."""
    try:
        page.wait_for_selector("[data-testid='stAlert'], .js-plotly-plot", timeout=FAST)
        return True
    except Exception:
        return False


def test_the_checks_pass_on_the_working_page(browser, broken_url):
    page, log = open_mode(browser, broken_url, "good")
    box = page.get_by_role("textbox", name=SCRATCH.name)
    type_into(page, box, "NaN1")  # not letters: a message answers
    assert answer_problem(page, box, SCRATCH.result, timeout_ms=FAST) is None
    type_into(page, box, SCRATCH.good)
    assert good_value_problems(page, box, SCRATCH, FAST) == []
    model = page.get_by_role("textbox", name=MODEL.name)
    type_into(page, model, MODEL.good)
    assert good_value_problems(page, model, MODEL, FAST) == []
    lines = ".st-key-text_chart_lines"
    assert change_problem(page, lines, lambda: slide(page, "Draw weights from", "End"), "slider", FAST) is None
    assert not log.console_errors and not log.blocked


@pytest.mark.parametrize("mode, why", [("none", "nothing answers the box"),
                                       ("unrelated", "the first chart or table after the box is st-key-another_chart")])
def test_a_box_without_an_answer_of_its_own_fails(browser, broken_url, mode, why):
    page, _ = open_mode(browser, broken_url, mode)
    box = page.get_by_role("textbox", name=SCRATCH.name)
    type_into(page, box, "NaN")
    assert old_answer_check_passes(page)  # a chart elsewhere on the page (and a message above the box)
    problem = answer_problem(page, box, SCRATCH.result, timeout_ms=FAST)
    assert problem and why in problem, problem
    type_into(page, box, SCRATCH.good)
    problems = good_value_problems(page, box, SCRATCH, FAST)
    assert any(why in p for p in problems), problems


def test_a_model_name_only_in_a_caption_fails(browser, broken_url):
    page, _ = open_mode(browser, broken_url, "caption")
    model = page.get_by_role("textbox", name=MODEL.name)
    type_into(page, model, MODEL.good)
    assert wait_for_text(page, "all-MiniLM-L6-v2", FAST)  # the old expected text: in the caption
    problems = good_value_problems(page, model, MODEL, FAST)
    assert len(problems) == 1 and "in its title" in problems[0] and "Layer 0, head 0" in problems[0], problems


def test_a_slider_that_changes_nothing_fails(browser, broken_url):
    page, _ = open_mode(browser, broken_url, "deaf")
    problem = change_problem(page, ".st-key-text_chart_lines", lambda: slide(page, "Draw weights from", "End"),
                             "Draw weights from", FAST)
    assert problem == "Draw weights from: .st-key-text_chart_lines did not change", problem
