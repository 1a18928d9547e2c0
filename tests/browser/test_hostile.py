"""Every catalogue entry, typed into every text input of every page, in chromium."""

import pytest

from tests.browser.catalogue import GOOD_EVERY, HOSTILE, TEXT_INPUTS
from tests.browser.harness import failed_on_page, new_page, wait_for_app, wait_for_text

pytestmark = pytest.mark.browser


def enter(page, name: str, value: str) -> None:
    box = page.get_by_role("textbox", name=name)
    box.fill(value)
    is_area = box.evaluate("e => e.tagName") == "TEXTAREA"
    box.press("Control+Enter" if is_area else "Enter")  # a text area submits on Ctrl+Enter
    wait_for_app(page)


@pytest.mark.parametrize("path, box, good, expected", TEXT_INPUTS,
                         ids=[f"{t[0]}-{t[1][:20]}" for t in TEXT_INPUTS])
def test_catalogue_on_text_inputs(browser, app_url, path, box, good, expected):
    page, log = new_page(browser, app_url)
    page.goto(f"{app_url}/{path}")
    wait_for_app(page)
    problems = []
    for n, (name, value) in enumerate(HOSTILE, 1):
        enter(page, box, value)
        if failed_on_page(page):
            problems.append(f"{name}: exception shown")
        if page.locator("img[src='x']").count() or page.locator("script:has-text('alert(1)')").count():
            problems.append(f"{name}: markup from the input was interpreted")
        try:
            page.wait_for_selector("[data-testid='stAlert'], .js-plotly-plot", timeout=20_000)
        except Exception:
            problems.append(f"{name}: neither a message nor a chart")
        if n % GOOD_EVERY == 0 or n == len(HOSTILE):  # the same session keeps working
            enter(page, box, good)
            if not wait_for_text(page, expected):
                problems.append(f"after {name}: the next good input did not work")
    assert not problems, problems
    assert not log.dialogs, f"a dialog fired: {log.dialogs}"
    assert not log.blocked, log.blocked
