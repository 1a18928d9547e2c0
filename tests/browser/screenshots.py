"""Take the README's screenshots in headless chromium: python -m tests.browser.screenshots docs/img"""

from __future__ import annotations

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.browser.harness import new_page, open_browser, serve_app, wait_for_app, wait_for_plots


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
]
VIEWPORTS = {"lesson.png": (1280, 720)}  # the rest: (1400, 2000)


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
            page.screenshot(path=out / name)
            print(f"{out / name}: blocked={len(log.blocked)} console_errors={len(log.console_errors)}")
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "test-artifacts", sys.argv[2:])
