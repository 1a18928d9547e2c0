"""Helpers for running pages headless with streamlit.testing.v1.AppTest."""

from __future__ import annotations

import json
import time
from pathlib import Path

from streamlit.testing.v1 import AppTest

from viz.ui.guard import UNEXPECTED

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 120  # seconds per script run: the first run of a page loads its model


def open_page(page: str) -> AppTest:
    """Run app.py, switch to `page` (e.g. "app_pages/scratch.py"), run it, and check it raised nothing."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page(page)
    at.run()
    assert_clean(at)
    return at


def assert_clean(at: AppTest) -> None:
    """No exception, and nothing caught by the app's last guard (viz.ui.guard)."""
    assert not at.exception, [e.value for e in at.exception]
    guarded = [e.value for e in at.error if e.value.startswith(UNEXPECTED)]
    assert not guarded, guarded


def plotly_figures(at: AppTest) -> list[dict]:
    """The plotly figures on the page, as the JSON specs sent to the browser."""
    return [json.loads(node.proto.spec) for node in at.get("plotly_chart")]


def sent_bytes(at: AppTest) -> int:
    """Bytes of plotly JSON the page sends to the browser."""
    return sum(len(node.proto.spec) for node in at.get("plotly_chart"))


def rerun_until(at: AppTest, cond, timeout: float = 300.0) -> AppTest:
    """Rerun the page (as a live panel's fragment does every second) until cond(at), checking
    each run is clean; fails with the page's text after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not cond(at):
        assert time.monotonic() < deadline, [m.value for m in at.markdown] + [i.value for i in at.info]
        time.sleep(0.5)
        at.run()
        assert_clean(at)
    return at
