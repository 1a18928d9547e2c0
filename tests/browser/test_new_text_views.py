"""The "What moves" and "Queries & keys" views of the text and image pages in chromium, from links: the figures
draw, their own text shows, nothing fails. Screenshots: test-artifacts/text-moves.png, text-qk.png."""

from pathlib import Path

import pytest

from tests.browser.harness import (
    failed_on_page,
    new_page,
    wait_for_app,
    wait_for_plots,
    wait_for_text,
)

pytestmark = [pytest.mark.browser]
ARTIFACTS = Path("test-artifacts")


def test_what_moves_from_a_link(browser, app_url):
    page, log = new_page(browser, app_url, viewport=(1400, 1100))
    page.goto(f"{app_url}/text?view=moves&layer=2&head=5")
    wait_for_app(page)
    wait_for_plots(page, 2)
    assert wait_for_text(page, "share of ‖w·v·W_O‖: what it moves")
    assert wait_for_text(page, "of the attention weight but only")
    assert not failed_on_page(page) and not log.console_errors and not log.blocked
    chart = page.locator(".js-plotly-plot").first
    chart.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "text-moves.png")


def test_queries_and_keys_from_a_link(browser, app_url):
    page, log = new_page(browser, app_url, viewport=(1400, 1100))
    page.goto(f"{app_url}/text?view=qk&layer=3&head=1")
    wait_for_app(page)
    wait_for_plots(page, 1)
    assert wait_for_text(page, "queries and keys in one space")
    assert page.locator(".js-plotly-plot .scatterlayer .trace").count() >= 3  # lines, queries, keys
    page.get_by_text("Query whose attention to draw").scroll_into_view_if_needed()
    assert not failed_on_page(page) and not log.console_errors and not log.blocked
    page.screenshot(path=ARTIFACTS / "text-qk.png")


@pytest.mark.parametrize("tab, text", [("moves", "CLS receives from"), ("qk", "queries and keys of every patch")])
def test_the_image_pages_new_tabs_from_a_link(browser, app_url, tab, text):
    page, log = new_page(browser, app_url, viewport=(1400, 1100))
    page.goto(f"{app_url}/image?tab={tab}")
    wait_for_app(page)
    wait_for_plots(page, 1)
    assert wait_for_text(page, text)
    assert not failed_on_page(page) and not log.console_errors and not log.blocked
    page.get_by_text(text).first.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS / f"image-{tab}.png")
