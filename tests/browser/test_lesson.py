"""The Lesson page in chromium, offline: the whole walk with every question answered wrong, then
right; presenter mode at 1280x720 from a link, screenshot in test-artifacts/lesson-presenter.png.
The hostile catalogue runs on the lesson's text boxes through tests/browser/catalogue.py."""

from pathlib import Path

import pytest

from tests.browser.harness import (
    failed_on_page,
    new_page,
    wait_for_app,
    wait_for_plots,
    wait_for_text,
)
from viz.lesson import STEPS

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path("test-artifacts")
WRONG = {"number": "123456", "shape": "7 x 7 x 7", "token": "zzzz"}


def _answer(page, value: str, expected: str) -> None:
    box = page.get_by_role("textbox", name="Your answer")
    box.fill(value)
    box.press("Enter")  # submits the step's form
    wait_for_app(page)
    assert wait_for_text(page, expected), f"{value!r}: no {expected!r}"


def _quiet(log, page) -> None:
    assert not failed_on_page(page)
    assert not log.blocked, log.blocked
    assert not log.console_errors, log.console_errors
    assert not log.dialogs, log.dialogs


def test_walk_the_whole_lesson_answering_wrong_then_right(browser, app_url):
    page, log = new_page(browser, app_url)
    page.goto(f"{app_url}/lesson")
    wait_for_app(page)
    for i, step in enumerate(STEPS):
        assert wait_for_text(page, f"{i + 1}. {step.title}"), step.slug
        wait_for_plots(page)
        _answer(page, WRONG[step.kind], "Not quite")
        assert not wait_for_text(page, "What to notice", 500), f"{step.slug}: the notice shows before the answer"
        page.get_by_text("Show the answer (teacher)").click()
        wait_for_app(page)
        shown = page.locator("[data-testid='stMarkdownContainer']").filter(has_text="Answer:").last.inner_text()
        answer = shown.split("Answer:", 1)[1].strip()
        _answer(page, answer, f"Right: {answer}")
        assert wait_for_text(page, "What to notice"), step.slug
        assert not failed_on_page(page), step.slug
        assert f"step={i + 1}" in page.url
        if i < len(STEPS) - 1:
            page.get_by_role("button", name="Next step", exact=True).click()
            wait_for_app(page)
    assert page.get_by_role("button", name="Next step", exact=True).is_disabled()
    _quiet(log, page)


def test_presenter_mode_from_a_link_at_1280x720(browser, app_url):
    page, log = new_page(browser, app_url, viewport=(1280, 720))
    page.goto(f"{app_url}/lesson?step=4&present=1")
    wait_for_app(page)
    wait_for_plots(page)
    assert wait_for_text(page, "4. Context-aware vectors")
    assert page.locator("[data-testid='stSidebar']").is_hidden()
    assert page.locator("[data-testid='stHeader']").is_hidden()
    assert not page.get_by_text("Lesson: from attention to BERT and ViT").count()
    size = page.evaluate("""() => parseFloat(getComputedStyle(
        [...document.querySelectorAll('[data-testid="stMain"] p')].find(p => p.innerText.length > 80)).fontSize)""")
    assert size >= 20, f"paragraph text is {size}px"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "lesson-presenter.png")
    page.get_by_role("button", name="Next step", exact=True).click()
    wait_for_app(page)
    assert wait_for_text(page, "5. Queries, keys, values")
    page.wait_for_function("() => location.search.includes('step=5') && location.search.includes('present=1')",
                           timeout=30_000)  # the script writes the URL as its last step
    page.get_by_role("button", name="Previous step", exact=True).click()
    wait_for_app(page)
    assert wait_for_text(page, "4. Context-aware vectors")
    _quiet(log, page)
