"""The Decoder (GPT) page in chromium: the induction head's heatmap, "Repeat it", the step button on the
next-token tab, and a short live training to its phase-change curves, in one session."""

import pytest

from tests.browser.checks import slide
from tests.browser.harness import failed_on_page, new_page, wait_for_app, wait_for_plots

pytestmark = pytest.mark.browser


def test_decoder_page_repeat_step_and_live_training(browser, app_url):
    page, log = new_page(browser, app_url, viewport=(1280, 900))
    page.goto(f"{app_url}/decoder")
    wait_for_app(page)
    wait_for_plots(page, 3)  # the head's heatmap, the detector table, the circuit
    body = page.inner_text("body")
    assert "Head 1.1 is an induction head" in body and "K-composition" in body
    assert page.locator(".st-key-dec_heatmap .js-plotly-plot").count() == 1

    box = page.get_by_label("Your sequence (the model reads it token by token, left to right)")
    page.get_by_role("button", name="Repeat it").click()
    wait_for_app(page)
    text = box.input_value()
    assert len(text) == 40 and text[:20] == text[20:]

    page.get_by_role("tab", name="The next token").click()
    wait_for_app(page)
    page.locator(".st-key-dec_next .js-plotly-plot").wait_for(timeout=30_000)
    page.get_by_role("button", name="Step: sample one token and append it").click()
    wait_for_app(page)
    page.get_by_text("appended above").wait_for(timeout=30_000)
    assert len(box.input_value()) == 41 and box.input_value().startswith(text)

    page.get_by_role("tab", name="Train live").click()
    wait_for_app(page)
    assert slide(page, "Steps (batches of 64)", "Home") == "100"  # the slider's least
    page.get_by_role("button", name="Train a fresh decoder").click()
    page.get_by_text("Done: 100 steps").wait_for(timeout=240_000)
    wait_for_app(page)
    assert page.locator(".st-key-dec_train_curves .js-plotly-plot").count() == 1
    assert page.locator(".st-key-dec_train_snapshots .js-plotly-plot").count() == 1
    assert not log.console_errors and not log.blocked and not log.failed and not log.dialogs
    assert not failed_on_page(page)
