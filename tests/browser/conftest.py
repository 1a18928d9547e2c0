import pytest

from tests.browser.harness import INSTALL_HINT, chromium_path, serve_app


def pytest_collection_modifyitems(config, items):
    if chromium_path():
        return
    skip = pytest.mark.skip(reason=INSTALL_HINT)
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


# Each test gets its own server and browser. With one server for the whole run, the text page's
# first load after the other pages' tests sometimes never finished (seen only in full runs, not
# reproduced alone); a fresh server per test keeps every test independent of the ones before it.
@pytest.fixture
def app_url():
    with serve_app() as server:
        yield server.url


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    from tests.browser.harness import open_browser

    with sync_playwright() as p:
        b = open_browser(p)
        yield b
        b.close()
