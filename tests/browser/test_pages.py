"""Every page in a real browser, offline: it loads, responds to input, draws its charts."""

from pathlib import Path

import pytest

from tests.browser.harness import new_page, wait_for_app, wait_for_text

pytestmark = pytest.mark.browser
ARTIFACTS = Path("test-artifacts")


def assert_quiet(log, page):
    assert not log.blocked, f"requests that left the machine: {log.blocked}"
    assert not log.console_errors, log.console_errors
    assert not log.failed, log.failed
    assert not log.dialogs, log.dialogs
    assert page.locator("[data-testid='stException']").count() == 0


def test_home(browser, app_url):
    page, log = new_page(browser, app_url)
    page.goto(app_url)
    wait_for_app(page)
    assert wait_for_text(page, "From-scratch transformer")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "home.png", full_page=True)
    assert_quiet(log, page)


def test_scratch_page_types_and_draws(browser, app_url):
    page, log = new_page(browser, app_url)
    page.goto(f"{app_url}/scratch")
    wait_for_app(page)
    page.wait_for_selector(".js-plotly-plot", timeout=60_000)
    box = page.get_by_role("textbox", name="Your input")
    box.fill("browser")
    box.press("Enter")
    wait_for_app(page)
    assert wait_for_text(page, "resworb")
    plots = page.locator(".js-plotly-plot")
    assert plots.count() >= 2
    assert "key (attended to)" in plots.first.inner_text()
    page.screenshot(path=ARTIFACTS / "scratch.png", full_page=True)
    assert_quiet(log, page)


def open_plots(browser, app_url, path, n_plots):
    page, log = new_page(browser, app_url)
    page.goto(f"{app_url}/{path}")
    wait_for_app(page)
    page.wait_for_function(
        f"() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= {n_plots}", timeout=60_000)
    return page, log


def test_softmax_page_types_logits_and_draws(browser, app_url):
    page, log = open_plots(browser, app_url, "softmax", 5)
    box = page.get_by_role("textbox", name="Logits (numbers separated by commas)")
    box.fill("5, 1, 1")
    box.press("Enter")
    wait_for_app(page)
    page.wait_for_function("() => document.body.innerText.includes('Largest weight 0.965')", timeout=30_000)
    text = page.locator(".js-plotly-plot").all_inner_texts()
    assert any("softmax weight" in t and "logit (as typed)" in t for t in text)
    assert any("temperature T (log scale)" in t for t in text)
    assert any("d_k (log scale)" in t for t in text)
    box.fill("1, nan")
    box.press("Enter")
    wait_for_app(page)
    page.wait_for_function("() => document.body.innerText.includes('is not a number (NaN)')", timeout=30_000)
    page.screenshot(path=ARTIFACTS / "softmax.png", full_page=True)
    assert_quiet(log, page)


def test_dimensions_page_traces_shapes(browser, app_url):
    page, log = open_plots(browser, app_url, "dimensions", 2)
    for name, value in (("d_model", "768"), ("heads h", "12")):
        box = page.get_by_role("spinbutton", name=name)
        box.fill(value)
        box.press("Enter")
        wait_for_app(page)
    page.wait_for_function("() => document.body.innerText.includes('W_O: 768 × 768')", timeout=30_000)
    assert "2,359,296 weights" in page.inner_text("body")
    text = page.locator(".js-plotly-plot").all_inner_texts()
    assert any("d_model index" in t and "d_k index" in t for t in text)
    box = page.get_by_role("spinbutton", name="heads h")
    box.fill("7")
    box.press("Enter")
    wait_for_app(page)
    page.wait_for_function("() => document.body.innerText.includes('not divisible by h = 7')", timeout=30_000)
    page.screenshot(path=ARTIFACTS / "dimensions.png", full_page=True)
    assert_quiet(log, page)


def test_positional_page_permutes_a_word(browser, app_url):
    page, log = open_plots(browser, app_url, "positional", 7)
    box = page.get_by_role("textbox", name="A word for the from-scratch model")
    box.fill("order")
    box.press("Enter")
    wait_for_app(page)
    page.wait_for_function("() => document.body.innerText.includes('order → ')", timeout=30_000)
    text = page.locator(".js-plotly-plot").all_inner_texts()
    assert any("position" in t and "dimension" in t for t in text)
    assert any("offset k" in t for t in text)
    assert any("query position m" in t for t in text)
    assert any("key (attended to)" in t for t in text)
    page.screenshot(path=ARTIFACTS / "positional.png", full_page=True)
    assert_quiet(log, page)


def _url_text_is(page, text: str) -> None:
    """The script writes the view state into the URL as its last step: wait until it has run."""
    page.wait_for_function("t => new URLSearchParams(location.search).get('text') === t", arg=text,
                           timeout=60_000)
    wait_for_app(page)


def _pick(page, option: str) -> None:
    """Click a radio option by its label text and wait for the rerun."""
    page.locator("[data-testid='stRadio'] label").filter(has_text=option).first.click()
    wait_for_app(page)


def test_text_page_types_draws_and_embeds_bertviz_offline(browser, app_url):
    page, log = new_page(browser, app_url)
    page.goto(f"{app_url}/text")
    wait_for_app(page)
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=90_000)
    box = page.get_by_role("textbox", name="Your text")
    box.fill("Attention is all you need.")
    box.press("Control+Enter")
    _url_text_is(page, "Attention is all you need.")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot .xtick text')].some(t => t.textContent === 'need')",
        timeout=60_000)
    plot = page.locator(".js-plotly-plot").first
    assert "key (attended to)" in plot.inner_text() and "query (attending)" in plot.inner_text()
    assert "view=heatmap" in page.url
    _pick(page, "Model grid")
    page.wait_for_selector(".js-plotly-plot image", timeout=30_000)  # the grid arrives as one PNG
    assert "head" in page.locator(".js-plotly-plot").first.inner_text()
    _pick(page, "bertviz")
    frame = page.frame_locator("iframe").first
    frame.locator("svg text").filter(has_text="need").first.wait_for(timeout=30_000)  # d3 drew it: scripts loaded
    page.screenshot(path=ARTIFACTS / "text_bertviz.png", full_page=True)
    assert_quiet(log, page)


def test_text_page_shows_hostile_text_as_text(browser, app_url):
    page, log = new_page(browser, app_url)
    hostile = "</script><script>alert(1)</script> <img src=x onerror=alert(1)>"
    page.goto(f"{app_url}/text")
    wait_for_app(page)
    box = page.get_by_role("textbox", name="Your text")
    box.fill(hostile)
    box.press("Control+Enter")
    _url_text_is(page, hostile)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot .xtick text')].some(t => t.textContent === 'alert')",
        timeout=60_000)
    ticks = page.locator(".js-plotly-plot .xtick text").all_text_contents()
    assert "<" in ticks and ">" in ticks  # escaped for plotly, displayed as the characters typed
    _pick(page, "Lines")
    page.wait_for_selector(".js-plotly-plot .scatterlayer path.js-line", state="attached", timeout=30_000)  # SVG lines
    _pick(page, "bertviz")
    frame = page.frame_locator("iframe").first
    frame.locator("svg text").filter(has_text="alert").first.wait_for(timeout=30_000)
    assert "<" in frame.locator("svg text").all_text_contents()
    assert frame.locator("img").count() == 0 and page.locator("[data-testid='stMain'] img[src='x']").count() == 0
    page.wait_for_timeout(500)
    assert_quiet(log, page)  # includes: no alert() dialog ever opened
