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
def server(lesson_finetuned):
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


@pytest.fixture(autouse=True)
def _close_contexts(request):
    """A test's browser contexts close when it ends. Left open, every page kept its Streamlit
    session, its websocket and its scripts (a class student's watcher fetches every second)
    running on the shared server for the rest of the run: 129 chromium processes by the middle
    of a full run, every later test slower on the same two cores."""
    yield
    if "browser" in request.fixturenames:
        for context in list(request.getfixturevalue("browser").contexts):
            context.close()
