"""The projector checks (tests/browser/figure_checks.py) fail on figures built to break them, and
pass on the same figures built right; the answer-leak patterns find an answer where it is stated."""

import pytest

from tests.browser import figure_checks as fc
from tests.browser.harness import new_page, serve_app, wait_for_app
from tests.browser.test_lesson_projector import _leaks

pytestmark = pytest.mark.browser

FIGURES_APP = '''
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

bad = st.query_params.get("mode") == "bad"
fig = make_subplots(1, 2, subplot_titles=["a long title for the left panel that runs on and on" if bad else "left",
                                          "a long title for the right panel" if bad else "right"])
for c in (1, 2):
    fig.add_trace(go.Heatmap(z=[[0, 1], [1, 0]], showscale=False), 1, c)
fig.update_xaxes(tickfont=dict(size=10 if bad else 16, color="#b0b0b0" if bad else "#1f2130"))
fig.update_yaxes(tickfont=dict(size=16, color="#1f2130"), title=dict(text="query" if bad else None))
fig.update_layout(height=400, width=600, title="tiny", annotations=[*fig.layout.annotations] + (
    [dict(x=0.5, y=0.5, xref="paper", yref="paper", text="a note placed on the tick labels of the left",
          showarrow=False, yshift=-170)] if bad else []))
fig.update_annotations(font_color="#1f2130")
fig.update_layout(title_font_color="#1f2130")
st.plotly_chart(fig, width="content")
'''


@pytest.fixture(scope="module")
def figures_url(tmp_path_factory):
    script = tmp_path_factory.mktemp("figures") / "figures_app.py"
    script.write_text(FIGURES_APP)
    with serve_app(script=script) as server:
        yield server.url


def _figures(browser, url, mode):
    page, _ = new_page(browser, url, viewport=(800, 600))
    page.goto(f"{url}/?mode={mode}")
    wait_for_app(page)
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
    page.wait_for_timeout(300)
    return page, fc.figure_texts(page)


def test_the_figure_checks_fail_on_a_bad_figure_and_pass_on_a_good_one(browser, figures_url):
    page, good = _figures(browser, figures_url, "good")
    assert good and good[0]["texts"], "no figure text read"
    assert fc.overlap_problems(good) == [] and fc.contrast_problems(good) == [] and fc.tick_problems(good) == []
    assert fc.fit_problems(page, 800, 600) == ["the title is missing", "the question is missing",
                                               "the answer box is missing"]
    page, bad = _figures(browser, figures_url, "bad")
    overlaps = fc.overlap_problems(bad)
    assert any("overlaps" in p for p in overlaps), overlaps
    assert any("lies on a plot area" in p for p in overlaps), overlaps  # the right panel's y title
    assert any("on white" in p for p in fc.contrast_problems(bad))
    assert any("is 10 px" in p for p in fc.tick_problems(bad))
    assert fc.fit_problems(page, 800, 300)  # a screen too short for the figure


def test_the_leak_patterns_find_a_stated_answer():
    assert _leaks("5.74", "number", ["… gives the score 5.74; the softmax …"])
    assert not _leaks("5.74", "number", ["the score 5.741", "q·k = 45.74"])
    assert _leaks("3", "number", ["head 3 puts 40% on the next token"])
    assert not _leaks("3", "number", ["0.3 of the weight", "a 32-dimensional head", "3.5"])
    assert _leaks("512 × 64", "shape", ["W_Q,i: 512 × 64"]) and _leaks("10 × 9", "shape", ["cross-attention 10 x 9"])
    assert not _leaks("512 × 64", "shape", ["W_O: 512 × 512"])
    assert _leaks("tired", "token", ["'it' attends most to 'tired' (0.77)"])
    assert not _leaks("the", "token", ["there", "other"])
