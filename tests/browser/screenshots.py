"""Take the README's screenshots in headless chromium: python -m tests.browser.screenshots docs/img

Each page's first figure also becomes the home page's card picture, static/home/<page>.jpg (400 px
wide, JPEG: the eight cards together stay well under the home page's 300 kB). The fine-tuning shot
runs the default sentiment fine-tune first (about two minutes on 2 cores) unless it was saved.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from PIL import Image
from playwright.sync_api import sync_playwright

from tests.browser.harness import (
    ROOT,
    new_page,
    open_browser,
    serve_app,
    wait_for_app,
    wait_for_plots,
)

CARDS = ROOT / "static" / "home"


CARD_SIZE = (400, 250)  # every card's picture the same size, so the cards line up


def card_picture(im: Image.Image) -> Image.Image:
    """The picture scaled to fit CARD_SIZE and centred on white."""
    im = im.convert("RGB")
    im.thumbnail(CARD_SIZE)
    canvas = Image.new("RGB", CARD_SIZE, "white")
    canvas.paste(im, ((CARD_SIZE[0] - im.width) // 2, (CARD_SIZE[1] - im.height) // 2))
    return canvas


def _card(png: bytes, stem: str) -> None:
    CARDS.mkdir(parents=True, exist_ok=True)
    card_picture(Image.open(io.BytesIO(png))).save(CARDS / f"{stem}.jpg", quality=78, optimize=True)


def _finetune(page) -> None:
    """The default sentiment run, then its result: from 'Your sentence' to the heatmaps after."""
    page.locator("[data-testid='stRadio'] label").filter(has_text="Sentiment").click()
    wait_for_app(page)
    start = page.get_by_role("button", name="Start fine-tuning")
    if start.count():
        start.click()
    page.get_by_text("Verdict:").wait_for(timeout=600_000)
    wait_for_app(page)


def _pick(page, key: str, option: str) -> None:
    """Choose `option` in the selectbox with widget key `key`."""
    page.locator(f".st-key-{key}").click()
    page.get_by_role("option", name=option, exact=True).click()


# (file name, url path, what to do on the page before the shot)
SHOTS = [
    ("scratch.png", "scratch", lambda page: None),
    ("softmax.png", "softmax", lambda page: None),
    ("dimensions.png", "dimensions", lambda page: None),
    ("positional.png", "positional", lambda page: None),
    # the URL carries the view state: a sentence pair, layer 0, head 2 (a previous-token head)
    ("text.png", "text?text=The+cat+sat+on+the+mat+because+it+was+tired.&pair=It+slept+all+afternoon."
                 "&view=heatmap&layer=0&head=2", lambda page: None),
    ("image.png", "image", lambda page: _pick(page, "image_head", "5")),
    # presenter mode from a link, at a projector's 1280 x 720
    ("lesson.png", "lesson?step=4&present=1", lambda page: None),
    ("finetune.png", "finetune", _finetune),
    ("decoder.png", "decoder", lambda page: None),
]
VIEWPORTS = {"lesson.png": (1280, 720), "finetune.png": (1280, 3600)}  # the rest: (1400, 2000)


def _finetune_region(page) -> dict:
    top = page.get_by_role("heading", name="Your sentence, before and after").bounding_box()
    after = page.locator(".st-key-ft_after").bounding_box()
    main = page.locator("[data-testid='stMainBlockContainer']").bounding_box()
    return dict(x=main["x"], y=top["y"] - 10, width=main["width"], height=after["y"] + after["height"] - top["y"] + 20)


def main(out_dir: str, only: list[str] | None = None) -> None:
    """Every shot, or only the named ones (python -m tests.browser.screenshots docs/img lesson.png)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with serve_app() as server, sync_playwright() as p:
        url = server.url
        browser = open_browser(p)
        for name, path, act in SHOTS:
            if only and name not in only:
                continue
            page, log = new_page(browser, url, viewport=VIEWPORTS.get(name, (1400, 2000)))
            page.goto(f"{url}/{path}")
            wait_for_app(page)
            act(page)
            wait_for_app(page)
            wait_for_plots(page)
            if name == "finetune.png":
                page.screenshot(path=out / name, clip=_finetune_region(page))
                _card(page.locator(".st-key-ft_after .js-plotly-plot").screenshot(), "finetune")
            else:
                page.screenshot(path=out / name)
                _card(page.locator(".js-plotly-plot").first.screenshot(), name.removesuffix(".png"))
            print(f"{out / name}: blocked={len(log.blocked)} console_errors={len(log.console_errors)}")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "test-artifacts", sys.argv[2:])
