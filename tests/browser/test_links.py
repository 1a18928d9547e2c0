"""A link copied from one browser opens the same figures in a fresh one, on every page.

In one browser context the test changes a page's state the way a student does (typing, a radio, a
tab), waits for the URL to carry it, and reads every plotly figure's title and data from the DOM.
A second context (its own cookies, its own Streamlit session) opens page.url; its figures must be
the same, and so must the URL.
"""

import json

import pytest

from tests.browser.harness import failed_on_page, new_page, wait_for_app

pytestmark = pytest.mark.browser

# Streamlit's plotly theme wraps a title in <b>...</b> as it draws, once more on some redraws: unwrap.
FIGURES = """() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => JSON.stringify({
    title: (gd.layout?.title?.text ?? '').replace(/^(<b>)+/, '').replace(/(<\\/b>)+$/, ''),
    data: (gd.data || []).map(t => [t.type, t.name, t.x, t.y, t.z, t.text, t.source]),
}))"""


def figures(page) -> list[dict]:
    return [json.loads(f) for f in page.evaluate(FIGURES)]


def type_into(page, name: str, value: str) -> None:
    box = page.get_by_role("textbox", name=name)
    box.fill(value)
    box.press("Control+Enter" if box.evaluate("e => e.tagName") == "TEXTAREA" else "Enter")
    wait_for_app(page)


def click_radio(page, option: str) -> None:
    page.locator("[data-testid='stRadio'] label").filter(has_text=option).first.click()
    wait_for_app(page)


def click_tab(page, label: str) -> None:
    page.get_by_role("tab", name=label).click()
    wait_for_app(page)


def press_number(page, name: str, value: str) -> None:
    box = page.get_by_role("spinbutton", name=name)
    box.fill(value)
    box.press("Enter")
    wait_for_app(page)


# path, what a student does there, the URL parameters that must result, figures to wait for
CASES = [
    ("scratch", lambda p: (type_into(p, "Your input", "browser"), click_radio(p, "Encoder self-attention")),
     {"text": "browser", "view": "encoder"}, 2),
    ("softmax", lambda p: (type_into(p, "Logits (numbers separated by commas)", "5, 1, 1"), click_radio(p, "padding")),
     {"logits": "5, 1, 1", "mask": "padding"}, 5),
    ("dimensions", lambda p: (press_number(p, "d_model", "768"), press_number(p, "heads h", "12")),
     {"d_model": "768", "h": "12"}, 2),
    ("positional", lambda p: type_into(p, "A word for the from-scratch model", "order"), {"word": "order"}, 7),
    ("text", lambda p: (type_into(p, "Your text", "Links keep the view."), click_radio(p, "Rollout")),
     {"text": "Links keep the view.", "view": "rollout"}, 1),
    ("image", lambda p: (click_tab(p, "Rollout"), click_radio(p, "max")), {"tab": "rollout", "fusion": "max"}, 3),
]


def open_settled(browser, app_url: str, url: str, n_plots: int):
    page, log = new_page(browser, app_url)
    page.goto(url)
    wait_for_app(page)
    page.wait_for_function(f"() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= {n_plots}",
                           timeout=90_000)
    return page, log


def url_params(page) -> dict[str, str]:
    return dict(page.evaluate("() => [...new URLSearchParams(location.search)]"))


@pytest.mark.parametrize("path, act, expect, n_plots", CASES, ids=[c[0] for c in CASES])
def test_a_copied_link_opens_the_same_figures_in_a_fresh_browser(browser, app_url, path, act, expect, n_plots):
    first, log1 = open_settled(browser, app_url, f"{app_url}/{path}", n_plots)
    before = figures(first)
    act(first)
    first.wait_for_function("want => Object.entries(want).every(([k, v]) => "
                            "new URLSearchParams(location.search).get(k) === v)", arg=expect, timeout=60_000)
    wait_for_app(first)
    link, shown = first.url, figures(first)
    assert shown != before, "the actions changed no figure"
    second, log2 = open_settled(browser, app_url, link, n_plots)
    try:
        second.wait_for_function("n => document.querySelectorAll('.js-plotly-plot').length === n",
                                 arg=len(shown), timeout=30_000)
        again = figures(second)
        assert [f["title"] for f in again] == [f["title"] for f in shown]
        assert again == shown
        assert url_params(second) == url_params(first)  # the fresh page writes the same link back
        for page, log in ((first, log1), (second, log2)):
            assert not failed_on_page(page)
            assert not log.blocked and not log.console_errors and not log.dialogs, (log.blocked, log.console_errors)
    finally:
        first.context.close()
        second.context.close()


def test_a_tab_clicked_before_the_page_has_drawn_everything_keeps_every_box(browser, app_url):
    """A slow browser (chromium throttled 10x, as a busy classroom laptop) whose Worksheet tab is
    clicked just after the page's first run: the boxes it had not drawn yet must come back with
    the page's values, not Streamlit's own "" and 0. Before url_state assigned every value the
    request did not carry, this gave ?sentence=&d_model=0&h=0 in 9 of 16 tries with waits from 0 to
    0.35 s before the click, and in 4 of 4 with 0.15 and 0.2 s. One try: about 50 s on a busy machine."""
    page, log = new_page(browser, app_url)
    page.context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": 10})
    page.goto(f"{app_url}/dimensions")
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=120_000)
    page.wait_for_timeout(200)
    page.get_by_role("tab", name="Worksheet").click()
    wait_for_app(page)
    box = page.locator("[data-testid='stTextInput'] input >> visible=true").first
    box.wait_for(timeout=90_000)
    box.fill("xyz")
    box.press("Enter")  # a form submit: the request carries every box the browser holds
    wait_for_app(page)
    assert page.url.endswith("/dimensions?tab=worksheet"), page.url  # every other value is its default
    page.get_by_role("tab", name="Tracer").click()
    wait_for_app(page)
    assert page.get_by_role("textbox", name="Sentence (n = number of words)").input_value() == "the fish swam near the bank"
    assert not failed_on_page(page) and not log.dialogs
