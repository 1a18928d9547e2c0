"""The catalogue on the inputs the text-box table cannot reach: number boxes, the worksheet's
answer boxes (inside a form on a second tab), the text page's "Input B", and image uploads.

A number box is an <input type="number">: the browser itself refuses text such as "NaN" (it is
never sent to the app). What the browser lets through must get a message or a result.
"""

import io

import numpy as np
import pytest
from PIL import Image

from tests.browser.catalogue import GOOD_EVERY, HOSTILE
from tests.browser.harness import describe, failed_on_page, new_page, wait_for_app, wait_for_text
from tests.test_images import _bomb_png
from viz import positional as pos
from viz.dimensions import worksheet

pytestmark = pytest.mark.browser


def _rope_spread(seed: int, d: int = 16) -> str:
    q, kv = np.random.default_rng(seed).standard_normal((2, d))
    return f"{pos.diagonal_spread(pos.absolute_score_grid(q, kv, 32)):.2f}"


# (url path, the box's label, a good value, text that must appear for it)
NUMBER_INPUTS = [
    ("dimensions", "d_model", "256", "d_model = 256"),
    ("dimensions", "heads h", "4", "h = 4"),
    ("dimensions", "batch B (0 = no batch)", "3", "3 × 6 × 512"),
    ("positional", "random q and k (seed)", "3", _rope_spread(3)),
]


def _injected(page) -> bool:
    return bool(page.locator("img[src='x']").count() or page.locator("script:has-text('alert(1)')").count())


def _submit(page, box, value: str) -> bool:
    """Type value and press Enter; False when the browser refused the text (type=number)."""
    try:
        box.fill(value, timeout=60_000)  # the box can take a moment to come back after a rerun
    except Exception as err:
        if "Cannot type text into input[type=number]" in str(err):
            return False
        raise AssertionError(f"the box is gone: {describe(page)}") from err
    box.press("Enter")
    wait_for_app(page)
    return True


@pytest.mark.parametrize("path, label, good, expected", NUMBER_INPUTS, ids=[f"{t[0]}-{t[1][:12]}" for t in NUMBER_INPUTS])
def test_catalogue_on_number_inputs(browser, app_url, path, label, good, expected):
    page, log = new_page(browser, app_url)
    page.goto(f"{app_url}/{path}")
    wait_for_app(page)
    box = page.get_by_label(label, exact=True)
    problems, accepted = [], []
    for name, value in HOSTILE:
        if not _submit(page, box, value):
            continue  # the browser refused it; nothing reached the app
        accepted.append(name)
        if failed_on_page(page):
            problems.append(f"{name}: exception shown")
        if _injected(page):
            problems.append(f"{name}: markup interpreted")
        _submit(page, box, good)
        if not wait_for_text(page, expected):
            problems.append(f"{name}: the next good input did not work")
    assert not problems, problems
    assert {"negative", "zero", "1e309"} <= set(accepted), accepted  # these do reach the app
    assert not log.dialogs and not log.blocked


def test_d_model_not_divisible_by_heads_is_explained(browser, app_url):
    page, log = new_page(browser, app_url)
    page.goto(f"{app_url}/dimensions")
    wait_for_app(page)
    assert _submit(page, page.get_by_label("d_model", exact=True), "10")
    assert _submit(page, page.get_by_label("heads h", exact=True), "3")
    assert wait_for_text(page, "d_model = 10 is not divisible by h = 3")
    assert not failed_on_page(page)
    assert _submit(page, page.get_by_label("heads h", exact=True), "5")
    assert wait_for_text(page, "d_k = 2")
    assert not log.dialogs and not log.blocked


def test_catalogue_on_the_worksheet_answers(browser, app_url):
    q1 = worksheet(1)[0]
    page, log = new_page(browser, app_url)
    page.goto(f"{app_url}/dimensions")
    wait_for_app(page)
    page.get_by_role("tab", name="Worksheet").click()
    wait_for_app(page)
    box = page.get_by_role("textbox", name=f"{q1.number}. {q1.text}", exact=True)
    box.wait_for(timeout=90_000)  # the tab is drawn by the rerun its click starts: slow on a busy machine
    n = len(worksheet(1))
    problems = []
    for name, value in HOSTILE:
        _submit(page, box, value)  # Enter submits the form
        if failed_on_page(page):
            problems.append(f"{name}: exception shown")
        if _injected(page):
            problems.append(f"{name}: markup interpreted")
        if not wait_for_text(page, f"Score: 0 / {n}", 10_000):
            problems.append(f"{name}: not marked as a wrong answer")
        _submit(page, box, q1.answer_text)
        if not wait_for_text(page, f"Score: 1 / {n}"):
            problems.append(f"{name}: the right answer was not accepted next")
    assert not problems, problems
    assert not log.dialogs and not log.blocked


def test_catalogue_on_the_compare_input(browser, app_url):
    page, log = new_page(browser, app_url)
    page.goto(f"{app_url}/text")
    wait_for_app(page)
    page.locator("[data-testid='stRadio'] label").filter(has_text="Compare").first.click()
    wait_for_app(page)
    page.locator("[data-testid='stRadio'] label").filter(has_text="another input").first.click()
    wait_for_app(page)
    box = page.get_by_role("textbox", name="Input B", exact=False)
    good = "The dog sat on the mat because it was tired."  # as many tokens as the example
    problems = []
    for n, (name, value) in enumerate(HOSTILE, 1):
        _submit(page, box, value)
        if failed_on_page(page):
            problems.append(f"{name}: exception shown")
        if _injected(page):
            problems.append(f"{name}: markup interpreted")
        if n % GOOD_EVERY == 0 or n == len(HOSTILE):  # as in test_hostile: every 5th and the last
            _submit(page, box, good)
            if not wait_for_text(page, "cat/dog"):
                problems.append(f"after {name}: the next good input did not work")
    assert not problems, problems
    assert not log.dialogs and not log.blocked


def test_corrupt_images_and_a_decompression_bomb_in_the_browser(browser, app_url, tmp_path):
    good = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 96, 3), dtype=np.uint8)).save(good, format="PNG")
    uploads = [  # (file name, bytes, words the message must hold)
        ("not an image.png", b"<script>alert(1)</script> <img src=x onerror=alert(1)>", "image"),
        ("truncated.png", good.getvalue()[: len(good.getvalue()) // 2], "damaged"),
        ("bomb.png", _bomb_png(), "decompression bomb"),
    ]
    page, log = new_page(browser, app_url, viewport=(1400, 1600))
    page.goto(f"{app_url}/image")
    wait_for_app(page)
    page.locator("[data-testid='stRadio'] label").filter(has_text="Upload").first.click()
    wait_for_app(page)
    problems = []
    for name, data, words in uploads:
        path = tmp_path / name
        path.write_bytes(data)
        page.locator("input[type='file']").set_input_files(str(path))
        wait_for_app(page)
        if failed_on_page(page):
            problems.append(f"{name}: exception shown")
        try:  # the upload travels over HTTP before the rerun: wait for this file's own message
            page.locator("[data-testid='stAlert']").filter(has_text=name).filter(has_text=words).first.wait_for(
                timeout=30_000)
        except Exception:
            problems.append(f"{name}: no message about it")
        if _injected(page):
            problems.append(f"{name}: markup interpreted")
    ok = tmp_path / "ok.png"
    ok.write_bytes(good.getvalue())
    page.locator("input[type='file']").set_input_files(str(ok))
    wait_for_app(page)
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=60_000)  # the same session goes on
    assert not problems, problems
    assert not failed_on_page(page)
    assert not log.dialogs and not log.blocked
