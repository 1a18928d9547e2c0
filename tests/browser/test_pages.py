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
