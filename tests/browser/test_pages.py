"""Every page in a real browser, offline: it loads, responds to input, draws its charts."""

from pathlib import Path

import pytest

from tests.browser.harness import new_page, wait_for_app, wait_for_plots

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
    assert "From-scratch transformer" in page.inner_text("body")
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
    page.wait_for_function("() => document.body.innerText.includes('resworb')", timeout=30_000)
    plots = page.locator(".js-plotly-plot")
    assert plots.count() >= 2
    assert "key (attended to)" in plots.first.inner_text()
    page.screenshot(path=ARTIFACTS / "scratch.png", full_page=True)
    assert_quiet(log, page)


def _png_bytes() -> bytes:
    import io

    import numpy as np
    from PIL import Image

    a = np.zeros((200, 300, 3), np.uint8)
    a[:, :150] = (230, 40, 40)  # left half red, right half a blue gradient
    a[:, 150:, 2] = np.linspace(60, 255, 150, dtype=np.uint8)[None, :]
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def _wait_for_title(page, text: str, timeout_ms: int = 60_000) -> None:
    """Wait until a plotly chart title (SVG text, not in innerText) contains `text`."""
    page.wait_for_function(
        "t => [...document.querySelectorAll('.js-plotly-plot .gtitle')].some(e => e.textContent.includes(t))",
        arg=text, timeout=timeout_ms,
    )


def test_image_page_sample_click_upload_download(browser, app_url, tmp_path):
    import numpy as np

    page, log = new_page(browser, app_url, viewport=(1400, 1600))
    page.goto(f"{app_url}/image")
    wait_for_app(page, timeout_ms=120_000)
    wait_for_plots(page, 2)
    _wait_for_title(page, "CLS → patches, layer 11, head 0")

    # click patch r3c12 on the clickable grid: the plot area is exactly the 224 x 224 image
    page.get_by_role("tab", name="Click a patch").click()
    area = page.locator(".st-key-image_click .nsewdrag").first
    area.wait_for(timeout=30_000)
    box = area.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 12.5 / 16, box["y"] + box["height"] * 3.5 / 16)
    _wait_for_title(page, "where patch r3c12 attends")
    wait_for_app(page)

    # the attention data downloads as an NPY file of (layers, heads, tokens, tokens)
    with page.expect_download(timeout=60_000) as dl:
        page.get_by_role("button", name="Download the attention weights").click()
    path = tmp_path / "attention.npy"
    dl.value.save_as(path)
    assert np.load(path).shape == (12, 6, 257, 257)

    # an upload works like a sample
    page.get_by_text("Upload", exact=True).click()
    page.get_by_text("Choose an image file").wait_for(timeout=60_000)  # the rerun without an image is done
    wait_for_app(page)
    page.locator(".st-key-image_upload input[type=file]").set_input_files(
        files=[{"name": "halves.png", "mimeType": "image/png", "buffer": _png_bytes()}])
    page.get_by_text("halves.png").first.wait_for(timeout=60_000)
    page.get_by_text("Choose an image file").wait_for(state="detached", timeout=60_000)
    wait_for_app(page)
    _wait_for_title(page, "CLS → patches")
    wait_for_plots(page, 2)
    assert page.locator("[data-testid='stAlertContentError']").count() == 0
    page.screenshot(path=ARTIFACTS / "image-upload.png", full_page=True)
    assert_quiet(log, page)
