"""The Train live tab in a real browser: the Steps slider sets the training's length, the training
runs in the server's queue, its loss curve grows while the page stays live, and Cancel stops it."""

from pathlib import Path

import pytest

from tests.browser.checks import slide
from tests.browser.harness import failed_on_page, new_page, wait_for_app, wait_for_text

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ARTIFACTS = Path("test-artifacts")
POINTS = """() => { const p = [...document.querySelectorAll('.js-plotly-plot')]
                     .find(d => d.layout && String(d.layout.title?.text).includes('training loss'));
                   return p ? p.data[0].y.length : 0; }"""


def test_loss_curve_grows_while_training_and_cancel_stops_it(browser, app_url):
    page, log = new_page(browser, app_url)
    page.goto(f"{app_url}/scratch")
    wait_for_app(page)
    page.get_by_role("tab", name="Train live").click()
    wait_for_app(page)
    assert slide(page, "Steps", "ArrowRight") == "700"  # one step of 100 up from 600
    page.get_by_role("button", name="Train a fresh model").click()
    assert wait_for_text(page, "Your training", 30_000)
    assert wait_for_text(page, "700 steps")  # the job's label: the slider's value reached the queue
    # The fragment redraws every second: the curve appears, then has more steps.
    page.wait_for_function(f"() => ({POINTS})() >= 2", timeout=240_000)
    first = page.evaluate(POINTS)
    page.wait_for_function(f"() => ({POINTS})() > {first}", timeout=120_000)
    assert wait_for_text(page, "step ", 5_000) and wait_for_text(page, "of 700")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "scratch-train-live.png", full_page=True)
    page.get_by_role("button", name="Cancel").click()
    assert wait_for_text(page, "Cancelled after", 30_000)
    points = page.evaluate(POINTS)
    page.wait_for_timeout(2500)  # stopped: the curve no longer grows
    assert page.evaluate(POINTS) == points
    assert not failed_on_page(page)
    assert not log.blocked and not log.console_errors and not log.failed, (log.blocked, log.console_errors, log.failed)
