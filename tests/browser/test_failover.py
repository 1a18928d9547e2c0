"""Two replicas behind HAProxy (deploy/serve.py, as `make serve REPLICAS=2` starts them).

Sessions stick to their replica by HAProxy's SERVERID cookie (every client here is 127.0.0.1,
so IP hashing could not tell them apart). An upload works on both replicas through the balancer
(XSRF on). When one replica dies mid-session, its browser reconnects through HAProxy to the
other and answers a new input; the session on the other replica never notices.
"""

from __future__ import annotations

import io
import random
import string

import pytest

from deploy.serve import HAPROXY_HINT, cluster, haproxy_path
from tests.browser.harness import ARTIFACTS, new_page, wait_for_app, wait_for_text
from tests.load.st_client import StreamlitSession

pytestmark = [
    pytest.mark.browser, pytest.mark.slow,
    pytest.mark.skipif(haproxy_path() is None, reason=HAPROXY_HINT),
]

# Records every change of the frontend's connection state (CONNECTED, PINGING_SERVER, ...).
WATCH_CONNECTION = """
window.__conn = [];
setInterval(() => {
  const s = document.querySelector('[data-testid="stApp"]')?.getAttribute('data-test-connection-state');
  if (s && s !== window.__conn[window.__conn.length - 1]) window.__conn.push(s);
}, 50);
"""


@pytest.fixture(scope="module")
def two():
    with cluster(2) as c:
        yield c


def replica_of(page) -> str:
    return next((c["value"] for c in page.context.cookies() if c["name"] == "SERVERID"), "")


def one_per_replica(browser, url: str, path: str, viewport=(1200, 900)):
    """Open sessions until one sits on r1 and one on r2 (round robin: usually the first two)."""
    pages, extra = {}, []
    for _ in range(6):
        page, log = new_page(browser, url, viewport=viewport)
        page.add_init_script(WATCH_CONNECTION)
        page.goto(f"{url}/{path}")
        wait_for_app(page)
        name = replica_of(page)
        if name and name not in pages:
            pages[name] = (page, log)
        else:
            extra.append(page)
        if len(pages) == 2:
            break
    for p in extra:
        p.context.close()
    assert sorted(pages) == ["r1", "r2"], f"sessions did not spread over both replicas: {sorted(pages)}"
    return pages


def _png() -> bytes:
    from PIL import Image

    img = Image.new("RGB", (64, 48), (20, 40, 200))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def test_upload_through_haproxy_on_both_replicas(two):
    """An upload as the frontend sends it (upload URL from the session, PUT with the XSRF cookie
    and header) is accepted through HAProxy on both replicas, also with the XSRF cookie that the
    other replica set, as a browser has it after a failover. A wrong token is refused (403).
    (Protocol-level: a browser upload on the image page would load DINOv2 on both replicas.)"""
    sessions = {}
    for _ in range(6):
        s = StreamlitSession(two.url, "")
        s.open()
        if s.replica in sessions or not s.replica:
            s.close()
        else:
            sessions[s.replica] = s
        if len(sessions) == 2:
            break
    try:
        assert sorted(sessions) == ["r1", "r2"], f"sessions did not spread: {sorted(sessions)}"
        xsrf = {name: s.xsrf_cookie() for name, s in sessions.items()}
        for name, s in sessions.items():
            for minted_by in ("r1", "r2"):
                status = s.upload(f"halves-{name}.png", _png(), "image/png", xsrf[minted_by])
                assert status == 204, f"upload on {name} with {minted_by}'s XSRF cookie: HTTP {status}"
            other = xsrf["r2" if name == "r1" else "r1"]
            status = s.upload("forged.png", _png(), "image/png", xsrf[name], token=other)
            assert status == 403, f"a wrong XSRF token was accepted on {name} (HTTP {status})"
    finally:
        for s in sessions.values():
            s.close()


def _word(rng) -> str:
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(10))


def _ask(page, word: str) -> None:
    box = page.get_by_role("textbox", name="Your input")
    box.fill(word)
    box.press("Enter")
    assert wait_for_text(page, word[::-1], timeout_ms=90_000), f"no answer to {word!r}"


def test_killed_replica_sessions_reconnect_to_the_other(browser, two):
    rng = random.Random(10)
    pages = one_per_replica(browser, two.url, "scratch")
    (victim, _), (survivor, _) = pages["r1"], pages["r2"]
    before = {}
    for name, (page, _) in pages.items():
        before[name] = _word(rng)
        _ask(page, before[name])
    survivor_states = survivor.evaluate("window.__conn.slice()")
    assert survivor_states[-1] == "CONNECTED"

    r1 = two.replica("r1")
    r1.proc.kill()  # SIGKILL: no goodbye to the browsers
    r1.proc.wait(10)

    # the victim's frontend notices, pings /_stcore/health (HAProxy answers from r2), reconnects
    victim.wait_for_function(
        "() => window.__conn.length > 1 && window.__conn[window.__conn.length - 1] === 'CONNECTED'"
        " && window.__conn.slice(1).some(s => s !== 'CONNECTED')", timeout=90_000)
    wait_for_app(victim)
    after = _word(rng)
    _ask(victim, after)
    assert replica_of(victim) == "r2", "HAProxy did not move the session's cookie to r2"
    assert victim.get_by_role("textbox", name="Your input").input_value() == after
    victim.screenshot(path=ARTIFACTS / "failover-reconnected.png", full_page=True)

    # the session on r2 never lost its connection, its page, or its state
    assert survivor.evaluate("window.__conn.slice()") == survivor_states
    assert wait_for_text(survivor, before["r2"][::-1], timeout_ms=1000)
    assert survivor.get_by_role("textbox", name="Your input").input_value() == before["r2"]
    _ask(survivor, _word(rng))
    assert survivor.evaluate("window.__conn.slice()") == survivor_states
    assert replica_of(survivor) == "r2"
    for page in (victim, survivor):
        assert page.locator("[data-testid='stException']").count() == 0
        page.context.close()
