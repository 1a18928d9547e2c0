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
