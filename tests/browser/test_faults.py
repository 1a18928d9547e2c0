"""Faults seen from the browser: the server restarts under an open page."""

import pytest

from tests.browser.harness import (
    failed_on_page,
    free_port,
    new_page,
    serve_app,
    wait_for_app,
    wait_for_text,
)

pytestmark = pytest.mark.browser


def test_page_reconnects_after_server_restart(browser):
    port = free_port()
    with serve_app(port) as server:
        url = server.url
        page, log = new_page(browser, url)
        page.goto(f"{url}/scratch")
        wait_for_app(page)
        assert wait_for_text(page, "noitnetta")
    # The server is gone; the page stays open. Start it again on the same port.
    page.wait_for_timeout(1000)
    with serve_app(port):
        page.wait_for_function(
            "() => !document.querySelector('[data-testid=\"stConnectionStatus\"]')"
            " && document.querySelector('[data-testid=\"stMain\"]')", timeout=60_000)
        box = page.get_by_role("textbox", name="Your input")
        box.fill("restart")
        box.press("Enter")
        wait_for_app(page)
        assert wait_for_text(page, "tratser")
        assert not failed_on_page(page)
    assert not log.blocked
