"""The fine-tuning page in chromium: a short run from the button to attention before and after, a
bad file refused with a sentence, and a long run cancelled, all in one session."""

from pathlib import Path

import pytest

from tests.browser.harness import failed_on_page, new_page, wait_for_app, wait_for_plots
from tests.browser.test_accessibility import accessibility_problems

pytestmark = pytest.mark.browser
ARTIFACTS = Path("test-artifacts")


def set_number(page, name: str, value: str) -> None:
    box = page.get_by_role("spinbutton", name=name)
    box.fill(value)
    box.press("Enter")
    wait_for_app(page)


def test_finetune_run_shows_accuracy_and_attention_before_and_after_then_a_run_is_cancelled(browser, app_url):
    page, log = new_page(browser, app_url, viewport=(1280, 900))
    page.goto(f"{app_url}/finetune")
    wait_for_app(page)
    page.locator("[data-testid='stRadio'] label").filter(has_text="Sentiment").click()
    wait_for_app(page)
    assert "For example:" in page.inner_text("body") and "→ positive" in page.inner_text("body")
    set_number(page, "Steps (batches of 16)", "12")
    page.get_by_role("button", name="Start fine-tuning").click()
    # progress while it trains (the panel polls), then the result
    page.locator("[data-testid='stProgress']").first.wait_for(timeout=120_000)
    page.get_by_text("Verdict:").wait_for(timeout=300_000)
    wait_for_app(page)
    body = page.inner_text("body")
    assert "Done: 12 steps" in body and "held-out" in body and "predicted negative" in body
    assert "What to notice:" in body and "Attention changed most in layers" in body
    wait_for_plots(page, 5)  # curves, change grid, before, after, [CLS]'s row
    for key in ("ft_curves", "ft_change", "ft_before", "ft_after", "ft_cls"):
        assert page.locator(f".st-key-{key} .js-plotly-plot").count() == 1, key
    link = page.get_by_role("link", name="Open the fine-tuned model on the Text page")
    assert "model=sentiment-" in link.get_attribute("href")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / "finetune.png", full_page=True)
    found = accessibility_problems(page)  # axe-core and figure text contrast, on the result
    assert not found, "\n".join(found)

    # a file that is not a dataset: a sentence, and the page goes on
    page.locator("[data-testid='stRadio'] label").filter(has_text="Your file").click()
    wait_for_app(page)
    page.locator(".st-key-ft_upload input[type=file]").set_input_files(
        files=[{"name": "notes.csv", "mimeType": "text/csv", "buffer": b"a,b,c\n1,2,3\n"}])
    page.get_by_text("notes.csv, line 1: 3 columns").wait_for(timeout=60_000)

    # a long run, cancelled while it trains
    page.locator("[data-testid='stRadio'] label").filter(has_text="Agreement").click()
    wait_for_app(page)
    set_number(page, "Steps (batches of 16)", "3000")
    page.get_by_role("button", name="Start fine-tuning").click()
    page.get_by_text("of 3000").first.wait_for(timeout=120_000)  # training, not only queued
    page.get_by_role("button", name="Cancel").click()
    page.get_by_text("Cancelled after").wait_for(timeout=60_000)
    assert not log.console_errors and not log.blocked and not log.failed and not log.dialogs
    assert not failed_on_page(page)


def test_vit_finetune_run_shows_where_cls_looks_before_and_after_and_refuses_a_bad_zip(browser, app_url):
    """The Vision Transformer half in chromium: a short run on the generated shapes from the button to
    its result (accuracy, confusion table, CLS on the object per layer, one held-out picture's maps
    before and after, for any layer), accessible; a zip that is not one gets a sentence."""
    page, log = new_page(browser, app_url, viewport=(1280, 900))
    page.goto(f"{app_url}/finetune?model=vit")
    wait_for_app(page)
    assert "circle" in page.inner_text("body")  # the generated classes' examples
    set_number(page, "Steps (batches of 16)", "3")
    page.get_by_role("button", name="Start fine-tuning the ViT").click()
    page.get_by_text("Verdict:").wait_for(timeout=400_000)
    wait_for_app(page)
    body = page.inner_text("body")
    assert "Done: 3 steps" in body and "held-out pictures" in body and "predicted" in body  # the two tables
    assert "What to notice:" in body and "(It is a " in body
    wait_for_plots(page, 4)  # loss, CLS on the object, before, after
    for key in ("ftv_curves", "ftv_object", "ftv_before", "ftv_after"):
        assert page.locator(f".st-key-{key} .js-plotly-plot").count() == 1, key
    page.get_by_role("combobox", name="Layer").click()  # another layer: both maps follow
    page.keyboard.type("9")
    page.keyboard.press("Enter")
    wait_for_app(page)
    assert page.locator(".st-key-ftv_before .gtitle").text_content().endswith("layer 9")
    assert page.locator(".st-key-ftv_after .gtitle").text_content().endswith("layer 9")
    link = page.get_by_role("link", name="Open the fine-tuned model on the Image page", exact=False)
    assert "model=shapes-vit-" in link.get_attribute("href")
    page.screenshot(path=ARTIFACTS / "finetune-vit.png", full_page=True)
    found = accessibility_problems(page)
    assert not found, "\n".join(found)

    page.locator("[data-testid='stRadio'] label").filter(has_text="Your zip of class folders").click()
    wait_for_app(page)
    page.locator(".st-key-ftv_upload input[type=file]").set_input_files(
        files=[{"name": "pictures.zip", "mimeType": "application/zip", "buffer": b"PK\x03\x04 not a zip"}])
    wait_for_app(page)
    assert page.locator("[data-testid='stAlert']").filter(has_text="zip").count(), page.inner_text("body")[-800:]
    assert not log.console_errors and not log.blocked and not log.failed and not log.dialogs
    assert not failed_on_page(page)
