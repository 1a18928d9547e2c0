import pytest

from tests.browser.harness import INSTALL_HINT, chromium_path, serve_app


def pytest_collection_modifyitems(config, items):
    if chromium_path():
        return
    skip = pytest.mark.skip(reason=INSTALL_HINT)
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


# One server for the run, as in a classroom: every test opens its own browser context, so its
# own Streamlit session. test_faults starts and stops servers of its own.
@pytest.fixture(scope="session")
def server():
    with serve_app() as s:
        yield s


@pytest.fixture(scope="session")
def app_url(server):
    return server.url


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    from tests.browser.harness import open_browser

    with sync_playwright() as p:
        b = open_browser(p)
        yield b
        b.close()
