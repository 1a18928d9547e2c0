"""Every page in a real browser, offline: it loads, responds to input, draws its charts."""

import os
from pathlib import Path

import pytest

from tests.browser.harness import (
    failed_on_page,
    new_page,
    wait_for_app,
    wait_for_plots,
    wait_for_text,
)

pytestmark = pytest.mark.browser
ARTIFACTS = Path("test-artifacts")


def assert_quiet(log, page):
    assert not log.blocked, f"requests that left the machine: {log.blocked}"
    assert not log.console_errors, log.console_errors
    assert not log.failed, log.failed
    assert not log.dialogs, log.dialogs
    assert not failed_on_page(page)


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


def _url_text_is(page, text: str) -> None:
    """The script writes the view state into the URL as its last step: wait until it has run."""
    page.wait_for_function("t => new URLSearchParams(location.search).get('text') === t", arg=text,
                           timeout=60_000)
    wait_for_app(page)


def _pick(page, option: str) -> None:
    """Click a radio option by its label text and wait for the rerun."""
    page.locator("[data-testid='stRadio'] label").filter(has_text=option).first.click()
    wait_for_app(page)


def test_text_page_types_draws_and_embeds_bertviz_offline(browser, app_url):
    page, log = new_page(browser, app_url)
    page.goto(f"{app_url}/text")
    wait_for_app(page)
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=90_000)
    box = page.get_by_role("textbox", name="Your text")
    box.fill("Attention is all you need.")
    box.press("Control+Enter")
    _url_text_is(page, "Attention is all you need.")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot .xtick text')].some(t => t.textContent === 'need')",
        timeout=60_000)
    plot = page.locator(".js-plotly-plot").first
    assert "key (attended to)" in plot.inner_text() and "query (attending)" in plot.inner_text()
    assert "view=heatmap" in page.url
    _pick(page, "Model grid")
    page.wait_for_selector(".js-plotly-plot image", timeout=30_000)  # the grid arrives as one PNG
    assert "head" in page.locator(".js-plotly-plot").first.inner_text()
    _pick(page, "bertviz")
    frame = page.frame_locator("iframe").first
    frame.locator("svg text").filter(has_text="need").first.wait_for(timeout=90_000)  # d3 drew it: scripts loaded
    page.screenshot(path=ARTIFACTS / "text_bertviz.png", full_page=True)
    assert_quiet(log, page)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def test_server_rests_after_the_text_page(browser, server):
    """Once a page has drawn, the server does nothing. With Streamlit's default file watcher it
    rescanned the repository in a loop after the text page imported transformers: one core busy
    (30.1 s of CPU in 30 idle s) and an inotify warning every few milliseconds in its log."""
    page, log = new_page(browser, server.url)
    page.goto(f"{server.url}/text")
    wait_for_app(page)
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=90_000)
    page.wait_for_timeout(2000)
    before = _cpu_seconds(server.pid)
    page.wait_for_timeout(10_000)
    busy = _cpu_seconds(server.pid) - before
    assert busy < 2.5, f"the idle server used {busy:.1f} s of CPU in 10 s"
    assert "Inotify queue overflowed" not in server.log.read_text(errors="replace")
    assert_quiet(log, page)


def test_text_page_shows_hostile_text_as_text(browser, app_url):
    page, log = new_page(browser, app_url)
    hostile = "</script><script>alert(1)</script> <img src=x onerror=alert(1)>"
    page.goto(f"{app_url}/text")
    wait_for_app(page)
    box = page.get_by_role("textbox", name="Your text")
    box.fill(hostile)
    box.press("Control+Enter")
    _url_text_is(page, hostile)
    page.wait_for_function(
        "() => [...document.querySelectorAll('.js-plotly-plot .xtick text')].some(t => t.textContent === 'alert')",
        timeout=60_000)
    ticks = page.locator(".js-plotly-plot .xtick text").all_text_contents()
    assert "<" in ticks and ">" in ticks  # escaped for plotly, displayed as the characters typed
    _pick(page, "Lines")
    page.wait_for_selector(".js-plotly-plot .scatterlayer path.js-line", state="attached", timeout=30_000)  # SVG lines
    _pick(page, "bertviz")
    frame = page.frame_locator("iframe").first
    frame.locator("svg text").filter(has_text="alert").first.wait_for(timeout=90_000)
    assert "<" in frame.locator("svg text").all_text_contents()
    assert frame.locator("img").count() == 0 and page.locator("[data-testid='stMain'] img[src='x']").count() == 0
    page.wait_for_timeout(500)
    assert_quiet(log, page)  # includes: no alert() dialog ever opened


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
    head = page.locator(".st-key-image_head input").input_value()  # the head chosen from the picture
    assert head != "0"  # head 0 rests on the corners of this sample (viz.pretrained.image.object_head)
    _wait_for_title(page, f"CLS → patches, layer 11, head {head}")

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
    _wait_for_title(page, "where patch r3c12 attends, layer 11")  # the open tab, on the new image
    # The run that showed the empty upload box drew no layer, head or opacity widget; they must come
    # back showing the server's values (they showed their first option and 0.00, and the next click
    # sent those back: layer 0, an invisible overlay).
    assert "0.60" in page.locator(".st-key-image_opacity").inner_text()
    assert page.locator(".st-key-image_layer input").input_value() == "11"
    page.get_by_role("tab", name="CLS attention").click()  # only the open tab is drawn: this one now
    _wait_for_title(page, f"CLS → patches, layer 11, head {head}")  # a new picture keeps the chosen head
    wait_for_plots(page, 2)
    assert "0.60" in page.locator(".st-key-image_opacity").inner_text()
    assert page.locator("[data-testid='stAlertContentError']").count() == 0
    page.screenshot(path=ARTIFACTS / "image-upload.png", full_page=True)
    assert_quiet(log, page)
